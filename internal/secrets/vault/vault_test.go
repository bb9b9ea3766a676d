package vault_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"

	"github.com/switchboard-dev/switchboard/internal/secrets"
	"github.com/switchboard-dev/switchboard/internal/secrets/vault"
	"github.com/switchboard-dev/switchboard/internal/testvault"
)

// logBuf collects everything the Source logs, to check that no secret or
// token ever reaches a log line.
type logBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

type env struct {
	t    *testing.T
	v    *testvault.Server
	logs *logBuf
}

func start(t *testing.T) *env {
	t.Helper()
	return &env{t: t, v: testvault.Start(t), logs: &logBuf{}}
}

// source builds a Source; an empty Address means the test Vault, an empty
// auth means the root token.
func (e *env) source(o vault.Options) *vault.Source {
	e.t.Helper()
	s, err := e.newSource(o)
	if err != nil {
		e.t.Fatalf("vault.New: %v", err)
	}
	return s
}

func (e *env) newSource(o vault.Options) (*vault.Source, error) {
	if o.Address == "" {
		o.Address = e.v.Addr
	}
	if o.Auth.Method == "" && o.Auth.Token == "" && o.Auth.TokenFile == "" {
		o.Auth.Token = e.v.RootToken
	}
	logger := slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	s, err := vault.New(e.t.Context(), o, logger)
	if err == nil {
		e.t.Cleanup(s.Close)
	}
	return s, err
}

// noLeak fails if any of the given secrets or tokens appears in err or in
// the logs so far.
func (e *env) noLeak(err error, values ...string) {
	e.t.Helper()
	logs := e.logs.String()
	for _, v := range values {
		if err != nil && strings.Contains(err.Error(), v) {
			e.t.Errorf("error %q contains a secret", err)
		}
		if strings.Contains(logs, v) {
			e.t.Errorf("logs contain a secret:\n%s", logs)
		}
	}
}

func ref(t testing.TB, s string) secrets.Ref {
	t.Helper()
	r, err := secrets.ParseRef(s)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func get(t testing.TB, s *vault.Source, r string) (string, error) {
	t.Helper()
	return s.Get(t.Context(), ref(t, r))
}

func mustGet(t testing.TB, s *vault.Source, r, want string) {
	t.Helper()
	got, err := get(t, s, r)
	if err != nil {
		t.Fatalf("Get(%s): %v", r, err)
	}
	if got != want {
		t.Fatalf("Get(%s) = %q, want %q", r, got, want)
	}
}

func wantErr(t testing.TB, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("error = %v, want %v", err, target)
	}
}

// proxy puts a reverse proxy in front of Vault that counts requests per path
// and can be made to fail or to hold requests.
type proxy struct {
	*httptest.Server
	mu     sync.Mutex
	counts map[string]int
	fail   atomic.Bool  // answer 503 to everything
	status atomic.Int32 // when set, answer every request with this status
	delay  atomic.Int64 // nanoseconds to hold each request
}

func newProxy(t *testing.T, target string) *proxy {
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{counts: map[string]int{}}
	rp := httputil.NewSingleHostReverseProxy(u)
	p.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		p.counts[r.URL.Path]++
		p.mu.Unlock()
		if p.fail.Load() {
			http.Error(w, `{"errors":["proxy says no"]}`, http.StatusServiceUnavailable)
			return
		}
		if code := p.status.Load(); code != 0 {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(int(code))
			_, _ = w.Write([]byte(`{"errors":["proxy answers ` + http.StatusText(int(code)) + `"]}`))
			return
		}
		time.Sleep(time.Duration(p.delay.Load()))
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(p.Close)
	return p
}

func (p *proxy) count(path string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.counts[path]
}

func (p *proxy) reset() {
	p.mu.Lock()
	defer p.mu.Unlock()
	clear(p.counts)
}

