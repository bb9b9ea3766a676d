package httpapi_test

import (
	"io"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-dev/switchboard/configs"
	"github.com/switchboard-dev/switchboard/integrations"
	"github.com/switchboard-dev/switchboard/integrations/httpapi"
)

// Edges of reading a reply that the tests of httpapi_test.go do not reach.

// Every 2xx status is a success, 299 included; 300 is not.
func TestEvery2xxIsASuccess(t *testing.T) {
	for status, success := range map[int]bool{200: true, 299: true, 300: false} {
		_, tl := replyTool(t, "", func(w http.ResponseWriter, r *http.Request) {
			writeJSON(w, status, map[string]any{"status": status})
		})
		res, err := call(t, tl, nil)
		if got := err == nil; got != success {
			t.Errorf("status %d: success %v (%v), want %v", status, got, err, success)
		}
		if success && text(res) != `{"status":`+strconv.Itoa(status)+`}` {
			t.Errorf("status %d: text %q", status, text(res))
		}
	}
}

// A reply without a Content-Type is JSON when it parses as JSON (its
// object is also structured content); a text/plain reply that happens to be
// valid JSON is text.
func TestJSONWithoutContentType(t *testing.T) {
	_, untyped := replyTool(t, "", func(w http.ResponseWriter, r *http.Request) {
		w.Header()["Content-Type"] = nil // no sniffing: no Content-Type at all
		io.WriteString(w, `{"id": "c-1"}`)
	})
	res := ok(t)(call(t, untyped, nil))
	if text(res) != `{"id":"c-1"}` || !reflect.DeepEqual(res.StructuredContent, map[string]any{"id": "c-1"}) {
		t.Errorf("untyped JSON: text %q, structured %v", text(res), res.StructuredContent)
	}
	_, plain := replyTool(t, "", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, `{"id": "c-1"}`)
	})
	res = ok(t)(call(t, plain, nil))
	if text(res) != `{"id": "c-1"}` || res.StructuredContent != nil {
		t.Errorf("text/plain: text %q, structured %v", text(res), res.StructuredContent)
	}
}

// A JSON object whose text is exactly max_bytes fits: it is whole, and so
// it is also structured content; one byte more is cut and is not.
func TestObjectOfExactlyMaxBytes(t *testing.T) {
	body := `{"name":"abcdefghij"}` // 21 bytes
	_, exact := replyTool(t, `{max_bytes: 21}`, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, body)
	})
	res := ok(t)(call(t, exact, nil))
	if text(res) != body || res.StructuredContent == nil {
		t.Errorf("21 bytes at max_bytes 21: text %q, structured %v", text(res), res.StructuredContent)
	}
	_, over := replyTool(t, `{max_bytes: 20}`, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, body)
	})
	res = ok(t)(call(t, over, nil))
	if !strings.HasPrefix(text(res), body[:20]) || !strings.Contains(text(res), "[truncated") || res.StructuredContent != nil {
		t.Errorf("21 bytes at max_bytes 20: text %q, structured %v", text(res), res.StructuredContent)
	}
}

// The reply is read a little past max_bytes (by the longest secret used),
// so a reply that fits max_bytes is never taken for one that does not.
func TestReplyThatFitsIsWholeWithCredentials(t *testing.T) {
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, strings.Repeat("x", 95))
	})
	tools := build(t, up.URL(), `
integrations:
  - name: api
    type: http
    base_url: ${BASE}
    auth: {type: bearer, secret: "vault:secret/shop#token"}
    tools:
      - name: r
        description: Read.
        method: GET
        path: /r
        response: {max_bytes: 100}
`, shopSecrets())
	res := ok(t)(call(t, tool(t, tools, "api_r"), nil))
	if text(res) != strings.Repeat("x", 95) {
		t.Errorf("a 95-byte reply at max_bytes 100 came back as %q", text(res))
	}
}

// Whatever bytes an upstream sends, a tiny max_bytes does not take the
// process down: cutting a reply of continuation bytes stops at its start.
func TestTinyMaxBytesOnInvalidUTF8(t *testing.T) {
	_, tl := replyTool(t, `{max_bytes: 2}`, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/octet-stream")
		io.WriteString(w, "\x80\x80\x80\x80\x80\x80")
	})
	res, err := call(t, tl, nil)
	if err != nil || res == nil || res.IsError {
		t.Fatalf("call: %v %v", res, err)
	}
}

