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
	"github.com/switchboard-dev/switchboard/internal/state"
)

func ticketTool(h integrations.Handler, window time.Duration) *integrations.Tool {
	return &integrations.Tool{Handler: h, Dedupe: window}
}

func TestDedupeRepeatIsAnsweredFromMemory(t *testing.T) {
	h := &counting{}
	f := newPhoneFixture(t, ticketTool(h, 30*time.Second), Deps{})
	ctx := context.Background()
	call1 := map[string]string{"call_id": "c-1"}
	args := map[string]any{"subject": "Pedido perdido"}

	first, _ := f.call(ctx, args, call1)
	again, _ := f.call(ctx, map[string]any{"subject": "Pedido perdido"}, call1)
	if n := h.n.Load(); n != 1 {
		t.Fatalf("a repeat within the window ran the tool again: %d runs", n)
	}
	if text(first) != text(again) || again.IsError {
		t.Fatalf("the repeat got %q, want the first result %q", text(again), text(first))
	}
	lines := f.lines(t)
	if lines[0]["decision"] != "allowed" || lines[1]["decision"] != "deduplicated" || lines[1]["call_id"] != "c-1" {
		t.Fatalf("audit = %v", lines)
	}

	f.call(ctx, args, map[string]string{"call_id": "c-2"})
	f.call(ctx, map[string]any{"subject": "Otro asunto"}, call1)
	if n := h.n.Load(); n != 3 {
		t.Fatalf("another call id and other arguments must each run: %d runs, want 3", n)
	}
}

func TestDedupeScopeIsTheSessionWithoutCallID(t *testing.T) {
	h := &counting{}
	f := newPhoneFixture(t, ticketTool(h, 30*time.Second), Deps{})
	ctx := context.Background()
	args := map[string]any{"subject": "x"}
	inSession := func(s string) func(*integrations.Call) { return func(c *integrations.Call) { c.Session = s } }
	f.call(ctx, args, nil, inSession("s-1"))
	f.call(ctx, args, nil, inSession("s-1"))
	f.call(ctx, args, nil, inSession("s-2"))
	if n := h.n.Load(); n != 2 {
		t.Fatalf("runs = %d, want 2 (one per session)", n)
	}
}

func TestDedupeForgetsFailuresAndExpires(t *testing.T) {
	h := &counting{}
	clk := &clock{t: time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)}
	f := newPhoneFixture(t, ticketTool(h, 30*time.Second), Deps{Now: clk.now})
	ctx := context.Background()
	cc := map[string]string{"call_id": "c-1"}
	args := map[string]any{"subject": "x"}

	h.fail.Store(true)
	if res, _ := f.call(ctx, args, cc); !res.IsError {
		t.Fatalf("failing upstream gave %q", text(res))
	}
	h.fail.Store(false)
	if res, _ := f.call(ctx, args, cc); res.IsError {
		t.Fatalf("the retry after a failure was refused: %q", text(res))
	}
	if n := h.n.Load(); n != 2 {
		t.Fatalf("a failed call was remembered: %d runs, want 2", n)
	}
	clk.add(31 * time.Second)
	f.call(ctx, args, cc)
	if n := h.n.Load(); n != 3 {
		t.Fatalf("a repeat after the window did not run: %d runs", n)
	}
}

func TestDedupeRepeatWhileRunningWaits(t *testing.T) {
	h := &counting{gate: make(chan struct{}), started: make(chan struct{}, 4)}
	f := newPhoneFixture(t, ticketTool(h, 30*time.Second), Deps{})
	cc := map[string]string{"call_id": "c-1"}
	args := map[string]any{"subject": "x"}

	// The caller interrupts: the first request is abandoned by its client
	// while it runs, and the model sends it again.
	ctx1, hangUp := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); f.call(ctx1, args, cc) }()
	<-h.started
	hangUp()
	wg.Wait()
	results := make(chan string, 1)
	go func() {
		res, _ := f.call(context.Background(), args, cc)
		results <- text(res)
	}()
	time.Sleep(50 * time.Millisecond)
	close(h.gate)
	if got := <-results; !strings.Contains(got, "ticket") {
		t.Fatalf("the repeat got %q", got)
	}
	if n := h.n.Load(); n != 1 {
		t.Fatalf("runs = %d, want 1", n)
	}
}

