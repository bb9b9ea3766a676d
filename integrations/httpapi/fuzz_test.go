package httpapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/switchboard-dev/switchboard/configs"
	"github.com/switchboard-dev/switchboard/integrations"
	"github.com/switchboard-dev/switchboard/integrations/httpapi"
	"github.com/switchboard-dev/switchboard/internal/secrets"
)

const fuzzToken = "tok-fuzz-0b7e2d"

const fuzzArgsYAML = `
integrations:
  - name: fz
    type: http
    base_url: ${BASE}/api
    auth: {type: bearer, secret: "vault:secret/fz#token"}
    tools:
      - name: put
        description: Fuzz target.
        method: PUT
        path: /items/{id}/x
        params:
          - {name: id, in: path, required: true}
          - {name: q, in: query, required: true}
          - {name: X-Note, in: header, required: true}
          - {name: text, in: body, required: true}
          - {name: kind, in: body, value: fixed}
`

// FuzzArgs: whatever strings the model sends, either the call stops at
// validation with nothing sent, or each value arrives as exactly one value in
// exactly its place.
func FuzzArgs(f *testing.F) {
	for _, s := range [][4]string{
		{"c-1", "ana@example.com", "voice", "hello"},
		{"../admin", "a&admin=true", "a\r\nX-Evil: 1", `", "kind": "evil`},
		{"..", "x#y", "\x01", "}"},
		{".", "?a=b", "\t lead and trail \t", "\x00"},
		{"%2e%2e", "%26", "ñandú", "\u2028"},
		{"a/b", "=", "", "{\"kind\":\"evil\"}"},
		{"", "", "", ""},
		{"é/../x", "a+b c", "Bearer other", "\xff\xfe"},
		{";x=1", "q=1&q=2", "x\x7f", "text"},
	} {
		f.Add(s[0], s[1], s[2], s[3])
	}
	up := newUpstream(f, nil)
	tl := tool(f, build(f, up.URL(), fuzzArgsYAML, secrets.Memory{"vault:secret/fz#token": fuzzToken}), "fz_put")

	f.Fuzz(func(t *testing.T, id, q, note, text string) {
		up.reset()
		raw, err := json.Marshal(map[string]any{"id": id, "q": q, "X-Note": note, "text": text})
		if err != nil {
			t.Skip()
		}
		// What the server decodes from the wire is what the model meant
		// (invalid UTF-8 becomes U+FFFD on the way).
		var sent map[string]string
		if err := json.Unmarshal(raw, &sent); err != nil {
			t.Fatal(err)
		}
		var res *mcp.CallToolResult
		func() {
			defer func() {
				if r := recover(); r != nil {
					t.Fatalf("args %s: Call panicked: %v", raw, r)
				}
			}()
			res, err = callRaw(context.Background(), t, tl, string(raw))
		}()
		if err != nil {
			var ie *integrations.Error
			if !errors.As(err, &ie) || ie.Kind != integrations.KindInvalid {
				t.Fatalf("args %s: want a validation error or success, got %T %v", raw, err, err)
			}
			up.none(t)
			if benign(sent) {
				t.Fatalf("args %s: harmless values refused: %s", raw, ie.Public)
			}
			return
		}
		if res == nil || res.IsError {
			t.Fatalf("args %s: bad result %+v", raw, res)
		}
		r := up.only(t)
		if r.Method != "PUT" {
			t.Errorf("method %s", r.Method)
		}
		// Path: exactly one segment that decodes back to the value.
		seg := r.segments()
		if len(seg) != 4 || seg[0] != "api" || seg[1] != "items" || seg[3] != "x" {
			t.Fatalf("id %q: path %s has extra or missing segments", sent["id"], r.RawPath)
		}
		if got, err := url.PathUnescape(seg[2]); err != nil || got != sent["id"] {
			t.Fatalf("id %q: segment %q decodes to %q (%v)", sent["id"], seg[2], got, err)
		}
		if seg[2] == "." || seg[2] == ".." {
			t.Fatalf("id %q: dot segment %q sent", sent["id"], seg[2])
		}
		// Query: exactly the key q with exactly the value.
		qv, err := url.ParseQuery(r.RawQuery)
		if err != nil || !reflect.DeepEqual(qv, url.Values{"q": {sent["q"]}}) {
			t.Fatalf("q %q: query %q parses to %v (%v)", sent["q"], r.RawQuery, qv, err)
		}
		// Header: exactly one value, equal to what was given (HTTP drops
		// leading and trailing spaces and tabs of a field value).
		if got := r.Header.Values("X-Note"); !reflect.DeepEqual(got, []string{strings.Trim(sent["X-Note"], " \t")}) {
			t.Fatalf("X-Note %q: upstream got %q", sent["X-Note"], got)
		}
		if got := r.Header.Values("Authorization"); !reflect.DeepEqual(got, []string{"Bearer " + fuzzToken}) {
			t.Fatalf("Authorization = %q", got)
		}
		// Body: exactly the declared keys.
		var body map[string]any
		if err := json.Unmarshal(r.Body, &body); err != nil {
			t.Fatalf("body %q: %v", r.Body, err)
		}
		if !reflect.DeepEqual(body, map[string]any{"text": sent["text"], "kind": "fixed"}) {
			t.Fatalf("text %q: body %s", sent["text"], r.Body)
		}
	})
}

