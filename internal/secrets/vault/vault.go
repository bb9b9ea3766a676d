// Package vault reads vault: secret references from HashiCorp Vault. It tells
// KV v1 from KV v2 mounts the way the `vault kv` command does (so users write
// secret/helpdesk, not secret/data/helpdesk), reads any other engine's path as
// it is written, keeps its Vault token alive (renewing it, logging in again
// when it expires or is revoked) and maps Vault's answers onto the sentinel
// errors of package secrets. Secret values and tokens are never logged and
// never appear in an error.
package vault

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/vault/api"
	"github.com/hashicorp/vault/api/auth/approle"
	"github.com/hashicorp/vault/api/auth/kubernetes"

	"github.com/switchboard-dev/switchboard/internal/secrets"
)

// Auth methods.
const (
	MethodToken      = "token"
	MethodAppRole    = "approle"
	MethodKubernetes = "kubernetes"
)

// DefaultJWTFile is where Kubernetes mounts a pod's service account token.
const DefaultJWTFile = "/var/run/secrets/kubernetes.io/serviceaccount/token"

// DefaultTimeout bounds each request to Vault when Options.Timeout is zero.
const DefaultTimeout = 2 * time.Second

// Options says where Vault is and how to log in to it.
type Options struct {
	Address       string // default: $VAULT_ADDR through Getenv
	Namespace     string // Vault Enterprise namespace; empty for none
	CACert        string // PEM file of the CA that signed Vault's certificate
	TLSSkipVerify bool
	Timeout       time.Duration // per Vault request; default DefaultTimeout
	Auth          Auth
	CacheTTL      time.Duration // 0: read Vault on every Get
	StaleIfError  time.Duration // 0: off; else serve a value read at most this long ago while Vault is unavailable
	// Now is the clock that ages cached values (CacheTTL, StaleIfError);
	// nil means time.Now. Tests set it to step over a TTL without sleeping.
	Now func() time.Time
	// Getenv reads VAULT_ADDR (when Address is empty) and VAULT_TOKEN (when
	// the token method has neither Token nor TokenFile). Nil reads nothing.
	Getenv func(string) string
}

// Auth selects and configures the auth method.
type Auth struct {
	Method string // MethodToken (default), MethodAppRole or MethodKubernetes

	Token     string // token: a literal token
	TokenFile string // token: a file holding the token, re-read when Vault rejects it (e.g. a Vault Agent sink)

	RoleID       string // approle
	SecretIDFile string // approle: re-read at every login
	Mount        string // approle and kubernetes: default "approle" / "kubernetes"

	Role    string // kubernetes
	JWTFile string // kubernetes: default DefaultJWTFile, re-read at every login
}

