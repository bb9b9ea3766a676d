package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	mcpclient "github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/switchboard-dev/switchboard/internal/app"
)

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func runCmd(t *testing.T, getenv func(string) string, args ...string) (string, string, error) {
	t.Helper()
	var out, errb bytes.Buffer
	err := run(context.Background(), args, getenv, strings.NewReader(""), &out, &errb)
	return out.String(), errb.String(), err
}

func writeFile(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "switchboard.yaml")
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestUsageAndVersion(t *testing.T) {
	out, _, err := runCmd(t, env(nil), "--version")
	if err != nil || !strings.HasPrefix(out, "switchboard ") {
		t.Fatalf("--version: %q %v", out, err)
	}
	var u usageError
	for _, args := range [][]string{
		{},
		{"frobnicate"},
		{"serve", "--transport", "carrier-pigeon", "--dev"},
		{"serve", "--dev", "--config", "x.yaml"},
		{"validate"},
		{"call", "--dev"},
		{"call", "--dev", "a", "b"},
		{"call", "--dev", "x", "--args", "[1,2]"},
		{"tools", "--dev", "--log-level", "loud"},
		{"serve", "--bogus-flag"},
	} {
		if _, _, err := runCmd(t, env(nil), args...); !errors.As(err, &u) {
			t.Errorf("%q: want a usage error (exit 2), got %v", args, err)
		}
	}
}

