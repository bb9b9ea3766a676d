package integrations

import (
	"encoding/json"
	"testing"

	"github.com/mark3labs/mcp-go/mcp"
)

func contentTexts(res *mcp.CallToolResult) []string {
	var out []string
	for _, c := range res.Content {
		if tc, ok := c.(mcp.TextContent); ok {
			out = append(out, "text:"+tc.Text)
		} else {
			out = append(out, "other")
		}
	}
	return out
}

func same(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// CutText keeps a text of exactly maxBytes whole and cuts a longer one on a
// rune boundary, even when the text is not UTF-8.
func TestCutText(t *testing.T) {
	for _, tc := range []struct {
		in   string
		max  int64
		want string
		cut  bool
	}{
		{"abc", 3, "abc", false},
		{"abcd", 3, "abc", true},
		{"aé", 2, "a", true}, // byte 2 is inside é
		{"aé", 3, "aé", false},
		{"\x80\x80\x80", 1, "", true},
	} {
		got, cut := CutText(tc.in, tc.max)
		if got != tc.want || cut != tc.cut {
			t.Errorf("CutText(%q, %d) = %q, %v; want %q, %v", tc.in, tc.max, got, cut, tc.want, tc.cut)
		}
	}
}

// CapResult caps what the model receives: text is cut and the last text
// kept carries the note; other content that does not fit (by its JSON) is
// dropped, content that fits exactly is kept; structured content larger
// than the cap is dropped; no cap (0) and no result change nothing.
func TestCapResult(t *testing.T) {
	image := mcp.NewImageContent("AAAA", "image/png")
	ib, _ := json.Marshal(image)
	imageLen := int64(len(ib))
	note := func(n int64) string { return TruncationNote(n) }

	for _, tc := range []struct {
		name       string
		content    []mcp.Content
		max        int64
		want       []string
		structured any
		keepStruct bool
	}{
		{"fits", []mcp.Content{mcp.NewTextContent("hello")}, 5, []string{"text:hello"}, nil, false},
		{"text cut", []mcp.Content{mcp.NewTextContent("hello world")}, 5, []string{"text:hello" + note(5)}, nil, false},
		{"second text after the cap", []mcp.Content{mcp.NewTextContent("hello"), mcp.NewTextContent("more")}, 5, []string{"text:hello" + note(5)}, nil, false},
		{"image that fits exactly", []mcp.Content{image}, imageLen, []string{"other"}, nil, false},
		{"image one byte too big", []mcp.Content{image}, imageLen - 1, []string{"text:" + note(imageLen - 1)[1:]}, nil, false},
		{"text then an image that does not fit", []mcp.Content{mcp.NewTextContent("ab"), image}, imageLen, []string{"text:ab" + note(imageLen)}, nil, false},
		{"image then text", []mcp.Content{image, mcp.NewTextContent("ab")}, imageLen + 2, []string{"other", "text:ab"}, nil, false},
		{"structured that fits", []mcp.Content{mcp.NewTextContent("{}")}, 8, []string{"text:{}"}, map[string]any{"a": 1}, true}, // {"a":1} is 7 bytes
		{"structured of exactly the cap", []mcp.Content{mcp.NewTextContent("{}")}, 7, []string{"text:{}"}, map[string]any{"a": 1}, true},
		{"structured too big", []mcp.Content{mcp.NewTextContent("{}")}, 6, []string{"text:{}" + note(6)}, map[string]any{"a": 1}, false},
	} {
		res := &mcp.CallToolResult{Content: tc.content, StructuredContent: tc.structured}
		got := CapResult(res, tc.max)
		if !same(contentTexts(got), tc.want) {
			t.Errorf("%s: content %q, want %q", tc.name, contentTexts(got), tc.want)
		}
		if (got.StructuredContent != nil) != tc.keepStruct {
			t.Errorf("%s: structured content %v, want kept=%v", tc.name, got.StructuredContent, tc.keepStruct)
		}
	}

	if CapResult(nil, 10) != nil {
		t.Error("CapResult(nil) is not nil")
	}
	res := &mcp.CallToolResult{Content: []mcp.Content{mcp.NewTextContent("hello world")}}
	if got := CapResult(res, 0); !same(contentTexts(got), []string{"text:hello world"}) {
		t.Errorf("no cap (0): %q", contentTexts(got))
	}
}