func TestKVv1AndV2SameSyntax(t *testing.T) {
	e := start(t)
	e.v.MountKV("kv", 2)
	e.v.MountKV("team/kv", 2) // a nested mount
	e.v.Write("secret", "helpdesk", map[string]any{"api_token": "v1-value", "port": 8443})
	e.v.Write("kv", "helpdesk", map[string]any{"api_token": "v2-value"})
	e.v.Write("kv", "deep/er/path", map[string]any{"k": "deep-value"})
	e.v.Write("team/kv", "crm", map[string]any{"token": "nested-value", "conf": map[string]any{"a": 1}})
	if _, err := e.v.Client.Logical().Write("cubbyhole/note", map[string]any{"f": "cubby-value"}); err != nil {
		t.Fatal(err)
	}
	s := e.source(vault.Options{})
	mustGet(t, s, "vault:secret/helpdesk#api_token", "v1-value")
	mustGet(t, s, "vault:secret/helpdesk#port", "8443")
	mustGet(t, s, "vault:kv/helpdesk#api_token", "v2-value")
	mustGet(t, s, "vault:kv/deep/er/path#k", "deep-value")
	mustGet(t, s, "vault:team/kv/crm#token", "nested-value")
	mustGet(t, s, "vault:team/kv/crm#conf", `{"a":1}`)
	mustGet(t, s, "vault:cubbyhole/note#f", "cubby-value") // not a KV engine: read as written
	if err := s.Check(t.Context()); err != nil {
		t.Fatalf("Check: %v", err)
	}
}

func TestRotationWithoutCache(t *testing.T) {
	e := start(t)
	e.v.MountKV("kv", 2)
	s := e.source(vault.Options{})
	for _, mount := range []string{"secret", "kv"} {
		r := "vault:" + mount + "/rot#k"
		e.v.Write(mount, "rot", map[string]any{"k": "one"})
		mustGet(t, s, r, "one")
		e.v.Write(mount, "rot", map[string]any{"k": "two"})
		mustGet(t, s, r, "two")
	}
}

// clock is a settable time for the cache (Options.Now).
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func TestRotationWithCache(t *testing.T) {
	e := start(t)
	clk := &clock{t: time.Unix(1e9, 0)}
	s := e.source(vault.Options{CacheTTL: time.Minute, Now: clk.now})
	e.v.Write("secret", "rot", map[string]any{"k": "one"})
	mustGet(t, s, "vault:secret/rot#k", "one")
	e.v.Write("secret", "rot", map[string]any{"k": "two"})
	mustGet(t, s, "vault:secret/rot#k", "one") // cached
	clk.add(time.Minute - time.Nanosecond)
	mustGet(t, s, "vault:secret/rot#k", "one") // still within the TTL
	clk.add(time.Nanosecond)
	mustGet(t, s, "vault:secret/rot#k", "two") // the TTL is over: read again
	mustGet(t, s, "vault:secret/rot#k", "two")
}

func TestNotFound(t *testing.T) {
	e := start(t)
	e.v.MountKV("kv", 2)
	e.v.Write("secret", "a", map[string]any{"k": "v"})
	e.v.Write("kv", "a", map[string]any{"k": "v"})
	e.v.Write("kv", "gone", map[string]any{"k": "v"})
	if err := e.v.Client.KVv2("kv").Delete(t.Context(), "gone"); err != nil {
		t.Fatal(err)
	}
	s := e.source(vault.Options{StaleIfError: time.Hour})
	for _, r := range []string{
		"vault:secret/missing#k", "vault:secret/a#missing",
		"vault:kv/missing#k", "vault:kv/a#missing", "vault:kv/gone#k",
		"vault:nomount/x#k",
	} {
		_, err := get(t, s, r)
		wantErr(t, err, secrets.ErrNotFound)
		e.noLeak(err, e.v.RootToken)
	}

	// A secret deleted after being read is not served from StaleIfError.
	mustGet(t, s, "vault:secret/a#k", "v")
	if err := e.v.Client.KVv1("secret").Delete(t.Context(), "a"); err != nil {
		t.Fatal(err)
	}
	_, err := get(t, s, "vault:secret/a#k")
	wantErr(t, err, secrets.ErrNotFound)
}

func TestPolicyDenied(t *testing.T) {
	e := start(t)
	e.v.MountKV("kv", 2)
	e.v.Write("secret", "allowed", map[string]any{"k": "ok-value"})
	e.v.Write("secret", "forbidden", map[string]any{"k": "forbidden-value"})
	e.v.Write("kv", "allowed", map[string]any{"k": "ok2-value"})
	e.v.Write("kv", "forbidden", map[string]any{"k": "forbidden2-value"})
	e.v.WritePolicy("reader", `
path "secret/allowed" { capabilities = ["read"] }
path "kv/data/allowed" { capabilities = ["read"] }`)
	tok := e.v.Token(&api.TokenCreateRequest{Policies: []string{"reader"}})
	s := e.source(vault.Options{Auth: vault.Auth{Token: tok}})
	mustGet(t, s, "vault:secret/allowed#k", "ok-value")
	mustGet(t, s, "vault:kv/allowed#k", "ok2-value")
	for _, r := range []string{"vault:secret/forbidden#k", "vault:kv/forbidden#k"} {
		_, err := get(t, s, r)
		wantErr(t, err, secrets.ErrDenied)
		if !strings.Contains(err.Error(), "permission denied") {
			t.Errorf("error %q does not say permission denied", err)
		}
		e.noLeak(err, tok, "forbidden-value", "forbidden2-value")
	}
}

