// Package mcpupstream re-exposes the tools of another MCP server (type: mcp):
// it connects over streamable HTTP, legacy SSE or stdio, discovers the tools
// (again on notifications/tools/list_changed and after every reconnect),
// forwards calls, and keeps reconnecting with backoff when the upstream is
// down, so that switchboard starts and keeps serving whatever happens to it.
package mcpupstream

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os/exec"
	"path"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	mcpclient "github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/switchboard-dev/switchboard/configs"
	"github.com/switchboard-dev/switchboard/integrations"
	"github.com/switchboard-dev/switchboard/internal/secrets"
)

// Secrets reads a secret when a connection or request needs it; references
// are parsed once, in New.
type Secrets interface {
	Resolve(ctx context.Context, ref secrets.Ref) (string, error)
}

// Deps are what an upstream needs from the outside.
type Deps struct {
	Secrets Secrets
	Logger  *slog.Logger
	// OnChange is called with the full new tool list whenever it changes
	// (first discovery, list_changed, a reconnect that finds other tools).
	OnChange func(tools []*integrations.Tool)
	// PingInterval is how often a connected upstream is checked (default 15s).
	PingInterval time.Duration
	// MaxBackoff caps the wait between reconnection attempts (default 30s).
	MaxBackoff time.Duration
	Version    string
	// HTTPClient's transport carries requests to HTTP upstreams; share one
	// so connections are pooled (nil: a pooled transport of its own).
	HTTPClient *http.Client
	// Getenv gives a stdio child the few variables it needs to run (PATH,
	// HOME, LANG, TMPDIR, USER).
	Getenv func(string) string
}

// Upstream is one connected (or reconnecting) MCP server.
type Upstream struct {
	cfg  configs.Integration
	deps Deps
	log  *slog.Logger
	refs refs // the secret references of cfg, parsed
	http *http.Client

	mu        sync.Mutex
	client    *mcpclient.Client // nil while disconnected
	tools     []*integrations.Tool
	lastErr   error
	used      secrets.Redactor                 // credentials sent, scrubbed from results (under mu)
	leftOut   map[string]string                // upstream tool → why it is not exposed (logged once; under mu)
	calls     map[*integrations.Call]*inflight // calls in flight, for requests from the upstream (under mu)
	held      map[string]*parked               // upstream questions waiting for a 2026-07-28 client's retry (under mu)
	heldCalls atomic.Int64                     // upstream calls held for a 2026-07-28 client's answer

	legacy       bool     // the upstream needs the handshake era (Run's goroutine only)
	stopListen   func()   // ends the subscriptions/listen stream (Run's goroutine only)
	tap          *tap     // the current connection's raw view of tools/list (under mu)
	progress     sync.Map // upstream progress token → the *integrations.Call that asked for it
	nextProgress atomic.Int64
	lost         chan struct{} // a signal that the connection is gone
	refresh      chan struct{} // a signal that the tool list changed
	started      chan struct{} // closed after the first connection attempt
	once         sync.Once
}

