package mcpupstream

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	mcpgo "github.com/mark3labs/mcp-go/mcp"
	"go.opentelemetry.io/otel/trace"

	"github.com/switchboard-dev/switchboard/integrations"
	"github.com/switchboard-dev/switchboard/internal/secrets"
)

// callCtx calls an exposed tool with ctx and a Call that edit may change
// (the fields policy and the edge set).
func callCtx(t *testing.T, ctx context.Context, u *Upstream, name string, args map[string]any, edit func(*integrations.Call)) (*mcpgo.CallToolResult, error) {
	t.Helper()
	for _, tl := range u.Tools() {
		if tl.Name() == name {
			var p mcpgo.CallToolParams
			p.Name = name
			p.Arguments = args
			c := integrations.NewCall(tl, p)
			if edit != nil {
				edit(c)
			}
			return tl.Handler.Call(ctx, c)
		}
	}
	t.Fatalf("no tool %s", name)
	return nil, nil
}

// The upstream continues switchboard's trace and learns a confirmed call's
// idempotency key, both in the request's _meta; a call with neither sends
// neither.
func TestCallMetaCarriesTraceAndIdempotencyKey(t *testing.T) {
	t.Parallel()
	up := statelessEcho(t, []any{echoTool("echo")}, nil)
	u := mustNew(t, integration(t, plainYAML(up.URL+"/mcp")), Deps{})
	started(t, u)

	sc := trace.NewSpanContext(trace.SpanContextConfig{
		TraceID:    trace.TraceID{0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36},
		SpanID:     trace.SpanID{0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7},
		TraceFlags: trace.FlagsSampled,
	})
	traced := trace.ContextWithSpanContext(context.Background(), sc)
	const traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	for i, tc := range []struct {
		name      string
		ctx       context.Context
		key       string
		wantTrace string
	}{
		{"neither", context.Background(), "", ""},
		{"idempotency key", context.Background(), "idem-42", ""},
		{"trace", traced, "", traceparent},
		{"both", traced, "idem-43", traceparent},
	} {
		if _, err := callCtx(t, tc.ctx, u, "crm_echo", map[string]any{"text": "x"}, func(c *integrations.Call) { c.IdempotencyKey = tc.key }); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		sent := up.paramsOf("tools/call")
		if len(sent) != i+1 {
			t.Fatalf("%s: %d tools/call requests", tc.name, len(sent))
		}
		var p struct {
			Meta map[string]any `json:"_meta"`
		}
		if err := json.Unmarshal(sent[i], &p); err != nil {
			t.Fatal(err)
		}
		key, _ := p.Meta["idempotencyKey"].(string)
		tp, _ := p.Meta["traceparent"].(string)
		if key != tc.key || tp != tc.wantTrace {
			t.Errorf("%s: _meta %v; want idempotencyKey %q, traceparent %q", tc.name, p.Meta, tc.key, tc.wantTrace)
		}
	}
}

// What the model receives of a result is capped: by response.max_bytes, or
// by the default when the integration sets none (no response block, or one
// without max_bytes).
func TestCallResultIsCapped(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("a", 20000)
	up := statelessEcho(t, []any{echoTool("dump")}, func(json.RawMessage) (any, map[string]any) { return textResult(long), nil })
	for _, tc := range []struct {
		extra string
		limit int
	}{
		{"response: {max_bytes: 40}", 40},
		{"response: {}", 16 << 10},
		{"", 16 << 10},
	} {
		u := mustNew(t, integration(t, plainYAML(up.URL+"/mcp", tc.extra)), Deps{})
		started(t, u)
		res, err := call(t, u, "crm_dump", map[string]any{"text": "x"})
		if err != nil {
			t.Fatal(err)
		}
		want := long[:tc.limit] + integrations.TruncationNote(int64(tc.limit))
		if got := text(res); got != want {
			t.Errorf("%q: %d bytes ending %q; want %d bytes and the note", tc.extra, len(got), got[max(0, len(got)-50):], tc.limit)
		}
	}
}