// benign values must not be refused: a non-empty, non-dot path segment, and
// no control characters where a URL or a header cannot carry them.
func benign(v map[string]string) bool {
	if v["id"] == "" || v["id"] == "." || v["id"] == ".." {
		return false
	}
	for _, k := range []string{"id", "q", "X-Note"} {
		if strings.ContainsFunc(v[k], func(r rune) bool { return r < 0x20 || r == 0x7f }) {
			return false
		}
	}
	return true
}

// ---------------------------------------------------------------------------

// stubTransport answers every request locally, so tools built from arbitrary
// configs never reach the network.
type stubTransport struct{}

func (stubTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		io.Copy(io.Discard, r.Body)
		r.Body.Close()
	}
	return &http.Response{
		StatusCode: 200,
		Header:     http.Header{"Content-Type": {"application/json"}},
		Body:       io.NopCloser(strings.NewReader(`{"ok":true,"items":[1,2],"message":"hi"}`)),
		Request:    r,
	}, nil
}

type anySecret struct{}

func (anySecret) Resolve(context.Context, secrets.Ref) (string, error) {
	return "fuzz-secret-1234", nil
}

// sampleArgs makes arguments that fit a tool's params, so that calls get past
// validation and exercise the request builder.
func sampleArgs(params []configs.Param) map[string]any {
	out := map[string]any{}
	for _, p := range params {
		if p.Value != nil {
			continue
		}
		out[p.Name] = sampleValue(p)
	}
	return out
}

func sampleValue(p configs.Param) any {
	if len(p.Enum) > 0 {
		return p.Enum[0]
	}
	if p.Default != nil {
		return p.Default
	}
	switch p.Type {
	case "integer":
		return 7
	case "number":
		return 1.5
	case "boolean":
		return true
	case "object":
		return sampleArgs(p.Properties)
	case "array":
		if p.Items != nil {
			return []any{sampleValue(*p.Items)}
		}
		return []any{}
	}
	return "v-1"
}

// FuzzConfigTools: any http tool that configs.Parse accepts builds, and
// calling it (with fitting or with empty arguments) never panics and fails
// only with an *integrations.Error.
func FuzzConfigTools(f *testing.F) {
	for _, s := range []string{
		"- {name: a, description: d, method: GET, path: /a}\n",
		"- {name: a, description: d, method: GET, path: '/a/{id}', params: [{name: id, in: path, required: true}]}\n",
		"- name: a\n  description: d\n  method: POST\n  path: /a\n  params:\n    - {name: o, type: object, properties: [{name: x, type: integer, validate: 'gt=0'}]}\n    - {name: l, type: array, items: {type: number}}\n",
		"- {name: a, description: d, method: DELETE, path: '/a/{x}/b', params: [{name: x, in: path, type: integer, default: 3}]}\n",
		"- {name: a, description: d, method: GET, path: /a, params: [{name: h, in: header, value: v}, {name: q, in: query, enum: [x, y]}], response: {jq: '.items[]', max_bytes: 3}}\n",
		"- {name: a, description: d, method: PATCH, path: /a, params: [{name: n, type: number, validate: 'gte=1,lte=2'}], confirm: {message: 'ok?'}}\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, toolsYAML string) {
		var b strings.Builder
		b.WriteString("integrations:\n  - name: api\n    type: http\n    base_url: http://upstream.invalid/v1\n    auth: {type: query, param: k, secret: 'vault:secret/a#b'}\n    tools:\n")
		for _, line := range strings.Split(toolsYAML, "\n") {
			b.WriteString("      " + line + "\n")
		}
		cfg, err := configs.Parse([]byte(b.String()), func(string) string { return "" })
		if err != nil {
			return
		}
		for _, in := range cfg.Integrations {
			ts, err := httpapi.New(in, httpapi.Deps{Secrets: anySecret{}, Client: &http.Client{Transport: stubTransport{}}})
			if err != nil {
				t.Fatalf("configs.Parse accepted the config but httpapi.New fails: %v\n%s", err, b.String())
			}
			byName := map[string]configs.Tool{}
			for _, tc := range in.Tools.List {
				byName[in.Name+"_"+tc.Name] = tc
			}
			for _, tl := range ts {
				for _, args := range []map[string]any{sampleArgs(byName[tl.Name()].Params), {}} {
					func() {
						defer func() {
							if r := recover(); r != nil {
								t.Fatalf("tool %s panicked on %v: %v\nconfig:\n%s", tl.Name(), args, r, b.String())
							}
						}()
						raw, _ := json.Marshal(args)
						var req mcp.CallToolRequest
						if err := json.Unmarshal([]byte(fmt.Sprintf(`{"name":%q,"arguments":%s}`, tl.Name(), raw)), &req.Params); err != nil {
							return
						}
						_, err := tl.Handler.Call(context.Background(), integrations.NewCall(tl, req.Params))
						var ie *integrations.Error
						if err != nil && !errors.As(err, &ie) {
							t.Fatalf("tool %s failed with a bare %T: %v", tl.Name(), err, err)
						}
					}()
				}
			}
		}
	})
}
