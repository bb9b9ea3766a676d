package policy

import (
	"context"
	"sync"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/switchboard-dev/switchboard/configs"
	"github.com/switchboard-dev/switchboard/integrations"
	"github.com/switchboard-dev/switchboard/internal/state"
)

// DecisionLimited: a limit refused the call at once; nothing ran.
const DecisionLimited Decision = "limited"

// The limits a call can hit, as the audit reason and the metric label say.
const (
	LimitClientRate        = "client_rate_limit"
	LimitClientConcurrency = "client_max_concurrent"
	LimitIntegrationConc   = "integration_max_concurrent"
	LimitCallRate          = "call_rate_limit"
	LimitSessions          = "session_rate_limit"
)

// Rate is a token bucket: the state store's limit.
type Rate = state.Limit

// Limiter keeps the rate limits' buckets: internal/state's Store (this
// process's memory, or Redis shared by replicas, falling back to each
// replica's own buckets while Redis is down).
type Limiter interface {
	Allow(ctx context.Context, key string, limit Rate) (ok bool, retryAfter time.Duration, err error)
}

// Limits is the state of every limit, kept across reloads: buckets, calls in
// flight per client and per integration, and the hits counter.
type Limits struct {
	rate Limiter
	hits *prometheus.CounterVec

	mu     sync.Mutex
	flight map[string]int
}

// NewLimits keeps limit state in rl (nil: this process's memory) and counts
// hits on reg (nil: not counted).
func NewLimits(rl Limiter, reg prometheus.Registerer) *Limits {
	if rl == nil {
		rl = state.NewMemory(state.Config{})
	}
	l := &Limits{rate: rl, flight: map[string]int{},
		hits: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "switchboard_limit_hits_total",
			Help: "Requests refused by a limit, by limit (client_rate_limit, client_max_concurrent, integration_max_concurrent, call_rate_limit, session_rate_limit), client and integration.",
		}, []string{"limit", "client", "integration"})}
	if reg != nil {
		reg.MustRegister(l.hits)
	}
	return l
}

// Hit counts one refusal.
func (l *Limits) Hit(limit, client, integration string) {
	l.hits.WithLabelValues(limit, client, integration).Inc()
}

// Allow asks the rate limiter; a limiter that fails lets the call through
// (a limit must not take every tool down with the store behind it).
func (l *Limits) Allow(ctx context.Context, key string, r Rate) (bool, time.Duration) {
	ok, retry, err := l.rate.Allow(ctx, key, r)
	if err != nil {
		return true, 0
	}
	return ok, retry
}

// acquire takes one of max slots under key; release gives it back.
func (l *Limits) acquire(key string, max int) (release func(), ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.flight[key] >= max {
		return nil, false
	}
	l.flight[key]++
	return func() {
		l.mu.Lock()
		if l.flight[key]--; l.flight[key] <= 0 {
			delete(l.flight, key)
		}
		l.mu.Unlock()
	}, true
}

// LimitSet is the limits of one config applied to the shared state.
type LimitSet struct {
	state        *Limits
	clients      map[string]configs.Client
	call         *configs.RateLimit
	integrations map[string]int
}

// For binds the limits of cfg to the state.
func (l *Limits) For(cfg *configs.Config) *LimitSet {
	s := &LimitSet{state: l, clients: map[string]configs.Client{}, call: cfg.Server.CallRateLimit, integrations: map[string]int{}}
	for _, c := range cfg.Server.Clients {
		s.clients[c.ID] = c
	}
	for _, in := range cfg.Integrations {
		if in.MaxConcurrent > 0 {
			s.integrations[in.Name] = in.MaxConcurrent
		}
	}
	return s
}

func (s *LimitSet) refuse(c *integrations.Call, t *integrations.Tool, limit string, err *integrations.Error) (*mcp.CallToolResult, error) {
	c.Decide(string(DecisionLimited), limit)
	s.state.Hit(limit, c.Caller.ClientID, t.Integration)
	return nil, err
}

// rates refuses at once a call over its client's rate_limit or its phone
// call's call_rate_limit. It runs before confirmation: asking for a
// confirmation is a tool call too.
func (s *LimitSet) rates(t *integrations.Tool, next integrations.Handler) integrations.Handler {
	return integrations.HandlerFunc(func(ctx context.Context, c *integrations.Call) (*mcp.CallToolResult, error) {
		if cl, ok := s.clients[c.Caller.ClientID]; ok && cl.RateLimit != nil {
			if ok, retry := s.state.Allow(ctx, "client:"+cl.ID, Rate{PerSecond: cl.RateLimit.PerSecond, Burst: cl.RateLimit.Burst}); !ok {
				return s.refuse(c, t, LimitClientRate, integrations.ClientRateLimited(retry))
			}
		}
		if id := c.CallID(); id != "" && s.call != nil {
			if ok, retry := s.state.Allow(ctx, "call:"+c.Caller.ClientID+":"+id, Rate{PerSecond: s.call.PerSecond, Burst: s.call.Burst}); !ok {
				return s.refuse(c, t, LimitCallRate, integrations.CallRateLimited(retry))
			}
		}
		return next.Call(ctx, c)
	})
}

// concurrency refuses at once a call that would exceed its client's
// max_concurrent or its integration's max_concurrent; it is the innermost
// middleware, so only calls that run (not those waiting for the caller's
// confirmation) hold a slot. Slots are per process.
func (s *LimitSet) concurrency(t *integrations.Tool, next integrations.Handler) integrations.Handler {
	return keepValidator(next, integrations.HandlerFunc(func(ctx context.Context, c *integrations.Call) (*mcp.CallToolResult, error) {
		if cl, ok := s.clients[c.Caller.ClientID]; ok && cl.MaxConcurrent > 0 {
			release, ok := s.state.acquire("client:"+cl.ID, cl.MaxConcurrent)
			if !ok {
				return s.refuse(c, t, LimitClientConcurrency, integrations.ClientBusy())
			}
			defer release()
		}
		if max := s.integrations[t.Integration]; max > 0 {
			release, ok := s.state.acquire("integration:"+t.Integration, max)
			if !ok {
				return s.refuse(c, t, LimitIntegrationConc, integrations.IntegrationBusy(t.Integration))
			}
			defer release()
		}
		return next.Call(ctx, c)
	}))
}