// An object param without properties takes any object: no properties are
// declared for it, so none is unknown.
func TestObjectParamWithoutProperties(t *testing.T) {
	up := newUpstream(t, nil)
	tools := build(t, up.URL(), `
integrations:
  - name: api
    type: http
    base_url: ${BASE}
    tools:
      - name: w
        description: Write.
        method: POST
        path: /w
        params:
          - {name: meta, type: object}
          - name: address
            type: object
            properties:
              - {name: street, type: string}
              - {name: country, type: string, default: ES}
`, nil)
	tl := tool(t, tools, "api_w")
	ok(t)(callRaw(t.Context(), t, tl, `{"meta": {"source": "ivr", "n": 2}, "address": {"street": "Mayor 1"}}`))
	got := decodeBody(t, up.only(t))
	want := map[string]any{
		"meta":    map[string]any{"source": "ivr", "n": float64(2)},
		"address": map[string]any{"street": "Mayor 1", "country": "ES"}, // a nested default is applied
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("body %v, want %v", got, want)
	}
}

// A number filled from the call context is parsed as one; text that is not
// a number (NaN and infinities included) is refused and nothing is sent.
func TestNumberFromTheCallContext(t *testing.T) {
	up := newUpstream(t, nil)
	tools := build(t, up.URL(), `
integrations:
  - name: api
    type: http
    base_url: ${BASE}
    tools:
      - name: w
        description: Write.
        method: POST
        path: /w
        params:
          - {name: score, type: number, value_from: call.score, required: true}
`, nil)
	tl := tool(t, tools, "api_w")
	for _, bad := range []string{"abc", "NaN", "+Inf"} {
		_, ie := callWith(t, tl, `{}`, map[string]string{"score": bad})
		if ie == nil || ie.Kind != integrations.KindInvalid || !strings.Contains(ie.Public, "a score that is not valid (not a number)") {
			t.Errorf("score %q: %v", bad, ie)
		}
	}
	up.none(t)
	if _, ie := callWith(t, tl, `{}`, map[string]string{"score": " 19.5 "}); ie != nil {
		t.Fatalf("score 19.5: %v", ie)
	}
	if got := decodeBody(t, up.only(t)); got["score"] != 19.5 {
		t.Errorf("body %v", got)
	}
}

// A config built in code, not loaded (so its jq was never compiled), gets
// its jq compiled by New; one that does not compile is an error there.
func TestUnloadedConfigJQ(t *testing.T) {
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, map[string]any{"customer": map[string]any{"name": "Ana", "internal": 1}})
	})
	in := configs.Integration{Name: "api", Type: "http", BaseURL: up.URL(), Timeout: 5 * time.Second, Auth: configs.Auth{Type: "none"},
		Tools: configs.Tools{List: []configs.Tool{{Name: "r", Description: "Read.", Method: http.MethodGet, Path: "/r", Timeout: 5 * time.Second,
			Response: configs.Response{JQ: ".customer.name", MaxBytes: 1000, MaxRead: 1 << 20}}}}}
	ts, err := httpapi.New(in, httpapi.Deps{})
	if err != nil {
		t.Fatal(err)
	}
	if res := ok(t)(call(t, ts[0], nil)); text(res) != "Ana" {
		t.Errorf("shaped reply %q, want Ana", text(res))
	}
	in.Tools.List[0].Response.JQ = ".customer | {"
	if _, err := httpapi.New(in, httpapi.Deps{}); err == nil || !strings.Contains(err.Error(), "jq") {
		t.Errorf("a jq that does not compile: %v", err)
	}
}

// Placeholders next to each other in a path are each replaced by their own
// escaped value.
func TestAdjacentPathPlaceholders(t *testing.T) {
	up := newUpstream(t, nil)
	tools := build(t, up.URL(), `
integrations:
  - name: api
    type: http
    base_url: ${BASE}
    tools:
      - name: r
        description: Read.
        method: GET
        path: /files/{name}{ext}
        params:
          - {name: name, type: string, required: true}
          - {name: ext, type: string, required: true}
`, nil)
	ok(t)(call(t, tool(t, tools, "api_r"), map[string]any{"name": "q3 report", "ext": ".pdf"}))
	if got := up.only(t).RawPath; got != "/files/q3%20report.pdf" {
		t.Errorf("path %s, want /files/q3%%20report.pdf", got)
	}
}
