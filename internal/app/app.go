// Package app assembles switchboard from a checked config: credential
// sources, integrations, policy and the MCP server. The command line and the
// end-to-end tests build the same App, so they exercise one call path.
package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"sync"

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
	// Vault serves vault: references: a real Vault client, or the in-memory
	// store of --dev. Nil: vault: references fail at call time.
	Vault secrets.Source
	// VaultCheck reports whether Vault is reachable and authenticated; used
	// by readiness.
	VaultCheck func(ctx context.Context) error
	HTTPClient *http.Client
	// Stderr receives the audit log when the config sets no audit.path;
	// nil means os.Stderr.
	Stderr io.Writer
}

// App is a built switchboard.
type App struct {
	Config   *configs.Config
	MCP      *server.MCP
	Secrets  *secrets.Resolver
	Inflight *sync.WaitGroup
	registry *prometheus.Registry
	opts     Options
	closers  []io.Closer
	policy   *policy.Policy

	mu        sync.Mutex
	static    []*policy.Exposed            // http tools, fixed for the App's life
	dynamic   map[string][]*policy.Exposed // per mcp integration, as last discovered
	upstreams map[string]*mcpupstream.Upstream
	stop      context.CancelFunc
}

// New builds an App from a checked config.
func New(ctx context.Context, cfg *configs.Config, opts Options) (*App, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	sources := map[secrets.Scheme]secrets.Source{
		secrets.SchemeEnv:  secrets.Env(opts.Getenv),
		secrets.SchemeFile: secrets.File(),
	}
	if opts.Vault != nil {
		sources[secrets.SchemeVault] = opts.Vault
	}
	res := secrets.NewResolver(sources)
	client := opts.HTTPClient
	if client == nil {
		client = httpapi.NewClient()
	}
	validate := validator.New()

	var tools []*integrations.Tool
	var mcpIntegrations []configs.Integration
	for _, in := range cfg.Integrations {
		switch in.Type {
		case "http":
			ts, err := httpapi.New(in, httpapi.Deps{
				Secrets:   res,
				Client:    client,
				Validate:  validate,
				UserAgent: "switchboard/" + opts.Version,
				Logger:    opts.Logger.With("integration", in.Name),
			})
			if err != nil {
				return nil, err
			}
			tools = append(tools, ts...)
		case "mcp":
			mcpIntegrations = append(mcpIntegrations, in)
		default:
			return nil, fmt.Errorf("integration %s: unknown type %q", in.Name, in.Type)
		}
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	auditOut, closer, err := openAudit(cfg.Audit, opts.Stderr)
	if err != nil {
		return nil, err
	}
	pol, err := policy.New(cfg.Policy, policy.Deps{
		Logger:  opts.Logger,
		Metrics: policy.NewMetrics(reg),
		Audit:   policy.NewAudit(auditOut, opts.Logger),
		Secrets: res,
	})
	if err != nil {
		if closer != nil {
			closer.Close()
		}
		return nil, err
	}
	a := &App{Config: cfg, static: pol.Expose(tools), Secrets: res, Inflight: &sync.WaitGroup{}, registry: reg, opts: opts,
		policy: pol, dynamic: map[string][]*policy.Exposed{}, upstreams: map[string]*mcpupstream.Upstream{}}
	if closer != nil {
		a.closers = append(a.closers, closer)
	}
	a.MCP = server.NewMCP(a.static, server.Options{
		Name:     cfg.Server.Name,
		Version:  opts.Version,
		Logger:   opts.Logger,
		Inflight: a.Inflight,
	})
	// Upstream MCP servers connect in the background: switchboard serves
	// whether or not they are up, and announces their tools when they come.
	runCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
	a.stop = stop
	for _, in := range mcpIntegrations {
		name := in.Name
		u := mcpupstream.New(in, mcpupstream.Deps{
			Secrets:  res,
			Logger:   opts.Logger,
			Version:  opts.Version,
			Getenv:   opts.Getenv,
			OnChange: func(tools []*integrations.Tool) { a.setUpstreamTools(name, tools) },
		})
		a.upstreams[name] = u
		go u.Run(runCtx)
	}
	return a, nil
}

// setUpstreamTools exposes the tools an upstream announced, through the same
// policy as every other tool, and updates what clients see.
func (a *App) setUpstreamTools(integration string, tools []*integrations.Tool) {
	next := a.policy.Expose(tools)
	a.mu.Lock()
	old := a.dynamic[integration]
	a.dynamic[integration] = next
	a.mu.Unlock()
	a.MCP.Replace(old, next)
}

// Tools returns every exposed tool: the http ones, then those the upstream
// MCP servers offer now.
func (a *App) Tools() []*policy.Exposed {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := append([]*policy.Exposed(nil), a.static...)
	for _, in := range a.Config.Integrations {
		out = append(out, a.dynamic[in.Name]...)
	}
	return out
}

// WaitUpstreams waits for every upstream MCP server's first connection
// attempt and returns, per integration, why it failed.
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
// open (the audit file).
func (a *App) Close() error {
	if a.stop != nil {
		a.stop()
	}
	var errs []error
	for _, c := range a.closers {
		errs = append(errs, c.Close())
	}
	a.closers = nil
	return errors.Join(errs...)
}

// openAudit opens the audit log: audit.path for appending (created 0600 if
// missing), or stderr.
func openAudit(cfg configs.Audit, stderr io.Writer) (io.Writer, io.Closer, error) {
	if cfg.Path == "" {
		if stderr == nil {
			stderr = os.Stderr
		}
		return stderr, nil, nil
	}
	f, err := os.OpenFile(cfg.Path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, nil, fmt.Errorf("audit.path: %w", err)
	}
	return f, f, nil
}

// Metrics serves the App's Prometheus metrics.
func (a *App) Metrics() http.Handler {
	return promhttp.HandlerFor(a.registry, promhttp.HandlerOpts{})
}

// Tool returns the exposed tool called name.
func (a *App) Tool(name string) (*policy.Exposed, bool) {
	for _, t := range a.Tools() {
		if t.Definition.Name == name {
			return t, true
		}
	}
	return nil, false
}

// Clients resolves the keys of the configured HTTP clients.
func (a *App) Clients(ctx context.Context) ([]server.Client, error) {
	var out []server.Client
	for _, c := range a.Config.Server.Clients {
		ref, err := secrets.ParseRef(c.Key)
		if err != nil {
			return nil, fmt.Errorf("client %s: %w", c.ID, err)
		}
		key, err := a.Secrets.Resolve(ctx, ref)
		if err != nil {
			return nil, fmt.Errorf("client %s key: %w", c.ID, err)
		}
		out = append(out, server.Client{ID: c.ID, Key: key, Integrations: c.Integrations})
	}
	return out, nil
}

// Ready reports whether the App can serve calls.
func (a *App) Ready(ctx context.Context) error {
	if a.opts.VaultCheck != nil && configs.UsesVault(a.Config) {
		if err := a.opts.VaultCheck(ctx); err != nil {
			return fmt.Errorf("vault: %w", err)
		}
	}
	return nil
}