// A token without the default policy cannot ask which mount a path is on;
// the path is then read as written.
func TestPreflightDeniedFallsBack(t *testing.T) {
	e := start(t)
	e.v.Write("secret", "x", map[string]any{"k": "x-value"})
	e.v.WritePolicy("only-x", `path "secret/x" { capabilities = ["read"] }`)
	tok := e.v.Token(&api.TokenCreateRequest{Policies: []string{"only-x"}, NoDefaultPolicy: true})
	s := e.source(vault.Options{Auth: vault.Auth{Token: tok}})
	mustGet(t, s, "vault:secret/x#k", "x-value")
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestAppRoleReacquiresRevokedToken(t *testing.T) {
	e := start(t)
	e.v.Write("secret", "app", map[string]any{"k": "app-value"})
	e.v.WritePolicy("reader", `path "secret/*" { capabilities = ["read"] }`)
	roleID, secretID := e.v.AppRole("switchboard", map[string]any{"token_policies": "reader", "token_ttl": "1h"})
	p := newProxy(t, e.v.Addr)
	s := e.source(vault.Options{Address: p.URL, Auth: vault.Auth{
		Method: vault.MethodAppRole, RoleID: roleID, SecretIDFile: writeFile(t, "secret_id", secretID),
	}})
	mustGet(t, s, "vault:secret/app#k", "app-value")
	if n := p.count("/v1/auth/approle/login"); n != 1 {
		t.Fatalf("%d logins, want 1", n)
	}

	// An operator revokes every token the role has handed out.
	if err := e.v.Client.Sys().RevokePrefix("auth/approle/login"); err != nil {
		t.Fatal(err)
	}
	mustGet(t, s, "vault:secret/app#k", "app-value")
	if n := p.count("/v1/auth/approle/login"); n != 2 {
		t.Fatalf("%d logins, want 2", n)
	}
	if err := s.Check(t.Context()); err != nil {
		t.Fatalf("Check: %v", err)
	}
	e.noLeak(nil, secretID, "app-value")
}

// Login tokens are renewed until their max TTL, then replaced; batch tokens,
// which cannot be renewed, are replaced before they expire.
func TestAppRoleTokenLifetime(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for token TTLs")
	}
	for _, tc := range []struct {
		name   string
		role   map[string]any
		renews func(int) bool
	}{
		{"service", map[string]any{"token_ttl": "2s", "token_max_ttl": "4s"}, func(n int) bool { return n >= 1 && n <= 10 }},
		{"batch", map[string]any{"token_ttl": "2s", "token_type": "batch"}, func(n int) bool { return n == 0 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := start(t)
			e.v.Write("secret", "app", map[string]any{"k": "app-value"})
			e.v.WritePolicy("reader", `path "secret/*" { capabilities = ["read"] }`)
			tc.role["token_policies"] = "reader"
			roleID, secretID := e.v.AppRole("short", tc.role)
			p := newProxy(t, e.v.Addr)
			s := e.source(vault.Options{Address: p.URL, Auth: vault.Auth{
				Method: vault.MethodAppRole, RoleID: roleID, SecretIDFile: writeFile(t, "secret_id", secretID),
			}})
			for deadline := time.Now().Add(7 * time.Second); time.Now().Before(deadline); {
				mustGet(t, s, "vault:secret/app#k", "app-value")
				time.Sleep(250 * time.Millisecond)
			}
			renews, logins := p.count("/v1/auth/token/renew-self"), p.count("/v1/auth/approle/login")
			t.Logf("renew-self: %d, logins: %d", renews, logins)
			// A renewal storm (see keepLoggedIn) shows up as dozens of renewals.
			if !tc.renews(renews) || logins < 2 {
				t.Fatalf("renew-self %d times and logged in %d times", renews, logins)
			}
			if strings.Contains(e.logs.String(), "rejected the token") {
				t.Log("a token expired before it was replaced; replaced inline")
			}
			e.noLeak(nil, secretID)
		})
	}
}

