package e2e

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	mcpgo "github.com/mark3labs/mcp-go/mcp"
	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
)

// Issue 13: an argument above 2^53 reaches the upstream MCP server with
// every digit, through a real MCP client.
func TestMCPBigNumberKeepsEveryDigit(t *testing.T) {
	s := sdk.NewServer(&sdk.Implementation{Name: "ids", Version: "1"}, nil)
	var got string
	rawTool(s, "lookup", "Looks up an id.", map[string]any{"type": "object", "properties": map[string]any{"id": map[string]any{"type": "integer"}}}, nil,
		func(ctx context.Context, req *sdk.CallToolRequest) (*sdk.CallToolResult, error) {
			got = string(req.Params.Arguments)
			return text(got), nil
		})
	up := newSDKUpstream(t, s, nil)
	srv, a, _ := serveLogged(t, "integrations:\n  - name: ids\n    type: mcp\n    url: "+up.URL+"\n", nil)
	waitTool(t, a, "ids_lookup")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for _, v := range []string{"2025-06-18", mcpgo.ProtocolVersion20260728} {
		c := mcpgoHTTP(t, ctx, srv.BaseURL, v)
		var req mcpgo.CallToolRequest
		req.Params.Name = "ids_lookup"
		req.Params.Arguments = map[string]any{"id": json.Number("9007199254740993")}
		res, err := c.CallTool(ctx, req)
		if err != nil || res.IsError || !strings.Contains(got, "9007199254740993") {
			t.Fatalf("%s: upstream got %s (%v)", v, got, err)
		}
	}
}

// Issue 13: an upstream tool whose exposed name would break the 64-char
// rule is left out and logged once; the others (and the http tools) work
// and nothing panics.
func TestMCPBadToolNamesAreLeftOut(t *testing.T) {
	long := strings.Repeat("x", 73) // crm_ + 73 = 77 characters
	s := sdk.NewServer(&sdk.Implementation{Name: "crm", Version: "1"}, nil)
	for _, n := range []string{long, "find"} {
		rawTool(s, n, "A tool.", nil, nil, func(ctx context.Context, req *sdk.CallToolRequest) (*sdk.CallToolResult, error) {
			return text("ok " + req.Params.Name), nil
		})
	}
	up := newSDKUpstream(t, s, nil)
	helpdesk := newUpstream(t)
	cfg := testConfig(helpdesk.URL) + "  - name: crm\n    type: mcp\n    url: " + up.URL + "\n"
	_, a, logs := serveLogged(t, cfg, nil)
	waitTool(t, a, "crm_find")
	for _, tl := range a.Tools() {
		if len(tl.Name()) > 64 {
			t.Errorf("exposed %s (%d chars)", tl.Name(), len(tl.Name()))
		}
	}
	time.Sleep(300 * time.Millisecond)
	n := 0
	for _, line := range strings.Split(logs.String(), "\n") {
		if strings.Contains(line, `"msg":"tool left out"`) && strings.Contains(line, "crm_"+long) {
			n++
		}
	}
	if n != 1 {
		t.Errorf("the 77-character name was logged %d times, want once:\n%s", n, logs)
	}
	if text, res := cliCall(t, a, "crm_find", `{}`); res.IsError || text != "ok find" {
		t.Errorf("crm_find = %q", text)
	}
}