// Credentials reach an HTTP upstream in every form the config offers
// (bearer, basic, a named header, secret and literal headers), read at each
// request; whatever the upstream echoes of them is scrubbed from the text,
// and structured content that holds one is dropped.
func TestCredentialsSentAndScrubbed(t *testing.T) {
	t.Parallel()
	const pw, key = "pw-Secret-771", "key-Secret-0042"
	store := secrets.Memory{"vault:secret/crm#pw": pw, "vault:secret/crm#key": key}
	res := secrets.NewResolver(map[secrets.Scheme]secrets.Source{secrets.SchemeVault: store})
	for _, tc := range []struct {
		name   string
		auth   string
		header string // the header that must carry the credential
		want   string
	}{
		{"bearer", `auth: {type: bearer, secret: "vault:secret/crm#pw"}`, "Authorization", "Bearer " + pw},
		{"basic", `auth: {type: basic, username: ana, secret: "vault:secret/crm#pw"}`, "Authorization", "Basic " + base64.StdEncoding.EncodeToString([]byte("ana:"+pw))},
		{"header", `auth: {type: header, header: X-Api-Key, secret: "vault:secret/crm#pw"}`, "X-Api-Key", pw},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var up *fakeMCP
			up = statelessEcho(t, []any{echoTool("echo")}, func(params json.RawMessage) (any, map[string]any) {
				var p struct {
					Arguments map[string]string `json:"arguments"`
				}
				_ = json.Unmarshal(params, &p)
				h := up.headersOf("tools/call")
				sent := h[len(h)-1].Get(tc.header)
				echoed := "you sent " + sent + " and " + strings.TrimPrefix(strings.TrimPrefix(sent, "Bearer "), "Basic ")
				switch p.Arguments["text"] {
				case "structured-secret":
					return map[string]any{"content": []any{map[string]any{"type": "text", "text": "ok"}}, "structuredContent": map[string]any{"seen": sent}}, nil
				case "structured":
					return map[string]any{"content": []any{map[string]any{"type": "text", "text": "ok"}}, "structuredContent": map[string]any{"seen": "nothing secret"}}, nil
				case "refuse":
					return nil, map[string]any{"code": -32602, "message": "bad credential " + sent}
				}
				return textResult(echoed), nil
			})
			yaml := plainYAML(up.URL+"/mcp", tc.auth, `headers: {X-Tenant: acme, X-Key: "vault:secret/crm#key"}`)
			u := mustNew(t, integration(t, yaml), Deps{Secrets: res})
			started(t, u)
			r, err := call(t, u, "crm_echo", map[string]any{"text": "echo"})
			if err != nil {
				t.Fatal(err)
			}
			h := up.headersOf("tools/call")[0]
			if h.Get(tc.header) != tc.want || h.Get("X-Tenant") != "acme" || h.Get("X-Key") != key {
				t.Fatalf("headers sent: %s=%q X-Tenant=%q X-Key=%q", tc.header, h.Get(tc.header), h.Get("X-Tenant"), h.Get("X-Key"))
			}
			if got := text(r); strings.Contains(got, pw) || strings.Contains(got, strings.TrimPrefix(tc.want, "Basic ")) || !strings.Contains(got, "[redacted]") {
				t.Fatalf("echoed credential not scrubbed: %q", got)
			}
			r, err = call(t, u, "crm_echo", map[string]any{"text": "structured-secret"})
			if err != nil || r.StructuredContent != nil {
				t.Fatalf("structured content holding a credential: %v %v", r.StructuredContent, err)
			}
			r, err = call(t, u, "crm_echo", map[string]any{"text": "structured"})
			if err != nil || r.StructuredContent == nil {
				t.Fatalf("structured content without a credential was dropped: %v", err)
			}
			_, err = call(t, u, "crm_echo", map[string]any{"text": "refuse"})
			if msg := integrations.PublicMessage(err); strings.Contains(msg, pw) || !strings.Contains(msg, "refused the call: invalid params: bad credential") {
				t.Fatalf("protocol error: %q", msg)
			}
		})
	}
}

// A credential that cannot be read stops the call before it leaves, with a
// sentence about the secret store.
func TestUnreadableCredentialStopsTheCall(t *testing.T) {
	t.Parallel()
	var broken atomic.Bool
	src := secrets.SourceFunc(func(ctx context.Context, ref secrets.Ref) (string, error) {
		if broken.Load() {
			return "", secrets.ErrDenied
		}
		return "tok", nil
	})
	up := statelessEcho(t, []any{echoTool("echo")}, nil)
	yaml := plainYAML(up.URL+"/mcp", `headers: {X-Key: "vault:secret/crm#key"}`)
	u := mustNew(t, integration(t, yaml), Deps{Secrets: secrets.NewResolver(map[secrets.Scheme]secrets.Source{secrets.SchemeVault: src})})
	started(t, u)
	broken.Store(true)
	_, err := call(t, u, "crm_echo", map[string]any{"text": "x"})
	if integrations.KindOf(err) != integrations.KindUnavailable || !errors.Is(err, secrets.ErrDenied) ||
		!strings.Contains(integrations.PublicMessage(err), "crm cannot be used: the secret store denied access") {
		t.Fatalf("call with an unreadable credential: %v", err)
	}
	if n := up.count("tools/call"); n != 0 {
		t.Fatalf("%d tools/call sent without credentials", n)
	}
}

