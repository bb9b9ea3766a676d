package e2e

// End-to-end tests of vault: credentials: real MCP clients, a real Vault
// running in the test process (internal/testvault) and an upstream that
// accepts only the credential Vault holds right now. Every test also greps
// everything it produced for the secrets and tokens it used (see
// vaultWorld.checkNoLeak).

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"

	"github.com/switchboard-dev/switchboard/internal/app"
	"github.com/switchboard-dev/switchboard/internal/testvault"
)

// vaultClients are the clients the Vault tests run through: both libraries,
// each in the stateless core and in the handshake era.
func vaultClients(t testing.TB) []clientKind {
	want := map[string]bool{
		"mcp-go/streamable/2026-07-28": true,
		"mcp-go/streamable/2025-06-18": true,
		"go-sdk/streamable/2026-07-28": true,
		"go-sdk/streamable/2025-06-18": true,
	}
	var out []clientKind
	for _, k := range clientMatrix() {
		if want[k.Name] {
			out = append(out, k)
		}
	}
	if len(out) != len(want) {
		t.Fatalf("clientMatrix lacks some of %v", want)
	}
	return out
}

// secretValue is a fresh random value, so that finding it anywhere can only
// mean it leaked.
func secretValue(prefix string) string { return prefix + "-" + rand.Text() }

// lockedBuffer is a buffer that the server's goroutines may write concurrently.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *lockedBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *lockedBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// vaultProxy is a transparent reverse proxy in front of the test Vault that
// remembers every token switchboard sent or was given at login, so that the
// leak check knows them and a test can revoke the current login token.
type vaultProxy struct {
	*httptest.Server
	mu     sync.Mutex
	tokens []string // in the order first seen
	logins []string // client tokens returned by logins, in order
}

func newVaultProxy(t *testing.T, addr string) *vaultProxy {
	u, err := url.Parse(addr)
	if err != nil {
		t.Fatal(err)
	}
	p := &vaultProxy{}
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.ModifyResponse = func(resp *http.Response) error {
		if !strings.HasSuffix(resp.Request.URL.Path, "/login") {
			return nil
		}
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			return err
		}
		resp.Body = io.NopCloser(bytes.NewReader(b))
		var body struct {
			Auth struct {
				ClientToken string `json:"client_token"`
			} `json:"auth"`
		}
		if json.Unmarshal(b, &body) == nil && body.Auth.ClientToken != "" {
			p.mu.Lock()
			p.logins = append(p.logins, body.Auth.ClientToken)
			p.mu.Unlock()
			p.saw(body.Auth.ClientToken)
		}
		return nil
	}
	p.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if tok := r.Header.Get("X-Vault-Token"); tok != "" {
			p.saw(tok)
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(p.Close)
	return p
}

func (p *vaultProxy) saw(tok string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, t := range p.tokens {
		if t == tok {
			return
		}
	}
	p.tokens = append(p.tokens, tok)
}

func (p *vaultProxy) seen() (tokens, logins []string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.tokens...), append([]string(nil), p.logins...)
}

// credUpstream is an API whose first path segment names the integration
// calling it; each integration must present the bearer token (and headers)
// set for it, and nothing else.
type credUpstream struct {
	*httptest.Server
	mu      sync.Mutex
	token   map[string]string            // integration -> accepted bearer token
	headers map[string]map[string]string // integration -> header -> required value
	got     map[string][]string          // integration -> Authorization headers received
}

func newCredUpstream(t *testing.T) *credUpstream {
	u := &credUpstream{token: map[string]string{}, headers: map[string]map[string]string{}, got: map[string][]string{}}
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		integ, op, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
		u.mu.Lock()
		u.got[integ] = append(u.got[integ], r.Header.Get("Authorization"))
		want, ok := u.token[integ]
		hdrs := u.headers[integ]
		u.mu.Unlock()
		if !ok || r.Header.Get("Authorization") != "Bearer "+want {
			writeJSON(w, 401, map[string]any{"error": "unauthorized", "message": "bad credentials"})
			return
		}
		for k, v := range hdrs {
			if r.Header.Get(k) != v {
				writeJSON(w, 403, map[string]any{"error": "forbidden", "message": "wrong " + k})
				return
			}
		}
		switch op {
		case "ping":
			writeJSON(w, 200, map[string]any{"integration": integ, "ok": true})
		case "echo": // a careless upstream that echoes what it was sent
			writeJSON(w, 200, map[string]any{"integration": integ, "authorization": r.Header.Get("Authorization"), "tenant": r.Header.Get("X-Tenant")})
		default:
			writeJSON(w, 404, map[string]any{"error": "not_found"})
		}
	}))
	t.Cleanup(u.Close)
	return u
}

