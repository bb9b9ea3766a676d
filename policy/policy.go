// Package policy is the middleware every tool call passes through, whatever
// its integration: who may call it (client allowlists, deny rules,
// read-only), whether the user must confirm it first, the audit line, the
// metrics, and the one place where a failure becomes what the model sees and
// what the log sees. Each concern is one file with its own tests.
package policy

import (
	"context"
	"log/slog"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"go.opentelemetry.io/otel/trace"

	"github.com/switchboard-dev/switchboard/configs"
	"github.com/switchboard-dev/switchboard/integrations"
)

// Deps are what policy needs from the outside.
type Deps struct {
	Logger *slog.Logger
	// Metrics, when set, observes every call.
	Metrics *Metrics
	// Audit, when set, gets one line per call.
	Audit *Audit
	// Secrets resolves policy.confirmation.key; needed only when it is set.
	Secrets Secrets
	// Once remembers spent confirmations; nil keeps them in this process.
	Once Claimer
	// Now is the clock of confirmations; nil means time.Now.
	Now func() time.Time
	// Results remembers deduplicated calls; nil keeps them in this process.
	Results Results
	// SigningKey signs confirmations when policy.confirmation.key is not
	// set; nil: a random key. A reload passes the same one, so tokens
	// handed out before it are still accepted.
	SigningKey []byte
	// Limits, when set, applies the config's rate and concurrency limits.
	Limits *LimitSet
	// Tracer, when set, traces every call (nil: tracing is off, at no cost).
	Tracer trace.Tracer
}

// Secrets resolves a secret reference (policy.confirmation.key).
type Secrets interface {
	Lookup(ctx context.Context, ref string) (string, error)
}

// Claimer records that a key was used, once across every replica that shares
// it: Claim reports whether this was the first use within ttl.
type Claimer interface {
	Claim(ctx context.Context, key string, ttl time.Duration) (first bool, err error)
}

// Policy applies a config's policy block to tools.
type Policy struct {
	rules *Rules
	log   *slog.Logger
	mws   []integrations.Middleware

	dedupe   *deduper
	coalesce *coalescer
}

// New builds the policy of a checked config. A call passes, outermost
// first: edge (what the model and the log see), tracing, audit, metrics,
// access (client allowlists, undecodable arguments), rate limits, dedupe (a
// repeat of a call that succeeded is answered from memory, before
// confirmation could ask again), confirmation, concurrency limits, speech
// (while the tool itself runs), coalescing (identical reads in flight share
// one request), then the tool.
func New(cfg configs.Policy, deps Deps) (*Policy, error) {
	if deps.Logger == nil {
		deps.Logger = slog.New(slog.DiscardHandler)
	}
	c, err := newConfirmer(cfg.Confirmation, deps)
	if err != nil {
		return nil, err
	}
	p := &Policy{rules: NewRules(cfg), log: deps.Logger}
	p.mws = []integrations.Middleware{p.edge}
	if deps.Tracer != nil {
		p.mws = append(p.mws, tracing(deps.Tracer))
	}
	if deps.Audit != nil {
		p.mws = append(p.mws, deps.Audit.middleware)
	}
	if deps.Metrics != nil {
		p.mws = append(p.mws, deps.Metrics.middleware)
	}
	p.mws = append(p.mws, access)
	if deps.Limits != nil {
		p.mws = append(p.mws, deps.Limits.rates)
	}
	// Phone calls: dedupe, speech and coalescing (dedupe.go, speech.go,
	// coalesce.go).
	p.dedupe, p.coalesce = newDeduper(deps.Results, deps.Logger, deps.Now), &coalescer{}
	p.mws = append(p.mws, p.dedupe.middleware, c.middleware)
	if deps.Limits != nil {
		p.mws = append(p.mws, deps.Limits.concurrency)
	}
	p.mws = append(p.mws, speech, p.coalesce.middleware)
	return p, nil
}

// Expose returns t as clients see it, or nil when a deny rule (or read_only)
// hides it, so that a call to it is refused as a call to an unknown tool. A
// tool that needs confirmation is marked destructive and declares the
// optional confirmation_token argument. It is the registry's expose hook.
func (p *Policy) Expose(t *integrations.Tool) *integrations.Tool {
	act := p.rules.Action(t)
	if act == Deny {
		return nil
	}
	e := *t
	if act == Confirm {
		e.NeedsConfirmation = true
		e.Definition.Annotations.ReadOnlyHint = mcp.ToBoolPtr(false)
		e.Definition.Annotations.DestructiveHint = mcp.ToBoolPtr(true)
		e.Definition = withTokenParam(e.Definition)
	}
	if e.Speech != nil {
		e.Definition = withSpeechMeta(e.Definition, e.Speech)
	}
	e.Handler = integrations.Wrap(&e, p.mws...)
	return &e
}
