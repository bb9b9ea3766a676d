package mcpupstream

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	mcpgo "github.com/mark3labs/mcp-go/mcp"
	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/switchboard-dev/switchboard/integrations"
)

// askingUpstream is a go-sdk server whose tool book asks the caller "Book
// it?" and says what the answer was.
func askingUpstream(t *testing.T, timeout string) *Upstream {
	t.Helper()
	return askingUpstreamWith(t, timeout, 0)
}

// askingUpstreamWith is askingUpstream whose tool waits at most patience
// for the answer (0: as long as the call lasts) and then goes ahead.
func askingUpstreamWith(t *testing.T, timeout string, patience time.Duration) *Upstream {
	t.Helper()
	s := sdk.NewServer(&sdk.Implementation{Name: "cal", Version: "1"}, nil)
	s.AddTool(&sdk.Tool{Name: "book", Description: "Books after asking.", InputSchema: map[string]any{"type": "object"}},
		func(ctx context.Context, req *sdk.CallToolRequest) (*sdk.CallToolResult, error) {
			ectx := ctx
			if patience > 0 {
				var cancel context.CancelFunc
				ectx, cancel = context.WithTimeout(ctx, patience)
				defer cancel()
			}
			res, err := req.Session.Elicit(ectx, &sdk.ElicitParams{Message: "Book it?", RequestedSchema: map[string]any{
				"type": "object", "properties": map[string]any{"confirm": map[string]any{"type": "boolean"}}}})
			if err != nil && patience > 0 {
				return &sdk.CallToolResult{Content: []sdk.Content{&sdk.TextContent{Text: "booked without an answer"}}}, nil
			}
			if err != nil {
				return &sdk.CallToolResult{IsError: true, Content: []sdk.Content{&sdk.TextContent{Text: "elicitation failed: " + err.Error()}}}, nil
			}
			if token := req.Params.GetProgressToken(); token != nil {
				_ = req.Session.NotifyProgress(ctx, &sdk.ProgressNotificationParams{ProgressToken: token, Progress: 1, Total: 1, Message: "booking"})
			}
			return &sdk.CallToolResult{Content: []sdk.Content{&sdk.TextContent{Text: fmt.Sprintf("%s %v", res.Action, res.Content["confirm"])}}}, nil
		})
	ts := httptest.NewServer(sdk.NewStreamableHTTPHandler(func(*http.Request) *sdk.Server { return s }, nil))
	t.Cleanup(ts.Close)
	u := mustNew(t, integration(t, "integrations:\n  - name: cal\n    type: mcp\n    url: "+ts.URL+"\n    timeout: "+timeout+"\n"), Deps{})
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go u.Run(ctx)
	if err := u.WaitStarted(ctx); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); len(u.Tools()) == 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the upstream's tools never appeared")
		}
	}
	return u
}

// modernCall is a call from a 2026-07-28 client that can be asked;
// state and answer continue an input_required result.
func modernCall(u *Upstream, client string, args map[string]any, state string, answer *mcpgo.ElicitationResult) *integrations.Call {
	tl := u.Tools()[0]
	var p mcpgo.CallToolParams
	p.Name = tl.Name()
	p.Arguments = args
	p.RequestState = state
	if answer != nil {
		p.InputResponses = mcpgo.InputResponses{questionID: mcpgo.NewElicitationInputResponse(*answer)}
	}
	c := integrations.NewCall(tl, p)
	c.Caller.ClientID = client
	c.CanElicit, c.MultiRoundTrip = true, true
	return c
}

func runCall(t *testing.T, u *Upstream, c *integrations.Call) (*mcpgo.CallToolResult, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return u.Tools()[0].Handler.Call(ctx, c)
}

var accept = &mcpgo.ElicitationResult{ElicitationResponse: mcpgo.ElicitationResponse{Action: mcpgo.ElicitationResponseActionAccept, Content: map[string]any{"confirm": true}}}

