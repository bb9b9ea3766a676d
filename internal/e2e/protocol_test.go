package e2e

import (
	"context"
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
