package mcpupstream

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"runtime/debug"
	"strings"
	"sync/atomic"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	mcpserver "github.com/mark3labs/mcp-go/server"

	"github.com/switchboard-dev/switchboard/integrations"
)

// A 2026-07-28 client is asked a question with an input_required result and
// answers in a retry of the call, a new request. An upstream asks during its
// call (elicitation/create, or an input_required result that mcp-go's
// client turns into the same request) and waits for the answer. So the
// upstream call is held: it goes on in the background while the question
// goes to the client, and the retry that brings the answer hands it over
// and waits for what the upstream does next. The question is open on this
// process only, for the integration's timeout (which covers the whole
// upstream call, the person's answer included); a retry that reaches
// another replica is told the question is no longer open, and nothing
// runs.

// heldPrefix marks a requestState that answers a held call's question;
// questionID keys the question in the input_required result.
const (
	heldPrefix = "mcp."
	questionID = "upstream"
)

// held is one upstream call held for a 2026-07-28 client.
type held struct {
	ctx       context.Context // the upstream call's, with the integration's timeout
	cancel    context.CancelFunc
	questions chan question
	done      chan outcome // the upstream call's result, sent once

	// Who may answer: the same tool, client, call_id and arguments.
	tool, client, callID string
	args                 []byte

	// answerBy is when a question still unanswered is given up: a little
	// before the call's end, so the upstream is still there to be told.
	answerBy time.Time

	// progressToken is the upstream call's, unset when no progress was
	// asked for (set by the upstream call, read by the retries).
	progressToken atomic.Pointer[string]
}

type question struct {
	params mcp.ElicitationParams
	answer chan *mcp.ElicitationResult // nil: no answer will come
}

type outcome struct {
	res *mcp.CallToolResult
	err error
}

// parked is a question waiting for the client's retry. closed: the
// question was given up (the upstream heard cancel), so an answer is no
// longer passed on; the retry still gets what the upstream did.
type parked struct {
	hc     *held
	q      question
	closed bool
}

// maxHeld bounds the calls held at once per integration when it sets no
// max_concurrent: each is an upstream call in flight.
const maxHeld = 64

// endedGrace is how long the result of a held call that ended while its
// question waited is kept for the client's retry.
const endedGrace = time.Minute

// hold starts the upstream call in the background and answers this request
// with the call's result or its first question. The call counts against the
// integration's max_concurrent for its whole life, not only for this
// request.
func (u *Upstream) hold(ctx context.Context, h *handler, c *integrations.Call) (*mcp.CallToolResult, error) {
	args, err := json.Marshal(c.Args)
	if err != nil {
		return nil, integrations.InvalidArgs(h.exposed, []string{err.Error()})
	}
	limit := int64(maxHeld)
	if u.cfg.MaxConcurrent > 0 {
		limit = int64(u.cfg.MaxConcurrent)
	}
	if u.heldCalls.Add(1) > limit {
		u.heldCalls.Add(-1)
		return nil, integrations.IntegrationBusy(u.cfg.Name)
	}
	// The upstream call outlives this request: its context keeps the
	// request's values (trace) but not its end.
	bctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), u.cfg.Timeout)
	hc := &held{ctx: bctx, cancel: cancel, questions: make(chan question), done: make(chan outcome, 1),
		tool: c.Tool, client: c.Caller.ClientID, callID: c.CallID(), args: args,
		answerBy: time.Now().Add(u.cfg.Timeout - min(time.Second, u.cfg.Timeout/10))}
	go func() {
		defer u.heldCalls.Add(-1)
		defer cancel()
		var o outcome
		defer func() {
			if r := recover(); r != nil {
				u.log.Error("held upstream call panicked", "tool", c.Tool, "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
				o = outcome{err: integrations.Errorf(integrations.KindInternal, fmt.Errorf("panic: %v", r), "%s failed unexpectedly.", h.exposed)}
			}
			hc.done <- o
			u.ended(hc)
		}()
		o.res, o.err = u.send(bctx, h, c, hc)
	}()
	return u.await(ctx, h, hc, c)
}

// await returns what the held call does next: its result, or a question
// for the client, parked until the client's retry.
func (u *Upstream) await(ctx context.Context, h *handler, hc *held, c *integrations.Call) (*mcp.CallToolResult, error) {
	if ctx.Err() != nil { // before a result that may be ready too
		hc.cancel()
		return nil, integrations.Cancelled(u.cfg.Name, ctx.Err())
	}
	select {
	case o := <-hc.done:
		return o.res, o.err
	case q := <-hc.questions:
		id := u.park(hc, q)
		c.Elicited = elicitAsked
		u.log.Info("put an upstream's elicitation to the client for its next request", "tool", c.Tool)
		return mcpserver.NewInputRequestBuilder(heldPrefix+id).Elicit(questionID, q.params).ToolResult(), nil
	case <-ctx.Done():
		// The client went away: nobody will answer, or read the result.
		hc.cancel()
		return nil, integrations.Cancelled(u.cfg.Name, ctx.Err())
	}
}