func TestValidate(t *testing.T) {
	bad := writeFile(t, "integrations:\n  - name: h\n    type: http\n    tools:\n      - {name: a, description: d, method: FETCH, path: /a}\n    auth: {type: bearer, secret: literal-token}\n")
	out, _, err := runCmd(t, env(nil), "validate", "--config", bad)
	if !errors.Is(err, errReported) {
		t.Fatalf("want failure, got %v", err)
	}
	for _, want := range []string{"3 problem(s)", "line 2: integrations[0].base_url", "line 5: integrations[0].tools[0].method: FETCH is not one of", "line 6: integrations[0].auth.secret: must be a secret reference"} {
		if !strings.Contains(out, want) {
			t.Errorf("validate output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "literal-token") {
		t.Errorf("validate printed the literal secret:\n%s", out)
	}
	if _, _, err := runCmd(t, env(nil), "validate", "--config", filepath.Join(t.TempDir(), "missing.yaml")); err == nil {
		t.Fatal("missing file should fail")
	}
	out, _, err = runCmd(t, env(nil), "validate", "--dev")
	if err != nil || !strings.HasPrefix(out, "ok:") {
		t.Fatalf("validate --dev: %q %v", out, err)
	}
}

func TestCallDev(t *testing.T) {
	out, _, err := runCmd(t, env(nil), "call", "--dev", "shop_ver_pedido", "--args", `{"order_id":"100234"}`)
	if err != nil || !strings.Contains(out, "100234") {
		t.Fatalf("call: %q %v", out, err)
	}
	out, _, err = runCmd(t, env(nil), "call", "--dev", "shop_ver_pedido", "--args", `{}`)
	if !errors.Is(err, errReported) || !strings.Contains(out, "order_id") {
		t.Fatalf("invalid call: %q %v", out, err)
	}
	// --args numbers arrive as json.Number: validate tags still apply.
	out, _, err = runCmd(t, env(nil), "call", "--dev", "shop_procesar_reembolso", "--args", `{"order_id":"100231","amount":-5,"reason":"rota"}`)
	if !errors.Is(err, errReported) || !strings.Contains(out, "amount: must be greater than 0") {
		t.Fatalf("negative refund from the CLI: %q %v", out, err)
	}
	_, _, err = runCmd(t, env(nil), "call", "--dev", "no_such_tool")
	if err == nil || !strings.Contains(err.Error(), "no tool named") {
		t.Fatalf("unknown tool: %v", err)
	}
}

// TestToolSnapshots pins what tools/list shows for each bundled config, so
// that a change to what the model sees is a reviewed diff. Refresh with
// UPDATE_SNAPSHOTS=true go test ./cmd/switchboard/.
func TestToolSnapshots(t *testing.T) {
	vars := env(map[string]string{"ZENDESK_SUBDOMAIN": "acme", "ZENDESK_EMAIL": "agent@acme.example", "VAULT_ADDR": "http://127.0.0.1:8200"})
	configs := map[string][]string{
		"dev":      {"tools", "--dev", "--json"},
		"helpdesk": {"tools", "--config", "../../configs/examples/helpdesk.yaml", "--json"},
		"payments": {"tools", "--config", "../../configs/examples/payments.yaml", "--json"},
	}
	for name, args := range configs {
		t.Run(name, func(t *testing.T) {
			out, _, err := runCmd(t, vars, args...)
			if err != nil {
				t.Fatal(err)
			}
			snap := filepath.Join("..", "..", "configs", "snapshots", name+".json")
			if os.Getenv("UPDATE_SNAPSHOTS") == "true" {
				if err := os.MkdirAll(filepath.Dir(snap), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(snap, []byte(out), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(snap)
			if err != nil {
				t.Fatalf("%v (run with UPDATE_SNAPSHOTS=true to create it)", err)
			}
			if string(want) != out {
				t.Fatalf("tools of %s changed; review and run with UPDATE_SNAPSHOTS=true:\n%s", name, out)
			}
			var list []app.ListedTool
			if err := json.Unmarshal([]byte(out), &list); err != nil || len(list) == 0 {
				t.Fatalf("not a tool list: %v", err)
			}
		})
	}
}

// syncBuffer is an io.Writer safe to read while serve writes logs into it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestServeGracefulShutdown: on SIGTERM (here, the context ending) a running
// tool call finishes and reaches the client, and serve exits with nil (0).
func TestServeGracefulShutdown(t *testing.T) {
	release := make(chan struct{})
	started := make(chan struct{}, 1)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		started <- struct{}{}
		<-release
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"done":true}`)
	}))
	defer up.Close()
	cfg := writeFile(t, "integrations:\n  - name: slow\n    type: http\n    base_url: "+up.URL+"\n    tools:\n      - {name: wait, description: Waits., method: GET, path: /wait}\n")

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stderr := &syncBuffer{}
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--config", cfg, "--transport", "http", "--listen", "127.0.0.1:0", "--log-format", "json"}, env(nil), strings.NewReader(""), io.Discard, stderr)
	}()
	var mcpURL string
	for deadline := time.Now().Add(10 * time.Second); mcpURL == "" && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		sc := bufio.NewScanner(strings.NewReader(stderr.String()))
		for sc.Scan() {
			var line map[string]any
			if json.Unmarshal(sc.Bytes(), &line) == nil && line["msg"] == "serving over HTTP" {
				mcpURL, _ = line["mcp"].(string)
			}
		}
	}
	if mcpURL == "" {
		t.Fatalf("server did not start:\n%s", stderr.String())
	}
	c, err := mcpclient.NewStreamableHttpClient(mcpURL)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	cctx, ccancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer ccancel()
	if _, err := c.Initialize(cctx, mcp.InitializeRequest{}); err != nil {
		t.Fatal(err)
	}
	result := make(chan *mcp.CallToolResult, 1)
	go func() {
		var req mcp.CallToolRequest
		req.Params.Name = "slow_wait"
		res, err := c.CallTool(cctx, req)
		if err != nil {
			t.Error(err)
		}
		result <- res
	}()
	<-started
	cancel() // SIGTERM
	time.Sleep(100 * time.Millisecond)
	close(release)
	res := <-result
	if res == nil || res.IsError {
		t.Fatalf("in-flight call did not finish cleanly: %+v", res)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve returned %v, want nil", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not exit")
	}
}
