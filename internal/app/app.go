// Package app is switchboard's one composition root: from a config source and
// the outside world (environment, logger, stderr) it builds credential
// stores, integrations, the tool registry, policy, the MCP server and the
// HTTP surface. `serve`, `tools`, `call`, `validate`, the end-to-end tests and
// the benchmarks all build an App here, so they all run the production call
// path.
package app

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"reflect"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-playground/validator/v10"
	"github.com/mark3labs/mcp-go/mcp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/switchboard-dev/switchboard/configs"
	"github.com/switchboard-dev/switchboard/integrations"
	"github.com/switchboard-dev/switchboard/integrations/httpapi"
	"github.com/switchboard-dev/switchboard/integrations/mcpupstream"
	"github.com/switchboard-dev/switchboard/internal/secrets"
	"github.com/switchboard-dev/switchboard/internal/secrets/vault"
	"github.com/switchboard-dev/switchboard/internal/state"
	"github.com/switchboard-dev/switchboard/internal/telemetry"
	"github.com/switchboard-dev/switchboard/policy"
	"github.com/switchboard-dev/switchboard/server"
)

// Options are the outside world an App is built against.
type Options struct {
	Version string
	Getenv  func(string) string
	Logger  *slog.Logger
	// Stderr receives the audit log when the config sets no audit.path;
	// nil means os.Stderr.
	Stderr io.Writer
	// Offline builds without connecting to Vault, for listing http tools,
	// which needs no secret. A config with type: mcp integrations connects
	// anyway (their tools are discovered).
	Offline bool
}

// App is a built switchboard. What a config decides (tools, policy,
// credential stores, upstream connections) is one generation; Reload builds
// the next one and swaps it in atomically (reload.go). What outlives a
// generation is here: the MCP server and its sessions, the client keys, the
// metrics, limit state, the confirmation signing key and spent tokens.
type App struct {
	// MCP serves the live generation's tools; it stays across reloads, so
	// connected clients are told when tools change.
	MCP *server.MCP
	// Inflight counts running tool calls; shutdown waits for them.
	Inflight *sync.WaitGroup

	opts     Options
	log      *slog.Logger
	src      Source
	devVault secrets.Source // --dev: the in-memory store
	metrics  *prometheus.Registry
	pm       *policy.Metrics
	tm       *telemetry.Metrics
	limits   *policy.Limits
	tracing  *telemetry.Tracing
	signing  []byte
	state    state.Store // what replicas share; opened with the first config
	keys     *server.Keys
	keysOnce sync.Once         // starts the key refresher with the first HTTP surface
	pool     http.RoundTripper // one pooled transport for every HTTP upstream
	validate *validator.Validate
	http     atomic.Pointer[server.HTTP]

	gen      atomic.Pointer[generation]
	reloadMu sync.Mutex
	refused  string // the version of the file refused last (under reloadMu)
	runCtx   context.Context
	closers  []func()
}

// Open loads the config src names and builds the App for it.
func Open(ctx context.Context, src Source, opts Options) (*App, error) {
	opts = withDefaults(opts)
	l, err := load(src, opts)
	if err != nil {
		return nil, err
	}
	a, err := newApp(ctx, src, l, opts)
	if err != nil {
		l.close()
		return nil, err
	}
	return a, nil
}

// New builds the App for a config that was already loaded (validate parses
// the file once, then tests connections with the same config).
func New(ctx context.Context, cfg *configs.Config, opts Options) (*App, error) {
	return newApp(ctx, Source{}, &loaded{cfg: cfg, close: func() {}}, withDefaults(opts))
}

func withDefaults(opts Options) Options {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Getenv == nil {
		opts.Getenv = func(string) string { return "" }
	}
	if opts.Stderr == nil {
		opts.Stderr = os.Stderr
	}
	if opts.Version == "" {
		opts.Version = "dev"
	}
	return opts
}