// heldQuestion starts a call and returns the requestState of the
// upstream's question.
func heldQuestion(t *testing.T, u *Upstream, client string, args map[string]any) string {
	t.Helper()
	c := modernCall(u, client, args, "", nil)
	res, err := runCall(t, u, c)
	if err != nil || !res.NeedsInput() || !strings.HasPrefix(res.RequestState, heldPrefix) {
		t.Fatalf("first call: %+v, %v; want the upstream's question", res, err)
	}
	q := res.InputRequests[questionID]
	if q.Elicitation == nil || q.Elicitation.Message != "Book it?" || c.Elicited != "asked" {
		t.Fatalf("question %+v, elicited %q", q, c.Elicited)
	}
	return res.RequestState
}

func TestHeldQuestionIsAnsweredByTheRetry(t *testing.T) {
	u := askingUpstream(t, "10s")
	args := map[string]any{"slot": "10:00"}
	state := heldQuestion(t, u, "voice", args)

	// Only the call that was asked may answer: another client, other
	// arguments or an unknown state are refused and leave it open.
	for name, c := range map[string]*integrations.Call{
		"another client":  modernCall(u, "other", args, state, accept),
		"other arguments": modernCall(u, "voice", map[string]any{"slot": "11:00"}, state, accept),
		"unknown state":   modernCall(u, "voice", args, heldPrefix+"0123", accept),
		"another phone call": func() *integrations.Call {
			c := modernCall(u, "voice", args, state, accept)
			c.Context = map[string]string{"call_id": "c-2"}
			return c
		}(),
	} {
		if _, err := runCall(t, u, c); integrations.KindOf(err) != integrations.KindInvalid || !strings.Contains(integrations.PublicMessage(err), "no longer open") {
			t.Errorf("%s: %v, want the question closed to it", name, err)
		}
	}
	c := modernCall(u, "voice", args, state, accept)
	res, err := runCall(t, u, c)
	if err != nil || res.IsError || text(res) != "accept true" || c.Elicited != "accept" {
		t.Fatalf("answer: %+v, %v, elicited %q", res, err, c.Elicited)
	}
	if _, err := runCall(t, u, modernCall(u, "voice", args, state, accept)); integrations.KindOf(err) != integrations.KindInvalid {
		t.Fatalf("the same answer again: %v, want the question closed", err)
	}
	if n := parkedCount(u); n != 0 {
		t.Fatalf("%d questions still parked", n)
	}
}

// A retry without an answer tells the upstream the question was cancelled.
func TestHeldQuestionRetryWithoutAnswer(t *testing.T) {
	u := askingUpstream(t, "10s")
	state := heldQuestion(t, u, "voice", nil)
	c := modernCall(u, "voice", nil, state, nil)
	res, err := runCall(t, u, c)
	if err != nil || res.IsError || text(res) != "cancel <nil>" || c.Elicited != "unanswered" {
		t.Fatalf("%+v, %v, elicited %q; want the upstream told no answer came", res, err, c.Elicited)
	}
}

// A question nobody answers is given up just before the integration's
// timeout: the upstream hears cancel while it can, and the late retry gets
// what it did then, not an answer passed on.
func TestHeldQuestionIsGivenUpBeforeTheTimeout(t *testing.T) {
	u := askingUpstream(t, "300ms")
	state := heldQuestion(t, u, "voice", nil)
	waitHeldCalls(t, u)
	c := modernCall(u, "voice", nil, state, accept)
	res, err := runCall(t, u, c)
	if err != nil || text(res) != "cancel <nil>" || c.Elicited != "unanswered" {
		t.Fatalf("a late answer: %+v, %v, elicited %q; want the upstream's result after cancel", res, err, c.Elicited)
	}
	if _, err := runCall(t, u, modernCall(u, "voice", nil, state, accept)); integrations.KindOf(err) != integrations.KindInvalid {
		t.Fatalf("the same answer again: %v, want the question closed", err)
	}
}