// Issue 13: two integrations whose tools would share an exposed name: the
// second is left out (logged), the first keeps working.
func TestMCPCollidingToolNameIsLeftOut(t *testing.T) {
	s := sdk.NewServer(&sdk.Implementation{Name: "crm", Version: "1"}, nil)
	rawTool(s, "b_find", "Finds.", nil, nil, func(ctx context.Context, req *sdk.CallToolRequest) (*sdk.CallToolResult, error) {
		return text("a:" + req.Params.Name), nil
	})
	rawTool(s, "find", "Finds.", nil, nil, func(ctx context.Context, req *sdk.CallToolRequest) (*sdk.CallToolResult, error) {
		return text("b:" + req.Params.Name), nil
	})
	up := newSDKUpstream(t, s, nil)
	// a + b_find = a_b_find; a_b + find = a_b_find.
	cfg := "integrations:\n  - name: a\n    type: mcp\n    url: " + up.URL + "\n    tools: {include: [b_find]}\n" +
		"  - name: a_b\n    type: mcp\n    url: " + up.URL + "\n    tools: {include: [find]}\n"
	_, a, logs := serveLogged(t, cfg, nil)
	waitTool(t, a, "a_b_find")
	time.Sleep(500 * time.Millisecond)
	if n := len(a.Tools()); n != 1 {
		t.Errorf("%d tools exposed, want 1", n)
	}
	if !strings.Contains(logs.String(), "tool left out") {
		t.Errorf("collision not logged:\n%s", logs)
	}
	if text, res := cliCall(t, a, "a_b_find", `{}`); res.IsError || !strings.HasSuffix(text, "find") {
		t.Errorf("a_b_find = %q", text)
	}
}

// Issue 13: a type: mcp integration whose credential has gone missing from
// the secret store sends nothing upstream; the model hears the
// secret-store sentence.
func TestMCPMissingCredentialSendsNothing(t *testing.T) {
	s := sdk.NewServer(&sdk.Implementation{Name: "crm", Version: "1"}, nil)
	rawTool(s, "find", "Finds.", nil, nil, func(ctx context.Context, req *sdk.CallToolRequest) (*sdk.CallToolResult, error) {
		return text("found"), nil
	})
	up := newSDKUpstream(t, s, nil)
	var gone atomic.Bool
	getenv := func(k string) string {
		if k == "CRM_TOKEN" && !gone.Load() {
			return "tok-1"
		}
		return testEnv(k)
	}
	_, a, _ := serveLogged(t, "integrations:\n  - name: crm\n    type: mcp\n    url: "+up.URL+"\n    auth: {type: bearer, secret: \"env:CRM_TOKEN\"}\n", getenv)
	waitTool(t, a, "crm_find")
	gone.Store(true)
	before := len(up.requests())
	txt, res := cliCall(t, a, "crm_find", `{}`)
	if !res.IsError || !strings.Contains(txt, "crm cannot be used: its credentials are missing from the secret store") {
		t.Errorf("call = %q", txt)
	}
	for _, b := range up.requests()[before:] {
		if strings.Contains(b, "tools/call") {
			t.Fatalf("a tools/call reached the upstream without credentials: %s", b)
		}
	}
}

// Issue 13: connections to an HTTP upstream MCP server are pooled.
func TestMCPConnectionsArePooled(t *testing.T) {
	s := sdk.NewServer(&sdk.Implementation{Name: "crm", Version: "1"}, nil)
	rawTool(s, "find", "Finds.", nil, nil, func(ctx context.Context, req *sdk.CallToolRequest) (*sdk.CallToolResult, error) {
		return text("found"), nil
	})
	up := newSDKUpstream(t, s, nil)
	_, a, _ := serveLogged(t, "integrations:\n  - name: crm\n    type: mcp\n    url: "+up.URL+"\n", nil)
	waitTool(t, a, "crm_find")
	start := up.conns.Load()
	for i := 0; i < 100; i++ {
		if txt, _ := cliCall(t, a, "crm_find", `{}`); txt != "found" {
			t.Fatalf("call %d = %q", i, txt)
		}
	}
	var wg sync.WaitGroup
	for g := 0; g < 10; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 10; i++ {
				res, err := a.Call(context.Background(), "crm_find", []byte(`{}`), nil)
				if err != nil || res.IsError {
					t.Errorf("concurrent call: %v", err)
				}
			}
		}()
	}
	wg.Wait()
	// 10 calls at a time need about 10 connections (and the upstream's
	// streams a few more); without pooling it is one per call.
	if n := up.conns.Load() - start; n > 40 {
		t.Errorf("200 calls opened %d new TCP connections, want a handful (pooled)", n)
	}
}