func newApp(ctx context.Context, src Source, l *loaded, opts Options) (a *App, err error) {
	a = &App{Inflight: &sync.WaitGroup{}, opts: opts, log: opts.Logger, src: src, devVault: l.vault,
		closers: []func(){l.close}}
	defer func() {
		if err != nil {
			a.Close()
			a = nil
		}
	}()
	a.signing = make([]byte, 32)
	if _, err := rand.Read(a.signing); err != nil {
		return nil, err
	}
	a.metrics = prometheus.NewRegistry()
	a.metrics.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	a.pm = policy.NewMetrics(a.metrics)
	a.tm = telemetry.NewMetrics(a.metrics)
	a.limits = policy.NewLimits(stateLimiter{a}, a.metrics)
	a.metrics.MustRegister(&stateCollector{a: a})
	a.tracing, err = telemetry.Setup(ctx, opts.Getenv, opts.Version)
	if err != nil {
		return nil, err
	}
	if a.tracing != nil {
		a.closers = append(a.closers, func() {
			sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = a.tracing.Shutdown(sctx)
		})
	}
	a.pool = httpapi.NewClient().Transport
	a.validate = validator.New()
	runCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
	a.runCtx = runCtx
	a.closers = append(a.closers, stop)
	a.keys = server.NewKeys(a.readKeys, l.cfg.Server.ClientKeyRefresh, opts.Logger.With("component", "client keys"))

	g, err := a.build(ctx, l.cfg, l.version, nil)
	if err != nil {
		return nil, err
	}
	a.MCP = server.NewMCP(g.registry, server.Options{
		Name:     l.cfg.Server.Name,
		Version:  opts.Version,
		Logger:   opts.Logger,
		Inflight: a.Inflight,
	})
	a.commit(g)
	return a, nil
}

// generation is what one config builds.
type generation struct {
	cfg       *configs.Config
	version   string
	registry  *integrations.Registry
	secrets   *secrets.Resolver
	vault     *vaultRes // nil: no Vault
	upstreams map[string]*upstreamRes
	// httpTools are the tools built for each type: http integration, reused
	// by the next generation when the integration did not change.
	httpTools map[string]httpRes
	closers   []func()

	mu      sync.Mutex
	running int
	retired bool
	idle    chan struct{} // closed when retired and no call runs
}

// vaultRes is a Vault connection, handed on to the next generation when the
// vault: block did not change (its login and renewals are kept).
type vaultRes struct {
	src *vault.Source
	cfg *configs.Vault
	// borrowed: still owned by the previous generation (until commit).
	borrowed bool
}

type httpRes struct {
	cfg   configs.Integration
	tools []*integrations.Tool
}

// upstreamRes is an upstream MCP server, kept connected across a reload
// that leaves its integration as it was.
type upstreamRes struct {
	u      *mcpupstream.Upstream
	cfg    configs.Integration
	reg    atomic.Pointer[integrations.Registry] // where its tool changes go
	stop   context.CancelFunc
	reused bool
}

// enter counts a call that starts on g; false when g was retired (a reload
// swapped it out between the lookup and the call).
func (g *generation) enter() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.retired {
		return false
	}
	g.running++
	return true
}

func (g *generation) leave() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.running--
	if g.retired && g.running == 0 {
		close(g.idle)
	}
}

// retire waits for the calls running on g (at most grace), then closes what
// g holds and the next generation did not take over.
func (g *generation) retire(grace time.Duration) {
	g.mu.Lock()
	g.retired = true
	if g.running == 0 {
		close(g.idle)
	}
	g.mu.Unlock()
	select {
	case <-g.idle:
	case <-time.After(grace):
	}
	g.close()
}

func (g *generation) close() {
	for _, u := range g.upstreams {
		if !u.reused && u.stop != nil {
			u.stop()
		}
	}
	if g.vault != nil && !g.vault.borrowed {
		g.vault.src.Close()
	}
	for i := len(g.closers) - 1; i >= 0; i-- {
		g.closers[i]()
	}
	g.closers = nil
}

func (a *App) current() *generation { return a.gen.Load() }