// A confirmed call that is repeated, with or without its token, is answered
// from memory: the caller is never asked twice.
func TestDedupeConfirmedCallNeverAsksTwice(t *testing.T) {
	h := &counting{}
	tool := ticketTool(h, 30*time.Second)
	tool.ConfirmRequired = true
	tool.NeedsConfirmation = true
	f := newPhoneFixture(t, tool, Deps{})
	ctx := context.Background()
	cc := map[string]string{"call_id": "c-1"}
	args := map[string]any{"subject": "x"}

	ask, _ := f.call(ctx, args, cc)
	token := confirmation(t, ask)
	withToken := map[string]any{"subject": "x", "confirmation_token": token}
	if res, _ := f.call(ctx, withToken, cc); res.IsError || h.n.Load() != 1 {
		t.Fatalf("confirmed call: %q, runs %d", text(res), h.n.Load())
	}
	again, _ := f.call(ctx, withToken, cc)
	bare, _ := f.call(ctx, args, cc)
	for _, res := range []string{text(again), text(bare)} {
		if strings.Contains(res, "confirmation") {
			t.Fatalf("a repeat asked again: %q", res)
		}
	}
	if h.n.Load() != 1 {
		t.Fatalf("runs = %d, want 1", h.n.Load())
	}
	var decisions []any
	for _, l := range f.lines(t) {
		decisions = append(decisions, l["decision"])
	}
	want := []any{"confirmation_required", "confirmed", "deduplicated", "deduplicated"}
	if len(decisions) != 4 || decisions[0] != want[0] || decisions[1] != want[1] || decisions[2] != want[2] || decisions[3] != want[3] {
		t.Fatalf("decisions = %v, want %v", decisions, want)
	}
}

type brokenResults struct{}

func (brokenResults) Reserve(context.Context, string, time.Duration) (state.Reservation, error) {
	return state.Reservation{}, errors.New("redis: connection refused")
}
func (brokenResults) Remember(context.Context, state.Reservation, []byte, time.Duration) error {
	return errors.New("redis: connection refused")
}
func (brokenResults) Release(context.Context, state.Reservation) error { return nil }

func TestDedupeFailsClosedWhenTheStoreIsDown(t *testing.T) {
	h := &counting{}
	f := newPhoneFixture(t, ticketTool(h, 30*time.Second), Deps{Results: brokenResults{}})
	res, _ := f.call(context.Background(), map[string]any{"subject": "x"}, nil)
	if !res.IsError || !strings.Contains(text(res), "cannot check right now") || h.n.Load() != 0 {
		t.Fatalf("store down: %q, runs %d", text(res), h.n.Load())
	}
}

// Another replica holds the lease: this one waits for its result.
func TestDedupeWaitsForAnotherReplica(t *testing.T) {
	store := state.NewMemory(state.Config{})
	h := &counting{}
	f := newPhoneFixture(t, ticketTool(h, 30*time.Second), Deps{Results: store})
	// Learn the key the call will use, and take its lease as "another replica".
	key, err := callKey("dedupe", f.tool, &integrations.Call{Args: map[string]any{"subject": "x"}, Caller: integrations.Caller{ClientID: "voice"}}, "call:c-1")
	if err != nil {
		t.Fatal(err)
	}
	r, err := store.Reserve(context.Background(), key, time.Minute)
	if err != nil || r.Outcome != state.Run {
		t.Fatal("lease", err)
	}
	go func() {
		time.Sleep(150 * time.Millisecond)
		_ = store.Remember(context.Background(), r, []byte(`{"content":[{"type":"text","text":"ticket from replica B"}]}`), time.Minute)
	}()
	res, c := f.call(context.Background(), map[string]any{"subject": "x"}, map[string]string{"call_id": "c-1"})
	if text(res) != "ticket from replica B" || h.n.Load() != 0 || c.Decision != "deduplicated" {
		t.Fatalf("got %q, runs %d, decision %q", text(res), h.n.Load(), c.Decision)
	}
}

func TestDedupeIsOffForReadOnlyTools(t *testing.T) {
	h := &counting{}
	tool := ticketTool(h, 30*time.Second)
	tool.ReadOnly = true
	f := newPhoneFixture(t, tool, Deps{})
	f.call(context.Background(), nil, nil)
	f.call(context.Background(), nil, nil)
	if h.n.Load() != 2 {
		t.Fatalf("runs = %d", h.n.Load())
	}
}

// A caller of a dedupe tool who hangs up hears that the call was cancelled.
func TestDedupeCallerWhoHangsUpIsToldCancelled(t *testing.T) {
	h := &counting{gate: make(chan struct{}), started: make(chan struct{}, 1)}
	f := newPhoneFixture(t, ticketTool(h, 30*time.Second), Deps{})
	ctx, hangUp := context.WithCancel(context.Background())
	got := make(chan *mcp.CallToolResult, 1)
	go func() {
		r, _ := f.call(ctx, map[string]any{"subject": "x"}, map[string]string{"call_id": "c-9"})
		got <- r
	}()
	<-h.started
	hangUp()
	if r := <-got; !r.IsError || text(r) != "The call to helpdesk was cancelled." {
		t.Fatalf("the caller who hung up got %q", text(r))
	}
	close(h.gate)
}
