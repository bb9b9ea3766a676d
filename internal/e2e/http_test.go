package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"
)

const initBody = `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"raw","version":"1"}}}`

func post(t *testing.T, url, body string, hdr map[string]string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest("POST", url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// Sessions of the handshake era are real: a terminated or unknown session id
// gets 404, so a client knows to start over.
func TestSessionLifecycle(t *testing.T) {
	srv := serve(t, testConfig(newUpstream(t).URL))
	resp := post(t, srv.BaseURL+"/mcp", initBody, nil)
	if resp.StatusCode != 200 {
		t.Fatalf("initialize: %d", resp.StatusCode)
	}
	sid := resp.Header.Get("Mcp-Session-Id")
	if sid == "" {
		t.Fatal("no Mcp-Session-Id on initialize")
	}
	list := `{"jsonrpc":"2.0","id":2,"method":"tools/list"}`
	hdr := map[string]string{"Mcp-Session-Id": sid, "Mcp-Protocol-Version": "2025-06-18"}
	if r := post(t, srv.BaseURL+"/mcp", list, hdr); r.StatusCode != 200 {
		t.Fatalf("tools/list in session: %d", r.StatusCode)
	}
	unknown := map[string]string{"Mcp-Session-Id": "mcp-session-00000000000000000000000000000000", "Mcp-Protocol-Version": "2025-06-18"}
	if r := post(t, srv.BaseURL+"/mcp", list, unknown); r.StatusCode != 404 {
		t.Fatalf("unknown session: %d, want 404", r.StatusCode)
	}
	del, _ := http.NewRequest("DELETE", srv.BaseURL+"/mcp", nil)
	del.Header.Set("Mcp-Session-Id", sid)
	del.Header.Set("Mcp-Protocol-Version", "2025-06-18")
	dr, err := http.DefaultClient.Do(del)
	if err != nil {
		t.Fatal(err)
	}
	dr.Body.Close()
	if dr.StatusCode != 200 && dr.StatusCode != 204 {
		t.Fatalf("DELETE session: %d", dr.StatusCode)
	}
	if r := post(t, srv.BaseURL+"/mcp", list, hdr); r.StatusCode != 404 {
		t.Fatalf("terminated session: %d, want 404", r.StatusCode)
	}
}

func TestOriginAndBodyLimits(t *testing.T) {
	srv := serve(t, withServer(testConfig(newUpstream(t).URL), "  max_body_bytes: 4096", "  allowed_origins: [https://console.example.com]"))
	cases := []struct {
		name   string
		origin string
		body   string
		want   int
	}{
		{"no origin (non-browser client)", "", initBody, 200},
		{"loopback origin", "http://localhost:5173", initBody, 200},
		{"configured origin", "https://console.example.com", initBody, 200},
		{"foreign origin", "https://evil.example", initBody, 403},
		{"rebinding origin", "http://attacker.example:8080", initBody, 403},
		{"body over the cap", "", `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"pad":"` + strings.Repeat("x", 5000) + `"}}`, 413},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			hdr := map[string]string{}
			if tc.origin != "" {
				hdr["Origin"] = tc.origin
			}
			if r := post(t, srv.BaseURL+"/mcp", tc.body, hdr); r.StatusCode != tc.want {
				t.Fatalf("status %d, want %d", r.StatusCode, tc.want)
			}
		})
	}
	// A body sent without Content-Length (chunked) is cut by the streaming
	// limit; the server refuses it and goes on serving.
	chunked := func(body string) (int, string, error) {
		// io.MultiReader hides the length: the client streams it chunked.
		req, _ := http.NewRequest("POST", srv.BaseURL+"/mcp", io.MultiReader(strings.NewReader(body)))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		if req.ContentLength != 0 || req.GetBody != nil {
			t.Fatalf("the request has a length (%d): not chunked", req.ContentLength)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, "", err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), nil
	}
	over := `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"raw","version":"1"},"pad":"` + strings.Repeat("x", 20000) + `"}}`
	if code, body, err := chunked(over); err == nil && (code < 400 || strings.Contains(body, `"result"`)) {
		t.Fatalf("chunked body over the cap: %d %s", code, body)
	} else {
		t.Logf("chunked body over the cap: %d %.120s %v", code, body, err)
	}
	if code, body, err := chunked(initBody); err != nil || code != 200 || !strings.Contains(body, `"result"`) {
		t.Fatalf("chunked body within the cap, after one over it: %d %s %v", code, body, err)
	}
	if r := post(t, srv.BaseURL+"/mcp", initBody, nil); r.StatusCode != 200 {
		t.Fatalf("after a chunked body over the cap: %d", r.StatusCode)
	}

	// A foreign Host on loopback is DNS rebinding too.
	req, _ := http.NewRequest("POST", srv.BaseURL+"/mcp", strings.NewReader(initBody))
	req.Host = "attacker.example"
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 403 {
		t.Fatalf("foreign Host: %d, want 403", resp.StatusCode)
	}
}