// Issue 18: credentials an upstream echoes (basic auth in base64, a bearer
// token in structured content) reach the client redacted or dropped.
func TestMCPEchoedCredentialsAreRedacted(t *testing.T) {
	s := sdk.NewServer(&sdk.Implementation{Name: "crm", Version: "1"}, nil)
	var lastAuth atomic.Value
	lastAuth.Store("")
	rawTool(s, "whoami", "Echoes the caller's credential.", nil, nil, func(ctx context.Context, req *sdk.CallToolRequest) (*sdk.CallToolResult, error) {
		auth := lastAuth.Load().(string)
		b64 := strings.TrimPrefix(auth, "Basic ")
		raw, _ := base64.StdEncoding.DecodeString(b64)
		_, pw, _ := strings.Cut(string(raw), ":")
		return &sdk.CallToolResult{
			Content:           []sdk.Content{&sdk.TextContent{Text: "you sent " + b64 + " (" + pw + ")"}},
			StructuredContent: map[string]any{"password": pw},
		}, nil
	})
	up := newSDKUpstream(t, s, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			lastAuth.Store(r.Header.Get("Authorization"))
			h.ServeHTTP(w, r)
		})
	})
	_, a, _ := serveLogged(t, "integrations:\n  - name: crm\n    type: mcp\n    url: "+up.URL+"\n    auth: {type: basic, username: agent, secret: \"env:E2E_HELPDESK_TOKEN\"}\n", nil)
	waitTool(t, a, "crm_whoami")
	txt, res := cliCall(t, a, "crm_whoami", `{}`)
	b64 := base64.StdEncoding.EncodeToString([]byte("agent:" + upstreamToken))
	if strings.Contains(txt, upstreamToken) || strings.Contains(txt, b64) || !strings.Contains(txt, "[redacted]") {
		t.Errorf("text = %q, want the credential [redacted] in both spellings", txt)
	}
	if res.StructuredContent != nil {
		t.Errorf("structured content holding the credential reached the client: %v", res.StructuredContent)
	}
}

// Issue 18: an upstream tool without readOnlyHint is not read-only (and is
// hidden under policy.read_only); a tool under a confirm glob that claims
// readOnlyHint loses it.
func TestMCPReadOnlyHints(t *testing.T) {
	s := sdk.NewServer(&sdk.Implementation{Name: "crm", Version: "1"}, nil)
	handler := func(ctx context.Context, req *sdk.CallToolRequest) (*sdk.CallToolResult, error) {
		return text("ok"), nil
	}
	rawTool(s, "look", "Reads.", nil, &sdk.ToolAnnotations{ReadOnlyHint: true}, handler)
	rawTool(s, "update", "Writes (no hints).", nil, nil, handler)
	rawTool(s, "delete_all", "Claims to be read-only.", nil, &sdk.ToolAnnotations{ReadOnlyHint: true}, handler)
	up := newSDKUpstream(t, s, nil)
	cfg := "integrations:\n  - name: crm\n    type: mcp\n    url: " + up.URL + "\n    tools: {confirm: [\"delete_*\"]}\n"
	_, a, _ := serveLogged(t, cfg, nil)
	waitTool(t, a, "crm_update")
	hints := map[string]any{}
	for _, tl := range a.ToolList() {
		if tl.Annotations.ReadOnlyHint != nil {
			hints[tl.Name] = *tl.Annotations.ReadOnlyHint
		} else {
			hints[tl.Name] = nil
		}
	}
	if hints["crm_look"] != true || hints["crm_update"] == true || hints["crm_delete_all"] != false {
		t.Errorf("readOnlyHint = %v, want look true, update not true, delete_all false", hints)
	}
	if tl, _ := a.Tool("crm_update"); tl.ReadOnly {
		t.Error("crm_update is read-only without a readOnlyHint")
	}
	_, ro, _ := serveLogged(t, "policy: {read_only: true}\n"+cfg, nil)
	waitTool(t, ro, "crm_look")
	time.Sleep(200 * time.Millisecond)
	var names []string
	for _, tl := range ro.Tools() {
		names = append(names, tl.Name())
	}
	if strings.Join(names, ",") != "crm_look" {
		t.Errorf("under policy.read_only the tools are %v, want only crm_look", names)
	}
}
