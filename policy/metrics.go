package policy

import (
	"context"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/switchboard-dev/switchboard/integrations"
)

// Metrics counts tool calls and their latency by tool and outcome.
type Metrics struct {
	calls         *prometheus.CounterVec
	duration      *prometheus.HistogramVec
	confirmations *prometheus.CounterVec
}

// NewMetrics registers switchboard's tool metrics on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		calls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "switchboard_tool_calls_total",
			Help: "Tool calls by tool and outcome (ok, error, invalid, confirmation_required, declined, denied, limited).",
		}, []string{"tool", "outcome"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "switchboard_tool_call_duration_seconds",
			Help:    "Tool call latency, policy included.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"tool"}),
	}
	m.confirmations = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "switchboard_confirmation_decisions_total",
		Help: "Calls of tools that need confirmation, by decision (confirmation_required, confirmed, declined) and the reason a presented confirmation was refused (invalid, expired, reused).",
	}, []string{"decision", "reason"})
	reg.MustRegister(m.calls, m.duration, m.confirmations)
	return m
}

// middleware observes every call; it runs inside the edge, so it sees the
// error before the edge turns it into a result.
func (m *Metrics) middleware(t *integrations.Tool, next integrations.Handler) integrations.Handler {
	return integrations.HandlerFunc(func(ctx context.Context, c *integrations.Call) (*mcp.CallToolResult, error) {
		start := time.Now()
		res, err := next.Call(ctx, c)
		m.duration.WithLabelValues(t.Name()).Observe(time.Since(start).Seconds())
		label := outcome(res, err)
		switch d := decisionOf(c); d {
		case DecisionConfirmationRequired, DecisionDenied, DecisionDeclined, DecisionLimited:
			label = string(d)
		}
		if t.NeedsConfirmation {
			switch d := decisionOf(c); d {
			case DecisionConfirmationRequired, DecisionConfirmed, DecisionDeclined:
				m.confirmations.WithLabelValues(string(d), confirmReason(c.Reason)).Inc()
			}
		}
		m.calls.WithLabelValues(t.Name(), label).Inc()
		return res, err
	})
}

// confirmReason keeps the reason label to its few known values.
func confirmReason(r string) string {
	switch rejection(r) {
	case rejectInvalid, rejectExpired, rejectReused:
		return r
	}
	return ""
}
