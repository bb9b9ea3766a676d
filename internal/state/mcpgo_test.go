package state

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	mcpserver "github.com/mark3labs/mcp-go/server"

	"github.com/switchboard-dev/switchboard/internal/testredis"
)

// resolver is how the server wires SessionIDs into mcp-go: a request gets
// the shared ids; the idle sweeper and CloseSessions (no request) get the
// local ones, so they never end a session on the other replicas.
type resolver struct{ ids *SessionIDs }

func (r resolver) ResolveSessionIdManager(req *http.Request) mcpserver.SessionIdManager {
	if req == nil {
		return r.ids.Local()
	}
	return r.ids
}

// Three mcp-go streamable-HTTP servers on one Redis serve one handshake-era
// session: opened on the first, used on all, DELETE on one is 404 on all,
// and shutting a replica down ends nothing for the others.
func TestMCPGoSessionsAcrossReplicas(t *testing.T) {
	srv := testredis.Start(t)
	key := []byte("0123456789abcdef-from-the-confirmation-key")
	var urls []string
	var servers []*mcpserver.StreamableHTTPServer
	for range 3 {
		ids, err := NewSessionIDs(openTestRedis(t, srv.URL(), "mcp:", nil), key, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		s := mcpserver.NewMCPServer("t", "1", mcpserver.WithToolCapabilities(false))
		s.AddTool(mcp.NewTool("ping"), func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			return mcp.NewToolResultText("pong"), nil
		})
		h := mcpserver.NewStreamableHTTPServer(s, mcpserver.WithSessionIdManagerResolver(resolver{ids}), mcpserver.WithSessionIdleTTL(time.Hour))
		hs := httptest.NewServer(h)
		t.Cleanup(hs.Close)
		servers = append(servers, h)
		urls = append(urls, hs.URL)
	}
	const version = "2025-06-18"
	post := func(url, session, body string) (int, http.Header, string) {
		t.Helper()
		req, _ := http.NewRequest("POST", url, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		if session != "" {
			req.Header.Set("Mcp-Session-Id", session)
			req.Header.Set("MCP-Protocol-Version", version)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header, string(b)
	}
	code, h, body := post(urls[0], "", `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"`+version+`","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}`)
	session := h.Get("Mcp-Session-Id")
	if code != 200 || session == "" {
		t.Fatalf("initialize: %d %q %s", code, session, body)
	}
	if code, _, body := post(urls[1], session, `{"jsonrpc":"2.0","method":"notifications/initialized"}`); code/100 != 2 {
		t.Fatalf("initialized on replica 2: %d %s", code, body)
	}
	for i, u := range urls {
		if code, _, body := post(u, session, `{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"ping"}}`); code != 200 || !strings.Contains(body, "pong") {
			t.Fatalf("call on replica %d: %d %s", i+1, code, body)
		}
	}
	// A replica shutting down (CloseSessions) ends nothing shared.
	servers[0].Shutdown(context.Background())
	if code, _, body := post(urls[2], session, `{"jsonrpc":"2.0","id":3,"method":"tools/list"}`); code != 200 {
		t.Fatalf("after replica 1 shut down: %d %s", code, body)
	}
	req, _ := http.NewRequest("DELETE", urls[1], nil)
	req.Header.Set("Mcp-Session-Id", session)
	req.Header.Set("MCP-Protocol-Version", version)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("DELETE on replica 2: %v %v", resp.StatusCode, err)
	}
	resp.Body.Close()
	for _, u := range urls[1:] {
		if code, _, body := post(u, session, `{"jsonrpc":"2.0","id":4,"method":"tools/list"}`); code != 404 {
			t.Fatalf("after DELETE: %d %s, want 404", code, body)
		}
	}
	if code, _, _ := post(urls[2], "mcp-session-00000000-0000-0000-0000-000000000000", `{"jsonrpc":"2.0","id":5,"method":"tools/list"}`); code != 404 {
		t.Fatalf("foreign id: %d, want 404", code)
	}
}