// An upstream that goes on without the answer: the retry gets what it did,
// never "nothing was done".
func TestHeldCallThatWentOnWithoutTheAnswer(t *testing.T) {
	u := askingUpstreamWith(t, "10s", 200*time.Millisecond)
	state := heldQuestion(t, u, "voice", nil)
	waitHeldCalls(t, u)
	c := modernCall(u, "voice", nil, state, accept)
	res, err := runCall(t, u, c)
	if err != nil || text(res) != "booked without an answer" || c.Elicited != "unanswered" {
		t.Fatalf("%+v, %v, elicited %q; want the upstream's result and the answer not passed on", res, err, c.Elicited)
	}
}

// A retry whose client has already gone passes nothing on: the question
// stays open for the client's next retry.
func TestHeldQuestionIgnoresAGoneClient(t *testing.T) {
	u := askingUpstream(t, "10s")
	state := heldQuestion(t, u, "voice", nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := u.Tools()[0].Handler.Call(ctx, modernCall(u, "voice", nil, state, accept))
	if integrations.KindOf(err) != integrations.KindCancelled {
		t.Fatalf("%v, want cancelled", err)
	}
	if res, err := runCall(t, u, modernCall(u, "voice", nil, state, accept)); err != nil || text(res) != "accept true" {
		t.Fatalf("the next retry: %+v, %v; want the question still open", res, err)
	}
}

// Held calls count against the integration's max_concurrent for their
// whole life.
func TestHeldCallsAreBounded(t *testing.T) {
	u := askingUpstream(t, "10s")
	u.cfg.MaxConcurrent = 2
	first := heldQuestion(t, u, "voice", map[string]any{"n": 1})
	heldQuestion(t, u, "voice", map[string]any{"n": 2})
	if _, err := runCall(t, u, modernCall(u, "voice", map[string]any{"n": 3}, "", nil)); integrations.KindOf(err) != integrations.KindLimited {
		t.Fatalf("a third held call: %v, want the integration busy", err)
	}
	// The refused call took no slot, and an ended one gives its slot back.
	if res, err := runCall(t, u, modernCall(u, "voice", map[string]any{"n": 1}, first, accept)); err != nil || text(res) != "accept true" {
		t.Fatalf("answering the first: %+v, %v", res, err)
	}
	for deadline := time.Now().Add(10 * time.Second); u.heldCalls.Load() > 1; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("an ended held call kept its slot")
		}
	}
	heldQuestion(t, u, "voice", map[string]any{"n": 4})
}

// With a short timeout the question is still open long enough for a prompt
// answer (it is given up only in the last tenth of the timeout).
func TestHeldQuestionShortTimeoutTakesAPromptAnswer(t *testing.T) {
	u := askingUpstream(t, "1s")
	state := heldQuestion(t, u, "voice", nil)
	c := modernCall(u, "voice", nil, state, accept)
	if res, err := runCall(t, u, c); err != nil || text(res) != "accept true" || c.Elicited != "accept" {
		t.Fatalf("%+v, %v, elicited %q; want the answer passed on", res, err, c.Elicited)
	}
}

func waitHeldCalls(t *testing.T, u *Upstream) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); u.heldCalls.Load() > 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the held call outlived its timeout")
		}
	}
}