// New returns an upstream for a checked integration; Run connects it.
func New(in configs.Integration, deps Deps) (*Upstream, error) {
	if deps.Logger == nil {
		deps.Logger = slog.New(slog.DiscardHandler)
	}
	if deps.PingInterval == 0 {
		deps.PingInterval = 15 * time.Second
	}
	if deps.MaxBackoff == 0 {
		deps.MaxBackoff = 30 * time.Second
	}
	if deps.Secrets == nil {
		deps.Secrets = secrets.NewResolver(nil)
	}
	if deps.Getenv == nil {
		deps.Getenv = func(string) string { return "" }
	}
	if deps.OnChange == nil {
		deps.OnChange = func([]*integrations.Tool) {}
	}
	r, err := parseRefs(in)
	if err != nil {
		return nil, fmt.Errorf("integration %s: %w", in.Name, err)
	}
	base := http.DefaultTransport.(*http.Transport).Clone()
	base.MaxIdleConns, base.MaxIdleConnsPerHost = 256, 64
	var rt http.RoundTripper = base
	if deps.HTTPClient != nil && deps.HTTPClient.Transport != nil {
		rt = deps.HTTPClient.Transport
	}
	u := &Upstream{
		cfg:     in,
		deps:    deps,
		log:     deps.Logger.With("integration", in.Name),
		refs:    r,
		lost:    make(chan struct{}, 1),
		refresh: make(chan struct{}, 1),
		started: make(chan struct{}),
	}
	u.http = &http.Client{
		Transport: &authTransport{base: rt, u: u},
		// A redirect could carry credentials to another host.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return u, nil
}

// minBackoff is the first wait before reconnecting; it doubles up to
// Deps.MaxBackoff.
const minBackoff = 250 * time.Millisecond

// Run keeps the upstream connected until ctx ends. Every path back to
// connect waits the backoff: a failed attempt, and a connection that is lost
// again before it has been up for MaxBackoff, so that an upstream that drops
// every connection at once is not hammered.
func (u *Upstream) Run(ctx context.Context) {
	backoff := minBackoff
	wait := func() {
		select {
		case <-ctx.Done():
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, u.deps.MaxBackoff)
	}
	for ctx.Err() == nil {
		err := u.connect(ctx)
		u.once.Do(func() { close(u.started) })
		if err != nil {
			u.setErr(err)
			if ctx.Err() != nil {
				break // shutting down is not a failure
			}
			u.log.Warn("upstream MCP server unavailable; retrying", "error", err, "retry_in", backoff)
			wait()
			continue
		}
		up := time.Now()
		u.serve(ctx)
		u.disconnect(errors.New("connection lost"))
		if ctx.Err() != nil {
			break
		}
		if time.Since(up) >= u.deps.MaxBackoff {
			backoff = minBackoff
		}
		u.log.Info("reconnecting to upstream MCP server", "retry_in", backoff)
		wait()
	}
	u.disconnect(errors.New("shutting down"))
}

// WaitStarted waits for the first connection attempt, so that a command like
// `switchboard tools` shows the upstream's tools (or why there are none).
func (u *Upstream) WaitStarted(ctx context.Context) error {
	select {
	case <-u.started:
	case <-ctx.Done():
		return ctx.Err()
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.client == nil {
		return u.lastErr
	}
	return nil
}

// Tools returns the tools discovered last (kept while reconnecting, so that
// a call says "unavailable" instead of "no such tool").
func (u *Upstream) Tools() []*integrations.Tool {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]*integrations.Tool(nil), u.tools...)
}

func (u *Upstream) setErr(err error) {
	u.mu.Lock()
	u.lastErr = err
	u.mu.Unlock()
}

// serve watches a live connection: it refreshes tools on list_changed and
// returns when the connection is lost or ctx ends.
func (u *Upstream) serve(ctx context.Context) {
	ping := time.NewTicker(u.deps.PingInterval)
	defer ping.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-u.lost:
			return
		case <-u.refresh:
			if err := u.discover(ctx); err != nil {
				if ctx.Err() == nil {
					u.log.Warn("refreshing tools failed", "error", err)
				}
				return
			}
		case <-ping.C:
			c := u.current()
			if c == nil {
				return
			}
			pctx, cancel := context.WithTimeout(ctx, u.cfg.Timeout)
			err := c.Ping(pctx)
			cancel()
			if err != nil {
				if ctx.Err() == nil {
					u.log.Warn("upstream stopped answering", "error", err)
				}
				return
			}
		}
	}
}

func (u *Upstream) current() *mcpclient.Client {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.client
}

func (u *Upstream) markLost() {
	select {
	case u.lost <- struct{}{}:
	default:
	}
}

