package policy

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"log/slog"
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
// elicit mode: the first call returns an input_required result (mcp-go turns
// it into elicitation/create for a client of the handshake era); the client
// asks the user and retries with the answer and the requestState.
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
	b := binding{tool: t.Name(), args: digest, client: call.Caller.ClientID, session: call.Session, callID: call.CallID()}
	macKey, idemKey, err := c.keys(ctx)
	if err != nil {
		return nil, c.unavailable(t, call, err)
	}

	var tk ticket
	var why rejection
	var answer *mcp.ElicitationResult
	p := call.Presented
	switch {
	case p.TokenSent && c.mode != "elicit":
		tk, why = c.verify(macKey, purposeToken, p.Token, b)
	case p.RequestState != "" && c.mode != "token":
		tk, why = c.verify(macKey, purposeState, p.RequestState, b)
		if answer = server.ElicitationResponse(p.Responses, elicitID); answer == nil && why == "" {
			why = rejectInvalid
		}
	default:
		return c.ask(call, t, next, b, macKey, "")
	}
	if why == "" {
		if why, err = c.consume(ctx, tk); err != nil {
			return nil, c.unavailable(t, call, err)
		}
	}
	if why != "" {
		return c.ask(call, t, next, b, macKey, why)
	}
	if answer != nil && !accepted(answer) {
		call.Decide(string(DecisionDeclined), "")
		msg := phrasesFor(c.message(t, call)).declined(t.Name())
		return mcp.NewToolResultStructured(map[string]any{"status": "declined", "message": msg}, msg), nil
	}
	call.Decide(string(DecisionConfirmed), "")
	call.IdempotencyKey = idempotencyKey(idemKey, tk)
	return next.Call(ctx, call)
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
func (c *confirmer) ask(call *integrations.Call, t *integrations.Tool, next integrations.Handler, b binding, key []byte, why rejection) (*mcp.CallToolResult, error) {
	if v, ok := next.(integrations.ArgsValidator); ok {
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
		return server.NewInputRequestBuilder(c.sign(key, purposeState, b)).
			Elicit(elicitID, mcp.ElicitationParams{
				Mode:    mcp.ElicitationModeForm,
				Message: msg,
				RequestedSchema: map[string]any{
					"type": "object",
					"properties": map[string]any{
						"confirm": map[string]any{"type": "boolean", "title": ph.title, "description": ph.yes},
					},
					"required": []string{"confirm"},
				},
			}).ToolResult(), nil
	}
	token := c.sign(key, purposeToken, b)
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
