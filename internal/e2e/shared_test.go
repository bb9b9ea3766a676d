package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	mcpclient "github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	mcpgo "github.com/mark3labs/mcp-go/mcp"
	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/switchboard-dev/switchboard/internal/app"
)

// ---- the shared server: keys, reload, limits, readiness, metrics ----

// watcher is a connected client that counts tools/list_changed.
type watcher struct {
	name    string
	client  client
	changed atomic.Int64
}

// watchers connects one client of each era and transport that can be told
// about tool changes: the stateless core (subscriptions/listen), the
// handshake era over streamable HTTP (the GET stream) with mcp-go and the
// go-sdk, and legacy SSE.
func watchers(t *testing.T, ctx context.Context, tg target) []*watcher {
	t.Helper()
	var out []*watcher
	for _, k := range []struct{ name, kind, version string }{
		{"mcp-go/streamable/2026-07-28", "streamable", mcpgo.ProtocolVersion20260728},
		{"mcp-go/streamable/2025-06-18", "streamable", "2025-06-18"},
		{"mcp-go/sse/2024-11-05", "sse", "2024-11-05"},
	} {
		w := &watcher{name: k.name}
		var tr transport.Interface
		var err error
		if k.kind == "streamable" {
			opts := []transport.StreamableHTTPCOption{transport.WithHTTPBasicClient(httpClientWith(tg.Header))}
			if k.version != mcpgo.ProtocolVersion20260728 {
				opts = append(opts, transport.WithContinuousListening())
			}
			tr, err = transport.NewStreamableHTTP(tg.BaseURL+"/mcp", opts...)
		} else {
			tr, err = transport.NewSSE(tg.BaseURL+"/sse", transport.WithHTTPClient(httpClientWith(tg.Header)))
		}
		if err != nil {
			t.Fatal(err)
		}
		c := mcpclient.NewClient(tr, mcpclient.WithProtocolVersion(k.version))
		if err := c.Start(ctx); err != nil {
			t.Fatalf("%s: %v", k.name, err)
		}
		c.OnNotification(func(n mcpgo.JSONRPCNotification) {
			if n.Method == mcpgo.MethodNotificationToolsListChanged {
				w.changed.Add(1)
			}
		})
		var init mcpgo.InitializeRequest
		init.Params.ClientInfo = mcpgo.Implementation{Name: "e2e-watcher", Version: "1"}
		if _, err := c.Initialize(ctx, init); err != nil {
			t.Fatalf("%s initialize: %v", k.name, err)
		}
		if k.version == mcpgo.ProtocolVersion20260728 {
			stop, err := c.ListenAsync(ctx, mcpgo.SubscriptionFilter{ToolsListChanged: true}, func(error) {})
			if err != nil {
				t.Fatalf("%s listen: %v", k.name, err)
			}
			t.Cleanup(stop)
		}
		w.client = &mcpgoClient{c: c}
		t.Cleanup(func() { c.Close() })
		out = append(out, w)
	}
	// go-sdk, handshake era over streamable HTTP.
	w := &watcher{name: "go-sdk/streamable/2025-06-18"}
	sc := sdk.NewClient(&sdk.Implementation{Name: "e2e-go-sdk", Version: "1"}, &sdk.ClientOptions{
		ToolListChangedHandler: func(context.Context, *sdk.ToolListChangedRequest) { w.changed.Add(1) },
	})
	s, err := sc.Connect(ctx, &sdk.StreamableClientTransport{Endpoint: tg.BaseURL + "/mcp", HTTPClient: httpClientWith(tg.Header), MaxRetries: -1},
		&sdk.ClientSessionOptions{ProtocolVersion: "2025-06-18"})
	if err != nil {
		t.Fatal(err)
	}
	w.client = &sdkClient{s: s}
	t.Cleanup(func() { s.Close() })
	out = append(out, w)
	// Give the listening streams a moment to open.
	time.Sleep(300 * time.Millisecond)
	return out
}