func (u *Upstream) disconnect(why error) {
	if u.stopListen != nil {
		go u.stopListen() // it waits for the stream, which Close ends
		u.stopListen = nil
	}
	u.mu.Lock()
	c := u.client
	u.client = nil
	if c != nil {
		u.lastErr = why
	}
	u.mu.Unlock()
	if c != nil {
		_ = c.Close()
	}
}

// connect opens a connection and discovers tools. It speaks the 2026-07-28
// stateless core first; an upstream that answers that it does not support it
// (most servers in the field) is spoken to with the handshake from then on.
func (u *Upstream) connect(ctx context.Context) error {
	if !u.legacy {
		err := u.connectWith(ctx, "")
		var unsupported mcp.UnsupportedProtocolVersionError
		if !errors.As(err, &unsupported) && !errors.Is(err, errNotStateless) {
			return err
		}
		u.log.Info("upstream does not speak the stateless core; using the handshake", "supported", unsupported.Supported, "why", err)
		u.legacy = true
	}
	return u.connectWith(ctx, legacyVersion)
}

// legacyVersion is the newest handshake-era revision.
const legacyVersion = "2025-11-25"

func (u *Upstream) connectWith(ctx context.Context, version string) error {
	tr, err := u.transport(ctx, version != "")
	if err != nil {
		return err
	}
	tr = newTap(tr)
	opts := []mcpclient.ClientOption{
		// Requests from the upstream are always answered: an elicitation
		// goes to the client of the call that caused it (or is refused at
		// once), roots/list gets an empty list, sampling is refused by
		// mcp-go (no handler, an error answer).
		mcpclient.WithElicitationHandler(elicitForwarder{u}),
		mcpclient.WithRootsHandler(noRoots{}),
	}
	if version != "" {
		opts = append(opts, mcpclient.WithProtocolVersion(version))
	}
	c := mcpclient.NewClient(tr, opts...)
	cctx, cancel := context.WithTimeout(ctx, u.cfg.Timeout)
	defer cancel()
	if err := c.Start(ctx); err != nil {
		return fmt.Errorf("start %s: %w", u.where(), err)
	}
	c.OnNotification(func(n mcp.JSONRPCNotification) {
		if n.Method == string(mcp.MethodNotificationProgress) {
			u.forwardProgress(n.Params.AdditionalFields)
			return
		}
		if n.Method == mcp.MethodNotificationToolsListChanged {
			select {
			case u.refresh <- struct{}{}:
			default:
			}
		}
	})
	c.OnConnectionLost(func(error) { u.markLost() })
	var init mcp.InitializeRequest
	init.Params.ClientInfo = mcp.Implementation{Name: "switchboard", Version: u.deps.Version}
	res, err := c.Initialize(cctx, init)
	if err != nil {
		_ = c.Close()
		return fmt.Errorf("handshake with %s: %w", u.where(), err)
	}
	if version == "" && !mcp.IsModernProtocol(c.ProtocolVersion()) && u.streamable() {
		// mcp-go fell back to the handshake on its own, on a transport
		// built for the stateless core: without the standalone GET stream,
		// the upstream's list_changed and its requests outside a call
		// (roots/list) would never arrive. Connect again for the handshake.
		_ = c.Close()
		return fmt.Errorf("%w: %s answered with the handshake", errNotStateless, u.where())
	}
	// Only an upstream that declared tools.listChanged is asked for
	// notifications; one that answers "method not found" sends none, and is
	// not reconnected to for it.
	// A listen stream that fails before the connection is kept below is
	// acted on once it is kept (it would otherwise go unnoticed, leaving a
	// connection without notifications).
	var (
		lmu   sync.Mutex
		kept  bool
		early error
	)
	listenEnded := func(err error) {
		var unsupported mcp.UnsupportedProtocolVersionError
		if errors.Is(err, mcp.ErrMethodNotFound) || errors.As(err, &unsupported) {
			// No notifications from this upstream (one that refuses the
			// version is spoken to with the handshake: connect sees it too).
			u.log.Info("upstream does not support subscriptions/listen; its tool list is read at each connection", "error", err)
			return
		}
		u.log.Warn("subscriptions/listen stream ended", "error", err)
		u.markLost()
	}
	if mcp.IsModernProtocol(c.ProtocolVersion()) && res.Capabilities.Tools != nil && res.Capabilities.Tools.ListChanged {
		stop, err := c.ListenAsync(ctx, mcp.SubscriptionFilter{ToolsListChanged: true}, func(err error) {
			if ctx.Err() != nil {
				return // this connection is being closed
			}
			lmu.Lock()
			if !kept {
				early = err
				lmu.Unlock()
				return
			}
			lmu.Unlock()
			if u.current() != c {
				return // a later connection replaced this one
			}
			listenEnded(err)
		})
		if err != nil {
			_ = c.Close()
			return fmt.Errorf("subscribe to %s: %w", u.where(), err)
		}
		u.stopListen = stop
	}
	u.mu.Lock()
	u.client = c
	u.tap = tapOf(tr)
	u.lastErr = nil
	u.mu.Unlock()
	lmu.Lock()
	kept = true
	err = early
	lmu.Unlock()
	if err != nil && ctx.Err() == nil {
		listenEnded(err)
	}
	// Drain a stale signal from the previous connection.
	select {
	case <-u.lost:
	default:
	}
	if err := u.discover(ctx); err != nil {
		u.disconnect(err)
		return err
	}
	u.log.Info("connected to upstream MCP server", "tools", len(u.Tools()))
	return nil
}

