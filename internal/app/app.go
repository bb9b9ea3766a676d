// Package app assembles switchboard from a checked config: credential
// sources, integrations, policy and the MCP server. The command line and the
// end-to-end tests build the same App, so they exercise one call path.
package app

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"sync"

	"github.com/go-playground/validator/v10"
	mcpserver "github.com/mark3labs/mcp-go/server"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/switchboard-dev/switchboard/configs"
	"github.com/switchboard-dev/switchboard/integrations"
	"github.com/switchboard-dev/switchboard/integrations/httpapi"
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
}

// App is a built switchboard.
type App struct {
	Config   *configs.Config
	Tools    []*policy.Exposed
	MCP      *mcpserver.MCPServer
	Secrets  *secrets.Resolver
	Inflight *sync.WaitGroup
	registry *prometheus.Registry
	opts     Options
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
			opts.Logger.Warn("mcp integrations are not supported yet; skipping", "integration", in.Name)
		default:
			return nil, fmt.Errorf("integration %s: unknown type %q", in.Name, in.Type)
		}
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	pol, err := policy.New(cfg.Policy, policy.Deps{Logger: opts.Logger, Metrics: policy.NewMetrics(reg)})
	if err != nil {
		return nil, err
	}
	a := &App{Config: cfg, Tools: pol.Expose(tools), Secrets: res, Inflight: &sync.WaitGroup{}, registry: reg, opts: opts}
	a.MCP = server.NewMCP(a.Tools, server.Options{
		Name:     cfg.Server.Name,
		Version:  opts.Version,
		Logger:   opts.Logger,
		Inflight: a.Inflight,
	})
	return a, nil
}

// Metrics serves the App's Prometheus metrics.
func (a *App) Metrics() http.Handler {
	return promhttp.HandlerFor(a.registry, promhttp.HandlerOpts{})
}

// Tool returns the exposed tool called name.
func (a *App) Tool(name string) (*policy.Exposed, bool) {
	for _, t := range a.Tools {
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
	if a.opts.VaultCheck != nil && usesVault(a.Config) {
		if err := a.opts.VaultCheck(ctx); err != nil {
			return fmt.Errorf("vault: %w", err)
		}
	}
	return nil
}

// UsesVault reports whether any reference in cfg is a vault: one.
func usesVault(cfg *configs.Config) bool {
	for _, ref := range configs.SecretRefs(cfg) {
		if r, err := secrets.ParseRef(ref); err == nil && r.Scheme == secrets.SchemeVault {
			return true
		}
	}
	return false
}
