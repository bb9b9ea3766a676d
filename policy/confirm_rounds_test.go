package policy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/switchboard-dev/switchboard/integrations"
	edge "github.com/switchboard-dev/switchboard/server"
)

// roundsTool is a confirmable tool whose handler is h, exposed through
// policy p; calls are built as the edge builds them.
func roundsTool(t *testing.T, mode string, h integrations.Handler) (*integrations.Tool, *bytes.Buffer) {
	t.Helper()
	audit := &bytes.Buffer{}
	p, err := New(elicitPolicy(mode), Deps{Audit: NewAudit(audit, nil)})
	if err != nil {
		t.Fatal(err)
	}
	e := p.Expose(refundTool(t, h, "Refund {{.amount}} euros?"))
	if e == nil || !e.NeedsConfirmation {
		t.Fatal("the refund tool is not confirmable")
	}
	return e, audit
}

// A handshake-era client is asked during the call, and the call's one audit
// line says how the question ended: confirmed, declined, or unanswered when
// the client failed or the call was cancelled while it was open.
func TestConfirmAskedDuringTheCall(t *testing.T) {
	args := map[string]any{"order_id": "A-1", "amount": 12.5}
	cases := []struct {
		name     string
		elicit   func(ctx context.Context, cancel context.CancelFunc) (*mcp.ElicitationResult, error)
		ran      bool
		decision Decision
		reason   string
		outcome  string
		says     string
	}{
		{"yes", func(context.Context, context.CancelFunc) (*mcp.ElicitationResult, error) {
			return &mcp.ElicitationResult{ElicitationResponse: mcp.ElicitationResponse{Action: mcp.ElicitationResponseActionAccept, Content: yes}}, nil
		}, true, DecisionConfirmed, "", "ok", "refund r-1 created"},
		{"no", func(context.Context, context.CancelFunc) (*mcp.ElicitationResult, error) {
			return &mcp.ElicitationResult{ElicitationResponse: mcp.ElicitationResponse{Action: mcp.ElicitationResponseActionDecline}}, nil
		}, false, DecisionDeclined, "", "ok", "was not run"},
		{"client failed", func(context.Context, context.CancelFunc) (*mcp.ElicitationResult, error) {
			return nil, errors.New("elicitation/create: the phone app crashed")
		}, false, DecisionDeclined, "unanswered", "error", "did not come back"},
		{"no answer at all", func(context.Context, context.CancelFunc) (*mcp.ElicitationResult, error) {
			return nil, nil
		}, false, DecisionDeclined, "unanswered", "error", "did not come back"},
		{"call cancelled", func(ctx context.Context, cancel context.CancelFunc) (*mcp.ElicitationResult, error) {
			cancel()
			<-ctx.Done()
			return nil, ctx.Err()
		}, false, DecisionDeclined, "unanswered", "error", "was cancelled"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := &spy{}
			tool, audit := roundsTool(t, "elicit", s)
			ctx, cancel := context.WithCancel(withSession(WithCaller(context.Background(), caller), "s-1", &canElicit))
			defer cancel()
			c := edge.NewCall(ctx, tool, callReq(args))
			var asked []string
			c.Elicit = func(ctx context.Context, p mcp.ElicitationParams) (*mcp.ElicitationResult, error) {
				asked = append(asked, p.Message)
				return tc.elicit(ctx, cancel)
			}
			res, err := tool.Handler.Call(ctx, c)
			if err != nil || res.NeedsInput() || !strings.Contains(text(res), tc.says) {
				t.Fatalf("result %q, %v; want it to say %q", text(res), err, tc.says)
			}
			if (s.count() == 1) != tc.ran || len(asked) != 1 || asked[0] != "Refund 12.5 euros?" {
				t.Fatalf("ran %d times after asking %q", s.count(), asked)
			}
			if tc.ran && s.last().key == "" {
				t.Error("a confirmed call without an idempotency key")
			}
			lines := auditLines(t, audit.Bytes())
			reason, _ := lines[0]["reason"].(string)
			if len(lines) != 1 || lines[0]["decision"] != string(tc.decision) || reason != tc.reason || lines[0]["outcome"] != tc.outcome || lines[0]["session_id"] != "s-1" {
				t.Fatalf("audit %+v, want one line %s/%s/%s", lines, tc.decision, tc.reason, tc.outcome)
			}
		})
	}
}