func TestAppRoleVaultDownAtStart(t *testing.T) {
	e := start(t)
	e.v.Write("secret", "app", map[string]any{"k": "app-value"})
	e.v.WritePolicy("reader", `path "secret/*" { capabilities = ["read"] }`)
	roleID, secretID := e.v.AppRole("switchboard", map[string]any{"token_policies": "reader"})
	p := newProxy(t, e.v.Addr)
	p.fail.Store(true)
	s := e.source(vault.Options{Address: p.URL, Auth: vault.Auth{
		Method: vault.MethodAppRole, RoleID: roleID, SecretIDFile: writeFile(t, "secret_id", secretID),
	}})
	_, err := get(t, s, "vault:secret/app#k")
	wantErr(t, err, secrets.ErrUnavailable)
	wantErr(t, s.Check(t.Context()), secrets.ErrUnavailable)
	p.fail.Store(false)
	mustGet(t, s, "vault:secret/app#k", "app-value")
}

func TestAppRoleRefusedAtStart(t *testing.T) {
	e := start(t)
	roleID, _ := e.v.AppRole("switchboard", nil)
	_, err := e.newSource(vault.Options{Auth: vault.Auth{
		Method: vault.MethodAppRole, RoleID: roleID, SecretIDFile: writeFile(t, "secret_id", "wrong-secret-id"),
	}})
	if err == nil {
		t.Fatal("New succeeded with a wrong secret_id")
	}
	e.noLeak(err, "wrong-secret-id", roleID)
	t.Log(err)

	_, err = e.newSource(vault.Options{Auth: vault.Auth{
		Method: vault.MethodAppRole, RoleID: roleID, SecretIDFile: filepath.Join(t.TempDir(), "nope"),
	}})
	if err == nil || !strings.Contains(err.Error(), "secret_id_file") {
		t.Fatalf("missing secret_id file: err = %v", err)
	}
}

// There is no Kubernetes here to review a service account token; check that
// a refused login fails New clearly and never quotes the JWT.
func TestKubernetesLoginRefused(t *testing.T) {
	e := start(t)
	jwt := "eyJhbGciOiJSUzI1NiJ9.secret-jwt-body.sig"
	_, err := e.newSource(vault.Options{Auth: vault.Auth{
		Method: vault.MethodKubernetes, Role: "switchboard", JWTFile: writeFile(t, "token", jwt),
	}})
	if err == nil {
		t.Fatal("New succeeded without a kubernetes auth mount")
	}
	e.noLeak(err, jwt)
	t.Log(err)
	_, err = e.newSource(vault.Options{Auth: vault.Auth{
		Method: vault.MethodKubernetes, Role: "switchboard", JWTFile: filepath.Join(t.TempDir(), "nope"),
	}})
	if err == nil || !strings.Contains(err.Error(), "service account token file") {
		t.Fatalf("missing JWT file: err = %v", err)
	}
}

func TestTokenFileReread(t *testing.T) {
	e := start(t)
	e.v.Write("secret", "x", map[string]any{"k": "x-value"})
	first := e.v.Token(&api.TokenCreateRequest{})
	file := writeFile(t, "token", first)
	s := e.source(vault.Options{Auth: vault.Auth{TokenFile: file}})
	mustGet(t, s, "vault:secret/x#k", "x-value")

	// Vault Agent replaces the token in its sink file.
	if err := e.v.Client.Auth().Token().RevokeOrphan(first); err != nil {
		t.Fatal(err)
	}
	second := e.v.Token(&api.TokenCreateRequest{})
	if err := os.WriteFile(file, []byte(second), 0o600); err != nil {
		t.Fatal(err)
	}
	mustGet(t, s, "vault:secret/x#k", "x-value")
	e.noLeak(nil, first, second)
}

func TestStaticTokenRevoked(t *testing.T) {
	e := start(t)
	e.v.Write("secret", "x", map[string]any{"k": "x-value"})
	tok := e.v.Token(&api.TokenCreateRequest{})
	s := e.source(vault.Options{Auth: vault.Auth{Token: tok}})
	mustGet(t, s, "vault:secret/x#k", "x-value")
	if err := e.v.Client.Auth().Token().RevokeOrphan(tok); err != nil {
		t.Fatal(err)
	}
	_, err := get(t, s, "vault:secret/x#k")
	wantErr(t, err, secrets.ErrUnavailable)
	if !strings.Contains(err.Error(), "invalid or expired") {
		t.Errorf("error %q does not say the token is invalid", err)
	}
	err = s.Check(t.Context())
	wantErr(t, err, secrets.ErrUnavailable)
	e.noLeak(err, tok, "x-value")
}

