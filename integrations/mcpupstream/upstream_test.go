package mcpupstream

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	mcpgo "github.com/mark3labs/mcp-go/mcp"
	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/switchboard-dev/switchboard/configs"
	"github.com/switchboard-dev/switchboard/integrations"
	"github.com/switchboard-dev/switchboard/internal/secrets"
)

type echoArgs struct {
	Text string `json:"text" jsonschema:"what to echo"`
}

// goSDKServer is a real upstream: the official go-sdk server with three
// tools, behind a bearer check whose expected token the test can rotate.
type goSDKServer struct {
	srv   *sdk.Server
	token atomic.Value
	calls atomic.Int64
}

func newGoSDKServer(token string) *goSDKServer {
	g := &goSDKServer{srv: sdk.NewServer(&sdk.Implementation{Name: "crm", Version: "1"}, nil)}
	g.token.Store(token)
	sdk.AddTool(g.srv, &sdk.Tool{Name: "echo", Description: "Echoes text.", Annotations: &sdk.ToolAnnotations{ReadOnlyHint: true}},
		func(ctx context.Context, req *sdk.CallToolRequest, in echoArgs) (*sdk.CallToolResult, any, error) {
			g.calls.Add(1)
			return &sdk.CallToolResult{Content: []sdk.Content{&sdk.TextContent{Text: "echo: " + in.Text}}}, nil, nil
		})
	sdk.AddTool(g.srv, &sdk.Tool{Name: "delete_contact", Description: "Deletes a contact."},
		func(ctx context.Context, req *sdk.CallToolRequest, in echoArgs) (*sdk.CallToolResult, any, error) {
			return &sdk.CallToolResult{Content: []sdk.Content{&sdk.TextContent{Text: "deleted " + in.Text}}}, nil, nil
		})
	sdk.AddTool(g.srv, &sdk.Tool{Name: "admin_reset", Description: "Resets everything."},
		func(ctx context.Context, req *sdk.CallToolRequest, in echoArgs) (*sdk.CallToolResult, any, error) {
			return &sdk.CallToolResult{Content: []sdk.Content{&sdk.TextContent{Text: "reset"}}}, nil, nil
		})
	return g
}

