package e2e

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	mcpclient "github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	mcpgo "github.com/mark3labs/mcp-go/mcp"

	"github.com/switchboard-dev/switchboard/internal/app"
)

// serveLogged is serve with the environment getenv and the log (slog JSON)
// kept for the test to read.
func serveLogged(t *testing.T, cfgYAML string, getenv func(string) string) (*served, *app.App, *lockedBuffer) {
	t.Helper()
	if getenv == nil {
		getenv = testEnv
	}
	logs := &lockedBuffer{}
	srv := serveWith(t, cfgYAML, getenv, slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	return srv, srv.app, logs
}

// waitTool waits until the App exposes tool.
func waitTool(t *testing.T, a *app.App, tool string) {
	t.Helper()
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if _, ok := a.Tool(tool); ok {
			return
		}
	}
	var names []string
	for _, tl := range a.Tools() {
		names = append(names, tl.Name())
	}
	t.Fatalf("tool %s never appeared (have %v)", tool, names)
}

// cliCall calls a tool as `switchboard call` does and returns its text.
func cliCall(t *testing.T, a *app.App, tool, args string) (string, *mcpgo.CallToolResult) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	res, err := a.Call(ctx, tool, []byte(args), nil)
	if err != nil {
		t.Fatalf("call %s: %v", tool, err)
	}
	return resultText(res), res
}

func resultText(res *mcpgo.CallToolResult) string {
	var b strings.Builder
	for _, c := range res.Content {
		if tc, ok := c.(mcpgo.TextContent); ok {
			b.WriteString(tc.Text)
		}
	}
	return b.String()
}

// mcpgoHTTP connects an mcp-go client to switchboard's streamable HTTP
// endpoint at a handshake-era revision (or 2026-07-28).
func mcpgoHTTP(t *testing.T, ctx context.Context, baseURL, version string, opts ...mcpclient.ClientOption) *mcpclient.Client {
	t.Helper()
	tr, err := transport.NewStreamableHTTP(baseURL + "/mcp")
	if err != nil {
		t.Fatal(err)
	}
	c := mcpclient.NewClient(tr, append([]mcpclient.ClientOption{mcpclient.WithProtocolVersion(version)}, opts...)...)
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	var init mcpgo.InitializeRequest
	init.Params.ClientInfo = mcpgo.Implementation{Name: "e2e", Version: "1"}
	if _, err := c.Initialize(ctx, init); err != nil {
		t.Fatal(err)
	}
	return c
}

// fakeMCP is a hand-written MCP server over HTTP (JSON answers, one request
// per POST) that does exactly what a test tells it, to reproduce upstreams
// the SDKs would not: a 2026-07-28 server without subscriptions/listen, one
// that answers {} to server/discover, one that ends a stream with retry:.
type fakeMCP struct {
	*httptest.Server
	// handle answers one JSON-RPC request: a result or an error; ok false
	// means "method not found".
	handle func(w http.ResponseWriter, r *http.Request, method string, params json.RawMessage, id json.RawMessage) (result any, rpcErr map[string]any, ok bool)

	mu     sync.Mutex
	counts map[string]int
	bodies []string
}

func newFakeMCP(t *testing.T, handle func(w http.ResponseWriter, r *http.Request, method string, params, id json.RawMessage) (any, map[string]any, bool)) *fakeMCP {
	f := &fakeMCP{handle: handle, counts: map[string]int{}}
	f.Server = httptest.NewServer(http.HandlerFunc(f.serveHTTP))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeMCP) count(method string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.counts[method]
}

func (f *fakeMCP) serveHTTP(w http.ResponseWriter, r *http.Request) {
	key := r.Method
	var msg struct {
		ID     json.RawMessage `json:"id"`
		Method string          `json:"method"`
		Params json.RawMessage `json:"params"`
	}
	var body []byte
	if r.Method == http.MethodPost {
		body, _ = io.ReadAll(r.Body)
		_ = json.Unmarshal(body, &msg)
		key = msg.Method
		if key == "" {
			key = "response"
		}
	}
	f.mu.Lock()
	f.counts[key]++
	f.bodies = append(f.bodies, string(body))
	f.mu.Unlock()
	if r.Method == http.MethodDelete {
		w.WriteHeader(http.StatusOK)
		return
	}
	result, rpcErr, ok := f.handle(w, r, key, msg.Params, msg.ID)
	if w.Header().Get("X-Handled") != "" {
		return // the handler wrote the answer itself
	}
	if r.Method == http.MethodGet {
		w.WriteHeader(http.StatusMethodNotAllowed)
		return
	}
	if len(msg.ID) == 0 || string(msg.ID) == "null" {
		w.WriteHeader(http.StatusAccepted) // a notification or a response
		return
	}
	out := map[string]any{"jsonrpc": "2.0", "id": msg.ID}
	switch {
	case !ok:
		out["error"] = map[string]any{"code": -32601, "message": "Method not found: " + key}
	case rpcErr != nil:
		out["error"] = rpcErr
	default:
		out["result"] = result
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(out)
}

// legacyInit answers initialize as a 2025-11-25 server with tools.
func legacyInit(w http.ResponseWriter) any {
	w.Header().Set("Mcp-Session-Id", "fake-session-1")
	return map[string]any{
		"protocolVersion": "2025-11-25",
		"capabilities":    map[string]any{"tools": map[string]any{}},
		"serverInfo":      map[string]any{"name": "fake", "version": "1"},
	}
}

// echoTool is the tools/list entry of a one-argument echo tool.
func echoTool(name string) map[string]any {
	return map[string]any{"name": name, "description": "Echoes text.", "inputSchema": map[string]any{
		"type": "object", "properties": map[string]any{"text": map[string]any{"type": "string"}}, "required": []string{"text"}}}
}

func textResult(s string) map[string]any {
	return map[string]any{"content": []any{map[string]any{"type": "text", "text": s}}}
}
