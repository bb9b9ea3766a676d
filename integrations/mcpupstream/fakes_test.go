package mcpupstream

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// Test doubles shared by the unit tests of this package: a hand-written MCP
// server over HTTP that answers exactly what a test tells it (to reproduce
// upstreams the SDKs would not), a log that the tests read, and an upstream
// run for the length of a test.

// fakeMCP answers one JSON-RPC request per POST with a JSON body. GETs (the
// standalone stream of a handshake-era client) get 405 unless the handler
// wrote an answer itself (X-Handled set).
type fakeMCP struct {
	*httptest.Server
	// handle answers one request: a result, or an error; ok false means
	// "method not found".
	handle func(w http.ResponseWriter, r *http.Request, method string, params json.RawMessage) (result any, rpcErr map[string]any, ok bool)

	mu     sync.Mutex
	counts map[string]int
	params map[string][]json.RawMessage
	header map[string][]http.Header
}

func newFakeMCP(t *testing.T, handle func(w http.ResponseWriter, r *http.Request, method string, params json.RawMessage) (any, map[string]any, bool)) *fakeMCP {
	t.Helper()
	f := &fakeMCP{handle: handle, counts: map[string]int{}, params: map[string][]json.RawMessage{}, header: map[string][]http.Header{}}
	f.Server = httptest.NewServer(http.HandlerFunc(f.serveHTTP))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeMCP) serveHTTP(w http.ResponseWriter, r *http.Request) {
	key := r.Method
	var msg struct {
		ID     json.RawMessage `json:"id"`
		Method string          `json:"method"`
		Params json.RawMessage `json:"params"`
	}
	if r.Method == http.MethodPost {
		body, _ := io.ReadAll(r.Body)
		_ = json.Unmarshal(body, &msg)
		key = msg.Method
		if key == "" {
			key = "response"
		}
	}
	f.mu.Lock()
	f.counts[key]++
	f.params[key] = append(f.params[key], msg.Params)
	f.header[key] = append(f.header[key], r.Header.Clone())
	f.mu.Unlock()
	if r.Method == http.MethodDelete {
		w.WriteHeader(http.StatusOK)
		return
	}
	result, rpcErr, ok := f.handle(w, r, key, msg.Params)
	if w.Header().Get("X-Handled") != "" {
		return
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

func (f *fakeMCP) count(method string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.counts[method]
}

// paramsOf returns the params of every request of method received so far.
func (f *fakeMCP) paramsOf(method string) []json.RawMessage {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]json.RawMessage(nil), f.params[method]...)
}

func (f *fakeMCP) headersOf(method string) []http.Header {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]http.Header(nil), f.header[method]...)
}

// waitCount waits until at least n requests of method have arrived.
func (f *fakeMCP) waitCount(t *testing.T, method string, n int) {
	t.Helper()
	for deadline := time.Now().Add(15 * time.Second); f.count(method) < n; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d %s request(s) arrived, want %d", f.count(method), method, n)
		}
	}
}

// statelessDiscover is a 2026-07-28 server/discover result.
func statelessDiscover(listChanged bool) map[string]any {
	tools := map[string]any{}
	if listChanged {
		tools["listChanged"] = true
	}
	return map[string]any{
		"supportedVersions": []string{"2026-07-28"},
		"capabilities":      map[string]any{"tools": tools},
		"_meta":             map[string]any{"io.modelcontextprotocol/serverInfo": map[string]any{"name": "fake", "version": "1"}},
	}
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

// statelessEcho is a 2026-07-28 upstream with tools; calls answers
// tools/call (nil: "echoed").
func statelessEcho(t *testing.T, tools []any, calls func(params json.RawMessage) (any, map[string]any)) *fakeMCP {
	return newFakeMCP(t, func(w http.ResponseWriter, r *http.Request, method string, params json.RawMessage) (any, map[string]any, bool) {
		switch method {
		case "server/discover":
			return statelessDiscover(false), nil, true
		case "tools/list":
			return map[string]any{"tools": tools}, nil, true
		case "tools/call":
			if calls == nil {
				return textResult("echoed"), nil, true
			}
			res, rpcErr := calls(params)
			return res, rpcErr, true
		}
		return nil, nil, false
	})
}

// logEntry is one log record as the tests read it.
type logEntry struct {
	Level slog.Level
	Msg   string
	Attrs map[string]any
}

// logRecorder is a slog.Handler that keeps every record.
type logRecorder struct {
	mu      sync.Mutex
	entries []logEntry
}

func (l *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (l *logRecorder) Handle(_ context.Context, r slog.Record) error {
	e := logEntry{Level: r.Level, Msg: r.Message, Attrs: map[string]any{}}
	r.Attrs(func(a slog.Attr) bool {
		e.Attrs[a.Key] = a.Value.Resolve().Any()
		return true
	})
	l.mu.Lock()
	l.entries = append(l.entries, e)
	l.mu.Unlock()
	return nil
}
func (l *logRecorder) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *logRecorder) WithGroup(string) slog.Handler      { return l }

func (l *logRecorder) logger() *slog.Logger { return slog.New(l) }

// with returns the records whose message is msg.
func (l *logRecorder) with(msg string) []logEntry {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []logEntry
	for _, e := range l.entries {
		if e.Msg == msg {
			out = append(out, e)
		}
	}
	return out
}

// wait waits for at least n records whose message is msg and returns the
// first n.
func (l *logRecorder) wait(t *testing.T, msg string, n int) []logEntry {
	t.Helper()
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if got := l.with(msg); len(got) >= n {
			return got[:n]
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d %q log record(s), want %d; log:\n%s", len(l.with(msg)), msg, n, l)
		}
	}
}

func (l *logRecorder) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var b strings.Builder
	for _, e := range l.entries {
		fmt.Fprintf(&b, "%s %s %v\n", e.Level, e.Msg, e.Attrs)
	}
	return b.String()
}

// run starts u.Run for the length of the test and, when the test ends,
// stops it and waits for it to return (a panic on the way out fails the
// test binary instead of going unnoticed).
func run(t *testing.T, u *Upstream) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		u.Run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
}

// started runs u and waits for its first connection attempt to succeed.
func started(t *testing.T, u *Upstream) {
	t.Helper()
	run(t, u)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := u.WaitStarted(ctx); err != nil {
		t.Fatal(err)
	}
}

// plainYAML is an mcp integration crm at url, without credentials; extra
// lines are appended (indented four spaces).
func plainYAML(url string, extra ...string) string {
	y := "integrations:\n  - name: crm\n    type: mcp\n    url: " + url + "\n    timeout: 3s\n"
	for _, e := range extra {
		y += "    " + e + "\n"
	}
	return y
}