// A handshake-era client is asked during the call; what became of the
// question is on the Call for the audit line.
func TestForwardedQuestionOutcome(t *testing.T) {
	u := askingUpstream(t, "10s")
	for _, tc := range []struct {
		name   string
		elicit func(context.Context, mcpgo.ElicitationParams) (*mcpgo.ElicitationResult, error)
		can    bool
		want   string
		says   string
	}{
		{"accepted", func(context.Context, mcpgo.ElicitationParams) (*mcpgo.ElicitationResult, error) { return accept, nil }, true, "accept", "accept true"},
		{"client failed", func(context.Context, mcpgo.ElicitationParams) (*mcpgo.ElicitationResult, error) {
			return nil, errors.New("the phone app crashed")
		}, true, "unanswered", "elicitation failed"},
		{"no answer", func(context.Context, mcpgo.ElicitationParams) (*mcpgo.ElicitationResult, error) { return nil, nil }, true, "unanswered", "elicitation failed"},
		{"cannot be asked", nil, false, "refused", "elicitation failed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tl := u.Tools()[0]
			c := integrations.NewCall(tl, mcpgo.CallToolParams{Name: tl.Name()})
			c.Session, c.CanElicit, c.Elicit = "s-1", tc.can, tc.elicit
			res, err := runCall(t, u, c)
			if err != nil || !strings.Contains(text(res), tc.says) || c.Elicited != tc.want {
				t.Fatalf("%+v, %v, elicited %q; want %q saying %q", res, err, c.Elicited, tc.want, tc.says)
			}
		})
	}
}

func parkedCount(u *Upstream) int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return len(u.held)
}

// Progress the upstream sends after the answer goes to the retry that
// brought it, under that request's own token.
func TestHeldCallProgressFollowsTheRetry(t *testing.T) {
	u := askingUpstream(t, "10s")
	type note struct {
		token  any
		method string
	}
	var mu sync.Mutex
	got := map[string][]note{}
	notify := func(who string) func(string, map[string]any) {
		return func(method string, params map[string]any) {
			mu.Lock()
			defer mu.Unlock()
			got[who] = append(got[who], note{params["progressToken"], method})
		}
	}
	first := modernCall(u, "voice", nil, "", nil)
	first.ProgressToken, first.Notify = "p-1", notify("first")
	res, err := runCall(t, u, first)
	if err != nil || !res.NeedsInput() {
		t.Fatalf("first call: %+v, %v", res, err)
	}
	retry := modernCall(u, "voice", nil, res.RequestState, accept)
	retry.ProgressToken, retry.Notify = "p-2", notify("retry")
	if res, err := runCall(t, u, retry); err != nil || text(res) != "accept true" {
		t.Fatalf("retry: %+v, %v", res, err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got["first"]) != 0 || len(got["retry"]) != 1 || got["retry"][0].token != "p-2" || got["retry"][0].method != "notifications/progress" {
		t.Fatalf("progress went to %v, want one notification to the retry under p-2", got)
	}
}

// A question given up takes no answer after: the retry is told it was not
// passed on, and another question parked at the same time stays open.
func TestGivenUpQuestionTakesNoAnswer(t *testing.T) {
	u := mustNew(t, integration(t, "integrations:\n  - name: cal\n    type: mcp\n    url: http://127.0.0.1:1/mcp\n"), Deps{})
	c := integrations.NewCall(&integrations.Tool{Definition: mcpgo.Tool{Name: "cal_book"}}, mcpgo.CallToolParams{Name: "cal_book"})
	hc := &held{tool: c.Tool, args: []byte("{}")}
	mine := question{answer: make(chan *mcpgo.ElicitationResult, 1)}
	other := question{answer: make(chan *mcpgo.ElicitationResult, 1)}
	id, otherID := u.park(hc, mine), u.park(hc, other)
	if a := u.giveUp(mine); a != nil {
		t.Fatalf("giveUp found an answer %v", a)
	}
	if got, delivered := u.answer(id, c, accept); got != hc || delivered || len(mine.answer) != 0 {
		t.Fatalf("an answer after giving up: held %v, delivered %v", got != nil, delivered)
	}
	if _, delivered := u.answer(otherID, c, accept); !delivered || len(other.answer) != 1 {
		t.Fatal("the other question was closed too")
	}
	// An answer that came just before the give-up is taken, not dropped.
	late := question{answer: make(chan *mcpgo.ElicitationResult, 1)}
	lateID := u.park(hc, late)
	if _, delivered := u.answer(lateID, c, accept); !delivered {
		t.Fatal("an answer in time was not passed on")
	}
	if a := u.giveUp(late); a != accept {
		t.Fatalf("giveUp after the answer came: %v, want the answer", a)
	}
}
