package app

import (
	"context"
	"errors"
	"net/http"
	"sort"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/switchboard-dev/switchboard/configs"
	"github.com/switchboard-dev/switchboard/integrations"
	"github.com/switchboard-dev/switchboard/internal/secrets"
)

// Metrics serves the App's Prometheus metrics.
func (a *App) Metrics() http.Handler {
	return promhttp.HandlerFor(a.metrics, promhttp.HandlerOpts{})
}

// Readiness is what /readyz answers.
type Readiness struct {
	// Status is ready, or unavailable when something the server needs to
	// serve calls is missing (named in Unavailable); a failing upstream MCP
	// server alone does not make it unavailable (the other tools serve).
	Status        string                   `json:"status"`
	Unavailable   []string                 `json:"unavailable,omitempty"`
	ConfigVersion string                   `json:"config_version"`
	Tools         int                      `json:"tools"`
	Vault         *VaultReadiness          `json:"vault,omitempty"`
	State         *StateReadiness          `json:"state,omitempty"`
	Upstreams     map[string]UpstreamState `json:"upstreams,omitempty"`
}

// StateReadiness is the shared state store's, when replicas share one.
type StateReadiness struct {
	Backend   string `json:"backend"`
	Reachable bool   `json:"reachable"`
	Error     string `json:"error,omitempty"`
}

// VaultReadiness is the state of the Vault connection, when the config uses it.
type VaultReadiness struct {
	Reachable     bool   `json:"reachable"`
	Authenticated bool   `json:"authenticated"`
	Error         string `json:"error,omitempty"`
}

// UpstreamState is an upstream MCP server's connection state.
type UpstreamState struct {
	State  string `json:"state"` // connecting | connected | reconnecting | failing
	Reason string `json:"reason,omitempty"`
	Tools  int    `json:"tools"`
}

// Ready reports whether the App can serve calls: nil, or what stops it.
func (a *App) Ready(ctx context.Context) error {
	ok, r := a.Readiness(ctx)
	if ok {
		return nil
	}
	rd := r.(Readiness)
	if rd.Vault != nil && rd.Vault.Error != "" {
		return errors.New("vault: " + rd.Vault.Error)
	}
	if rd.State != nil && rd.State.Error != "" {
		return errors.New("state: " + rd.State.Error)
	}
	return errors.New("unavailable")
}

// Readiness checks the live config's secret store and upstreams.
func (a *App) Readiness(ctx context.Context) (bool, any) {
	g := a.current()
	r := Readiness{Status: "ready", ConfigVersion: g.version, Tools: len(g.registry.All())}
	if g.vault != nil && configs.UsesVault(g.cfg) {
		v := &VaultReadiness{Reachable: true, Authenticated: true}
		if err := g.vault.src.Check(ctx); err != nil {
			v.Error = err.Error()
			v.Authenticated = false
			v.Reachable = errors.Is(err, secrets.ErrDenied)
			r.Unavailable = append(r.Unavailable, "vault")
		}
		r.Vault = v
	}
	if g.cfg.State.Backend == "redis" {
		// Without it confirmations and de-duplication fail closed.
		st := &StateReadiness{Backend: "redis", Reachable: true}
		if err := a.state.Ping(ctx); err != nil {
			st.Reachable, st.Error = false, err.Error()
			r.Unavailable = append(r.Unavailable, "state")
		}
		r.State = st
	}
	if len(g.upstreams) > 0 {
		r.Upstreams = map[string]UpstreamState{}
		for name, u := range g.upstreams {
			s := u.u.State()
			r.Upstreams[name] = UpstreamState{State: s.Status, Reason: s.Reason, Tools: s.Tools}
		}
	}
	if len(r.Unavailable) > 0 {
		r.Status = "unavailable"
	}
	return len(r.Unavailable) == 0, r
}

// stateCollector reports, at scrape time, what is live now: sessions by
// transport and era, and each upstream MCP server's connection state.
type stateCollector struct{ a *App }

var (
	sessionsDesc = prometheus.NewDesc("switchboard_sessions_active",
		"Active HTTP sessions by transport (streamable, sse) and protocol era: handshake (streamable HTTP sessions until terminated or idle for an hour; open SSE streams) and stateless (open 2026-07-28 subscriptions/listen streams).",
		[]string{"transport", "era"}, nil)
	upstreamDesc = prometheus.NewDesc("switchboard_upstream_mcp_state",
		"1 for the connection state (connecting, connected, reconnecting, failing) of each type: mcp integration.",
		[]string{"integration", "state"}, nil)
	upstreamStates = []string{"connecting", "connected", "reconnecting", "failing"}
)

func (c *stateCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- sessionsDesc
	ch <- upstreamDesc
}

func (c *stateCollector) Collect(ch chan<- prometheus.Metric) {
	if h := c.a.http.Load(); h != nil {
		for _, s := range h.ActiveSessions() {
			ch <- prometheus.MustNewConstMetric(sessionsDesc, prometheus.GaugeValue, float64(s.N), s.Transport, s.Era)
		}
	}
	g := c.a.current()
	if g == nil {
		return
	}
	names := make([]string, 0, len(g.upstreams))
	for n := range g.upstreams {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		now := g.upstreams[n].u.State().Status
		for _, st := range upstreamStates {
			v := 0.0
			if st == now {
				v = 1
			}
			ch <- prometheus.MustNewConstMetric(upstreamDesc, prometheus.GaugeValue, v, n, st)
		}
	}
}

// traceUpstream gives each call of an upstream MCP server's tool a client
// span around the forwarded call (the HTTP requests it makes, and the
// credential reads, are its children). Off: the tools as they are.
func (a *App) traceUpstream(integration string, tools []*integrations.Tool) []*integrations.Tool {
	tr := a.tracing.Tracer()
	if tr == nil {
		return tools
	}
	out := make([]*integrations.Tool, len(tools))
	for i, t := range tools {
		c := *t
		h, name := t.Handler, t.Name()
		c.Handler = integrations.HandlerFunc(func(ctx context.Context, call *integrations.Call) (*mcp.CallToolResult, error) {
			ctx, span := tr.Start(ctx, "mcp tools/call", trace.WithSpanKind(trace.SpanKindClient),
				trace.WithAttributes(attribute.String("gen_ai.tool.name", name), attribute.String("switchboard.integration", integration)))
			defer span.End()
			res, err := h.Call(ctx, call)
			if err != nil || (res != nil && res.IsError) {
				span.SetStatus(codes.Error, string(integrations.KindOf(err)))
			}
			return res, err
		})
		out[i] = &c
	}
	return out
}