// resume hands the client's answer to the held call whose question it
// answers, and waits for what the upstream does next (or returns what it
// did, if it went on without the answer).
func (u *Upstream) resume(ctx context.Context, h *handler, c *integrations.Call) (*mcp.CallToolResult, error) {
	if ctx.Err() != nil { // a client already gone answers nothing
		return nil, integrations.Cancelled(u.cfg.Name, ctx.Err())
	}
	id := strings.TrimPrefix(c.Presented.RequestState, heldPrefix)
	answer := mcpserver.ElicitationResponse(c.Presented.Responses, questionID)
	hc, delivered := u.answer(id, c, answer)
	if hc == nil {
		return nil, integrations.QuestionClosed(h.exposed)
	}
	switch {
	case !delivered || answer == nil:
		c.Elicited = elicitUnanswered
	default:
		c.Elicited = string(answer.Action)
	}
	if token := hc.progressToken.Load(); token != nil {
		u.progress.Store(*token, c) // the rest of the progress goes to this request
	}
	return u.await(ctx, h, hc, c)
}

// ask is the held call's side of an upstream's question: it goes to the
// request waiting in await, and the answer comes from the retry. An answer
// that does not come (a retry without one, or none before answerBy) is
// told to the upstream as a cancel, while its call is still alive to hear
// it; a request from the upstream left unanswered would hold it up.
func (hc *held) ask(ctx context.Context, u *Upstream, params mcp.ElicitationParams) (*mcp.ElicitationResult, error) {
	q := question{params: params, answer: make(chan *mcp.ElicitationResult, 1)}
	giveUp := time.NewTimer(time.Until(hc.answerBy))
	defer giveUp.Stop()
	select {
	case hc.questions <- q:
	case <-giveUp.C:
		return noAnswer, nil
	case <-hc.ctx.Done():
		return nil, hc.ctx.Err()
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	select {
	case a := <-q.answer:
		if a == nil {
			return noAnswer, nil
		}
		return a, nil
	case <-giveUp.C:
		if a := u.giveUp(q); a != nil {
			return a, nil // it came just now
		}
		return noAnswer, nil
	case <-hc.ctx.Done():
		return nil, hc.ctx.Err()
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// noAnswer is what the upstream hears when the caller's answer did not come.
var noAnswer = &mcp.ElicitationResult{ElicitationResponse: mcp.ElicitationResponse{Action: mcp.ElicitationResponseActionCancel}}

func (u *Upstream) park(hc *held, q question) string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	id := hex.EncodeToString(b[:])
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.held == nil {
		u.held = map[string]*parked{}
	}
	u.held[id] = &parked{hc: hc, q: q}
	return id
}

// answer takes question id for c, if it is open to c (the same tool,
// client, call_id and arguments; a call that may not leaves it open), and
// passes the answer on unless the question was given up. Both happen under
// u.mu, so an answer is either passed on or reported as not delivered.
func (u *Upstream) answer(id string, c *integrations.Call, a *mcp.ElicitationResult) (hc *held, delivered bool) {
	args, err := json.Marshal(c.Args)
	if err != nil {
		return nil, false
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	p := u.held[id]
	if p == nil || p.hc.tool != c.Tool || p.hc.client != c.Caller.ClientID || p.hc.callID != c.CallID() || string(p.hc.args) != string(args) {
		return nil, false
	}
	delete(u.held, id)
	if p.closed {
		return p.hc, false
	}
	p.q.answer <- a // buffered: never blocks
	return p.hc, true
}

// giveUp closes the parked question q, unless its answer arrived: then it
// returns it.
func (u *Upstream) giveUp(q question) *mcp.ElicitationResult {
	u.mu.Lock()
	defer u.mu.Unlock()
	select {
	case a := <-q.answer:
		if a == nil {
			return noAnswer
		}
		return a
	default:
	}
	for _, p := range u.held {
		if p.q.answer == q.answer {
			p.closed = true
		}
	}
	return nil
}

// ended is called when a held call has ended. A question of it still
// parked is closed and kept a while, so that the retry gets what the
// upstream did without the answer instead of being told nothing happened.
func (u *Upstream) ended(hc *held) {
	u.mu.Lock()
	defer u.mu.Unlock()
	for id, p := range u.held {
		if p.hc == hc {
			p.closed = true
			u.log.Info("an upstream call went on without the caller's answer; its result waits for the client's retry", "tool", hc.tool)
			time.AfterFunc(endedGrace, func() {
				u.mu.Lock()
				defer u.mu.Unlock()
				if u.held[id] == p {
					delete(u.held, id)
				}
			})
		}
	}
}
