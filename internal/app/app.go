// Package app is switchboard's one composition root: from a config source and
// the outside world (environment, logger, stderr) it builds credential
// stores, integrations, the tool registry, policy, the MCP server and the
// HTTP surface. `serve`, `tools`, `call`, `validate`, the end-to-end tests and
// the benchmarks all build an App here, so they all run the production call
// path.
package app

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/go-playground/validator/v10"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/switchboard-dev/switchboard/configs"
	"github.com/switchboard-dev/switchboard/integrations"
	"github.com/switchboard-dev/switchboard/integrations/httpapi"
	"github.com/switchboard-dev/switchboard/integrations/mcpupstream"
	"github.com/switchboard-dev/switchboard/internal/secrets"
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

// App is a built switchboard.
type App struct {
	Config   *configs.Config
	Registry *integrations.Registry
	MCP      *server.MCP
	Secrets  *secrets.Resolver
	// Inflight counts running tool calls; shutdown waits for them.
	Inflight *sync.WaitGroup

	opts       Options
	log        *slog.Logger
	metrics    *prometheus.Registry
	vaultCheck func(context.Context) error
	upstreams  map[string]*mcpupstream.Upstream
	closers    []func()
}

// Open loads the config src names and builds the App for it.
func Open(ctx context.Context, src Source, opts Options) (*App, error) {
	opts = withDefaults(opts)
	l, err := load(src, opts)
	if err != nil {
		return nil, err
	}
	a, err := build(ctx, l, opts)
	if err != nil {
		l.close()
		return nil, err
	}
	return a, nil
}

// New builds the App for a config that was already loaded (validate parses
// the file once, then tests connections with the same config).
func New(ctx context.Context, cfg *configs.Config, opts Options) (*App, error) {
	return build(ctx, &loaded{cfg: cfg, close: func() {}}, withDefaults(opts))
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

func build(ctx context.Context, l *loaded, opts Options) (a *App, err error) {
	cfg := l.cfg
	a = &App{Config: cfg, Inflight: &sync.WaitGroup{}, opts: opts, log: opts.Logger,
		upstreams: map[string]*mcpupstream.Upstream{}, closers: []func(){l.close}}
	defer func() {
		if err != nil {
			a.Close()
			a = nil
		}
	}()

	sources := map[secrets.Scheme]secrets.Source{
		secrets.SchemeEnv:  secrets.Env(opts.Getenv),
		secrets.SchemeFile: secrets.File(),
	}
	switch {
	case l.vault != nil:
		sources[secrets.SchemeVault] = l.vault
	case !opts.Offline || hasMCP(cfg):
		v, err := openVault(ctx, cfg, opts.Getenv, opts.Logger)
		if err != nil {
			return nil, err
		}
		if v != nil {
			sources[secrets.SchemeVault] = v
			a.vaultCheck = v.Check
			a.closers = append(a.closers, v.Close)
		}
	}
	a.Secrets = secrets.NewResolver(sources)

	a.metrics = prometheus.NewRegistry()
	a.metrics.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	auditOut, err := openAudit(cfg.Audit, opts.Stderr)
	if err != nil {
		return nil, err
	}
	if c, ok := auditOut.(io.Closer); ok && auditOut != opts.Stderr {
		a.closers = append(a.closers, func() { c.Close() })
	}
	pol, err := policy.New(cfg.Policy, policy.Deps{
		Logger:  opts.Logger,
		Metrics: policy.NewMetrics(a.metrics),
		Audit:   policy.NewAudit(auditOut, opts.Logger),
		Secrets: a.Secrets,
	})
	if err != nil {
		return nil, err
	}

	order := make([]string, len(cfg.Integrations))
	for i, in := range cfg.Integrations {
		order[i] = in.Name
	}
	a.Registry = integrations.NewRegistry(order, pol.Expose, opts.Logger)
	client := httpapi.NewClient()
	validate := validator.New()
	for _, in := range cfg.Integrations {
		switch in.Type {
		case "http":
			tools, err := httpapi.New(in, httpapi.Deps{
				Secrets:   a.Secrets,
				Client:    client,
				Validate:  validate,
				UserAgent: "switchboard/" + opts.Version,
				Logger:    opts.Logger.With("integration", in.Name),
			})
			if err != nil {
				return nil, err
			}
			a.Registry.Set(in.Name, tools)
		case "mcp":
			name := in.Name
			u, err := mcpupstream.New(in, mcpupstream.Deps{
				Secrets:    a.Secrets,
				Logger:     opts.Logger,
				Version:    opts.Version,
				Getenv:     opts.Getenv,
				HTTPClient: client,
				OnChange:   func(tools []*integrations.Tool) { a.Registry.Set(name, tools) },
			})
			if err != nil {
				return nil, err
			}
			a.upstreams[name] = u
		default:
			return nil, fmt.Errorf("integration %s: unknown type %q", in.Name, in.Type)
		}
	}
	a.MCP = server.NewMCP(a.Registry, server.Options{
		Name:     cfg.Server.Name,
		Version:  opts.Version,
		Logger:   opts.Logger,
		Inflight: a.Inflight,
	})
	// Upstream MCP servers connect in the background: switchboard serves
	// whether or not they are up, and announces their tools when they come.
	runCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
	a.closers = append(a.closers, stop)
	for _, u := range a.upstreams {
		go u.Run(runCtx)
	}
	return a, nil
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
func (a *App) Tools() []*integrations.Tool { return a.Registry.All() }

// Tool returns the exposed tool called name.
func (a *App) Tool(name string) (*integrations.Tool, bool) { return a.Registry.Lookup(name) }

// WaitUpstreams waits (at most until ctx ends) for every upstream MCP
// server's first connection attempt and returns, per integration, why it
// failed.
func (a *App) WaitUpstreams(ctx context.Context) map[string]error {
	errs := map[string]error{}
	for name, u := range a.upstreams {
		if err := u.WaitStarted(ctx); err != nil {
			errs[name] = err
		}
	}
	return errs
}

// Close disconnects upstream MCP servers and releases what the App holds
// open (the audit file, the Vault client, the demo API), last opened first.
func (a *App) Close() error {
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

// Metrics serves the App's Prometheus metrics.
func (a *App) Metrics() http.Handler {
	return promhttp.HandlerFor(a.metrics, promhttp.HandlerOpts{})
}

// Ready reports whether the App can serve calls.
func (a *App) Ready(ctx context.Context) error {
	if a.vaultCheck != nil && configs.UsesVault(a.Config) {
		if err := a.vaultCheck(ctx); err != nil {
			return fmt.Errorf("vault: %w", err)
		}
	}
	return nil
}

// ShutdownGrace is how long serve lets running calls finish after a signal.
const ShutdownGrace = 30 * time.Second
