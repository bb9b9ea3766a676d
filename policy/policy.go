// Package policy is the middleware every tool call passes through, whatever
// its integration: who may call it (client allowlists, deny rules,
// read-only), whether the user must confirm it first, the audit line, and the
// one place where a failure becomes what the model sees and what the log sees.
package policy

import (
	"context"
	"fmt"
	"log/slog"
	"runtime/debug"
	"time"

	"github.com/mark3labs/mcp-go/mcp"

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
	// Now is the clock of confirmations; nil means time.Now.
	Now func() time.Time
}

// Policy applies a config's policy block to tools.
type Policy struct {
	rules *Rules
	log   *slog.Logger
	mws   []integrations.Middleware
}

// New builds the policy of a checked config. A call passes, outermost
// first: edge (what the model and the log see), audit, metrics, access
// (client allowlists), confirmation, then the tool.
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
	if deps.Audit != nil {
		p.mws = append(p.mws, deps.Audit.middleware)
	}
	if deps.Metrics != nil {
		p.mws = append(p.mws, deps.Metrics.middleware)
	}
	p.mws = append(p.mws, p.access, c.middleware(p.rules))
	return p, nil
}

// Exposed is a tool as clients see it, with its handler wrapped in policy.
type Exposed struct {
	Tool       *integrations.Tool
	Action     Action
	Definition mcp.Tool
	Handler    integrations.Handler
}

// Expose returns the tools clients may see, denied ones left out (so a call
// to one is refused as a call to an unknown tool), each wrapped in the policy
// middleware. A tool that needs confirmation declares the optional
// confirmation_token argument.
func (p *Policy) Expose(tools []*integrations.Tool) []*Exposed {
	var out []*Exposed
	for _, t := range tools {
		act := p.rules.Action(t)
		if act == Deny {
			continue
		}
		def := t.Definition
		if act == Confirm {
			def.Annotations.ReadOnlyHint = mcp.ToBoolPtr(false)
			def.Annotations.DestructiveHint = mcp.ToBoolPtr(true)
			def = withTokenParam(def)
		}
		out = append(out, &Exposed{
			Tool:       t,
			Action:     act,
			Definition: def,
			Handler:    integrations.Wrap(t, p.mws...),
		})
	}
	return out
}

// edge is the outermost middleware: it decides once what the model and the
// log each get to see. Errors become an isError result with the public
// sentence; the detail goes to the log only; a panic never reaches the
// client or stops the server.
func (p *Policy) edge(t *integrations.Tool, next integrations.Handler) integrations.Handler {
	return integrations.HandlerFunc(func(ctx context.Context, req mcp.CallToolRequest) (res *mcp.CallToolResult, err error) {
		start := time.Now()
		defer func() {
			if r := recover(); r != nil {
				p.log.Error("tool panicked", "tool", t.Name(), "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
				res, err = mcp.NewToolResultError(integrations.PublicMessage(nil)), nil
			}
		}()
		res, err = next.Call(ctx, req)
		dur := time.Since(start)
		if err != nil {
			level := slog.LevelWarn
			if integrations.KindOf(err) == integrations.KindInternal {
				level = slog.LevelError
			}
			p.log.Log(ctx, level, "tool call failed", "tool", t.Name(), "kind", integrations.KindOf(err),
				"status", integrations.StatusOf(err), "duration", dur, "error", err.Error())
			return mcp.NewToolResultError(integrations.PublicMessage(err)), nil
		}
		p.log.Debug("tool call", "tool", t.Name(), "duration", dur)
		return res, nil
	})
}

// access refuses a call from a client that may not use the tool's
// integration: to that client the tool does not exist.
func (p *Policy) access(t *integrations.Tool, next integrations.Handler) integrations.Handler {
	return integrations.HandlerFunc(func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		if !CallerFrom(ctx).Allows(t.Integration) {
			record(ctx, DecisionDenied, "client_not_allowed")
			return nil, integrations.Errorf(integrations.KindInvalid, nil, "There is no tool named %s.", t.Name())
		}
		return next.Call(ctx, req)
	})
}