// accept makes integ's calls succeed with token (and only with it).
func (u *credUpstream) accept(integ, token string, headers map[string]string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.token[integ] = token
	u.headers[integ] = headers
}

func (u *credUpstream) lastAuth(integ string) string {
	u.mu.Lock()
	defer u.mu.Unlock()
	g := u.got[integ]
	if len(g) == 0 {
		return ""
	}
	return g[len(g)-1]
}

// vaultWorld is one test's Vault, upstream and switchboard, and everything
// they produced that a client, an operator or a log reader could see.
type vaultWorld struct {
	t     *testing.T
	v     *testvault.Server
	proxy *vaultProxy
	up    *credUpstream
	logs  lockedBuffer // every component's slog output, JSON, debug level
	audit lockedBuffer // the audit log

	mu      sync.Mutex
	outputs []string // tool results, client errors, tools/list, /readyz, /metrics
	secrets []string // values that must appear in none of the above
}

func newVaultWorld(t *testing.T) *vaultWorld {
	w := &vaultWorld{t: t}
	// Registered first, so it runs last: after the servers and the Vault
	// source have stopped and written their last log line.
	t.Cleanup(w.checkNoLeak)
	w.v = testvault.Start(t)
	w.proxy = newVaultProxy(t, w.v.Addr)
	w.up = newCredUpstream(t)
	w.secret(w.v.RootToken)
	return w
}

// secret registers values that must never be seen.
func (w *vaultWorld) secret(vals ...string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.secrets = append(w.secrets, vals...)
}

func (w *vaultWorld) output(s string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.outputs = append(w.outputs, s)
}

// write writes a secret to Vault and registers its string values.
func (w *vaultWorld) write(mount, path string, data map[string]any) {
	w.t.Helper()
	for _, v := range data {
		if s, ok := v.(string); ok {
			w.secret(s)
		}
	}
	w.v.Write(mount, path, data)
}

// readerToken creates a token with only the given policy (and Vault's
// default one), as an operator would give switchboard.
func (w *vaultWorld) readerToken(policy, rules string) string {
	w.t.Helper()
	w.v.WritePolicy(policy, rules)
	tok := w.v.Token(&api.TokenCreateRequest{Policies: []string{policy}, TTL: "1h"})
	w.secret(tok)
	return tok
}

// leakForms are the spellings of a value that count as a leak: as is,
// URL-escaped and base64-encoded (alone and as a bearer header value).
func leakForms(v string) []string {
	out := []string{v}
	for _, f := range []string{url.QueryEscape(v), base64.StdEncoding.EncodeToString([]byte(v)), base64.StdEncoding.EncodeToString([]byte("Bearer " + v))} {
		if f != v {
			out = append(out, f)
		}
	}
	return out
}

// findLeaks reports which secrets occur in which haystack.
func findLeaks(haystacks map[string]string, secrets []string) []string {
	var found []string
	for name, h := range haystacks {
		for _, s := range secrets {
			for _, f := range leakForms(s) {
				if len(s) >= 8 && strings.Contains(h, f) {
					found = append(found, name+" contains "+f)
				}
			}
		}
	}
	return found
}

// checkNoLeak greps everything the test produced for every secret value,
// the root token, each token switchboard used and the secret_id.
func (w *vaultWorld) checkNoLeak() {
	t := w.t
	tokens, _ := w.proxy.seen()
	w.mu.Lock()
	secretsList := append(append([]string(nil), w.secrets...), tokens...)
	outputs := strings.Join(w.outputs, "\n")
	nOutputs := len(w.outputs)
	w.mu.Unlock()
	logs, audit := w.logs.String(), w.audit.String()
	// The check must not pass for having looked at nothing.
	if nOutputs == 0 || logs == "" || audit == "" || len(secretsList) < 2 {
		t.Errorf("leak check would be vacuous: %d outputs, %d bytes of logs, %d bytes of audit, %d secrets",
			nOutputs, len(logs), len(audit), len(secretsList))
	}
	for _, l := range findLeaks(map[string]string{"client-visible output": outputs, "logs": logs, "audit log": audit}, secretsList) {
		t.Errorf("secret leaked: %s", l)
	}
	if t.Failed() {
		t.Logf("logs:\n%s\naudit:\n%s", logs, audit)
	}
}