// With server.clients, every MCP request needs a known key, and a client
// sees and calls only its allowed integrations.
func TestClientKeysAndAllowlists(t *testing.T) {
	up := newUpstream(t)
	cfg := testConfig(up.URL) + `
  - name: billing
    type: http
    base_url: ` + up.URL + `/api
    auth: {type: bearer, secret: "env:E2E_HELPDESK_TOKEN"}
    tools:
      - {name: get_customer, description: Billing view of a customer., method: GET, path: "/customers/{id}", params: [{name: id, in: path, required: true}]}
`
	srv := serve(t, withServer(cfg, "  clients:",
		`    - {id: voice, key: "env:E2E_KEY_VOICE", integrations: [helpdesk]}`,
		`    - {id: ops, key: "env:E2E_KEY_OPS"}`))
	if r := post(t, srv.BaseURL+"/mcp", initBody, nil); r.StatusCode != 401 {
		t.Fatalf("no key: %d, want 401", r.StatusCode)
	}
	if r := post(t, srv.BaseURL+"/mcp", initBody, map[string]string{"Authorization": "Bearer wrong"}); r.StatusCode != 401 {
		t.Fatalf("wrong key: %d, want 401", r.StatusCode)
	}
	resp, err := http.Get(srv.BaseURL + "/sse")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Fatalf("SSE without key: %d, want 401", resp.StatusCode)
	}

	for _, kind := range clientMatrix() {
		if kind.Transport == "stdio" {
			continue
		}
		t.Run(kind.Name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			tg := srv.target
			tg.Header = http.Header{"Authorization": {"Bearer key-voice-123"}}
			c := kind.Connect(t, ctx, tg)
			defer c.Close()
			tools, err := c.ListTools(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, tl := range tools {
				if strings.HasPrefix(tl.Name, "billing_") {
					t.Fatalf("voice client sees %s", tl.Name)
				}
			}
			res, err := c.Call(ctx, "billing_get_customer", map[string]any{"id": "c-1"})
			if err == nil && !res.IsError {
				t.Fatalf("voice client called a billing tool: %+v", res)
			}

			tg.Header = http.Header{"Authorization": {"Bearer key-ops-456"}}
			ops := kind.Connect(t, ctx, tg)
			defer ops.Close()
			tools, err = ops.ListTools(ctx)
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, tl := range tools {
				names = append(names, tl.Name)
			}
			sort.Strings(names)
			if len(names) != 6 || names[0] != "billing_get_customer" {
				t.Fatalf("ops client tools = %v", names)
			}
			res, err = ops.Call(ctx, "billing_get_customer", map[string]any{"id": "c-1"})
			if err != nil || res.IsError {
				t.Fatalf("ops billing call: %+v %v", res, err)
			}
		})
	}
}

func TestHealthReadyMetrics(t *testing.T) {
	srv := serve(t, testConfig(newUpstream(t).URL))
	for _, p := range []string{"/healthz", "/readyz"} {
		resp, err := http.Get(srv.BaseURL + p)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("%s: %d", p, resp.StatusCode)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c := clientMatrix()[0].Connect(t, ctx, srv.target)
	defer c.Close()
	if _, err := c.Call(ctx, "helpdesk_get_customer", map[string]any{"id": "c-1"}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Call(ctx, "helpdesk_get_customer", map[string]any{}); err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(srv.BaseURL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		`switchboard_tool_calls_total{outcome="ok",tool="helpdesk_get_customer"} 1`,
		`switchboard_tool_calls_total{outcome="invalid",tool="helpdesk_get_customer"} 1`,
		`switchboard_tool_call_duration_seconds_count{tool="helpdesk_get_customer"} 2`,
	} {
		if !bytes.Contains(body, []byte(want)) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

func TestNotReady(t *testing.T) {
	// A Vault that nothing listens on: switchboard serves, and says it is
	// not ready.
	cfg := strings.Replace(testConfig(newUpstream(t).URL), "integrations:", "vault: {address: \"http://127.0.0.1:1\", timeout: 200ms}\nintegrations:", 1)
	cfg = strings.Replace(cfg, `secret: "env:E2E_HELPDESK_TOKEN"`, `secret: "vault:secret/helpdesk#token"`, 1)
	srv := serve(t, cfg)
	resp, err := http.Get(srv.BaseURL + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	var body map[string]string
	_ = json.NewDecoder(resp.Body).Decode(&body)
	resp.Body.Close()
	if resp.StatusCode != 503 || body["status"] != "unavailable" {
		t.Fatalf("readyz = %d %v", resp.StatusCode, body)
	}
}