// streamable: the upstream is reached over streamable HTTP (not stdio, not
// legacy SSE).
func (u *Upstream) streamable() bool {
	return u.cfg.URL != "" && !(u.cfg.Transport == "sse" || (u.cfg.Transport == "" && strings.HasSuffix(strings.TrimRight(u.cfg.URL, "/"), "/sse")))
}

func (u *Upstream) where() string {
	if u.cfg.URL != "" {
		return u.cfg.URL
	}
	return u.cfg.Command[0]
}

// transport builds the client transport; credentials are read now (for a
// stdio child's environment) or at every request (HTTP headers).
func (u *Upstream) transport(ctx context.Context, legacy bool) (transport.Interface, error) {
	if len(u.cfg.Command) > 0 {
		env, err := u.childEnv(ctx)
		if err != nil {
			return nil, err
		}
		stderr := &lineLogger{log: u.log}
		// mcp-go would hand the child switchboard's whole environment
		// (VAULT_TOKEN included); the child gets only what it needs.
		spawn := func(ctx context.Context, command string, env []string, args []string) (*exec.Cmd, error) {
			cmd := exec.CommandContext(ctx, command, args...)
			cmd.Env = env
			return cmd, nil
		}
		return transport.NewStdioWithOptions(u.cfg.Command[0], env, u.cfg.Command[1:],
			transport.WithCommandFunc(spawn), transport.WithCommandStderrWriter(stderr), transport.WithCommandLogger(u.log)), nil
	}
	if !u.streamable() {
		return transport.NewSSE(u.cfg.URL, transport.WithHTTPClient(u.http), transport.WithSSELogger(u.log))
	}
	opts := []transport.StreamableHTTPCOption{transport.WithHTTPBasicClient(u.http), transport.WithHTTPLogger(u.log)}
	if legacy {
		// Handshake-era notifications (tools/list_changed) arrive on the
		// standalone GET stream; the stateless core uses subscriptions/listen.
		opts = append(opts, transport.WithContinuousListening())
	}
	return transport.NewStreamableHTTP(u.cfg.URL, opts...)
}

func (u *Upstream) reveal(ctx context.Context, ref secrets.Ref) (string, error) {
	v, err := u.deps.Secrets.Resolve(ctx, ref)
	if err == nil {
		u.mu.Lock()
		u.used.Add(v)
		u.mu.Unlock()
	}
	return v, err
}

