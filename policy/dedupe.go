package policy

import (
	"context"
	"encoding/json"
	"log/slog"
	"time"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/switchboard-dev/switchboard/integrations"
	"github.com/switchboard-dev/switchboard/internal/state"
)

// DecisionDeduplicated: the call repeated one that had already succeeded
// (or was still running) and got its result without acting again.
const DecisionDeduplicated Decision = "deduplicated"

// A model that re-sends crear_ticket after the caller interrupted it must
// open one ticket, not two. A tool with dedupe: <window> (never a read-only
// one) remembers each successful call for the window, keyed by the tool, the
// canonical arguments, the client and the call_id (the MCP session when the
// call has no call_id); a repeat returns the first result and does not run.
// A repeat that arrives while the first is still running waits for it. A
// failed call, and a call that only asked for confirmation (or put an
// upstream's question), is not remembered. The confirmation_token is not part of the arguments, so a
// repeat of a confirmed call is answered from memory and never asks twice.
//
// Results are kept in a Results store as JSON, so that a shared store
// (Redis) lets replicas answer each other's repeats. When the store cannot
// be read the call fails closed: it is not run.

// Results remembers finished calls' results and leases a key to the one
// call running it, across every replica that shares the store: the
// de-duplication part of internal/state's Store (memory, or Redis).
type Results interface {
	// Reserve says what to do with a call: Done (Result holds the first
	// call's), Run (this call holds the lease until Remember or Release), or
	// Busy (another call holds it).
	Reserve(ctx context.Context, key string, lease time.Duration) (state.Reservation, error)
	// Remember stores a successful call's result for window.
	Remember(ctx context.Context, r state.Reservation, result []byte, window time.Duration) error
	// Release gives the lease back, for a call that failed.
	Release(ctx context.Context, r state.Reservation) error
}

// leasePoll is how often a repeat waiting for another replica's call looks
// again; minLease bounds how long a lease may be held by a call that died.
const (
	leasePoll = 100 * time.Millisecond
	minLease  = 30 * time.Second
)

type deduper struct {
	store   Results
	log     *slog.Logger
	flights flights[dedupeOutcome]
}

// dedupeOutcome is what the run of a deduplicated call tells the repeats
// that waited for it.
type dedupeOutcome struct {
	res      *mcp.CallToolResult
	decision string
	reason   string
	replayed bool // answered from the store, not run
	elicited string
}

// executed: the call ran the tool and it succeeded.
func (o dedupeOutcome) executed(err error) bool {
	return err == nil && o.res != nil && !o.res.IsError && !o.res.NeedsInput() &&
		(o.decision == "" || o.decision == string(DecisionAllowed) || o.decision == string(DecisionConfirmed))
}

func newDeduper(store Results, log *slog.Logger, now func() time.Time) *deduper {
	if store == nil {
		store = state.NewMemory(state.Config{Now: now})
	}
	// A call whose client hung up may have acted already: it runs to its end
	// and is remembered, so the repeat that follows gets its result.
	return &deduper{store: store, log: log, flights: flights[dedupeOutcome]{finish: true}}
}

func (d *deduper) middleware(t *integrations.Tool, next integrations.Handler) integrations.Handler {
	if t.Dedupe <= 0 || t.ReadOnly {
		return next
	}
	return keepValidator(next, integrations.HandlerFunc(func(ctx context.Context, c *integrations.Call) (*mcp.CallToolResult, error) {
		scope := c.CallID()
		if scope == "" {
			scope = "session:" + c.Session
		} else {
			scope = "call:" + scope
		}
		key, err := callKey("dedupe", t, c, scope)
		if err != nil {
			return nil, integrations.InvalidArgs(t.Name(), []string{err.Error()})
		}
		var out dedupeOutcome
		var joined bool
		if c.Presented.RequestState != "" {
			// The answer to a tool's own question goes to the call that
			// asked it, never joined to another run.
			out, err = d.run(ctx, t, next, c, key)
		} else {
			// The run gets its own copy of the call: it may outlive this caller.
			run := *c
			out, err, joined, _ = d.flights.do(ctx, key, func(ctx context.Context) (dedupeOutcome, error) {
				return d.run(ctx, t, next, &run, key)
			})
			if joined && err == nil && out.res != nil && out.res.NeedsInput() {
				// A question is put to one caller: this one gets its own.
				joined = false
				out, err = d.run(ctx, t, next, c, key)
			}
		}
		if !joined && ctx.Err() == nil {
			c.Elicited = out.elicited
		}
		if err != nil && ctx.Err() != nil && integrations.KindOf(err) == integrations.KindInternal {
			return nil, integrations.Cancelled(t.Integration, err)
		}
		switch {
		case out.replayed, joined && out.executed(err):
			c.Decide(string(DecisionDeduplicated), "")
		default:
			c.Decide(out.decision, out.reason)
		}
		return ownCopy(out.res), err
	}))
}

// run answers a call from the store, or runs it (holding the key's lease)
// and remembers a success.
func (d *deduper) run(ctx context.Context, t *integrations.Tool, next integrations.Handler, c *integrations.Call, key string) (dedupeOutcome, error) {
	lease := max(t.Dedupe, minLease)
	var r state.Reservation
	for {
		var err error
		if r, err = d.store.Reserve(ctx, key, lease); err != nil {
			return dedupeOutcome{}, integrations.DedupeUnavailable(t.Name(), err)
		}
		if r.Outcome == state.Done {
			raw := json.RawMessage(r.Result)
			res, err := mcp.ParseCallToolResult(&raw)
			if err != nil {
				return dedupeOutcome{}, integrations.DedupeUnavailable(t.Name(), err)
			}
			return dedupeOutcome{res: res, replayed: true}, nil
		}
		if r.Outcome == state.Run {
			break
		}
		// Another replica runs this very call: wait for its result.
		select {
		case <-ctx.Done():
			return dedupeOutcome{}, integrations.Cancelled(t.Integration, ctx.Err())
		case <-time.After(leasePoll):
		}
	}
	res, err := next.Call(ctx, c)
	out := dedupeOutcome{res: res, decision: c.Decision, reason: c.Reason, elicited: c.Elicited}
	if !out.executed(err) {
		if rerr := d.store.Release(context.WithoutCancel(ctx), r); rerr != nil {
			d.log.Warn("dedupe lease not released", "tool", t.Name(), "error", rerr)
		}
		return out, err
	}
	b, merr := json.Marshal(res)
	if merr == nil {
		merr = d.store.Remember(context.WithoutCancel(ctx), r, b, t.Dedupe)
	}
	if merr != nil {
		// It ran; a repeat may run again. Say so where an operator looks.
		d.log.Error("dedupe: a successful call could not be remembered", "tool", t.Name(), "call_id", c.CallID(), "error", merr)
	}
	return out, err
}
