package policy

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/switchboard-dev/switchboard/integrations"
)

func readTool(h integrations.Handler) *integrations.Tool {
	return &integrations.Tool{Handler: h, ReadOnly: true}
}

// callsInFlight starts n identical calls and waits until each has entered
// policy (the first is held upstream), then lets the upstream answer.
func TestCoalesceIdenticalReadsInFlight(t *testing.T) {
	h := &counting{gate: make(chan struct{}), started: make(chan struct{}, 8)}
	f := newPhoneFixture(t, readTool(h), Deps{})
	cc := map[string]string{"call_id": "c-1"}
	var wg sync.WaitGroup
	results := make([]*mcp.CallToolResult, 5)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], _ = f.call(context.Background(), map[string]any{"email": "ana@example.com"}, cc)
		}()
	}
	<-h.started
	waitFor(t, func() bool { return f.waiting() == 5 })
	close(h.gate)
	wg.Wait()
	if n := h.n.Load(); n != 1 {
		t.Fatalf("5 identical reads made %d upstream requests, want 1", n)
	}
	for i, r := range results {
		if r == nil || r.IsError || text(r) != text(results[0]) {
			t.Fatalf("result %d = %+v", i, r)
		}
	}
	for _, l := range f.lines(t) {
		if l["shared"] != true || l["call_id"] != "c-1" || l["decision"] != "allowed" {
			t.Fatalf("audit line %v: want shared, call_id c-1, allowed", l)
		}
	}
}

func TestCoalesceKeepsDifferentCallsApart(t *testing.T) {
	h := &counting{gate: make(chan struct{}), started: make(chan struct{}, 8)}
	f := newPhoneFixture(t, readTool(h), Deps{})
	var wg sync.WaitGroup
	for _, c := range []struct {
		args map[string]any
		cc   map[string]string
	}{
		{map[string]any{"email": "a@example.com"}, map[string]string{"call_id": "c-1"}},
		{map[string]any{"email": "a@example.com"}, map[string]string{"call_id": "c-2"}},
		{map[string]any{"email": "b@example.com"}, map[string]string{"call_id": "c-1"}},
	} {
		wg.Add(1)
		go func() { defer wg.Done(); f.call(context.Background(), c.args, c.cc) }()
	}
	for range 3 {
		<-h.started
	}
	close(h.gate)
	wg.Wait()
	if n := h.n.Load(); n != 3 {
		t.Fatalf("runs = %d, want 3", n)
	}
	for _, l := range f.lines(t) {
		if l["shared"] != nil {
			t.Fatalf("a call that shared nothing is marked shared: %v", l)
		}
	}
}

// One caller hanging up does not fail the others; when every caller has
// gone, the upstream request is cancelled.
func TestCoalesceCancellation(t *testing.T) {
	h := &counting{gate: make(chan struct{}), started: make(chan struct{}, 8)}
	f := newPhoneFixture(t, readTool(h), Deps{})
	ctx1, hangUp := context.WithCancel(context.Background())
	first := make(chan *mcp.CallToolResult, 1)
	go func() { r, _ := f.call(ctx1, nil, nil); first <- r }()
	<-h.started
	second := make(chan *mcp.CallToolResult, 1)
	go func() { r, _ := f.call(context.Background(), nil, nil); second <- r }()
	waitFor(t, func() bool { return f.waiting() == 2 })
	hangUp()
	if r := <-first; !r.IsError {
		t.Fatalf("the caller who hung up got %q", text(r))
	}
	close(h.gate)
	if r := <-second; r.IsError || h.n.Load() != 1 {
		t.Fatalf("the other caller got %q (runs %d)", text(r), h.n.Load())
	}

	// The last caller hanging up cancels the shared run (nobody is left to
	// read it); the gate never opens, so only that ends it.
	h2 := &counting{gate: make(chan struct{}), started: make(chan struct{}, 1), ended: make(chan struct{}, 1)}
	f2 := newPhoneFixture(t, readTool(h2), Deps{})
	ctx2, hangUp2 := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { f2.call(ctx2, nil, nil); close(done) }()
	<-h2.started
	hangUp2()
	<-done
	waitFor(t, func() bool { return f2.waiting() == 0 })
	select {
	case <-h2.ended:
	case <-time.After(5 * time.Second):
		t.Fatal("the run went on after its last caller hung up")
	}
}