// Source reads vault: references. It is safe for concurrent use.
type Source struct {
	client *api.Client // every read; its token is replaced on login
	login  *api.Client // login requests, which must not carry a (revoked) token
	// authFn obtains a new token; nil for a literal token, which cannot be
	// re-acquired.
	authFn func(context.Context) (*api.Secret, error)
	method string
	log    *slog.Logger
	cache  *secrets.Cache
	kv     sync.Map // ref path -> kvMount, learnt by the preflight request

	loginMu sync.Mutex
	gen     atomic.Uint64    // counts successful logins; 0 = none yet
	fresh   chan *api.Secret // the newest login, for the renewal goroutine

	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// New builds a Source. For the approle and kubernetes methods it logs in at
// once: a refused login (wrong role, missing file) is an error, while an
// unreachable or sealed Vault is only logged and retried in the background, so
// that the server can start and report not-ready until Vault is back. The
// renewal goroutine stops when ctx ends or on Close.
func New(ctx context.Context, opts Options, logger *slog.Logger) (*Source, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	getenv := opts.Getenv
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	if opts.Address == "" {
		opts.Address = getenv("VAULT_ADDR")
	}
	if opts.Address == "" {
		return nil, errors.New("vault: no address (set vault.address or VAULT_ADDR)")
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}

	cfg := api.DefaultConfig()
	if cfg.Error != nil {
		return nil, fmt.Errorf("vault: client configuration: %w", cfg.Error)
	}
	cfg.Address = opts.Address
	cfg.Timeout = opts.Timeout
	// The api client retries 5xx and connection errors after waiting 1-1.5s,
	// which cannot fit in a 2s budget and is silence on a phone line: fail
	// fast and let StaleIfError or the caller decide.
	cfg.MaxRetries = 0
	if opts.CACert != "" || opts.TLSSkipVerify {
		if err := cfg.ConfigureTLS(&api.TLSConfig{CACert: opts.CACert, Insecure: opts.TLSSkipVerify}); err != nil {
			return nil, fmt.Errorf("vault: TLS configuration: %w", err)
		}
	}
	var clients [2]*api.Client
	for i := range clients {
		c, err := api.NewClient(cfg)
		if err != nil {
			return nil, fmt.Errorf("vault: client: %w", err)
		}
		// api.NewClient picks up VAULT_TOKEN and VAULT_NAMESPACE from the
		// process environment; only Options decide here.
		c.ClearToken()
		c.ClearNamespace()
		if opts.Namespace != "" {
			c.SetNamespace(opts.Namespace)
		}
		clients[i] = c
	}

	s := &Source{client: clients[0], login: clients[1], method: opts.Auth.Method, log: logger, fresh: make(chan *api.Secret, 1)}
	if s.method == "" {
		s.method = MethodToken
	}
	if err := s.setupAuth(opts.Auth, getenv); err != nil {
		return nil, err
	}
	s.cache = secrets.NewCache(secrets.SourceFunc(s.read), opts.CacheTTL, opts.StaleIfError, logger, opts.Now)

	if s.authFn != nil {
		if err := s.relogin(ctx, 0); err != nil {
			if !transient(err) {
				return nil, err
			}
			logger.Warn("vault login failed; retrying in the background", "method", s.method, "error", err)
		}
		ctx, s.cancel = context.WithCancel(ctx)
		s.wg.Add(1)
		go s.keepLoggedIn(ctx)
	}
	return s, nil
}

func (s *Source) setupAuth(a Auth, getenv func(string) string) error {
	switch s.method {
	case MethodToken:
		switch {
		case a.Token != "" && a.TokenFile != "":
			return errors.New("vault auth token: set a token or a token_file, not both")
		case a.TokenFile != "":
			s.authFn = func(context.Context) (*api.Secret, error) {
				tok, err := readFile(a.TokenFile, "token_file")
				if err != nil {
					return nil, err
				}
				return &api.Secret{Auth: &api.SecretAuth{ClientToken: tok}}, nil
			}
			return nil
		}
		tok := a.Token
		if tok == "" {
			tok = getenv("VAULT_TOKEN")
		}
		if tok == "" {
			return errors.New("vault auth token: no token (set VAULT_TOKEN or vault.auth.token_file)")
		}
		s.client.SetToken(tok)
		s.gen.Store(1)
	case MethodAppRole:
		if a.RoleID == "" || a.SecretIDFile == "" {
			return errors.New("vault auth approle: role_id and secret_id_file are required")
		}
		mount := cmp.Or(a.Mount, "approle")
		s.authFn = func(ctx context.Context) (*api.Secret, error) {
			// Read the secret_id at each login so that a rotated file is used.
			sid, err := readFile(a.SecretIDFile, "secret_id_file")
			if err != nil {
				return nil, err
			}
			m, err := approle.NewAppRoleAuth(a.RoleID, &approle.SecretID{FromString: sid}, approle.WithMountPath(mount))
			if err != nil {
				return nil, err
			}
			return m.Login(ctx, s.login)
		}
	case MethodKubernetes:
		if a.Role == "" {
			return errors.New("vault auth kubernetes: role is required")
		}
		mount, file := cmp.Or(a.Mount, "kubernetes"), cmp.Or(a.JWTFile, DefaultJWTFile)
		s.authFn = func(ctx context.Context) (*api.Secret, error) {
			// kubernetes.WithServiceAccountTokenPath reads the file once, at
			// construction; projected tokens rotate, so read it per login.
			jwt, err := readFile(file, "service account token file")
			if err != nil {
				return nil, err
			}
			m, err := kubernetes.NewKubernetesAuth(a.Role, kubernetes.WithServiceAccountToken(jwt), kubernetes.WithMountPath(mount))
			if err != nil {
				return nil, err
			}
			return m.Login(ctx, s.login)
		}
	default:
		return fmt.Errorf("vault auth: unknown method %q (want token, approle or kubernetes)", s.method)
	}
	return nil
}

// Get returns the field ref.Field of the secret at ref.Path.
func (s *Source) Get(ctx context.Context, ref secrets.Ref) (string, error) {
	return s.cache.Get(ctx, ref)
}

// Check tells whether Vault is reachable and unsealed and the token valid,
// by looking the token up (which the default policy allows).
func (s *Source) Check(ctx context.Context) error {
	err := s.withToken(ctx, func() error {
		_, err := s.client.Auth().Token().LookupSelfWithContext(ctx)
		return err
	})
	if err != nil {
		return s.describe("token lookup", err)
	}
	return nil
}

// Close stops renewing the token. It does not revoke it: another replica or
// a restart may still be using a token read from the same file.
func (s *Source) Close() {
	if s.cancel != nil {
		s.cancel()
	}
	s.wg.Wait()
}

// kvMount is what the preflight request taught about a path's mount.
type kvMount struct {
	path string // "secret/", with its trailing slash
	v2   bool
}

func (s *Source) read(ctx context.Context, ref secrets.Ref) (string, error) {
	var val string
	err := s.withToken(ctx, func() error {
		m, err := s.mount(ctx, ref.Path)
		if err != nil {
			return err
		}
		p := ref.Path
		if m.v2 {
			p = m.path + "data/" + strings.TrimPrefix(ref.Path, m.path)
		}
		sec, err := s.client.Logical().ReadWithContext(ctx, p)
		if err != nil {
			return err
		}
		val, err = field(sec, m.v2, ref.Field)
		return err
	})
	if err != nil {
		// The mount may have been remounted or upgraded to v2: learn again.
		s.kv.Delete(ref.Path)
		return "", s.describe("read "+ref.Path, err)
	}
	return val, nil
}

// mount asks Vault which mount holds path and its KV version, as
// kvPreflightVersionRequest in Vault's command/kv_helpers.go does. It is keyed
// by the path rather than the mount because mounts may be nested (kv/team/)
// and only this answer says where the mount ends.
func (s *Source) mount(ctx context.Context, path string) (kvMount, error) {
	if m, ok := s.kv.Load(path); ok {
		return m.(kvMount), nil
	}
	sec, err := s.client.Logical().ReadWithContext(ctx, "sys/internal/ui/mounts/"+path)
	var re *api.ResponseError
	if errors.As(err, &re) && (re.StatusCode == 403 || re.StatusCode == 404) && !invalidToken(re) {
		// The token may not see the mount table (no default policy) or Vault
		// is too old for this endpoint: read the path as written, which is
		// right for KV v1 and every other engine.
		err, sec = nil, nil
	}
	if err != nil {
		return kvMount{}, err
	}
	var m kvMount
	if sec != nil {
		m.path, _ = sec.Data["path"].(string)
		if o, ok := sec.Data["options"].(map[string]any); ok {
			m.v2 = o["version"] == "2"
		}
		if m.v2 && (m.path == "" || !strings.HasPrefix(path, m.path)) {
			m.path, _, _ = strings.Cut(path, "/")
			m.path += "/"
		}
	}
	s.kv.Store(path, m)
	return m, nil
}

// field picks a field out of a read; KV v2 nests the fields under data.
func field(sec *api.Secret, v2 bool, name string) (string, error) {
	if sec == nil {
		return "", secrets.ErrNotFound
	}
	data := sec.Data
	if v2 {
		data, _ = sec.Data["data"].(map[string]any)
		if data == nil {
			return "", fmt.Errorf("latest version is deleted: %w", secrets.ErrNotFound)
		}
	}
	v, ok := data[name]
	if !ok || v == nil {
		return "", fmt.Errorf("no field %q: %w", name, secrets.ErrNotFound)
	}
	switch v := v.(type) {
	case string:
		return v, nil
	case json.Number:
		return v.String(), nil
	case bool:
		return strconv.FormatBool(v), nil
	default: // objects and lists are handed over as JSON
		b, err := json.Marshal(v)
		if err != nil {
			return "", fmt.Errorf("field %q cannot be encoded", name)
		}
		return string(b), nil
	}
}

// withToken runs fn, and when Vault rejects the token as invalid (revoked,
// expired) and it can be re-acquired, logs in again and runs fn once more.
func (s *Source) withToken(ctx context.Context, fn func() error) error {
	if s.authFn == nil {
		return fn()
	}
	seen := s.gen.Load()
	if seen == 0 { // no login has succeeded yet: Vault was down at start
		if err := s.relogin(ctx, 0); err != nil {
			return err
		}
		seen = s.gen.Load()
	}
	err := fn()
	var re *api.ResponseError
	if errors.As(err, &re) && invalidToken(re) {
		s.log.Info("vault rejected the token; logging in again", "method", s.method)
		if err := s.relogin(ctx, seen); err != nil {
			return err
		}
		err = fn()
	}
	return err
}

// relogin obtains a new token unless another goroutine already replaced the
// token generation seen failing, so that a burst of rejected calls makes a
// single login.
func (s *Source) relogin(ctx context.Context, seen uint64) error {
	s.loginMu.Lock()
	defer s.loginMu.Unlock()
	if s.gen.Load() != seen {
		return nil
	}
	sec, err := s.authFn(ctx)
	if err == nil && (sec == nil || sec.Auth == nil || sec.Auth.ClientToken == "") {
		err = errors.New("Vault returned no token")
	}
	if err != nil {
		return s.loginError(err)
	}
	s.client.SetToken(sec.Auth.ClientToken)
	s.gen.Add(1)
	s.log.Info("vault login", "method", s.method,
		"ttl", time.Duration(sec.Auth.LeaseDuration)*time.Second, "renewable", sec.Auth.Renewable)
	select { // replace a login the renewal goroutine has not picked up yet
	case <-s.fresh:
	default:
	}
	s.fresh <- sec
	return nil
}

// keepLoggedIn renews the current login token with a LifetimeWatcher and
// logs in again when renewal ends (max TTL reached, or renewals failing until
// expiry), retrying with backoff while Vault is unavailable.
func (s *Source) keepLoggedIn(ctx context.Context) {
	defer s.wg.Done()
	var w *api.LifetimeWatcher
	stop := func() {
		if w != nil {
			w.Stop()
			w = nil
		}
	}
	defer stop()
	var done <-chan error
	var retry <-chan time.Time
	wait := time.Second
	if s.gen.Load() == 0 {
		retry = time.After(wait)
	}
	for {
		select {
		case <-ctx.Done():
			return
		case sec := <-s.fresh:
			stop()
			done, retry, wait = nil, nil, time.Second
			ttl := time.Duration(sec.Auth.LeaseDuration) * time.Second
			switch {
			case ttl <= 0: // never expires (or a token file, renewed by whoever writes it)
			case !sec.Auth.Renewable: // e.g. a batch token: log in again before it expires
				retry = time.After(ttl * 2 / 3)
			default:
				// ErrorOnErrors hands the first failed renewal back to this
				// loop. The default behaviour retries by itself, but its
				// backoff (api v1.23.0) is built without a Stop value: near
				// expiry it re-sends renew-self in a tight loop (dozens of
				// requests in 100ms were seen in tests).
				var err error
				w, err = s.client.NewLifetimeWatcher(&api.LifetimeWatcherInput{Secret: sec, RenewBehavior: api.RenewBehaviorErrorOnErrors})
				if err != nil {
					s.log.Error("vault token renewal cannot start", "error", err)
					retry = time.After(ttl * 2 / 3)
					continue
				}
				go w.Start()
				done = w.DoneCh()
			}
		case err := <-done:
			stop()
			done = nil
			if err != nil {
				s.log.Warn("vault token renewal failed; logging in again", "method", s.method, "error", s.describe("renew token", err))
			} else {
				s.log.Info("vault token reached its maximum TTL; logging in again", "method", s.method)
			}
			retry = time.After(0)
		case <-retry:
			if err := s.relogin(ctx, s.gen.Load()); err != nil {
				s.log.Warn("vault login failed", "method", s.method, "error", err, "retry_in", wait)
				retry = time.After(wait)
				wait = min(2*wait, time.Minute)
			}
		}
	}
}

// describe turns an error from the api package into one that says what
// happened, wraps the secrets sentinel that fits and carries no token: the
// api's own ResponseError text is not used, since with an unparsable body it
// quotes the whole body, whatever a proxy put in it.
func (s *Source) describe(op string, err error) error {
	var re *api.ResponseError
	switch {
	case errors.As(err, &re):
		switch {
		case invalidToken(re):
			return fmt.Errorf("vault %s: the Vault token is invalid or expired: %w", op, secrets.ErrUnavailable)
		case re.StatusCode == 403:
			return fmt.Errorf("vault %s: %w", op, secrets.ErrDenied)
		case re.StatusCode == 404:
			return fmt.Errorf("vault %s: %w", op, secrets.ErrNotFound)
		case re.StatusCode == 429 || re.StatusCode >= 500:
			return fmt.Errorf("vault %s: Vault answered %d%s: %w", op, re.StatusCode, s.vaultMessage(re), secrets.ErrUnavailable)
		default:
			return fmt.Errorf("vault %s: Vault answered %d%s", op, re.StatusCode, s.vaultMessage(re))
		}
	case errors.Is(err, secrets.ErrNotFound), errors.Is(err, secrets.ErrDenied), errors.Is(err, secrets.ErrUnavailable),
		errors.Is(err, context.Canceled):
		return fmt.Errorf("vault %s: %w", op, err)
	case errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("vault %s: Vault did not answer in time: %w", op, secrets.ErrUnavailable)
	}
	var ue *url.Error
	if errors.As(err, &ue) { // drop the URL: it adds nothing to the operation
		err = ue.Err
	}
	return fmt.Errorf("vault %s: cannot reach Vault (%v): %w", op, err, secrets.ErrUnavailable)
}

// loginError describes a failed login. Every failed login is ErrUnavailable:
// without a token, Vault cannot be asked.
func (s *Source) loginError(err error) error {
	var re *api.ResponseError
	if errors.As(err, &re) && re.StatusCode < 500 && re.StatusCode != 429 {
		return &loginErr{fmt.Errorf("vault login (%s): Vault refused it with %d%s: %w", s.method, re.StatusCode, s.vaultMessage(re), secrets.ErrUnavailable), false}
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return &loginErr{fmt.Errorf("vault login (%s): %w: %w", s.method, err, secrets.ErrUnavailable), false}
	}
	return &loginErr{s.describe("login ("+s.method+")", err), true}
}

// loginErr remembers whether a failed login may succeed later by itself.
type loginErr struct {
	error
	transient bool
}

func (e *loginErr) Unwrap() error { return e.error }

func transient(err error) bool {
	var le *loginErr
	return errors.As(err, &le) && le.transient
}

// vaultMessage quotes Vault's own error messages (e.g. "Vault is sealed"),
// shortened, on one line, and without the current token should Vault ever
// echo it. Raw bodies (not Vault's JSON) are never quoted.
func (s *Source) vaultMessage(re *api.ResponseError) string {
	if re.RawError || len(re.Errors) == 0 {
		return ""
	}
	msg := strings.Join(strings.Fields(strings.Join(re.Errors, "; ")), " ")
	if tok := s.client.Token(); tok != "" {
		msg = strings.ReplaceAll(msg, tok, "[token]")
	}
	if len(msg) > 200 {
		msg = msg[:200] + "…"
	}
	return " (" + msg + ")"
}

// invalidToken tells a revoked or expired token from a policy denial: since
// Vault 1.x both are 403, but the former also says "invalid token".
func invalidToken(re *api.ResponseError) bool {
	if re.StatusCode != 403 {
		return false
	}
	for _, e := range re.Errors {
		if strings.Contains(e, "invalid token") {
			return true
		}
	}
	return false
}

func readFile(name, what string) (string, error) {
	b, err := os.ReadFile(name)
	if err != nil {
		return "", fmt.Errorf("read %s: %w", what, err)
	}
	v := strings.TrimSpace(string(b))
	if v == "" {
		return "", &fs.PathError{Op: "read " + what, Path: name, Err: errors.New("file is empty")}
	}
	return v, nil
}