// refs are an integration's secret references, parsed once.
type refs struct {
	auth    *secrets.Ref
	headers map[string]secrets.Ref // header name → reference (literal headers are in cfg)
	env     map[string]secrets.Ref
}

func parseRefs(in configs.Integration) (refs, error) {
	r := refs{headers: map[string]secrets.Ref{}, env: map[string]secrets.Ref{}}
	for _, kv := range []struct {
		m    map[string]string
		into map[string]secrets.Ref
		what string
	}{{in.Headers, r.headers, "header"}, {in.Env, r.env, "env"}} {
		for k, v := range kv.m {
			if secrets.IsRef(v) {
				ref, err := secrets.ParseRef(v)
				if err != nil {
					return r, fmt.Errorf("%s %s: %w", kv.what, k, err)
				}
				kv.into[k] = ref
			}
		}
	}
	switch in.Auth.Type {
	case "bearer", "header", "basic":
		ref, err := secrets.ParseRef(in.Auth.Secret)
		if err != nil {
			return r, fmt.Errorf("auth.secret: %w", err)
		}
		r.auth = &ref
	}
	return r, nil
}

// authHeaders are the headers of every request to an HTTP upstream, with
// their credentials read now, so a rotated secret is used at once.
func (u *Upstream) authHeaders(ctx context.Context) (map[string]string, error) {
	h := make(map[string]string, len(u.cfg.Headers)+1)
	for k, v := range u.cfg.Headers {
		if ref, ok := u.refs.headers[k]; ok {
			s, err := u.reveal(ctx, ref)
			if err != nil {
				return nil, err
			}
			v = s
		}
		h[k] = v
	}
	if u.refs.auth == nil {
		return h, nil
	}
	s, err := u.reveal(ctx, *u.refs.auth)
	if err != nil {
		return nil, err
	}
	switch a := u.cfg.Auth; a.Type {
	case "bearer":
		h["Authorization"] = "Bearer " + s
	case "header":
		h[a.Header] = s
	case "basic":
		cred := base64.StdEncoding.EncodeToString([]byte(a.Username + ":" + s))
		h["Authorization"] = "Basic " + cred
		u.mu.Lock()
		u.used.AddForm(cred)
		u.mu.Unlock()
	}
	return h, nil
}

// credentialError is a credential that could not be read: the request was
// not sent.
type credentialError struct{ err error }

func (e *credentialError) Error() string { return "credentials unavailable: " + e.err.Error() }
func (e *credentialError) Unwrap() error { return e.err }

// authTransport adds the integration's credentials to every request to an
// HTTP upstream (calls, discovery, pings, streams). When a credential cannot
// be read the request fails before it leaves: an upstream never sees a
// request without its credentials.
type authTransport struct {
	base http.RoundTripper
	u    *Upstream
}

func (t *authTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	h, err := t.u.authHeaders(r.Context())
	if err != nil {
		if r.Body != nil {
			_ = r.Body.Close()
		}
		return nil, &credentialError{err: err}
	}
	r = r.Clone(r.Context())
	for k, v := range h {
		r.Header.Set(k, v)
	}
	return t.base.RoundTrip(r)
}

// childEnv is the environment of a stdio upstream: a few variables a
// program needs to run, plus the configured ones. switchboard's own
// environment (VAULT_TOKEN, say) is not passed on.
func (u *Upstream) childEnv(ctx context.Context) ([]string, error) {
	var env []string
	for _, k := range []string{"PATH", "HOME", "LANG", "TMPDIR", "USER"} {
		if v := u.deps.Getenv(k); v != "" {
			env = append(env, k+"="+v)
		}
	}
	for k, v := range u.cfg.Env {
		if ref, ok := u.refs.env[k]; ok {
			s, err := u.reveal(ctx, ref)
			if err != nil {
				return nil, fmt.Errorf("env %s: %w", k, err)
			}
			v = s
		}
		env = append(env, k+"="+v)
	}
	return env, nil
}