// vaultServed is switchboard serving one config with a real Vault source.
type vaultServed struct {
	target
	w   *vaultWorld
	app *app.App
}

// vaultConfig is a config whose vault: block points at the proxy; auth is
// the body of vault.auth, integrations the integrations: list.
func (w *vaultWorld) vaultConfig(auth, cacheTTL, integrations string) string {
	return `
server:
  name: switchboard-vault-e2e
vault:
  address: ` + w.proxy.URL + `
  auth: ` + auth + `
  cache_ttl: ` + cacheTTL + `
integrations:
` + integrations
}

// integration is an http integration against the upstream whose bearer
// secret is ref, with a ping and an echo tool; headers is a YAML flow map
// or empty.
func (w *vaultWorld) integration(name, ref, headers string) string {
	s := `
  - name: ` + name + `
    type: http
    description: ` + name + ` API
    base_url: ` + w.up.URL + `/` + name + `
    timeout: 5s
    auth: {type: bearer, secret: "` + ref + `"}
`
	if headers != "" {
		s += "    headers: " + headers + "\n"
	}
	return s + `    tools:
      - {name: ping, description: Checks the credential., method: GET, path: /ping}
      - {name: echo, description: Echoes the request., method: GET, path: /echo}
`
}

// serve builds the App exactly as `switchboard serve` does (app.Open, the
// App's own HTTP surface). env is the process environment (VAULT_TOKEN, ...).
func (w *vaultWorld) serve(cfgYAML string, env map[string]string) *vaultServed {
	t := w.t
	t.Helper()
	getenv := func(k string) string {
		if v, ok := env[k]; ok {
			return v
		}
		return testEnv(k)
	}
	logger := slog.New(slog.NewJSONHandler(&w.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	a, err := app.Open(context.Background(), app.Source{YAML: []byte(cfgYAML)}, app.Options{
		Version: "test", Getenv: getenv, Logger: logger, Stderr: &w.audit,
	})
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
	return &vaultServed{target: target{BaseURL: ts.URL}, w: w, app: a}
}

// get fetches an HTTP endpoint of switchboard and keeps its body as output.
func (s *vaultServed) get(t *testing.T, path string) (int, string) {
	t.Helper()
	resp, err := http.Get(s.BaseURL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	s.w.output(path + ": " + string(b))
	return resp.StatusCode, string(b)
}

func (s *vaultServed) wantReady(t *testing.T, code int) {
	t.Helper()
	if got, body := s.get(t, "/readyz"); got != code {
		t.Fatalf("/readyz = %d %s, want %d", got, body, code)
	}
}

// recClient is a client whose every answer is kept for the leak check.
type recClient struct {
	c client
	w *vaultWorld
}

func (s *vaultServed) connect(t *testing.T, ctx context.Context, kind clientKind) *recClient {
	t.Helper()
	c := kind.Connect(t, ctx, s.target)
	t.Cleanup(c.Close)
	rc := &recClient{c: c, w: s.w}
	tools, err := c.ListTools(ctx)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(tools)
	s.w.output("tools/list: " + string(b))
	return rc
}

func (r *recClient) call(ctx context.Context, tool string) (callResult, error) {
	res, err := r.c.Call(ctx, tool, map[string]any{})
	b, _ := json.Marshal(res.Structured)
	r.w.output(tool + ": " + res.Text + " " + string(b))
	if err != nil {
		r.w.output(tool + " error: " + err.Error())
	}
	return res, err
}

// ok calls tool and fails unless it succeeded.
func (r *recClient) ok(t *testing.T, ctx context.Context, tool string) callResult {
	t.Helper()
	res, err := r.call(ctx, tool)
	if err != nil {
		t.Fatalf("%s: %v", tool, err)
	}
	if res.IsError {
		t.Fatalf("%s: isError: %s", tool, res.Text)
	}
	return res
}

// fails calls tool and checks that it failed with one clear sentence that
// names the integration and contains each of want.
func (r *recClient) fails(t *testing.T, ctx context.Context, tool, integration string, want ...string) callResult {
	t.Helper()
	res, err := r.call(ctx, tool)
	if err != nil {
		t.Fatalf("%s: protocol error %v; want an isError result", tool, err)
	}
	if !res.IsError {
		t.Fatalf("%s succeeded (%s); want isError", tool, res.Text)
	}
	clearSentence(t, res.Text, integration, want...)
	return res
}

// clearSentence checks what a voice agent is told: it names the
// integration and says the secret store is the problem, on one short line,
// with nothing of Vault's internals.
func clearSentence(t *testing.T, text, integration string, want ...string) {
	t.Helper()
	if !strings.HasPrefix(text, integration+" ") {
		t.Errorf("error %q does not start with the integration %q", text, integration)
	}
	for _, w := range append([]string{"secret store"}, want...) {
		if !strings.Contains(text, w) {
			t.Errorf("error %q does not say %q", text, w)
		}
	}
	if strings.ContainsAny(text, "\n\r") || len(text) > 200 {
		t.Errorf("error is not one short line (%d bytes): %q", len(text), text)
	}
	for _, bad := range []string{"goroutine", ".go:", "panic", "vault:", "/v1/", "X-Vault", "token", "hvs.", "403", "503", "{"} {
		if strings.Contains(text, bad) {
			t.Errorf("error %q contains %q", text, bad)
		}
	}
}

// logged reports whether a JSON log record has message msg, tool tool and
// an error that contains detail.
func (w *vaultWorld) logged(msg, tool, detail string) bool {
	for _, line := range strings.Split(w.logs.String(), "\n") {
		var rec map[string]any
		if json.Unmarshal([]byte(line), &rec) != nil {
			continue
		}
		if rec["msg"] == msg && rec["tool"] == tool {
			if e, _ := rec["error"].(string); strings.Contains(e, detail) {
				return true
			}
		}
	}
	return false
}

func vaultCallCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// The same vault:<mount>/<path>#<field> syntax reads a KV v1 and a KV v2
// mount, for the auth secret and for a header.
func TestVaultKVv1AndV2(t *testing.T) {
	w := newVaultWorld(t)
	w.v.MountKV("kv", 2)
	v1, v2, tenant := secretValue("kv1"), secretValue("kv2"), secretValue("tenant")
	w.write("secret", "helpdesk", map[string]any{"api_token": v1})
	w.write("kv", "helpdesk", map[string]any{"api_token": v2, "tenant": tenant})
	w.up.accept("kvone", v1, nil)
	w.up.accept("kvtwo", v2, map[string]string{"X-Tenant": tenant})
	tok := w.readerToken("reader", `
path "secret/*" { capabilities = ["read"] }
path "kv/data/*" { capabilities = ["read"] }`)
	srv := w.serve(w.vaultConfig("{method: token}", "0s",
		w.integration("kvone", "vault:secret/helpdesk#api_token", "")+
			w.integration("kvtwo", "vault:kv/helpdesk#api_token", `{X-Tenant: "vault:kv/helpdesk#tenant"}`)),
		map[string]string{"VAULT_TOKEN": tok})
	srv.wantReady(t, 200)

	for _, kind := range vaultClients(t) {
		t.Run(kind.Name, func(t *testing.T) {
			ctx := vaultCallCtx(t)
			c := srv.connect(t, ctx, kind)
			for _, integ := range []string{"kvone", "kvtwo"} {
				res := c.ok(t, ctx, integ+"_ping")
				if res.Structured["integration"] != integ || res.Structured["ok"] != true {
					t.Fatalf("%s_ping = %+v", integ, res)
				}
			}
			if got := w.up.lastAuth("kvone"); got != "Bearer "+v1 {
				t.Fatal("kvone did not send the KV v1 value")
			}
			if got := w.up.lastAuth("kvtwo"); got != "Bearer "+v2 {
				t.Fatal("kvtwo did not send the KV v2 value")
			}
			// An upstream echoing the credential back gets it scrubbed.
			res := c.ok(t, ctx, "kvtwo_echo")
			if !strings.Contains(res.Text, "[redacted]") {
				t.Fatalf("kvtwo_echo = %q, want the echoed secrets redacted", res.Text)
			}
		})
	}
}

// A value rotated in Vault is used by the very next call, without restart;
// with cache_ttl the old value is kept until it expires.
func TestVaultRotation(t *testing.T) {
	w := newVaultWorld(t)
	w.v.MountKV("kv", 2)
	tok := w.readerToken("reader", `
path "secret/*" { capabilities = ["read"] }
path "kv/data/*" { capabilities = ["read"] }`)
	rotate := func() (string, string) {
		v1, v2 := secretValue("kv1"), secretValue("kv2")
		w.write("secret", "crm", map[string]any{"token": v1})
		w.write("kv", "crm", map[string]any{"token": v2})
		// The upstream forgets the old credentials at once.
		w.up.accept("kvone", v1, nil)
		w.up.accept("kvtwo", v2, nil)
		return v1, v2
	}
	rotate()
	integrations := w.integration("kvone", "vault:secret/crm#token", "") + w.integration("kvtwo", "vault:kv/crm#token", "")
	srv := w.serve(w.vaultConfig("{method: token}", "0s", integrations), map[string]string{"VAULT_TOKEN": tok})

	for _, kind := range vaultClients(t) {
		t.Run(kind.Name, func(t *testing.T) {
			ctx := vaultCallCtx(t)
			c := srv.connect(t, ctx, kind)
			c.ok(t, ctx, "kvone_ping")
			c.ok(t, ctx, "kvtwo_ping")
			for range 3 {
				v1, v2 := rotate()
				c.ok(t, ctx, "kvone_ping")
				c.ok(t, ctx, "kvtwo_ping")
				if w.up.lastAuth("kvone") != "Bearer "+v1 || w.up.lastAuth("kvtwo") != "Bearer "+v2 {
					t.Fatal("the call after a rotation did not use the new value")
				}
			}
		})
	}

	cached := w.serve(w.vaultConfig("{method: token}", "1m", integrations), map[string]string{"VAULT_TOKEN": tok})
	t.Run("cache_ttl 1m", func(t *testing.T) {
		ctx := vaultCallCtx(t)
		c := cached.connect(t, ctx, vaultClients(t)[0])
		c.ok(t, ctx, "kvtwo_ping")
		rotate()
		// Within the TTL the cached, now refused, value is still sent.
		res, err := c.call(ctx, "kvtwo_ping")
		if err != nil || !res.IsError || !strings.Contains(res.Text, "refused switchboard's credentials") {
			t.Fatalf("call within cache_ttl after a rotation = %+v %v; want the old value refused", res, err)
		}
		c.ok(t, ctx, "kvone_ping") // not read before the rotation: read now
	})
}

// With AppRole, switchboard logs in with role_id and the secret_id file;
// when Vault revokes its token, the next call logs in again and succeeds.
func TestVaultAppRoleRelogin(t *testing.T) {
	w := newVaultWorld(t)
	w.v.MountKV("kv", 2)
	val := secretValue("kv2")
	w.write("kv", "helpdesk", map[string]any{"api_token": val})
	w.up.accept("helpdesk", val, nil)
	w.v.WritePolicy("reader", `path "kv/data/*" { capabilities = ["read"] }`)
	roleID, secretID := w.v.AppRole("switchboard", map[string]any{"token_policies": "reader", "token_ttl": "1h"})
	w.secret(secretID)
	sidFile := filepath.Join(t.TempDir(), "secret_id")
	if err := os.WriteFile(sidFile, []byte(secretID+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	srv := w.serve(w.vaultConfig("{method: approle, role_id: "+roleID+", secret_id_file: "+sidFile+"}", "0s",
		w.integration("helpdesk", "vault:kv/helpdesk#api_token", "")), nil)
	srv.wantReady(t, 200)

	for _, kind := range vaultClients(t) {
		t.Run(kind.Name, func(t *testing.T) {
			ctx := vaultCallCtx(t)
			c := srv.connect(t, ctx, kind)
			c.ok(t, ctx, "helpdesk_ping")
			_, logins := w.proxy.seen()
			if len(logins) == 0 {
				t.Fatal("switchboard never logged in with AppRole")
			}
			old := logins[len(logins)-1]
			// An operator revokes switchboard's token.
			if err := w.v.Client.Auth().Token().RevokeOrphan(old); err != nil {
				t.Fatal(err)
			}
			if _, err := w.v.Client.Auth().Token().Lookup(old); err == nil {
				t.Fatal("the login token is still valid after revocation")
			}
			c.ok(t, ctx, "helpdesk_ping")
			_, after := w.proxy.seen()
			if len(after) != len(logins)+1 || after[len(after)-1] == old {
				t.Fatalf("logins %d -> %d; want exactly one new login", len(logins), len(after))
			}
			srv.wantReady(t, 200)
		})
	}
}

// A Vault sealed mid-run fails the calls that need it with a clear sentence
// and /readyz 503, while tools that do not need it keep working; after
// unseal, calls succeed and /readyz is 200 again.
func TestVaultSealedMidRun(t *testing.T) {
	w := newVaultWorld(t)
	w.v.MountKV("kv", 2)
	val := secretValue("kv2")
	w.write("kv", "helpdesk", map[string]any{"api_token": val})
	w.up.accept("helpdesk", val, nil)
	w.up.accept("local", upstreamToken, nil)
	tok := w.readerToken("reader", `path "kv/data/*" { capabilities = ["read"] }`)
	srv := w.serve(w.vaultConfig("{method: token}", "0s",
		w.integration("helpdesk", "vault:kv/helpdesk#api_token", "")+
			w.integration("local", "env:E2E_HELPDESK_TOKEN", "")),
		map[string]string{"VAULT_TOKEN": tok})

	for _, kind := range vaultClients(t) {
		t.Run(kind.Name, func(t *testing.T) {
			ctx := vaultCallCtx(t)
			c := srv.connect(t, ctx, kind)
			c.ok(t, ctx, "helpdesk_ping")
			srv.wantReady(t, 200)

			w.v.Seal()
			sealed := true
			defer func() {
				if sealed {
					w.v.Unseal()
				}
			}()
			began := time.Now()
			c.fails(t, ctx, "helpdesk_ping", "helpdesk", "unreachable")
			if d := time.Since(began); d > time.Second {
				t.Errorf("a sealed Vault took %v to report", d)
			}
			c.ok(t, ctx, "local_ping") // the server keeps serving
			code, body := srv.get(t, "/readyz")
			if code != 503 || !strings.Contains(body, "sealed") {
				t.Fatalf("/readyz while sealed = %d %s; want 503 saying Vault is sealed", code, body)
			}
			if !w.logged("tool call failed", "helpdesk_ping", "sealed") {
				t.Error("no log line says the call failed because Vault is sealed")
			}

			w.v.Unseal()
			sealed = false
			c.ok(t, ctx, "helpdesk_ping")
			srv.wantReady(t, 200)
		})
	}
}

// A path that Vault's policy forbids gives a clear sentence; the tools whose
// secrets are allowed keep working.
func TestVaultPermissionDenied(t *testing.T) {
	w := newVaultWorld(t)
	w.v.MountKV("kv", 2)
	a1, b1, a2, b2 := secretValue("a1"), secretValue("b1"), secretValue("a2"), secretValue("b2")
	w.write("secret", "allowed/app", map[string]any{"k": a1})
	w.write("secret", "forbidden/app", map[string]any{"k": b1})
	w.write("kv", "allowed/app", map[string]any{"k": a2})
	w.write("kv", "forbidden/app", map[string]any{"k": b2})
	for name, v := range map[string]string{"okone": a1, "noone": b1, "oktwo": a2, "notwo": b2} {
		w.up.accept(name, v, nil)
	}
	tok := w.readerToken("limited", `
path "secret/allowed/*" { capabilities = ["read"] }
path "kv/data/allowed/*" { capabilities = ["read"] }`)
	srv := w.serve(w.vaultConfig("{method: token}", "0s",
		w.integration("okone", "vault:secret/allowed/app#k", "")+
			w.integration("noone", "vault:secret/forbidden/app#k", "")+
			w.integration("oktwo", "vault:kv/allowed/app#k", "")+
			w.integration("notwo", "vault:kv/forbidden/app#k", "")),
		map[string]string{"VAULT_TOKEN": tok})

	for _, kind := range vaultClients(t) {
		t.Run(kind.Name, func(t *testing.T) {
			ctx := vaultCallCtx(t)
			c := srv.connect(t, ctx, kind)
			c.fails(t, ctx, "noone_ping", "noone", "denied")
			c.ok(t, ctx, "okone_ping")
			c.fails(t, ctx, "notwo_ping", "notwo", "denied")
			c.ok(t, ctx, "oktwo_ping")
			if !w.logged("tool call failed", "notwo_ping", "permission denied") {
				t.Error("no log line says Vault denied the read")
			}
		})
	}
	srv.wantReady(t, 200) // a denied path is not a Vault outage
}

// A reference to a path or a field that does not exist gives a clear
// sentence, and the log says which.
func TestVaultMissingPathOrField(t *testing.T) {
	w := newVaultWorld(t)
	w.v.MountKV("kv", 2)
	v1, v2 := secretValue("kv1"), secretValue("kv2")
	w.write("secret", "helpdesk", map[string]any{"api_token": v1})
	w.write("kv", "helpdesk", map[string]any{"api_token": v2})
	w.write("kv", "gone", map[string]any{"api_token": secretValue("gone")})
	if err := w.v.Client.KVv2("kv").Delete(t.Context(), "gone"); err != nil {
		t.Fatal(err)
	}
	w.up.accept("present", v2, nil)
	tok := w.readerToken("reader", `
path "secret/*" { capabilities = ["read"] }
path "kv/data/*" { capabilities = ["read"] }`)
	cases := []struct{ integ, ref, detail string }{
		{"nopathone", "vault:secret/nothing/here#api_token", "secret/nothing/here"},
		{"nofieldone", "vault:secret/helpdesk#nope", `no field "nope"`},
		{"nopathtwo", "vault:kv/nothing/here#api_token", "kv/nothing/here"},
		{"nofieldtwo", "vault:kv/helpdesk#nope", `no field "nope"`},
		{"deletedtwo", "vault:kv/gone#api_token", "deleted"},
	}
	integrations := w.integration("present", "vault:kv/helpdesk#api_token", "")
	for _, tc := range cases {
		integrations += w.integration(tc.integ, tc.ref, "")
	}
	srv := w.serve(w.vaultConfig("{method: token}", "0s", integrations), map[string]string{"VAULT_TOKEN": tok})

	for _, kind := range vaultClients(t) {
		t.Run(kind.Name, func(t *testing.T) {
			ctx := vaultCallCtx(t)
			c := srv.connect(t, ctx, kind)
			for _, tc := range cases {
				c.fails(t, ctx, tc.integ+"_ping", tc.integ, "missing")
				if !w.logged("tool call failed", tc.integ+"_ping", tc.detail) {
					t.Errorf("no log line for %s says %s", tc.integ, tc.detail)
				}
				c.ok(t, ctx, "present_ping")
			}
		})
	}
}

// Every failure mode in one run, through AppRole, with the leak check on
// everything: tool results, tools/list, /readyz, /metrics, the audit log and
// debug logs must hold no secret value, no token and no secret_id.
func TestVaultNoSecretLeaks(t *testing.T) {
	w := newVaultWorld(t)
	w.v.MountKV("kv", 2)
	val, tenant := secretValue("kv2"), secretValue("tenant")
	w.write("kv", "helpdesk", map[string]any{"api_token": val, "tenant": tenant})
	w.write("kv", "private/helpdesk", map[string]any{"api_token": secretValue("private")})
	w.up.accept("helpdesk", val, map[string]string{"X-Tenant": tenant})
	w.v.WritePolicy("reader", `
path "kv/data/*" { capabilities = ["read"] }
path "kv/data/private/*" { capabilities = ["deny"] }`)
	roleID, secretID := w.v.AppRole("switchboard", map[string]any{"token_policies": "reader", "token_ttl": "1h"})
	w.secret(secretID)
	sidFile := filepath.Join(t.TempDir(), "secret_id")
	if err := os.WriteFile(sidFile, []byte(secretID), 0o600); err != nil {
		t.Fatal(err)
	}
	srv := w.serve(w.vaultConfig("{method: approle, role_id: "+roleID+", secret_id_file: "+sidFile+"}", "0s",
		w.integration("helpdesk", "vault:kv/helpdesk#api_token", `{X-Tenant: "vault:kv/helpdesk#tenant"}`)+
			w.integration("private", "vault:kv/private/helpdesk#api_token", "")+
			w.integration("missing", "vault:kv/helpdesk#nope", "")),
		nil)

	for _, kind := range vaultClients(t) {
		t.Run(kind.Name, func(t *testing.T) {
			ctx := vaultCallCtx(t)
			c := srv.connect(t, ctx, kind)
			c.ok(t, ctx, "helpdesk_ping")
			c.ok(t, ctx, "helpdesk_echo")
			c.fails(t, ctx, "private_ping", "private", "denied")
			c.fails(t, ctx, "missing_ping", "missing", "missing")

			val, tenant = secretValue("kv2"), secretValue("tenant")
			w.write("kv", "helpdesk", map[string]any{"api_token": val, "tenant": tenant})
			w.up.accept("helpdesk", val, map[string]string{"X-Tenant": tenant})
			c.ok(t, ctx, "helpdesk_echo")

			_, logins := w.proxy.seen()
			if err := w.v.Client.Auth().Token().RevokeOrphan(logins[len(logins)-1]); err != nil {
				t.Fatal(err)
			}
			c.ok(t, ctx, "helpdesk_echo")

			w.v.Seal()
			c.fails(t, ctx, "helpdesk_echo", "helpdesk", "unreachable")
			srv.wantReady(t, 503)
			w.v.Unseal()
			c.ok(t, ctx, "helpdesk_echo")
			srv.wantReady(t, 200)
		})
	}
	srv.get(t, "/metrics")
	srv.get(t, "/healthz")
	if n := strings.Count(w.audit.String(), "\n"); n < 8*len(vaultClients(t)) {
		t.Errorf("%d audit lines; want one per call", n)
	}
}

// The leak check finds a secret in each spelling it looks for.
func TestVaultLeakCheckFindsPlantedSecret(t *testing.T) {
	s := secretValue("planted")
	for _, hay := range []string{
		"x " + s + " y",
		`{"a":"Bearer ` + s + `"}`,
		base64.StdEncoding.EncodeToString([]byte("Bearer " + s)),
	} {
		if len(findLeaks(map[string]string{"h": hay}, []string{s})) == 0 {
			t.Errorf("planted secret not found in %q", hay)
		}
	}
	if l := findLeaks(map[string]string{"h": "nothing here"}, []string{s}); len(l) != 0 {
		t.Errorf("false positive: %v", l)
	}
}

// BenchmarkVaultCredentialLookup is a tool call through policy, argument
// checks, the credential lookup, the request and the reply (Handler.Call,
// as bench/overhead_test.go measures it), with the credential from an env:
// reference, from the in-process Vault at every call (cache_ttl 0), and
// from Vault with cache_ttl 1m. The x-env metric is ns/op over the env: case
// of the same mode (serial or parallel).
func BenchmarkVaultCredentialLookup(b *testing.B) {
	v := testvault.Start(b)
	v.MountKV("kv", 2)
	v.Write("kv", "bench", map[string]any{"api_token": "bench-token"})
	v.WritePolicy("reader", `path "kv/data/*" { capabilities = ["read"] }`)
	tok := v.Token(&api.TokenCreateRequest{Policies: []string{"reader"}})
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer bench-token" {
			w.WriteHeader(401)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"customers":[{"id":"cus_1001","name":"María García","tier":"gold"}],"found":1}`)
	}))
	b.Cleanup(up.Close)
	getenv := func(k string) string {
		switch k {
		case "BENCH_TOKEN":
			return "bench-token"
		case "VAULT_TOKEN":
			return tok
		}
		return ""
	}
	handler := func(b *testing.B, ref string, ttl time.Duration) func(context.Context) error {
		a, err := app.Open(context.Background(), app.Source{YAML: []byte(`
vault: {address: "` + v.Addr + `", cache_ttl: ` + ttl.String() + `}
integrations:
  - name: helpdesk
    type: http
    base_url: ` + up.URL + `
    auth: {type: bearer, secret: "` + ref + `"}
    tools:
      - {name: ping, description: Pings., method: GET, path: /ping, response: {jq: '.customers[0] | {id, tier}'}}
`)}, app.Options{Getenv: getenv, Logger: slog.New(slog.DiscardHandler), Stderr: io.Discard})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { a.Close() })
		args := []byte(`{}`)
		return func(ctx context.Context) error {
			res, err := a.Call(ctx, "helpdesk_ping", args, nil)
			if err == nil && res.IsError {
				err = errors.New("isError result")
			}
			return err
		}
	}
	cases := []struct {
		name string
		ref  string
		ttl  time.Duration
	}{
		{"env", "env:BENCH_TOKEN", 0},
		{"vault-cold", "vault:kv/bench#api_token", 0},
		{"vault-cache1m", "vault:kv/bench#api_token", time.Minute},
	}
	ctx := context.Background()
	nsop := map[string]float64{}
	for _, parallel := range []bool{false, true} {
		mode := "serial"
		if parallel {
			mode = "parallel"
		}
		for _, tc := range cases {
			call := handler(b, tc.ref, tc.ttl)
			if err := call(ctx); err != nil { // warm: connections, the KV preflight
				b.Fatal(err)
			}
			b.Run(tc.name+"/"+mode, func(b *testing.B) {
				b.ReportAllocs()
				if parallel {
					b.RunParallel(func(pb *testing.PB) {
						for pb.Next() {
							if err := call(ctx); err != nil {
								b.Error(err)
								return
							}
						}
					})
				} else {
					for b.Loop() {
						if err := call(ctx); err != nil {
							b.Fatal(err)
						}
					}
				}
				ns := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
				nsop[tc.name+"/"+mode] = ns
				if env := nsop["env/"+mode]; env > 0 && tc.name != "env" {
					b.ReportMetric(ns/env, "x-env")
				}
			})
		}
	}
}