func (g *goSDKServer) handler(kind string) http.Handler {
	var h http.Handler
	if kind == "sse" {
		h = sdk.NewSSEHandler(func(*http.Request) *sdk.Server { return g.srv }, nil)
	} else {
		h = sdk.NewStreamableHTTPHandler(func(*http.Request) *sdk.Server { return g.srv }, nil)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+g.token.Load().(string) {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// changes collects the tool lists an upstream announces.
type changes struct {
	ch chan []string
}

func newChanges() *changes { return &changes{ch: make(chan []string, 16)} }

func (c *changes) on(tools []*integrations.Tool) {
	var names []string
	for _, t := range tools {
		names = append(names, t.Name())
	}
	sort.Strings(names)
	c.ch <- names
}

func (c *changes) next(t *testing.T) []string {
	t.Helper()
	select {
	case n := <-c.ch:
		return n
	case <-time.After(15 * time.Second):
		t.Fatal("no tool list change announced")
		return nil
	}
}

func integration(t *testing.T, yaml string) configs.Integration {
	t.Helper()
	cfg, err := configs.Parse([]byte(yaml), func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	return cfg.Integrations[0]
}

func mcpYAML(url, transport string) string {
	y := "integrations:\n  - name: crm\n    type: mcp\n    url: " + url + "\n    timeout: 3s\n"
	if transport != "" {
		y += "    transport: " + transport + "\n"
	}
	return y + "    auth: {type: bearer, secret: \"vault:secret/crm#token\"}\n    tools: {include: [\"*\"], exclude: [\"admin_*\"], confirm: [\"delete_*\"]}\n"
}

func call(t *testing.T, u *Upstream, name string, args map[string]any) (*mcpgo.CallToolResult, error) {
	t.Helper()
	for _, tl := range u.Tools() {
		if tl.Name() == name {
			var p mcpgo.CallToolParams
			p.Name = name
			p.Arguments = args
			return tl.Handler.Call(context.Background(), integrations.NewCall(tl, p))
		}
	}
	t.Fatalf("no tool %s", name)
	return nil, nil
}

func text(res *mcpgo.CallToolResult) string {
	var b strings.Builder
	for _, c := range res.Content {
		if tc, ok := c.(mcpgo.TextContent); ok {
			b.WriteString(tc.Text)
		}
	}
	return b.String()
}

func TestHTTPUpstreams(t *testing.T) {
	for _, kind := range []string{"streamable", "sse"} {
		t.Run(kind, func(t *testing.T) {
			g := newGoSDKServer("tok-1")
			ts := httptest.NewServer(g.handler(kind))
			defer ts.Close()
			url, transport := ts.URL+"/mcp", ""
			if kind == "sse" {
				url = ts.URL + "/sse"
			}
			store := secrets.Memory{"vault:secret/crm#token": "tok-1"}
			var mu sync.Mutex
			res := secrets.NewResolver(map[secrets.Scheme]secrets.Source{secrets.SchemeVault: secrets.SourceFunc(func(ctx context.Context, ref secrets.Ref) (string, error) {
				mu.Lock()
				defer mu.Unlock()
				return store.Get(ctx, ref)
			})})
			ch := newChanges()
			u := mustNew(t, integration(t, mcpYAML(url, transport)), Deps{Secrets: res, OnChange: ch.on})
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			go u.Run(ctx)
			if err := u.WaitStarted(ctx); err != nil {
				t.Fatal(err)
			}
			if got := ch.next(t); strings.Join(got, ",") != "crm_delete_contact,crm_echo" {
				t.Fatalf("tools = %v (admin_* must be excluded)", got)
			}
			for _, tl := range u.Tools() {
				switch tl.Name() {
				case "crm_echo":
					if !tl.ReadOnly || tl.ConfirmRequired || tl.Definition.Description != "Echoes text." || !strings.Contains(string(mustJSON(t, tl.Definition)), `"text"`) {
						t.Fatalf("echo passed through wrongly: %+v", tl)
					}
				case "crm_delete_contact":
					if !tl.ConfirmRequired || tl.Definition.Annotations.DestructiveHint == nil || !*tl.Definition.Annotations.DestructiveHint {
						t.Fatalf("delete_contact must need confirmation and be destructive: %+v", tl.Definition.Annotations)
					}
				}
			}
			r, err := call(t, u, "crm_echo", map[string]any{"text": "hola"})
			if err != nil || r.IsError || text(r) != "echo: hola" {
				t.Fatalf("echo = %+v, %v", r, err)
			}
			// The upstream rotated but the store did not: a clear sentence.
			g.token.Store("tok-2")
			if _, err := call(t, u, "crm_echo", map[string]any{"text": "x"}); !strings.Contains(integrations.PublicMessage(err), "crm refused switchboard's credentials") {
				t.Fatalf("401 from upstream: %v", err)
			}
			// Rotation: the store now holds tok-2 too.
			mu.Lock()
			store["vault:secret/crm#token"] = "tok-2"
			mu.Unlock()
			if kind == "sse" {
				// The SSE stream was opened with the old token; the next
				// POST carries the new one.
			}
			r, err = call(t, u, "crm_echo", map[string]any{"text": "rotated"})
			if err != nil || r.IsError || text(r) != "echo: rotated" {
				t.Fatalf("after rotation: %+v, %v", r, err)
			}
		})
	}
}

func mustJSON(t *testing.T, d mcpgo.Tool) []byte {
	b, err := d.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// An upstream that is down at start, then comes up, then dies and comes
// back with another tool set: switchboard starts anyway, says "unavailable"
// meanwhile, reconnects with backoff and announces each change.
func TestUpstreamDownRestartAndListChanged(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()

	res := secrets.NewResolver(map[secrets.Scheme]secrets.Source{secrets.SchemeVault: secrets.Memory{"vault:secret/crm#token": "tok-1"}})
	ch := newChanges()
	var logs bytes.Buffer
	u := mustNew(t, integration(t, mcpYAML("http://"+addr+"/mcp", "")), Deps{Secrets: res, OnChange: ch.on, MaxBackoff: 300 * time.Millisecond, PingInterval: 200 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(&syncWriter{w: &logs}, nil))})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go u.Run(ctx)
	if err := u.WaitStarted(ctx); err == nil {
		t.Fatal("WaitStarted should report the upstream down")
	}
	if len(u.Tools()) != 0 {
		t.Fatal("no tools can be known before the first connection")
	}

	serveAt := func(g *goSDKServer) *http.Server {
		var l net.Listener
		for i := 0; i < 50; i++ {
			if l, err = net.Listen("tcp", addr); err == nil {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		if err != nil {
			t.Fatal(err)
		}
		s := &http.Server{Handler: g.handler("streamable")}
		go s.Serve(l)
		return s
	}
	g := newGoSDKServer("tok-1")
	s1 := serveAt(g)
	if got := ch.next(t); strings.Join(got, ",") != "crm_delete_contact,crm_echo" {
		t.Fatalf("after coming up: %v", got)
	}
	r, err := call(t, u, "crm_echo", map[string]any{"text": "1"})
	if err != nil || r.IsError {
		t.Fatalf("call after up: %+v %v", r, err)
	}

	// list_changed: a new tool on the live upstream.
	sdk.AddTool(g.srv, &sdk.Tool{Name: "find_contact", Description: "Finds a contact."},
		func(ctx context.Context, req *sdk.CallToolRequest, in echoArgs) (*sdk.CallToolResult, any, error) {
			return &sdk.CallToolResult{Content: []sdk.Content{&sdk.TextContent{Text: "found"}}}, nil, nil
		})
	if got := ch.next(t); strings.Join(got, ",") != "crm_delete_contact,crm_echo,crm_find_contact" {
		t.Fatalf("after list_changed: %v", got)
	}

	// The upstream dies: calls say unavailable, nothing crashes.
	s1.Close()
	var unavailable bool
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		_, err := call(t, u, "crm_echo", map[string]any{"text": "2"})
		if err != nil && integrations.KindOf(err) == integrations.KindUnavailable && strings.Contains(integrations.PublicMessage(err), "crm") {
			unavailable = true
			break
		}
	}
	if !unavailable {
		t.Fatal("calls to a dead upstream should say it is unavailable")
	}

	// It comes back as a new process with fewer tools.
	g2 := newGoSDKServer("tok-1")
	g2.srv.RemoveTools("delete_contact")
	s2 := serveAt(g2)
	defer s2.Close()
	if got := ch.next(t); strings.Join(got, ",") != "crm_echo" {
		t.Fatalf("after restart: %v", got)
	}
	r, err = call(t, u, "crm_echo", map[string]any{"text": "3"})
	if err != nil || r.IsError || text(r) != "echo: 3" {
		t.Fatalf("call after restart: %+v %v", r, err)
	}
}

type syncWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

func (s *syncWriter) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.String()
}

// A stdio upstream gets its configured env (secrets resolved), not
// switchboard's own; its stderr goes to the log; what it echoes of a secret
// is scrubbed.
func TestStdioUpstream(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "stdioserver")
	build := exec.Command("go", "build", "-o", bin, "./testdata/stdioserver")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PARENT_SECRET", "must-not-leak")
	yaml := "integrations:\n  - name: crm\n    type: mcp\n    command: [\"" + bin + "\"]\n    env: {CRM_TOKEN: \"vault:secret/crm#token\"}\n"
	res := secrets.NewResolver(map[secrets.Scheme]secrets.Source{secrets.SchemeVault: secrets.Memory{"vault:secret/crm#token": "stdio-secret-123"}})
	logs := &syncWriter{w: &bytes.Buffer{}}
	u := mustNew(t, integration(t, yaml), Deps{Secrets: res, Getenv: os.Getenv, Logger: slog.New(slog.NewTextHandler(logs, nil))})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go u.Run(ctx)
	if err := u.WaitStarted(ctx); err != nil {
		t.Fatal(err)
	}
	r, err := call(t, u, "crm_token_seen", nil)
	if err != nil || r.IsError {
		t.Fatalf("token_seen: %+v %v", r, err)
	}
	if got := text(r); got != "token=[redacted]" {
		t.Fatalf("child must get the resolved secret and the result must not show it: %q", got)
	}
	r, err = call(t, u, "crm_parent_env", nil)
	if err != nil || text(r) != "leaked=false" {
		t.Fatalf("parent env leaked into the child: %+v %v", r, err)
	}
	for deadline := time.Now().Add(5 * time.Second); !strings.Contains(logs.String(), "stdio upstream ready"); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("child's stderr not logged:\n%s", logs.String())
		}
	}
	if strings.Contains(logs.String(), "stdio-secret-123") {
		t.Fatal("secret in the log")
	}
}

func mustNew(t *testing.T, in configs.Integration, deps Deps) *Upstream {
	t.Helper()
	u, err := New(in, deps)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