// build makes the generation of cfg. From prev it takes over the Vault
// connection (same vault: block) and the upstream MCP servers whose
// integration did not change; nothing of prev is touched until commit.
func (a *App) build(ctx context.Context, cfg *configs.Config, version string, prev *generation) (g *generation, err error) {
	opts := a.opts
	g = &generation{cfg: cfg, version: version, upstreams: map[string]*upstreamRes{}, httpTools: map[string]httpRes{}, idle: make(chan struct{})}
	defer func() {
		if err != nil {
			g.close()
			g = nil
		}
	}()
	tracer := a.tracing.Tracer()
	sources := map[secrets.Scheme]secrets.Source{
		secrets.SchemeEnv:  secrets.Env(opts.Getenv),
		secrets.SchemeFile: secrets.File(),
	}
	switch {
	case a.devVault != nil:
		sources[secrets.SchemeVault] = a.devVault
	case !opts.Offline || hasMCP(cfg):
		if prev != nil && prev.vault != nil && reflect.DeepEqual(prev.vault.cfg, cfg.Vault) {
			g.vault = &vaultRes{src: prev.vault.src, cfg: cfg.Vault, borrowed: true}
		} else {
			v, err := openVault(ctx, cfg, opts.Getenv, opts.Logger)
			if err != nil {
				return nil, err
			}
			if v != nil {
				g.vault = &vaultRes{src: v, cfg: cfg.Vault}
			}
		}
		if g.vault != nil {
			sources[secrets.SchemeVault] = g.vault.src
		}
	}
	for scheme, src := range sources {
		sources[scheme] = a.tm.Secrets(scheme, src, tracer)
	}
	g.secrets = secrets.NewResolver(sources)
	if a.state == nil {
		if err := a.openState(ctx, cfg, g.secrets); err != nil {
			return nil, err
		}
	}

	auditOut, err := openAudit(cfg.Audit, opts.Stderr)
	if err != nil {
		return nil, err
	}
	if c, ok := auditOut.(io.Closer); ok && auditOut != opts.Stderr {
		g.closers = append(g.closers, func() { c.Close() })
	}
	pol, err := policy.New(cfg.Policy, policy.Deps{
		Logger:     opts.Logger,
		Metrics:    a.pm,
		Audit:      policy.NewAudit(auditOut, opts.Logger),
		Secrets:    g.secrets,
		Once:       a.state,
		Results:    a.state,
		SigningKey: a.signing,
		Limits:     a.limits.For(cfg),
		Tracer:     tracer,
	})
	if err != nil {
		return nil, err
	}

	order := make([]string, len(cfg.Integrations))
	for i, in := range cfg.Integrations {
		order[i] = in.Name
	}
	g.registry = integrations.NewRegistry(order, a.exposer(g, pol), opts.Logger)
	var built []*integrations.Tool // http tools whose schemas are compiled in the background
	defer func() {
		if err == nil {
			go httpapi.Warm(a.runCtx, built)
		}
	}()
	for _, in := range cfg.Integrations {
		client := &http.Client{
			Transport:     a.tm.Transport(in.Name, a.pool, tracer),
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
		switch in.Type {
		case "http":
			if prev != nil {
				if old, ok := prev.httpTools[in.Name]; ok && reflect.DeepEqual(old.cfg, in) {
					g.httpTools[in.Name] = old
					g.registry.Set(in.Name, old.tools)
					continue
				}
			}
			// Credentials are read through the live generation, so tools
			// kept across a reload read them where the new config says.
			tools, err := httpapi.New(in, httpapi.Deps{
				Secrets:   currentSecrets{a},
				Client:    client,
				Validate:  a.validate,
				UserAgent: "switchboard/" + opts.Version,
				Logger:    opts.Logger.With("integration", in.Name),
			})
			if err != nil {
				return nil, err
			}
			g.httpTools[in.Name] = httpRes{cfg: in, tools: tools}
			g.registry.Set(in.Name, tools)
			built = append(built, tools...)
		case "mcp":
			if old := prevUpstream(prev, in); old != nil {
				res := &upstreamRes{u: old.u, cfg: in, stop: old.stop, reused: true}
				res.reg.Store(g.registry)
				g.upstreams[in.Name] = res
				g.registry.Set(in.Name, a.traceUpstream(in.Name, withPhone(in, old.u.Tools())))
				continue
			}
			res := &upstreamRes{cfg: in}
			res.reg.Store(g.registry)
			name := in.Name
			u, err := mcpupstream.New(in, mcpupstream.Deps{
				Secrets:    currentSecrets{a},
				Logger:     opts.Logger,
				Version:    opts.Version,
				Getenv:     opts.Getenv,
				HTTPClient: client,
				OnChange: func(tools []*integrations.Tool) {
					res.reg.Load().Set(name, a.traceUpstream(name, withPhone(in, tools)))
				},
			})
			if err != nil {
				return nil, err
			}
			res.u = u
			g.upstreams[name] = res
		default:
			return nil, fmt.Errorf("integration %s: unknown type %q", in.Name, in.Type)
		}
	}
	return g, nil
}

// prevUpstream is the upstream of prev that serves exactly in, if any.
func prevUpstream(prev *generation, in configs.Integration) *upstreamRes {
	if prev == nil {
		return nil
	}
	old := prev.upstreams[in.Name]
	if old == nil || !reflect.DeepEqual(old.cfg, in) {
		return nil
	}
	return old
}

// commit makes g the live generation: reused upstreams send their tool
// changes to g, new ones start, clients are told about changed tools, and
// the previous generation is retired once its running calls end.
func (a *App) commit(g *generation) {
	prev := a.gen.Swap(g)
	for name, res := range g.upstreams {
		if res.reused {
			res.reg.Store(g.registry)
			g.registry.Set(name, a.traceUpstream(name, res.u.Tools()))
			res.reused = false // g owns it now
			if prev != nil {
				prev.upstreams[name].reused = true // prev must not stop it
			}
			continue
		}
		ctx, stop := context.WithCancel(a.runCtx)
		res.stop = stop
		go res.u.Run(ctx)
	}
	if g.vault != nil && g.vault.borrowed {
		g.vault.borrowed = false
		prev.vault = nil // g owns it now
	}
	a.keys.SetInterval(g.cfg.Server.ClientKeyRefresh)
	if prev != nil {
		a.MCP.Use(g.registry)
		go prev.retire(ShutdownGrace)
		if o, n := prev.cfg.Server, g.cfg.Server; o.Name != n.Name || o.Listen != n.Listen ||
			o.MaxBodyBytes != n.MaxBodyBytes || !reflect.DeepEqual(o.AllowedOrigins, n.AllowedOrigins) {
			a.log.Warn("server.name, server.listen, server.max_body_bytes and server.allowed_origins take effect at the next restart")
		}
	}
	a.tm.Live(g.version)
	if g.cfg.Server.Open {
		a.log.Warn("server.open is true: protected mode is off, any peer may connect without a client key")
	}
}

// exposer is the registry's expose hook of g: policy decides what clients
// see; the call is counted on g, so a reload retires g only after it ends.
func (a *App) exposer(g *generation, pol *policy.Policy) func(*integrations.Tool) *integrations.Tool {
	return func(t *integrations.Tool) *integrations.Tool {
		e := pol.Expose(t)
		if e == nil {
			return nil
		}
		h, name := e.Handler, e.Name()
		e.Handler = integrations.HandlerFunc(func(ctx context.Context, c *integrations.Call) (*mcp.CallToolResult, error) {
			if !g.enter() {
				// Swapped out since the lookup: run on the live generation.
				if cur, ok := a.current().registry.Lookup(name); ok && a.current() != g {
					return cur.Handler.Call(ctx, c)
				}
				return mcp.NewToolResultError(integrations.UnknownTool(name).Public), nil
			}
			defer g.leave()
			return h.Call(ctx, c)
		})
		return e
	}
}

// currentSecrets resolves through the live generation's stores: an upstream
// MCP server kept across a reload reads its credentials where the new
// config says.
type currentSecrets struct{ a *App }

func (s currentSecrets) Resolve(ctx context.Context, ref secrets.Ref) (string, error) {
	g := s.a.current()
	if g == nil { // still building the first generation
		return "", fmt.Errorf("%s: not started: %w", ref, secrets.ErrUnavailable)
	}
	return g.secrets.Resolve(ctx, ref)
}

func hasMCP(cfg *configs.Config) bool {
	for _, in := range cfg.Integrations {
		if in.Type == "mcp" {
			return true
		}
	}
	return false
}

// Tools returns every exposed tool in config order.
func (a *App) Tools() []*integrations.Tool { return a.current().registry.All() }

// Tool returns the exposed tool called name.
func (a *App) Tool(name string) (*integrations.Tool, bool) { return a.current().registry.Lookup(name) }

// Config is the live config.
func (a *App) Config() *configs.Config { return a.current().cfg }

// Version is the live config's version: the first 12 hex digits of the
// SHA-256 of its file.
func (a *App) Version() string { return a.current().version }

// WaitUpstreams waits (at most until ctx ends) for every upstream MCP
// server's first connection attempt and returns, per integration, why it
// failed.
func (a *App) WaitUpstreams(ctx context.Context) map[string]error {
	errs := map[string]error{}
	for name, u := range a.current().upstreams {
		if err := u.u.WaitStarted(ctx); err != nil {
			errs[name] = err
		}
	}
	return errs
}

// Close disconnects upstream MCP servers and releases what the App holds
// open (the audit file, the Vault client, the demo API), last opened first.
func (a *App) Close() error {
	if g := a.gen.Load(); g != nil {
		g.close()
	}
	for i := len(a.closers) - 1; i >= 0; i-- {
		a.closers[i]()
	}
	a.closers = nil
	return nil
}

// openAudit opens the audit log: audit.path for appending (created 0600 if
// missing), or stderr.
func openAudit(cfg configs.Audit, stderr io.Writer) (io.Writer, error) {
	if cfg.Path == "" {
		return stderr, nil
	}
	f, err := os.OpenFile(cfg.Path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("audit.path: %w", err)
	}
	return f, nil
}

// ShutdownGrace is how long serve lets running calls finish after a signal.
const ShutdownGrace = 30 * time.Second