// waitChanged waits until every watcher was told at least n times.
func waitChanged(t *testing.T, ws []*watcher, n int64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for _, w := range ws {
		for w.changed.Load() < n {
			if time.Now().After(deadline) {
				t.Fatalf("%s got %d tools/list_changed, want %d", w.name, w.changed.Load(), n)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

func toolNames(t *testing.T, ctx context.Context, c client) map[string]bool {
	t.Helper()
	tools, err := c.ListTools(ctx)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, tl := range tools {
		out[tl.Name] = true
	}
	return out
}

// process is the built switchboard binary serving HTTP.
type process struct {
	target
	cmd  *exec.Cmd
	logs *lockedBuffer
}

func freePort(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// startBinary runs `switchboard serve --config file --transport http` and
// waits until it answers /healthz.
func startBinary(t *testing.T, file string, env ...string) *process {
	t.Helper()
	addr := freePort(t)
	p := &process{logs: &lockedBuffer{}}
	p.cmd = exec.Command(binary, "serve", "--config", file, "--transport", "http", "--listen", addr, "--log-format", "json", "--log-level", "debug")
	p.cmd.Env = append(os.Environ(), append([]string{"E2E_HELPDESK_TOKEN=" + upstreamToken}, env...)...)
	p.cmd.Stderr = p.logs
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		_ = p.cmd.Wait()
	})
	p.BaseURL = "http://" + addr
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(30 * time.Millisecond) {
		if resp, err := http.Get(p.BaseURL + "/healthz"); err == nil {
			resp.Body.Close()
			return p
		}
		if time.Now().After(deadline) {
			t.Fatalf("switchboard did not start: %s", p.logs.String())
		}
	}
}

func (p *process) hup(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
}

// waitLog waits for a log line containing every part.
func waitLog(t *testing.T, logs *lockedBuffer, parts ...string) string {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		for _, line := range strings.Split(logs.String(), "\n") {
			all := true
			for _, p := range parts {
				all = all && strings.Contains(line, p)
			}
			if all {
				return line
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no log line with %q in:\n%s", parts, logs.String())
		}
	}
}

func readyz(t *testing.T, base string) (int, app.Readiness) {
	t.Helper()
	resp, err := http.Get(base + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var r app.Readiness
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, r
}

func metricsText(t *testing.T, base string) string {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

const extraTool = `      - name: lookup
        description: Added by a reload.
        method: GET
        path: /customers/{id}
        params:
          - {name: id, in: path, type: string, required: true}
`

// SIGHUP with a valid file adds a tool (every era told, the tool callable),
// SIGHUP with an invalid file leaves the old config serving and the process
// alive, and an edit of the file without a signal is picked up by itself.
func TestReloadTheBinary(t *testing.T) {
	up := newUpstream(t)
	dir := t.TempDir()
	file := filepath.Join(dir, "switchboard.yaml")
	v1 := testConfig(up.URL)
	if err := os.WriteFile(file, []byte(v1), 0o600); err != nil {
		t.Fatal(err)
	}
	p := startBinary(t, file)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	_, r0 := readyz(t, p.BaseURL)
	ws := watchers(t, ctx, p.target)

	// 1. SIGHUP with a file that adds a tool.
	v2 := v1 + extraTool
	v2 = strings.Replace(v2, extraTool, "", 1)
	v2 = strings.Replace(v1, "      - name: broken\n", extraTool+"      - name: broken\n", 1)
	if err := os.WriteFile(file, []byte(v2), 0o600); err != nil {
		t.Fatal(err)
	}
	p.hup(t)
	waitChanged(t, ws, 1)
	waitLog(t, p.logs, "SIGHUP")
	waitLog(t, p.logs, "config reloaded")
	for _, w := range ws {
		if !toolNames(t, ctx, w.client)["helpdesk_lookup"] {
			t.Fatalf("%s does not list the new tool", w.name)
		}
		res, err := w.client.Call(ctx, "helpdesk_lookup", map[string]any{"id": "c-1"})
		if err != nil || res.IsError || !strings.Contains(res.Text, "Ana") {
			t.Fatalf("%s: new tool: %+v %v", w.name, res, err)
		}
	}
	_, r1 := readyz(t, p.BaseURL)
	if r1.ConfigVersion == r0.ConfigVersion || r1.ConfigVersion == "" {
		t.Fatalf("config version %q after reload, was %q", r1.ConfigVersion, r0.ConfigVersion)
	}
	if m := metricsText(t, p.BaseURL); !strings.Contains(m, `switchboard_config_info{version="`+r1.ConfigVersion+`"} 1`) ||
		!strings.Contains(m, `switchboard_config_reloads_total{result="ok"} 1`) {
		t.Fatalf("metrics do not say which config is live:\n%s", grepLines(m, "switchboard_config"))
	}

	// 2. SIGHUP with an invalid file: every problem logged with its line,
	// the old config keeps serving, the process lives on.
	bad := strings.Replace(v2, "method: GET\n        path: /broken", "metod: GET\n        path: /broken", 1)
	bad = strings.Replace(bad, "timeout: 5s", "timeout: soon", 1)
	if err := os.WriteFile(file, []byte(bad), 0o600); err != nil {
		t.Fatal(err)
	}
	p.hup(t)
	waitLog(t, p.logs, "config reload refused")
	waitLog(t, p.logs, "config problem", `"line":`, "metod")
	waitLog(t, p.logs, "config problem", `"line":`, "is not a duration")
	time.Sleep(200 * time.Millisecond)
	if p.cmd.ProcessState != nil {
		t.Fatal("the process exited")
	}
	if code, r := readyz(t, p.BaseURL); code != 200 || r.ConfigVersion != r1.ConfigVersion {
		t.Fatalf("after an invalid reload: %d %+v, want the version %s", code, r, r1.ConfigVersion)
	}
	res, err := ws[0].client.Call(ctx, "helpdesk_lookup", map[string]any{"id": "c-1"})
	if err != nil || res.IsError {
		t.Fatalf("old config stopped serving: %+v %v", res, err)
	}

	// 3. An edit without a signal (written the way editors do: a new file
	// renamed over the old one) is seen and swapped in.
	before := ws[0].changed.Load()
	tmp := filepath.Join(dir, ".switchboard.yaml.swp")
	if err := os.WriteFile(tmp, []byte(v1), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, file); err != nil {
		t.Fatal(err)
	}
	waitChanged(t, ws, before+1)
	for _, w := range ws {
		if toolNames(t, ctx, w.client)["helpdesk_lookup"] {
			t.Fatalf("%s still lists the removed tool", w.name)
		}
	}
	if _, r := readyz(t, p.BaseURL); r.ConfigVersion != r0.ConfigVersion {
		t.Fatalf("version %s after restoring v1, want %s", r.ConfigVersion, r0.ConfigVersion)
	}
}

func grepLines(s, substr string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, substr) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// SIGHUP re-reads client keys at once: a key file rotated on disk is
// refused right after the signal, with a refresh interval of an hour.
func TestSIGHUPRereadsClientKeys(t *testing.T) {
	up := newUpstream(t)
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "voice.key")
	if err := os.WriteFile(keyFile, []byte("key-one\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "switchboard.yaml")
	cfg := withServer(testConfig(up.URL), "  client_key_refresh: 1h", "  clients:",
		`    - {id: voice, key: "file:`+keyFile+`"}`)
	if err := os.WriteFile(file, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	p := startBinary(t, file)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tg := p.target
	tg.Header = http.Header{"Authorization": {"Bearer key-one"}}
	c := mcpgoConnect("streamable", "2025-06-18")(t, ctx, tg)
	defer c.Close()
	if res, err := c.Call(ctx, "helpdesk_get_customer", map[string]any{"id": "c-1"}); err != nil || res.IsError {
		t.Fatalf("first key: %+v %v", res, err)
	}
	if err := os.WriteFile(keyFile, []byte("key-two\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	p.hup(t)
	waitLog(t, p.logs, "config unchanged")
	if _, err := c.Call(ctx, "helpdesk_get_customer", map[string]any{"id": "c-1"}); err == nil {
		t.Fatal("the rotated-out key still works on its open session")
	}
	tg.Header = http.Header{"Authorization": {"Bearer key-two"}}
	c2 := mcpgoConnect("streamable", "2025-06-18")(t, ctx, tg)
	defer c2.Close()
	if res, err := c2.Call(ctx, "helpdesk_get_customer", map[string]any{"id": "c-1"}); err != nil || res.IsError {
		t.Fatalf("new key: %+v %v", res, err)
	}
}

// serveFile is serve for a config written to a file, so the App can reload it.
func serveFile(t *testing.T, cfgYAML string, getenv func(string) string) (*app.App, string, string, *lockedBuffer) {
	t.Helper()
	file := filepath.Join(t.TempDir(), "switchboard.yaml")
	if err := os.WriteFile(file, []byte(cfgYAML), 0o600); err != nil {
		t.Fatal(err)
	}
	logs := &lockedBuffer{}
	if getenv == nil {
		getenv = testEnv
	}
	a, err := app.Open(context.Background(), app.Source{File: file},
		app.Options{Version: "test", Getenv: getenv, Logger: slog.New(slog.NewJSONHandler(logs, nil)), Stderr: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	h, err := a.HTTP(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(h)
	t.Cleanup(ts.Close)
	return a, file, ts.URL, logs
}

// A reload lets a running call finish on the config it started with, keeps
// the connection to an unchanged upstream MCP server, and a removed client
// is refused on its open session.
func TestReloadKeepsRunningCallsAndUpstreams(t *testing.T) {
	up := newUpstream(t)
	up.block = make(chan struct{})
	_, crmSrv := crmUpstream(t, false)
	var inits atomic.Int64
	counted := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			b, _ := io.ReadAll(r.Body)
			if strings.Contains(string(b), `"method":"initialize"`) || strings.Contains(string(b), `"method":"server/discover"`) {
				inits.Add(1)
			}
			r.Body = io.NopCloser(strings.NewReader(string(b)))
		}
		crmSrv.Config.Handler.ServeHTTP(w, r)
	}))
	t.Cleanup(counted.Close)
	crm := `
  - name: crm
    type: mcp
    url: ` + counted.URL + `/mcp
    auth: {type: bearer, secret: "env:E2E_HELPDESK_TOKEN"}
    tools: {exclude: ["admin_*"]}
`
	v1 := withServer(testConfig(up.URL)+crm, "  clients:",
		`    - {id: voice, key: "env:E2E_KEY_VOICE"}`,
		`    - {id: ops, key: "env:E2E_KEY_OPS"}`)
	a, file, base, _ := serveFile(t, v1, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if errs := a.WaitUpstreams(ctx); len(errs) > 0 {
		t.Fatal(errs)
	}
	connects := inits.Load()

	voice := mcpgoConnect("streamable", "2025-06-18")(t, ctx, target{BaseURL: base, Header: http.Header{"Authorization": {"Bearer key-voice-123"}}})
	defer voice.Close()
	ops := mcpgoConnect("sse", "2024-11-05")(t, ctx, target{BaseURL: base, Header: http.Header{"Authorization": {"Bearer key-ops-456"}}})
	defer ops.Close()
	slow := make(chan error, 1)
	go func() {
		res, err := voice.Call(ctx, "helpdesk_slow", nil)
		if err == nil && res.IsError {
			err = fmt.Errorf("isError: %s", res.Text)
		}
		slow <- err
	}()
	time.Sleep(200 * time.Millisecond)

	// v2: the slow tool is gone, ops is no longer a client, crm unchanged.
	v2 := strings.Replace(v1, "      - name: slow\n        description: Answers when the test lets it.\n        method: GET\n        path: /slow\n", "", 1)
	v2 = strings.Replace(v2, `    - {id: ops, key: "env:E2E_KEY_OPS"}`+"\n", "", 1)
	if err := os.WriteFile(file, []byte(v2), 0o600); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if res, err := a.Reload(ctx); res != app.ReloadOK {
		t.Fatalf("reload: %s %v", res, err)
	}
	t.Logf("reload took %s", time.Since(start))
	if _, ok := a.Tool("helpdesk_slow"); ok {
		t.Fatal("helpdesk_slow still exposed")
	}
	close(up.block)
	if err := <-slow; err != nil {
		t.Fatalf("the running call did not finish on the old config: %v", err)
	}
	if n := inits.Load(); n != connects {
		t.Fatalf("the unchanged upstream was reconnected (%d handshakes, was %d)", n, connects)
	}
	if res, err := voice.Call(ctx, "crm_find_contact", map[string]any{"name": "Ana"}); err != nil || res.IsError || !strings.Contains(res.Text, "found Ana") {
		t.Fatalf("crm after reload: %+v %v", res, err)
	}
	if _, err := ops.Call(ctx, "helpdesk_get_customer", map[string]any{"id": "c-1"}); err == nil {
		t.Fatal("a removed client's SSE session still calls tools")
	}
	if code, r := readyz(t, base); code != 200 || r.Upstreams["crm"].State != "connected" {
		t.Fatalf("readyz: %d %+v", code, r)
	}
}

// Two clients with different keys and allowlists, read from a real Vault: a
// key added to Vault works on its first request, and a key rotated out is
// refused within client_key_refresh, also on the sessions it opened
// (streamable HTTP of both eras, and SSE).
func TestClientKeyRotatedInVault(t *testing.T) {
	w := newVaultWorld(t)
	voiceKey, opsKey := "voice-"+secretValue("k"), "ops-"+secretValue("k")
	w.write("secret", "switchboard/clients", map[string]any{"voice": voiceKey, "ops": opsKey})
	tok := w.readerToken("reader", `path "secret/*" { capabilities = ["read"] }`)
	w.secret(tok)
	w.up.accept("alpha", "alpha-token", nil)
	w.up.accept("beta", "beta-token", nil)
	w.write("secret", "alpha", map[string]any{"token": "alpha-token"})
	w.write("secret", "beta", map[string]any{"token": "beta-token"})
	cfg := w.vaultConfig("{method: token}", "0s",
		w.integration("alpha", "vault:secret/alpha#token", "")+w.integration("beta", "vault:secret/beta#token", ""))
	cfg = strings.Replace(cfg, "  name: switchboard-vault-e2e\n", `  name: switchboard-vault-e2e
  client_key_refresh: 500ms
  clients:
    - {id: voice, key: "vault:secret/switchboard/clients#voice", integrations: [alpha]}
    - {id: ops, key: "vault:secret/switchboard/clients#ops"}
    - {id: late, key: "vault:secret/switchboard/late#key"}
`, 1)
	srv := w.serve(cfg, map[string]string{"VAULT_TOKEN": tok})
	ctx := vaultCallCtx(t)
	with := func(key string) target {
		return target{BaseURL: srv.BaseURL, Header: http.Header{"Authorization": {"Bearer " + key}}}
	}
	// Allowlists: voice sees alpha only, ops both.
	voice := mcpgoConnect("streamable", "2025-06-18")(t, ctx, with(voiceKey))
	defer voice.Close()
	if names := toolNames(t, ctx, voice); names["beta_ping"] || !names["alpha_ping"] {
		t.Fatalf("voice sees %v", names)
	}
	opsSessions := []client{
		mcpgoConnect("streamable", "2025-06-18")(t, ctx, with(opsKey)),
		mcpgoConnect("streamable", mcpgo.ProtocolVersion20260728)(t, ctx, with(opsKey)),
		mcpgoConnect("sse", "2024-11-05")(t, ctx, with(opsKey)),
	}
	for _, c := range opsSessions {
		defer c.Close()
		if res, err := c.Call(ctx, "beta_ping", nil); err != nil || res.IsError {
			t.Fatalf("ops beta_ping: %+v %v", res, err)
		}
	}

	// A key added to Vault works on its first request.
	lateKey := "late-" + secretValue("k")
	w.write("secret", "switchboard/late", map[string]any{"key": lateKey})
	time.Sleep(1100 * time.Millisecond) // the last miss-triggered read is over a second old
	late := mcpgoConnect("streamable", "2025-06-18")(t, ctx, with(lateKey))
	defer late.Close()
	if res, err := late.Call(ctx, "alpha_ping", nil); err != nil || res.IsError {
		t.Fatalf("a key just added to Vault: %+v %v", res, err)
	}

	// ops's key is rotated: every open session of the old key is refused
	// within the refresh interval; the new key works.
	newOps := "ops-" + secretValue("k2")
	w.write("secret", "switchboard/clients", map[string]any{"voice": voiceKey, "ops": newOps})
	time.Sleep(1500 * time.Millisecond)
	for i, c := range opsSessions {
		if res, err := c.Call(ctx, "beta_ping", nil); err == nil && !res.IsError {
			t.Fatalf("session %d of the rotated-out key still calls tools", i)
		}
	}
	ops2 := mcpgoConnect("sse", "2024-11-05")(t, ctx, with(newOps))
	defer ops2.Close()
	if res, err := ops2.Call(ctx, "beta_ping", nil); err != nil || res.IsError {
		t.Fatalf("the new ops key: %+v %v", res, err)
	}
	if res, err := voice.Call(ctx, "alpha_ping", nil); err != nil || res.IsError {
		t.Fatalf("voice after the rotation: %+v %v", res, err)
	}
	w.secret(newOps, lateKey)
	srv.get(t, "/readyz")
	srv.get(t, "/metrics") // the leak check reads these too
	if strings.Contains(w.logs.String(), opsKey) || strings.Contains(w.logs.String(), newOps) {
		t.Fatal("a client key was logged")
	}
}

// Each limit answers at once with a sentence, is counted and audited.
func TestLimits(t *testing.T) {
	up := newUpstream(t)
	up.block = make(chan struct{})
	auditFile := filepath.Join(t.TempDir(), "audit.jsonl")
	cfg := withServer(testConfig(up.URL), "  clients:",
		`    - {id: voice, key: "env:E2E_KEY_VOICE", rate_limit: {per_second: 0.001, burst: 3}}`,
		`    - {id: ops, key: "env:E2E_KEY_OPS", max_concurrent: 1}`)
	cfg = strings.Replace(cfg, "integrations:", "audit: {path: "+auditFile+"}\nintegrations:", 1)
	srv := serve(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	voice := mcpgoConnect("streamable", mcpgo.ProtocolVersion20260728)(t, ctx, target{BaseURL: srv.BaseURL, Header: http.Header{"Authorization": {"Bearer key-voice-123"}}})
	defer voice.Close()
	ops := mcpgoConnect("sse", "2024-11-05")(t, ctx, target{BaseURL: srv.BaseURL, Header: http.Header{"Authorization": {"Bearer key-ops-456"}}})
	defer ops.Close()
	ops2 := sdkConnect("streamable", "2025-06-18")(t, ctx, target{BaseURL: srv.BaseURL, Header: http.Header{"Authorization": {"Bearer key-ops-456"}}})
	defer ops2.Close()

	// Client rate limit: three calls pass, the fourth is refused at once.
	for i := range 3 {
		if res, err := voice.Call(ctx, "helpdesk_get_customer", map[string]any{"id": "c-1"}); err != nil || res.IsError {
			t.Fatalf("call %d: %+v %v", i, res, err)
		}
	}
	start := time.Now()
	res, err := voice.Call(ctx, "helpdesk_get_customer", map[string]any{"id": "c-1"})
	if err != nil || !res.IsError || !strings.Contains(res.Text, "Too many tool calls from this agent") {
		t.Fatalf("over the rate: %+v %v", res, err)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("the refusal took %s", d)
	}

	// Client concurrency: ops may run one call; a second one is refused at
	// once while the first waits upstream.
	first := make(chan callResult, 1)
	go func() { r, _ := ops.Call(ctx, "helpdesk_slow", nil); first <- r }()
	waitRequests(t, up, "/api/slow", 1)
	start = time.Now()
	res, err = ops2.Call(ctx, "helpdesk_get_customer", map[string]any{"id": "c-1"})
	if err != nil || !res.IsError || !strings.Contains(res.Text, "too many tool calls running") {
		t.Fatalf("over max_concurrent: %+v %v", res, err)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("the refusal took %s", d)
	}

	close(up.block)
	<-first
	up.block = nil

	m := metricsText(t, srv.BaseURL)
	for _, want := range []string{
		`switchboard_limit_hits_total{client="voice",integration="helpdesk",limit="client_rate_limit"} 1`,
		`switchboard_limit_hits_total{client="ops",integration="helpdesk",limit="client_max_concurrent"} 1`,
		`switchboard_tool_calls_total{outcome="limited",tool="helpdesk_get_customer"} 2`,
	} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %s\n%s", want, grepLines(m, "limit"))
		}
	}
	var limited []string
	for _, l := range readAudit(t, auditFile) {
		if l["decision"] == "limited" {
			limited = append(limited, fmt.Sprint(l["reason"]))
		}
	}
	if strings.Join(limited, ",") != "client_rate_limit,client_max_concurrent" {
		t.Fatalf("audit limited lines: %v", limited)
	}
}

// The integration's max_concurrent holds for all clients together.
func TestIntegrationConcurrency(t *testing.T) {
	up := newUpstream(t)
	up.block = make(chan struct{})
	cfg := withServer(testConfig(up.URL), "  clients:",
		`    - {id: voice, key: "env:E2E_KEY_VOICE"}`,
		`    - {id: ops, key: "env:E2E_KEY_OPS"}`)
	cfg = strings.Replace(cfg, "    timeout: 5s\n", "    timeout: 5s\n    max_concurrent: 2\n", 1)
	srv := serve(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	voice := mcpgoConnect("streamable", "2025-06-18")(t, ctx, target{BaseURL: srv.BaseURL, Header: http.Header{"Authorization": {"Bearer key-voice-123"}}})
	defer voice.Close()
	ops := sdkConnect("sse", "2024-11-05")(t, ctx, target{BaseURL: srv.BaseURL, Header: http.Header{"Authorization": {"Bearer key-ops-456"}}})
	defer ops.Close()
	var wg sync.WaitGroup
	for _, c := range []client{voice, ops} {
		wg.Add(1)
		go func() { defer wg.Done(); _, _ = c.Call(ctx, "helpdesk_slow", nil) }()
	}
	waitRequests(t, up, "/api/slow", 2)
	start := time.Now()
	res, err := voice.Call(ctx, "helpdesk_get_customer", map[string]any{"id": "c-1"})
	if err != nil || !res.IsError || !strings.Contains(res.Text, "helpdesk is handling too many calls") {
		t.Fatalf("over the integration's max_concurrent: %+v %v", res, err)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("the refusal took %s", d)
	}
	close(up.block)
	wg.Wait()
	if m := metricsText(t, srv.BaseURL); !strings.Contains(m, `switchboard_limit_hits_total{client="voice",integration="helpdesk",limit="integration_max_concurrent"} 1`) {
		t.Fatalf("metrics:\n%s", grepLines(m, "limit"))
	}
	// Slots are given back.
	if res, err := voice.Call(ctx, "helpdesk_get_customer", map[string]any{"id": "c-1"}); err != nil || res.IsError {
		t.Fatalf("after the slow calls: %+v %v", res, err)
	}
}

func waitRequests(t *testing.T, up *upstream, path string, n int) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		got := 0
		for _, r := range up.requests() {
			if r.Path == path {
				got++
			}
		}
		if got >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d requests to %s, want %d", got, path, n)
		}
	}
}

// A flood of initialize from one client gets 429 before MCP.
func TestInitializeFloodGets429(t *testing.T) {
	srv := serve(t, withServer(testConfig(newUpstream(t).URL), "  session_rate_limit: {per_second: 10, burst: 50}"))
	got429 := false
	for range 80 {
		r := post(t, srv.BaseURL+"/mcp", initBody, nil)
		if r.StatusCode == 429 {
			got429 = r.Header.Get("Retry-After") != ""
			break
		}
	}
	if !got429 {
		t.Fatal("80 initialize requests in a row were all accepted")
	}
	if m := metricsText(t, srv.BaseURL); !strings.Contains(m, `limit="session_rate_limit"`) {
		t.Fatal("session limit not counted")
	}
}

// Without client keys, a non-loopback peer is refused with a body that says
// what to do; server.open: true serves it.
func TestProtectedMode(t *testing.T) {
	for _, open := range []bool{false, true} {
		cfg := testConfig(newUpstream(t).URL)
		if open {
			cfg = withServer(cfg, "  open: true")
		}
		a, err := app.Open(context.Background(), app.Source{YAML: []byte(cfg)}, app.Options{Getenv: testEnv, Stderr: io.Discard})
		if err != nil {
			t.Fatal(err)
		}
		h, err := a.HTTP(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		req := httptest.NewRequest("POST", "/mcp", strings.NewReader(initBody))
		req.RemoteAddr = "10.1.2.3:4567"
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		a.Close()
		switch {
		case !open && (rec.Code != 403 || !strings.Contains(rec.Body.String(), "server:\n         clients:")):
			t.Fatalf("protected: %d %s", rec.Code, rec.Body.String())
		case open && rec.Code != 200:
			t.Fatalf("open: %d %s", rec.Code, rec.Body.String())
		}
	}
}

// /metrics shows the shared server's series.
func TestSharedServerMetrics(t *testing.T) {
	up := newUpstream(t)
	srv := serve(t, withServer(testConfig(up.URL), "  clients:", `    - {id: voice, key: "env:E2E_KEY_VOICE"}`))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	tg := target{BaseURL: srv.BaseURL, Header: http.Header{"Authorization": {"Bearer key-voice-123"}}}
	ws := watchers(t, ctx, tg)
	if res, err := ws[0].client.Call(ctx, "helpdesk_get_customer", map[string]any{"id": "c-9"}); err != nil || !res.IsError {
		t.Fatalf("404 call: %+v %v", res, err)
	}
	m := metricsText(t, srv.BaseURL)
	for _, want := range []string{
		`switchboard_upstream_responses_total{code="404",integration="helpdesk"} 1`,
		`switchboard_secret_read_duration_seconds_count{store="env"}`,
		`switchboard_sessions_active{era="handshake",transport="streamable"} 2`,
		`switchboard_sessions_active{era="handshake",transport="sse"} 1`,
		`switchboard_sessions_active{era="stateless",transport="streamable"} 1`,
		`switchboard_config_info{version="`,
		`switchboard_client_key_reads_total{result="ok"}`,
	} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if strings.Contains(m, "c-9") || strings.Contains(m, "key-voice-123") {
		t.Fatal("an argument or a key is in the metrics")
	}
}