func TestSealUnseal(t *testing.T) {
	e := start(t)
	e.v.Write("secret", "x", map[string]any{"k": "x-value"})
	s := e.source(vault.Options{})
	mustGet(t, s, "vault:secret/x#k", "x-value")

	e.v.Seal()
	began := time.Now()
	_, err := get(t, s, "vault:secret/x#k")
	wantErr(t, err, secrets.ErrUnavailable)
	if !strings.Contains(err.Error(), "sealed") {
		t.Errorf("error %q does not say Vault is sealed", err)
	}
	if d := time.Since(began); d > time.Second {
		t.Errorf("a sealed Vault took %v to report; want no retries", d)
	}
	wantErr(t, s.Check(t.Context()), secrets.ErrUnavailable)
	e.noLeak(err, e.v.RootToken, "x-value")

	e.v.Unseal()
	mustGet(t, s, "vault:secret/x#k", "x-value")
	if err := s.Check(t.Context()); err != nil {
		t.Fatalf("Check after unseal: %v", err)
	}
}

func TestStaleIfError(t *testing.T) {
	e := start(t)
	e.v.Write("secret", "x", map[string]any{"k": "x-value"})
	stale := e.source(vault.Options{StaleIfError: time.Minute})
	strict := e.source(vault.Options{})
	mustGet(t, stale, "vault:secret/x#k", "x-value")
	mustGet(t, strict, "vault:secret/x#k", "x-value")

	e.v.Seal()
	mustGet(t, stale, "vault:secret/x#k", "x-value")
	_, err := get(t, strict, "vault:secret/x#k")
	wantErr(t, err, secrets.ErrUnavailable)
	// Never read before: nothing to fall back on.
	_, err = get(t, stale, "vault:secret/y#k")
	wantErr(t, err, secrets.ErrUnavailable)
	e.noLeak(nil, "x-value", e.v.RootToken)
}

// StaleIfError covers an unreachable or failing Vault, nothing else: when
// Vault answers that the request is bad or the secret may no longer be read,
// the caller gets that answer, not the last value read.
func TestStaleIfErrorOnlyWhenUnavailable(t *testing.T) {
	e := start(t)
	e.v.Write("secret", "x", map[string]any{"k": "x-value"})
	e.v.WritePolicy("reader", `path "secret/x" { capabilities = ["read"] }`)
	tok := e.v.Token(&api.TokenCreateRequest{Policies: []string{"reader"}})
	p := newProxy(t, e.v.Addr)
	s := e.source(vault.Options{Address: p.URL, Auth: vault.Auth{Token: tok}, StaleIfError: time.Hour})
	mustGet(t, s, "vault:secret/x#k", "x-value")

	p.status.Store(http.StatusBadRequest)
	v, err := get(t, s, "vault:secret/x#k")
	if err == nil || v != "" || errors.Is(err, secrets.ErrUnavailable) {
		t.Fatalf("Vault answered 400: Get = %q, %v; want the error and no value", v, err)
	}
	p.status.Store(http.StatusInternalServerError)
	mustGet(t, s, "vault:secret/x#k", "x-value") // Vault failing: stale
	p.status.Store(0)
	p.fail.Store(true)
	mustGet(t, s, "vault:secret/x#k", "x-value") // unreachable: stale
	p.fail.Store(false)

	// The permission is withdrawn: denied, and forgotten.
	e.v.WritePolicy("reader", `path "secret/other" { capabilities = ["read"] }`)
	v, err = get(t, s, "vault:secret/x#k")
	if v != "" {
		t.Fatalf("denied, yet got %q", v)
	}
	wantErr(t, err, secrets.ErrDenied)
	p.fail.Store(true)
	_, err = get(t, s, "vault:secret/x#k")
	wantErr(t, err, secrets.ErrUnavailable)
	e.noLeak(nil, "x-value", tok)
}