// An upstream's error texts name the exposed tool, the only name the model
// knows, never the upstream's own (a word that merely contains it stays).
// An upstream error outside the protocol's is a failure to reach it.
func TestUpstreamErrorsNameTheExposedTool(t *testing.T) {
	t.Parallel()
	up := statelessEcho(t, []any{echoTool("echo")}, func(params json.RawMessage) (any, map[string]any) {
		var p struct {
			Arguments map[string]string `json:"arguments"`
		}
		_ = json.Unmarshal(params, &p)
		switch p.Arguments["text"] {
		case "rpc":
			return nil, map[string]any{"code": -32602, "message": "invalid arguments for tool echo: echo echo echoes"}
		case "odd":
			return nil, map[string]any{"code": -32000, "message": "echo exploded"}
		}
		return map[string]any{"isError": true, "content": []any{
			map[string]any{"type": "text", "text": "Tool echo failed: echo,echo (echoes) echo"},
			map[string]any{"type": "image", "data": "AAAA", "mimeType": "image/png"},
		}}, nil
	})
	u := mustNew(t, integration(t, plainYAML(up.URL+"/mcp")), Deps{})
	started(t, u)
	res, err := call(t, u, "crm_echo", map[string]any{"text": "result"})
	if err != nil || !res.IsError || text(res) != "Tool crm_echo failed: crm_echo,crm_echo (echoes) crm_echo" {
		t.Fatalf("error result: %q %v", text(res), err)
	}
	_, err = call(t, u, "crm_echo", map[string]any{"text": "rpc"})
	if got := integrations.PublicMessage(err); integrations.KindOf(err) != integrations.KindUpstream ||
		got != "crm_echo refused the call: invalid params: invalid arguments for tool crm_echo: crm_echo crm_echo echoes" {
		t.Fatalf("protocol error: %q (%v)", got, integrations.KindOf(err))
	}
	_, err = call(t, u, "crm_echo", map[string]any{"text": "odd"})
	if got := integrations.PublicMessage(err); integrations.KindOf(err) != integrations.KindUnavailable || !strings.HasPrefix(got, "crm cannot be reached right now") {
		t.Fatalf("an error outside the protocol's: %q (%v)", got, integrations.KindOf(err))
	}
}

// A call that outlives the integration's timeout is a timeout; one whose
// caller gives up is cancelled. Neither waits for the upstream.
func TestCallTimeoutAndCancellation(t *testing.T) {
	t.Parallel()
	arrived := make(chan struct{}, 4)
	up := newFakeMCP(t, func(w http.ResponseWriter, r *http.Request, method string, params json.RawMessage) (any, map[string]any, bool) {
		switch method {
		case "server/discover":
			return statelessDiscover(false), nil, true
		case "tools/list":
			return map[string]any{"tools": []any{echoTool("slow")}}, nil, true
		case "tools/call":
			arrived <- struct{}{}
			<-r.Context().Done() // never answers
			return nil, nil, true
		}
		return nil, nil, false
	})
	yaml := "integrations:\n  - name: crm\n    type: mcp\n    url: " + up.URL + "/mcp\n    timeout: 1s\n"
	u := mustNew(t, integration(t, yaml), Deps{})
	started(t, u)
	_, err := call(t, u, "crm_slow", map[string]any{"text": "x"})
	if integrations.KindOf(err) != integrations.KindUnavailable || integrations.PublicMessage(err) != "crm did not answer within 1s; try once more or offer to follow up later." {
		t.Fatalf("timeout: %q (%v)", integrations.PublicMessage(err), err)
	}
	<-arrived

	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-arrived
		cancel()
	}()
	_, err = callCtx(t, ctx, u, "crm_slow", map[string]any{"text": "x"}, nil)
	if integrations.KindOf(err) != integrations.KindCancelled || integrations.PublicMessage(err) != "The call to crm was cancelled." {
		t.Fatalf("cancelled: %q (%v)", integrations.PublicMessage(err), err)
	}
}