// discover lists the upstream's tools and announces a changed set. Whatever
// an upstream sends, it never takes the process down: a panic while reading
// its tools is an error like any other.
func (u *Upstream) discover(ctx context.Context) (err error) {
	defer func() {
		if r := recover(); r != nil {
			u.log.Error("reading the upstream's tools panicked", "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
			err = fmt.Errorf("reading the tools of %s failed: %v", u.where(), r)
		}
	}()
	c := u.current()
	if c == nil {
		return errors.New("not connected")
	}
	dctx, cancel := context.WithTimeout(ctx, u.cfg.Timeout)
	defer cancel()
	res, err := c.ListTools(dctx, mcp.ListToolsRequest{})
	if err != nil {
		return fmt.Errorf("list tools of %s: %w", u.where(), err)
	}
	u.mu.Lock()
	raw := u.tap
	u.mu.Unlock()
	var tools []*integrations.Tool
	for _, t := range res.Tools {
		if !u.selected(t.Name) {
			continue
		}
		if t.Execution != nil && t.Execution.TaskSupport == mcp.TaskSupportRequired {
			// switchboard does not run task-augmented calls: such a tool
			// would be listed and always fail.
			u.leaveOut(t.Name, "it requires task-augmented calls (execution.taskSupport: required), which switchboard does not forward")
			continue
		}
		var schema json.RawMessage
		if raw != nil {
			schema = raw.schema(t.Name)
		}
		tools = append(tools, u.tool(t, schema))
	}
	u.mu.Lock()
	changed := !sameTools(u.tools, tools)
	if changed {
		u.tools = tools
	}
	u.mu.Unlock()
	if changed {
		u.deps.OnChange(tools)
	}
	return nil
}

// leaveOut logs, once per tool and reason, a tool that is not exposed.
func (u *Upstream) leaveOut(name, why string) {
	u.mu.Lock()
	if u.leftOut == nil {
		u.leftOut = map[string]string{}
	}
	seen := u.leftOut[name] == why
	u.leftOut[name] = why
	u.mu.Unlock()
	if !seen {
		u.log.Warn("tool left out", "tool", name, "reason", why)
	}
}

func (u *Upstream) selected(name string) bool {
	f := u.cfg.Tools.Filter
	if f == nil {
		return true
	}
	if len(f.Include) > 0 && !matchAny(f.Include, name) {
		return false
	}
	return !matchAny(f.Exclude, name)
}

func matchAny(globs []string, name string) bool {
	for _, g := range globs {
		if ok, _ := path.Match(g, name); ok {
			return true
		}
	}
	return false
}

func sameTools(a, b []*integrations.Tool) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		x, _ := a[i].Definition.MarshalJSON()
		y, _ := b[i].Definition.MarshalJSON()
		if string(x) != string(y) {
			return false
		}
	}
	return true
}

// lineLogger sends a stdio child's stderr to the log, a line at a time.
type lineLogger struct {
	log *slog.Logger
	mu  sync.Mutex
	buf []byte
}

func (l *lineLogger) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf = append(l.buf, p...)
	sc := bufio.NewScanner(strings.NewReader(string(l.buf)))
	consumed := 0
	for sc.Scan() {
		line := sc.Text()
		if consumed+len(line)+1 > len(l.buf) {
			break // incomplete last line: keep it
		}
		consumed += len(line) + 1
		l.log.Info("upstream stderr", "line", line)
	}
	l.buf = l.buf[consumed:]
	if len(l.buf) > 64<<10 { // a child that never ends a line
		l.log.Info("upstream stderr", "line", string(l.buf))
		l.buf = l.buf[:0]
	}
	return len(p), nil
}

var _ io.Writer = (*lineLogger)(nil)