// asking is a tool handler with a question of its own, as an upstream MCP
// server has: its first run answers input_required with requestState
// "inner-1"; a run that presents it finishes.
type asking struct {
	mu    sync.Mutex
	runs  []integrations.Presented
	keys  []string
	inner string
}

func (a *asking) Call(_ context.Context, c *integrations.Call) (*mcp.CallToolResult, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.runs = append(a.runs, c.Presented)
	a.keys = append(a.keys, c.IdempotencyKey)
	if c.Presented.RequestState == a.inner {
		return mcp.NewToolResultText("booked"), nil
	}
	return server.NewInputRequestBuilder(a.inner).Elicit("upstream", mcp.ElicitationParams{Message: "Book it?"}).ToolResult(), nil
}

// A confirmed call whose tool then asks a question of its own is continued
// by the retry that answers it, without a second confirmation, with the
// same Idempotency-Key; the continuation is bound to the tool's own state
// and the call, so an edited one or one sent with other arguments asks to
// confirm afresh and never reaches the tool.
func TestConfirmedCallContinuesThroughTheToolsQuestion(t *testing.T) {
	h := &asking{inner: "mcp.inner-1"}
	tool, audit := roundsTool(t, "elicit", h)
	ctx := modern(canElicit)
	args := map[string]any{"order_id": "A-1", "amount": 12.5}
	call := func(req mcp.CallToolRequest) *mcp.CallToolResult {
		t.Helper()
		res, err := tool.Handler.Call(ctx, edge.NewCall(ctx, tool, req))
		if err != nil {
			t.Fatal(err)
		}
		return res
	}

	state, _ := question(t, call(callReq(args)))
	res := call(answer(args, state, mcp.ElicitationResponseActionAccept, yes))
	if !res.NeedsInput() || res.InputRequests["upstream"].Elicitation == nil {
		t.Fatalf("confirmed call: %+v %q, want the tool's question", res.Result, text(res))
	}
	cont := res.RequestState
	if !strings.HasPrefix(cont, continuedPrefix) || !strings.HasSuffix(cont, ".mcp.inner-1") {
		t.Fatalf("continuation %q, want it to carry the tool's state", cont)
	}
	upstreamAnswer := func(a map[string]any, state string) mcp.CallToolRequest {
		req := callReq(a)
		req.Params.RequestState = state
		req.Params.InputResponses = mcp.InputResponses{"upstream": mcp.NewElicitationInputResponse(mcp.ElicitationResult{
			ElicitationResponse: mcp.ElicitationResponse{Action: mcp.ElicitationResponseActionAccept, Content: map[string]any{}}})}
		return req
	}
	for name, req := range map[string]mcp.CallToolRequest{
		"edited inner state": upstreamAnswer(args, strings.TrimSuffix(cont, "1")+"2"),
		"no inner state":     upstreamAnswer(args, strings.TrimSuffix(cont, ".mcp.inner-1")),
		"other arguments":    upstreamAnswer(map[string]any{"order_id": "A-1", "amount": 500}, cont),
	} {
		if _, msg := question(t, call(req)); msg != "Refund 12.5 euros?" && msg != "Refund 500 euros?" {
			t.Errorf("%s: asked %q, want a fresh confirmation", name, msg)
		}
	}
	if len(h.runs) != 1 {
		t.Fatalf("the tool ran %d times before the continuation, want 1", len(h.runs))
	}
	if res := call(upstreamAnswer(args, cont)); res.NeedsInput() || text(res) != "booked" {
		t.Fatalf("continued: %+v %q", res.Result, text(res))
	}
	if len(h.runs) != 2 || h.runs[1].RequestState != "mcp.inner-1" || h.keys[1] == "" || h.keys[1] != h.keys[0] {
		t.Fatalf("runs %+v keys %q: want the tool's own state and the first run's Idempotency-Key", h.runs, h.keys)
	}
	// The continuation is accepted once, even where the tool's own state
	// could be presented again.
	if _, msg := question(t, call(upstreamAnswer(args, cont))); msg != "Refund 12.5 euros?" || len(h.runs) != 2 {
		t.Fatalf("a replayed continuation: asked %q, ran %d times; want a fresh confirmation and no run", msg, len(h.runs))
	}
	var decisions []string
	for _, l := range auditLines(t, audit.Bytes()) {
		decisions = append(decisions, l["decision"].(string))
	}
	want := "confirmation_required confirmed confirmation_required confirmation_required confirmation_required confirmed confirmation_required"
	if got := strings.Join(decisions, " "); got != want {
		t.Errorf("audit decisions %q, want %q", got, want)
	}
}

