package integrations

import (
	"encoding/json"
	"fmt"
	"unicode/utf8"

	"github.com/mark3labs/mcp-go/mcp"
)

// TruncationNote is what follows a reply cut to maxBytes, for http and mcp
// tools alike.
func TruncationNote(maxBytes int64) string {
	return fmt.Sprintf("\n[truncated: the reply was longer than %d bytes]", maxBytes)
}

// CutText cuts text to at most maxBytes on a rune boundary and reports
// whether it did.
func CutText(text string, maxBytes int64) (string, bool) {
	if int64(len(text)) <= maxBytes {
		return text, false
	}
	cut := int(maxBytes)
	for cut > 0 && !utf8.RuneStart(text[cut]) {
		cut--
	}
	return text[:cut], true
}

// CapResult caps what the model receives of a result to maxBytes: text
// content is cut (the last kept text carries the truncation note), other
// content that does not fit is dropped, and structured content larger than
// the cap is dropped (the text remains).
func CapResult(res *mcp.CallToolResult, maxBytes int64) *mcp.CallToolResult {
	if res == nil || maxBytes <= 0 {
		return res
	}
	left := maxBytes
	truncated := false
	kept := res.Content[:0:0]
	lastText := -1
	for _, c := range res.Content {
		if left <= 0 {
			truncated = true
			continue
		}
		if tc, ok := c.(mcp.TextContent); ok {
			var cut bool
			tc.Text, cut = CutText(tc.Text, left)
			left -= int64(len(tc.Text))
			truncated = truncated || cut
			lastText = len(kept)
			kept = append(kept, tc)
			continue
		}
		b, err := json.Marshal(c)
		if err != nil || int64(len(b)) > left {
			truncated = true
			continue
		}
		left -= int64(len(b))
		kept = append(kept, c)
	}
	if res.StructuredContent != nil {
		if b, err := json.Marshal(res.StructuredContent); err != nil || int64(len(b)) > maxBytes {
			res.StructuredContent = nil
			truncated = true
		}
	}
	if truncated {
		if lastText >= 0 {
			tc := kept[lastText].(mcp.TextContent)
			tc.Text += TruncationNote(maxBytes)
			kept[lastText] = tc
		} else {
			kept = append(kept, mcp.NewTextContent(TruncationNote(maxBytes)[1:]))
		}
	}
	res.Content = kept
	return res
}
