package policy

import (
	"context"
	"encoding/json"
	"log/slog"
	"sync"
	"time"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/switchboard-dev/switchboard/integrations"
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
// failed call, and a call that only asked for confirmation, is not
// remembered. The confirmation_token is not part of the arguments, so a
// repeat of a confirmed call is answered from memory and never asks twice.
//
// Results are kept in a Results store as JSON, so that a shared store
// (Redis) lets replicas answer each other's repeats. When the store cannot
// be read the call fails closed: it is not run.

// Results remembers finished calls' results and leases keys to the one call
// running them, across every replica that shares the store.
type Results interface {
	// Remembered returns the value stored under key, if any.
	Remembered(ctx context.Context, key string) (value []byte, ok bool, err error)
	// Remember stores value under key for ttl.
	Remember(ctx context.Context, key string, value []byte, ttl time.Duration) error
	// Lease claims key for one running call for at most ttl; false when
	// another call holds it.
	Lease(ctx context.Context, key string, ttl time.Duration) (bool, error)
	// Release gives a lease back before its ttl.
	Release(ctx context.Context, key string) error
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
}

// executed: the call ran the tool and it succeeded.
func (o dedupeOutcome) executed(err error) bool {
	return err == nil && o.res != nil && !o.res.IsError &&
		(o.decision == "" || o.decision == string(DecisionAllowed) || o.decision == string(DecisionConfirmed))
}

func newDeduper(store Results, log *slog.Logger, now func() time.Time) *deduper {
	if store == nil {
		store = NewMemoryResults(now)
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
		// The run gets its own copy of the call: it may outlive this caller.
		run := *c
		out, err, joined, _ := d.flights.do(ctx, key, func(ctx context.Context) (dedupeOutcome, error) {
			return d.run(ctx, t, next, &run, key)
		})
		if err != nil && ctx.Err() != nil && integrations.KindOf(err) == integrations.KindInternal {
			return nil, integrations.Cancelled(t.Integration, err)
		}
		switch {
		case out.replayed, joined && out.executed(err):
			c.Decide(string(DecisionDeduplicated), "")
		default:
			c.Decide(out.decision, out.reason)
		}
		return out.res, err
	}))
}

// run answers a call from the store, or runs it (holding the key's lease)
// and remembers a success.
func (d *deduper) run(ctx context.Context, t *integrations.Tool, next integrations.Handler, c *integrations.Call, key string) (dedupeOutcome, error) {
	lease := max(t.Dedupe, minLease)
	for {
		if out, ok, err := d.remembered(ctx, key); err != nil || ok {
			if err != nil {
				return dedupeOutcome{}, integrations.DedupeUnavailable(t.Name(), err)
			}
			return out, nil
		}
		got, err := d.store.Lease(ctx, key, lease)
		if err != nil {
			return dedupeOutcome{}, integrations.DedupeUnavailable(t.Name(), err)
		}
		if got {
			break
		}
		// Another replica runs this very call: wait for its result.
		select {
		case <-ctx.Done():
			return dedupeOutcome{}, integrations.Cancelled(t.Integration, ctx.Err())
		case <-time.After(leasePoll):
		}
	}
	defer func() {
		if err := d.store.Release(context.WithoutCancel(ctx), key); err != nil {
			d.log.Warn("dedupe lease not released", "tool", t.Name(), "error", err)
		}
	}()
	res, err := next.Call(ctx, c)
	out := dedupeOutcome{res: res, decision: c.Decision, reason: c.Reason}
	if out.executed(err) {
		b, merr := json.Marshal(res)
		if merr == nil {
			merr = d.store.Remember(context.WithoutCancel(ctx), key, b, t.Dedupe)
		}
		if merr != nil {
			// It ran; a repeat may run again. Say so where an operator looks.
			d.log.Error("dedupe: a successful call could not be remembered", "tool", t.Name(), "call_id", c.CallID(), "error", merr)
		}
	}
	return out, err
}

func (d *deduper) remembered(ctx context.Context, key string) (dedupeOutcome, bool, error) {
	b, ok, err := d.store.Remembered(ctx, key)
	if err != nil || !ok {
		return dedupeOutcome{}, false, err
	}
	raw := json.RawMessage(b)
	res, err := mcp.ParseCallToolResult(&raw)
	if err != nil {
		return dedupeOutcome{}, false, err
	}
	return dedupeOutcome{res: res, replayed: true}, true, nil
}

// MemoryResults is the Results store of a single process.
type MemoryResults struct {
	mu        sync.Mutex
	now       func() time.Time
	values    map[string]memoryValue
	leases    map[string]time.Time
	nextPrune time.Time
}

type memoryValue struct {
	b   []byte
	exp time.Time
}

// NewMemoryResults returns an empty store; now nil means time.Now.
func NewMemoryResults(now func() time.Time) *MemoryResults {
	if now == nil {
		now = time.Now
	}
	return &MemoryResults{now: now, values: map[string]memoryValue{}, leases: map[string]time.Time{}}
}

func (m *MemoryResults) Remembered(_ context.Context, key string) ([]byte, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.prune()
	v, ok := m.values[key]
	if !ok || !m.now().Before(v.exp) {
		return nil, false, nil
	}
	return v.b, true, nil
}

func (m *MemoryResults) Remember(_ context.Context, key string, value []byte, ttl time.Duration) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.values[key] = memoryValue{b: append([]byte(nil), value...), exp: m.now().Add(ttl)}
	return nil
}

func (m *MemoryResults) Lease(_ context.Context, key string, ttl time.Duration) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	if exp, ok := m.leases[key]; ok && now.Before(exp) {
		return false, nil
	}
	m.leases[key] = now.Add(ttl)
	return true, nil
}

func (m *MemoryResults) Release(_ context.Context, key string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.leases, key)
	return nil
}

// prune drops expired values and leases every 30 s (under m.mu).
func (m *MemoryResults) prune() {
	now := m.now()
	if now.Before(m.nextPrune) {
		return
	}
	for k, v := range m.values {
		if !now.Before(v.exp) {
			delete(m.values, k)
		}
	}
	for k, exp := range m.leases {
		if !now.Before(exp) {
			delete(m.leases, k)
		}
	}
	m.nextPrune = now.Add(30 * time.Second)
}
