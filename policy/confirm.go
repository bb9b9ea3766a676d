package policy

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/switchboard-dev/switchboard/configs"
	"github.com/switchboard-dev/switchboard/integrations"
	"github.com/switchboard-dev/switchboard/internal/state"
)

// A tool that needs confirmation is never executed on its first call.
//
// token mode: the first call returns a confirmation_required result with a
// confirmation_token; the agent reads the message to the caller and, on a
// yes, calls again with the same arguments plus the token.
//
// elicit mode: a 2026-07-28 client gets an input_required result, asks the
// user and retries with the answer and the requestState; a handshake-era
// client is sent elicitation/create during the call, and the call goes on
// with the answer.
//
// How the token is made and checked is in token.go; what the caller and the
// agent are told is in phrases.go.

// elicitID keys the one question asked in elicit mode.
const elicitID = "confirm"

type confirmer struct {
	mode    string
	ttl     time.Duration
	keyRef  string
	secrets Secrets
	local   []byte
	now     func() time.Time
	once    Claimer
	log     *slog.Logger
}

func newConfirmer(cfg configs.Confirmation, deps Deps) (*confirmer, error) {
	c := &confirmer{mode: cfg.Mode, ttl: cfg.TTL, keyRef: cfg.Key, secrets: deps.Secrets, now: deps.Now, log: deps.Logger}
	if c.mode == "" {
		c.mode = configs.DefaultConfirmMode
	}
	if c.ttl <= 0 {
		c.ttl = configs.DefaultConfirmTTL
	}
	if c.now == nil {
		c.now = time.Now
	}
	c.once = deps.Once
	if c.once == nil {
		c.once = state.NewMemory(state.Config{Now: c.now})
	}
	switch c.mode {
	case "token", "elicit", "auto":
	default:
		return nil, fmt.Errorf("policy.confirmation.mode %q: want token, elicit or auto", c.mode)
	}
	if c.keyRef != "" && c.secrets == nil {
		return nil, fmt.Errorf("policy.confirmation.key is set but no secret store was given")
	}
	c.local = deps.SigningKey
	if c.local == nil {
		c.local = make([]byte, 32)
		if _, err := rand.Read(c.local); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// middleware holds tools that need confirmation until the user agrees. It is
// the innermost middleware, so next is the tool's own handler.
func (c *confirmer) middleware(t *integrations.Tool, next integrations.Handler) integrations.Handler {
	if !t.NeedsConfirmation {
		return next
	}
	return integrations.HandlerFunc(func(ctx context.Context, call *integrations.Call) (*mcp.CallToolResult, error) {
		return c.call(ctx, t, next, call)
	})
}

func (c *confirmer) call(ctx context.Context, t *integrations.Tool, next integrations.Handler, call *integrations.Call) (*mcp.CallToolResult, error) {
	digest, err := argsDigest(call.Args)
	if err != nil {
		return nil, integrations.InvalidArgs(t.Name(), []string{err.Error()})
	}
	k := pending{tool: t, next: next, call: call,
		b: binding{tool: t.Name(), args: digest, client: call.Caller.ClientID, session: call.Session, callID: call.CallID()}}
	if k.mac, k.idem, err = c.keys(ctx); err != nil {
		return nil, c.unavailable(t, call, err)
	}

	var tk ticket
	var why rejection
	var answer *mcp.ElicitationResult
	p := call.Presented
	switch {
	case strings.HasPrefix(p.RequestState, continuedPrefix):
		// Before the token: a 2026-07-28 client's retry repeats the
		// arguments, confirmation_token (already spent) included.
		return c.continued(ctx, k)
	case p.TokenSent && c.mode != "elicit":
		tk, why = c.verify(k.mac, purposeToken, p.Token, k.b)
	case p.RequestState != "" && c.mode != "token":
		tk, why = c.verify(k.mac, purposeState, p.RequestState, k.b)
		if answer = server.ElicitationResponse(p.Responses, elicitID); answer == nil && why == "" {
			why = rejectInvalid
		}
	default:
		return c.ask(ctx, k, "")
	}
	if why == "" {
		if why, err = c.consume(ctx, tk); err != nil {
			return nil, c.unavailable(t, call, err)
		}
	}
	if why != "" {
		return c.ask(ctx, k, why)
	}
	return c.answered(ctx, k, answer, tk)
}

// pending is one call under confirmation: what it is bound to and the
// keys it is signed with.
type pending struct {
	tool      *integrations.Tool
	next      integrations.Handler
	call      *integrations.Call
	b         binding
	mac, idem []byte
}

// answered runs the call if the caller said yes (answer nil: a token, or a
// continuation, said it), and says it was not done otherwise.
func (c *confirmer) answered(ctx context.Context, k pending, answer *mcp.ElicitationResult, tk ticket) (*mcp.CallToolResult, error) {
	t, call := k.tool, k.call
	if answer != nil && !accepted(answer) {
		call.Decide(string(DecisionDeclined), "")
		msg := phrasesFor(c.message(t, call)).declined(t.Name())
		return mcp.NewToolResultStructured(map[string]any{"status": "declined", "message": msg}, msg), nil
	}
	call.Decide(string(DecisionConfirmed), "")
	call.IdempotencyKey = idempotencyKey(k.idem, tk)
	res, err := k.next.Call(ctx, call)
	if err == nil && res != nil && res.NeedsInput() {
		// The confirmed tool has a question of its own (an upstream's
		// elicitation, for a 2026-07-28 client): the retry that answers it
		// continues this confirmed call instead of asking to confirm again.
		// It keeps the confirmation's nonce (so the Idempotency-Key) with
		// a fresh expiry: the person has a full TTL for this question too.
		cont := tk
		cont.exp = c.now().Add(c.ttl).UnixMilli()
		res.RequestState = continuedPrefix + c.sign(k.mac, purposeContinued, k.b.continuing(res.RequestState), cont) + "." + res.RequestState
	}
	return res, err
}

// continuedPrefix marks a requestState that continues a confirmed call: a
// continuation signed over the confirmation's binding and the inner state
// (the integration's own, passed on to it), accepted once.
const continuedPrefix = "c."

func (c *confirmer) continued(ctx context.Context, k pending) (*mcp.CallToolResult, error) {
	head, inner, _ := strings.Cut(strings.TrimPrefix(k.call.Presented.RequestState, continuedPrefix), ".")
	tk, why := c.verify(k.mac, purposeContinued, head, k.b.continuing(inner))
	if why == "" {
		var err error
		if why, err = c.consume(ctx, continuationTicket(tk, inner)); err != nil {
			return nil, c.unavailable(k.tool, k.call, err)
		}
	}
	if why != "" {
		return c.ask(ctx, k, why)
	}
	k.call.Presented.RequestState = inner
	return c.answered(ctx, k, nil, tk)
}

// unavailable: the confirmation could not be checked (its key or the
// single-use store could not be read), so the call fails closed, in the
// language of the confirm message.
func (c *confirmer) unavailable(t *integrations.Tool, call *integrations.Call, err error) error {
	return integrations.Errorf(integrations.KindUnavailable, err, phrasesFor(c.message(t, call)).unavailable, t.Name())
}

// ask returns a fresh confirmation request: a question to elicit, or a
// token for the agent to bring back. why says why a presented one was
// refused, if one was. The arguments are checked first, so a caller is
// never asked to confirm a call that would be refused.
func (c *confirmer) ask(ctx context.Context, k pending, why rejection) (*mcp.CallToolResult, error) {
	t, call := k.tool, k.call
	if v, ok := k.next.(integrations.ArgsValidator); ok {
		if err := v.ValidateArgs(call); err != nil {
			return nil, err
		}
	}
	msg := c.message(t, call)
	ph := phrasesFor(msg)
	if c.mode == "elicit" && !call.CanElicit {
		call.Decide(string(DecisionDenied), "no_elicitation")
		return nil, integrations.Errorf(integrations.KindUnavailable, nil, ph.unsupported, t.Name())
	}
	call.Decide(string(DecisionConfirmationRequired), string(why))
	if c.mode == "elicit" || (c.mode == "auto" && call.CanElicit) {
		q := mcp.ElicitationParams{
			Mode:    mcp.ElicitationModeForm,
			Message: msg,
			RequestedSchema: map[string]any{
				"type": "object",
				"properties": map[string]any{
					"confirm": map[string]any{"type": "boolean", "title": ph.title, "description": ph.yes},
				},
				"required": []string{"confirm"},
			},
		}
		if call.Elicit != nil && !call.MultiRoundTrip {
			return c.askNow(ctx, k, q, ph)
		}
		return server.NewInputRequestBuilder(c.sign(k.mac, purposeState, k.b, c.newTicket())).
			Elicit(elicitID, q).ToolResult(), nil
	}
	token := c.sign(k.mac, purposeToken, k.b, c.newTicket())
	secs := max(int(c.ttl/time.Second), 1)
	text := ph.ask(t.Name(), msg, token, secs)
	if why != "" {
		text = ph.rejected(why) + "\n" + text
	}
	return mcp.NewToolResultStructured(map[string]any{
		"status":             "confirmation_required",
		"message":            msg,
		"confirmation_token": token,
		"expires_in_seconds": secs,
	}, text), nil
}

// askNow puts the question to a handshake-era client during the call
// (elicitation/create) and acts on the answer, so the call's one audit line
// says how it ended, also when no answer came (the client failed, or the
// call was cancelled while the question was open). The question never
// leaves this call, so there is nothing to replay and no single-use record.
func (c *confirmer) askNow(ctx context.Context, k pending, q mcp.ElicitationParams, ph phrases) (*mcp.CallToolResult, error) {
	// The question is open for the confirmation's TTL, as a token is.
	qctx, cancel := context.WithTimeout(ctx, c.ttl)
	defer cancel()
	answer, err := k.call.Elicit(qctx, q)
	if err == nil && answer == nil {
		err = errors.New("the client sent no answer")
	}
	if err != nil {
		k.call.Decide(string(DecisionDeclined), reasonUnanswered)
		if ctx.Err() != nil {
			return nil, integrations.Cancelled(k.tool.Integration, err)
		}
		return nil, integrations.Errorf(integrations.KindUnavailable, err, ph.unanswered, k.tool.Name())
	}
	return c.answered(ctx, k, answer, c.newTicket())
}

// reasonUnanswered: the question was put and no answer came back.
const reasonUnanswered = "unanswered"

func accepted(a *mcp.ElicitationResult) bool {
	if a.Action != mcp.ElicitationResponseActionAccept {
		return false
	}
	content, _ := a.Content.(map[string]any)
	yes, _ := content["confirm"].(bool)
	return yes
}

// withTokenParam declares the optional confirmation_token in a tool's input
// schema.
func withTokenParam(def mcp.Tool) mcp.Tool {
	prop := map[string]any{
		"type": "string",
		"description": "Leave out on the first call. Only after the caller has said yes: the confirmation_token " +
			"returned by the first call, with the same arguments.",
	}
	if def.RawInputSchema != nil {
		var s map[string]any
		if err := json.Unmarshal(def.RawInputSchema, &s); err == nil {
			props, _ := s["properties"].(map[string]any)
			if props == nil {
				props = map[string]any{}
			}
			props[integrations.TokenParam] = prop
			s["properties"] = props
			if raw, err := json.Marshal(s); err == nil {
				def.RawInputSchema = raw
			}
		}
		return def
	}
	props := make(map[string]any, len(def.InputSchema.Properties)+1)
	for k, v := range def.InputSchema.Properties {
		props[k] = v
	}
	props[integrations.TokenParam] = prop
	def.InputSchema.Properties = props
	if def.InputSchema.PropertyOrder != nil {
		def.InputSchema.PropertyOrder = append(append([]string(nil), def.InputSchema.PropertyOrder...), integrations.TokenParam)
	}
	return def
}
