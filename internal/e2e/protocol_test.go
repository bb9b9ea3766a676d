package e2e

import (
	"context"
	"encoding/json"
	"io"
	"strings"
	"testing"
	"time"
)

// Malformed protocol messages get a clear error status or JSON-RPC error,
// never a crash, and the server keeps serving a real client afterwards.
func TestBadProtocolMessagesLeaveTheServerServing(t *testing.T) {
	srv := serve(t, withServer(testConfig(newUpstream(t).URL), "  max_body_bytes: 65536"))
	resp := post(t, srv.BaseURL+"/mcp", initBody, nil)
	sid := resp.Header.Get("Mcp-Session-Id")
	inSession := map[string]string{"Mcp-Session-Id": sid, "Mcp-Protocol-Version": "2025-06-18"}
	cases := []struct {
		name string
		body string
		hdr  map[string]string
	}{
		{"not JSON", `{"jsonrpc":`, nil},
		{"JSON but not an object", `[1,2,3]`, inSession},
		{"empty batch", `[]`, inSession},
		{"wrong jsonrpc version", `{"jsonrpc":"1.0","id":1,"method":"tools/list"}`, inSession},
		{"unknown method", `{"jsonrpc":"2.0","id":1,"method":"tools/explode"}`, inSession},
		{"params of the wrong type", `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":"helpdesk_get_customer"}`, inSession},
		{"arguments of the wrong type", `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"helpdesk_get_customer","arguments":[1]}}`, inSession},
		{"unknown tool", `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"nope","arguments":{}}}`, inSession},
		{"huge id", `{"jsonrpc":"2.0","id":` + strings.Repeat("9", 400) + `,"method":"tools/list"}`, inSession},
		{"deep nesting", `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"helpdesk_get_customer","arguments":{"id":` + strings.Repeat("[", 5000) + strings.Repeat("]", 5000) + `}}}`, inSession},
		{"modern request without _meta", `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`, map[string]string{"Mcp-Protocol-Version": "2026-07-28", "Mcp-Method": "tools/list"}},
		{"unsupported version", `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"1999-01-01","capabilities":{},"clientInfo":{"name":"x","version":"1"}}}`, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := post(t, srv.BaseURL+"/mcp", tc.body, tc.hdr)
			body, _ := io.ReadAll(r.Body)
			if r.StatusCode >= 500 {
				t.Fatalf("status %d: %s", r.StatusCode, body)
			}
			if r.StatusCode == 200 && !strings.Contains(string(body), `"error"`) && !strings.Contains(string(body), `"isError":true`) && tc.name != "unsupported version" {
				t.Fatalf("a bad message was answered as a success: %s", body)
			}
		})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c := clientMatrix()[0].Connect(t, ctx, srv.target)
	defer c.Close()
	res, err := c.Call(ctx, "helpdesk_get_customer", map[string]any{"id": "c-1"})
	if err != nil || res.IsError {
		t.Fatalf("server no longer serving: %+v %v", res, err)
	}
}

// The 2025-03-26 revision of streamable HTTP lets a client send a JSON-RPC
// batch; each request in it is answered in one JSON array, a notification
// gets no answer, and a client of a later revision is refused.
func TestBatchesIn20250326(t *testing.T) {
	up := newUpstream(t)
	srv := serve(t, testConfig(up.URL))
	resp := post(t, srv.BaseURL+"/mcp", strings.Replace(initBody, "2025-06-18", "2025-03-26", 1), nil)
	sid := resp.Header.Get("Mcp-Session-Id")
	if resp.StatusCode != 200 || sid == "" {
		t.Fatalf("initialize: %d %q", resp.StatusCode, sid)
	}
	session := map[string]string{"Mcp-Session-Id": sid}
	batch := `[{"jsonrpc":"2.0","method":"notifications/initialized"},
		{"jsonrpc":"2.0","id":"a","method":"tools/call","params":{"name":"helpdesk_get_customer","arguments":{"id":"c-1"}}},
		{"jsonrpc":"2.0","id":7,"method":"ping"}]`
	r := post(t, srv.BaseURL+"/mcp", batch, session)
	body, _ := io.ReadAll(r.Body)
	var answers []struct {
		ID     any            `json:"id"`
		Result map[string]any `json:"result"`
	}
	if r.StatusCode != 200 || json.Unmarshal(body, &answers) != nil || len(answers) != 2 {
		t.Fatalf("batch: %d %s", r.StatusCode, body)
	}
	if answers[0].ID != "a" || !strings.Contains(string(body), "Ana García") || answers[1].ID != 7.0 {
		t.Fatalf("answers: %s", body)
	}
	if r := post(t, srv.BaseURL+"/mcp", `[{"jsonrpc":"2.0","method":"notifications/initialized"}]`, session); r.StatusCode != 202 {
		t.Fatalf("a batch of notifications: %d, want 202", r.StatusCode)
	}
	session["Mcp-Protocol-Version"] = "2025-06-18"
	if r := post(t, srv.BaseURL+"/mcp", `[{"jsonrpc":"2.0","id":1,"method":"ping"}]`, session); r.StatusCode != 400 {
		t.Fatalf("a batch from a 2025-06-18 client: %d, want 400", r.StatusCode)
	}
	if r := post(t, srv.BaseURL+"/mcp", `[{"jsonrpc":"2.0","id":1,"method":"ping"}]`, map[string]string{"Mcp-Session-Id": "mcp-session-unknown"}); r.StatusCode != 404 {
		t.Fatalf("a batch in an unknown session: %d, want 404", r.StatusCode)
	}
}