// A call whose tool only asked a question has not acted: a dedupe window
// does not answer the retry that brings the answer from memory.
func TestDedupeDoesNotRememberAToolsQuestion(t *testing.T) {
	h := &asking{inner: "mcp.q-1"}
	f := newPhoneFixture(t, ticketTool(h, 30*time.Second), Deps{})
	cc := map[string]string{"call_id": "c-1"}
	args := map[string]any{"subject": "x"}
	if res, _ := f.call(context.Background(), args, cc); !res.NeedsInput() {
		t.Fatalf("first call: %q, want the tool's question", text(res))
	}
	res, _ := f.call(context.Background(), args, cc, func(c *integrations.Call) { c.Presented.RequestState = "mcp.q-1" })
	if res.NeedsInput() || text(res) != "booked" || len(h.runs) != 2 {
		t.Fatalf("the answer got %q after %d runs, want the tool to run again and finish", text(res), len(h.runs))
	}
}

// The retry that answers a read-only tool's question goes to that tool
// alone, never joined to an identical read in flight; what became of the
// question reaches the audit line.
func TestCoalesceLeavesAnswersApart(t *testing.T) {
	h := &counting{gate: make(chan struct{}), started: make(chan struct{}, 4)}
	f := newPhoneFixture(t, readTool(h), Deps{})
	cc := map[string]string{"call_id": "c-1"}
	args := map[string]any{"email": "ana@example.com"}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); f.call(context.Background(), args, cc) }()
	<-h.started
	go func() {
		defer wg.Done()
		f.call(context.Background(), args, cc, func(c *integrations.Call) { c.Presented.RequestState = "mcp.q-1" })
	}()
	select {
	case <-h.started:
	case <-time.After(5 * time.Second):
		t.Fatal("the answer joined the read in flight instead of reaching the tool")
	}
	close(h.gate)
	wg.Wait()

	g := newPhoneFixture(t, readTool(integrations.HandlerFunc(func(_ context.Context, c *integrations.Call) (*mcp.CallToolResult, error) {
		c.Elicited = "accept"
		return mcp.NewToolResultText("ok"), nil
	})), Deps{})
	g.call(context.Background(), args, cc)
	if l := g.lines(t); len(l) != 1 || l[0]["upstream_elicitation"] != "accept" {
		t.Fatalf("audit %v, want upstream_elicitation accept", l)
	}
}

// A question put during the call is open for the confirmation's TTL, as a
// token is: the asker's context ends then.
func TestConfirmQuestionDuringTheCallExpires(t *testing.T) {
	tool, _ := roundsTool(t, "elicit", &spy{})
	ctx := withSession(WithCaller(context.Background(), caller), "s-1", &canElicit)
	c := edge.NewCall(ctx, tool, callReq(map[string]any{"order_id": "A-1", "amount": 1}))
	var left time.Duration
	c.Elicit = func(ctx context.Context, _ mcp.ElicitationParams) (*mcp.ElicitationResult, error) {
		dl, ok := ctx.Deadline()
		if !ok {
			return nil, errors.New("no deadline")
		}
		left = time.Until(dl)
		return nil, context.DeadlineExceeded
	}
	if _, err := tool.Handler.Call(ctx, c); err != nil {
		t.Fatal(err)
	}
	if left <= 0 || left > 2*time.Minute {
		t.Fatalf("the question was open for %s, want at most the TTL (2m)", left)
	}
}