func TestCoalesceSkipsConfirmedAndWritingTools(t *testing.T) {
	for _, tool := range []*integrations.Tool{
		{ReadOnly: false},
		{ReadOnly: true, NeedsConfirmation: true, ConfirmRequired: true},
	} {
		co := &coalescer{}
		h := &counting{}
		if got := co.middleware(tool, h); got != integrations.Handler(h) {
			t.Fatalf("tool %+v was coalesced", tool)
		}
	}
}

// waiting is how many calls wait on the fixture's shared runs.
func (f *phoneFixture) waiting() int {
	return f.p.coalesce.flights.count() + f.p.dedupe.flights.count()
}

// count is how many callers wait on the runs in flight.
func (g *flights[T]) count() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	n := 0
	for _, f := range g.m {
		n += f.waiting
	}
	return n
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("condition never held")
		}
	}
}

// A caller who hangs up hears that the call was cancelled, not that the tool
// failed; a tool that fails for itself is not reported as cancelled.
func TestCoalescedCallerWhoHangsUpIsToldCancelled(t *testing.T) {
	h := &counting{gate: make(chan struct{}), started: make(chan struct{}, 1)}
	f := newPhoneFixture(t, readTool(h), Deps{})
	ctx, hangUp := context.WithCancel(context.Background())
	got := make(chan *mcp.CallToolResult, 1)
	go func() { r, _ := f.call(ctx, nil, nil); got <- r }()
	<-h.started
	hangUp()
	if r := <-got; !r.IsError || text(r) != "The call to helpdesk was cancelled." {
		t.Fatalf("the caller who hung up got %q", text(r))
	}
	broken := newPhoneFixture(t, readTool(integrations.HandlerFunc(func(context.Context, *integrations.Call) (*mcp.CallToolResult, error) {
		return nil, errors.New("boom")
	})), Deps{})
	if r, _ := broken.call(context.Background(), nil, nil); !r.IsError || strings.Contains(text(r), "cancelled") {
		t.Fatalf("a failing tool: %q", text(r))
	}
}

// Callers of one shared run each get their own result: mcp-go decorates the
// result it sends (resultType, _meta), and two requests writing one value's
// _meta map at once stop the process.
func TestCoalescedCallersGetTheirOwnResult(t *testing.T) {
	gate := make(chan struct{})
	h := integrations.HandlerFunc(func(ctx context.Context, c *integrations.Call) (*mcp.CallToolResult, error) {
		<-gate
		res := mcp.NewToolResultText("found")
		res.Meta = &mcp.Meta{AdditionalFields: map[string]any{"upstream": "crm"}}
		return res, nil
	})
	f := newPhoneFixture(t, readTool(h), Deps{})
	cc := map[string]string{"call_id": "c-1"}
	results := make([]*mcp.CallToolResult, 2)
	var wg sync.WaitGroup
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], _ = f.call(context.Background(), map[string]any{"email": "ana@example.com"}, cc)
		}()
	}
	waitFor(t, func() bool { return f.waiting() == 2 })
	close(gate)
	wg.Wait()
	if l := f.lines(t); len(l) != 2 || l[0]["shared"] != true {
		t.Fatalf("audit %v, want two shared calls", l)
	}
	a, b := results[0], results[1]
	if a == b || a.Meta == b.Meta {
		t.Fatal("two callers got one result value")
	}
	a.Meta.AdditionalFields["io.modelcontextprotocol/serverInfo"] = "x"
	a.Content[0] = mcp.NewTextContent("changed")
	if _, ok := b.Meta.AdditionalFields["io.modelcontextprotocol/serverInfo"]; ok || text(b) != "found" || b.Meta.AdditionalFields["upstream"] != "crm" {
		t.Fatalf("a change to one caller's result reached the other: %+v %q", b.Meta, text(b))
	}
}