func TestUnreachable(t *testing.T) {
	e := start(t)
	ln := httptest.NewServer(http.NotFoundHandler())
	addr := ln.URL
	ln.Close() // nothing listens there any more
	s := e.source(vault.Options{Address: addr})
	_, err := get(t, s, "vault:secret/x#k")
	wantErr(t, err, secrets.ErrUnavailable)
	wantErr(t, s.Check(t.Context()), secrets.ErrUnavailable)
	t.Log(err)

	// A Vault that hangs is cut off after Timeout.
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
	}))
	t.Cleanup(hang.Close)
	s = e.source(vault.Options{Address: hang.URL, Timeout: 100 * time.Millisecond})
	began := time.Now()
	_, err = get(t, s, "vault:secret/x#k")
	wantErr(t, err, secrets.ErrUnavailable)
	if d := time.Since(began); d > time.Second {
		t.Errorf("took %v with a 100ms timeout", d)
	}
	t.Log(err)
}

func TestConcurrentGetsShareOneRead(t *testing.T) {
	e := start(t)
	e.v.MountKV("kv", 2)
	e.v.Write("kv", "hot", map[string]any{"k": "hot-value"})
	p := newProxy(t, e.v.Addr)
	s := e.source(vault.Options{Address: p.URL})
	mustGet(t, s, "vault:kv/hot#k", "hot-value") // learn the mount
	p.reset()
	p.delay.Store(int64(200 * time.Millisecond)) // keep the read in flight while all callers arrive

	const n = 50
	var wg sync.WaitGroup
	errs := make(chan error, n)
	startGate := make(chan struct{})
	for range n {
		wg.Go(func() {
			<-startGate
			v, err := get(t, s, "vault:kv/hot#k")
			if err == nil && v != "hot-value" {
				err = errors.New("wrong value")
			}
			errs <- err
		})
	}
	close(startGate)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if got := p.count("/v1/kv/data/hot"); got != 1 {
		t.Fatalf("%d concurrent Gets made %d Vault reads, want 1", n, got)
	}
}

func TestOptions(t *testing.T) {
	e := start(t)
	e.v.Write("secret", "x", map[string]any{"k": "x-value"})
	envs := map[string]string{"VAULT_ADDR": e.v.Addr, "VAULT_TOKEN": e.v.RootToken}
	s, err := vault.New(t.Context(), vault.Options{Getenv: func(k string) string { return envs[k] }}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	mustGet(t, s, "vault:secret/x#k", "x-value")

	for name, o := range map[string]vault.Options{
		"no address":     {Auth: vault.Auth{Token: "t"}},
		"no token":       {Address: e.v.Addr},
		"two tokens":     {Address: e.v.Addr, Auth: vault.Auth{Token: "t", TokenFile: "f"}},
		"unknown method": {Address: e.v.Addr, Auth: vault.Auth{Method: "ldap"}},
		"approle no id":  {Address: e.v.Addr, Auth: vault.Auth{Method: vault.MethodAppRole}},
		"k8s no role":    {Address: e.v.Addr, Auth: vault.Auth{Method: vault.MethodKubernetes}},
	} {
		if _, err := vault.New(t.Context(), o, nil); err == nil {
			t.Errorf("%s: New succeeded", name)
		}
	}
}

// benchmarks compare Source.Get with a bare client read of the same KV v2
// secret on an in-process Vault, so the ratio is Source's own overhead.
func BenchmarkGet(b *testing.B) {
	v := testvault.Start(b)
	v.MountKV("kv", 2)
	v.Write("kv", "bench", map[string]any{"api_token": "bench-value"})
	r := ref(b, "vault:kv/bench#api_token")
	newSource := func(ttl time.Duration) *vault.Source {
		s, err := vault.New(b.Context(), vault.Options{Address: v.Addr, CacheTTL: ttl, Auth: vault.Auth{Token: v.RootToken}}, nil)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(s.Close)
		if _, err := s.Get(b.Context(), r); err != nil {
			b.Fatal(err)
		}
		return s
	}
	raw := func() {
		sec, err := v.Client.Logical().Read("kv/data/bench")
		if err != nil || sec.Data["data"].(map[string]any)["api_token"] != "bench-value" {
			b.Error(err) // Fatal may not be called from RunParallel's goroutines
		}
	}
	getter := func(s *vault.Source) func() {
		return func() {
			if val, err := s.Get(context.Background(), r); err != nil || val != "bench-value" {
				b.Error(err)
			}
		}
	}
	cold, cached := newSource(0), newSource(time.Minute)
	for _, bc := range []struct {
		name string
		fn   func()
	}{
		{"raw-read", raw},
		{"cold", getter(cold)},
		{"cached", getter(cached)},
	} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				bc.fn()
			}
		})
		b.Run(bc.name+"-parallel", func(b *testing.B) {
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					bc.fn()
				}
			})
		})
	}
}