// questioner asks a question of its own on every run, each under its own
// requestState, after gate opens.
type questioner struct {
	gate    chan struct{}
	started chan struct{}
	n       atomic.Int32
}

func (q *questioner) Call(ctx context.Context, c *integrations.Call) (*mcp.CallToolResult, error) {
	n := q.n.Add(1)
	q.started <- struct{}{}
	<-q.gate
	c.Elicited = "asked"
	return server.NewInputRequestBuilder(fmt.Sprintf("mcp.q-%d", n)).Elicit("upstream", mcp.ElicitationParams{Message: "Book it?"}).ToolResult(), nil
}

// Identical calls in flight share a run, but a question is put to one
// caller: one that joined a run that ended in a question gets its own, and
// what became of it reaches its audit line (coalesced reads and dedupe
// windows alike).
func TestSharedRunsPutQuestionsToOneCaller(t *testing.T) {
	for name, tool := range map[string]func(integrations.Handler) *integrations.Tool{
		"coalesce": readTool,
		"dedupe":   func(h integrations.Handler) *integrations.Tool { return ticketTool(h, 30*time.Second) },
	} {
		t.Run(name, func(t *testing.T) {
			h := &questioner{gate: make(chan struct{}), started: make(chan struct{}, 4)}
			f := newPhoneFixture(t, tool(h), Deps{})
			cc := map[string]string{"call_id": "c-1"}
			states := make([]string, 2)
			var wg sync.WaitGroup
			for i := range states {
				wg.Add(1)
				go func() {
					defer wg.Done()
					res, _ := f.call(context.Background(), map[string]any{"x": 1}, cc)
					states[i] = res.RequestState
				}()
			}
			<-h.started
			waitFor(t, func() bool { return f.waiting() == 2 })
			close(h.gate)
			wg.Wait()
			if states[0] == states[1] || states[0] == "" || states[1] == "" || h.n.Load() != 2 {
				t.Fatalf("states %q after %d runs: want each caller its own question", states, h.n.Load())
			}
			for _, l := range f.lines(t) {
				if l["upstream_elicitation"] != "asked" {
					t.Errorf("audit line %v, want upstream_elicitation asked", l)
				}
			}
		})
	}
}

// A token is good until the millisecond of its expiry, not at it; a
// signing key of exactly the minimum length is accepted, one byte less is
// not.
func TestConfirmationBoundaries(t *testing.T) {
	clk := &clock{t: time.Unix(1000, 0)}
	c := &confirmer{now: clk.now, ttl: time.Minute}
	b := binding{tool: "pay_refund", client: "voice"}
	key := []byte("k")
	tk := c.newTicket()
	tok := c.sign(key, purposeToken, b, tk)
	clk.add(time.Minute - time.Millisecond)
	if _, why := c.verify(key, purposeToken, tok, b); why != "" {
		t.Fatalf("a millisecond before its expiry: %q", why)
	}
	clk.add(time.Millisecond)
	if _, why := c.verify(key, purposeToken, tok, b); why != rejectExpired {
		t.Fatalf("at its expiry: %q, want expired", why)
	}

	for n, ok := range map[int]bool{minKeyLen: true, minKeyLen - 1: false} {
		c := &confirmer{keyRef: "vault:secret/confirm#key", secrets: fixedSecret(strings.Repeat("k", n))}
		if _, _, err := c.keys(context.Background()); (err == nil) != ok {
			t.Errorf("a %d-byte key: %v, want accepted %v", n, err, ok)
		}
	}
}

type fixedSecret string

func (s fixedSecret) Lookup(context.Context, string) (string, error) { return string(s), nil }
