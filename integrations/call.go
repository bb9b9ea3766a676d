package integrations

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/mark3labs/mcp-go/mcp"
)

// TokenParam is the argument that carries a confirmation token.
const TokenParam = "confirmation_token"

// Call is one tool call. The edge (the MCP handler, or `switchboard call`)
// decodes the request once into a Call; policy and the integration read it
// and never go back to the transport.
type Call struct {
	// Tool is the exposed tool name.
	Tool string
	// Args are the model's arguments, never nil. Numbers are json.Number,
	// exactly as sent: an ID above 2^53 keeps every digit.
	Args map[string]any
	// ArgsErr says why the arguments could not be decoded (not a JSON
	// object, say); policy refuses such a call before anything runs.
	ArgsErr error
	Caller  Caller
	// Session is the MCP session of a handshake-era connection; "" for a
	// 2026-07-28 request (stateless) and for the command line.
	Session string
	// CanElicit: the client declared form elicitation, so a question can be
	// put to the person on the line.
	CanElicit bool
	// MultiRoundTrip: the client speaks 2026-07-28, where a question is an
	// input_required result and the answer comes in the client's retry
	// (Presented.RequestState and Responses), not during the call.
	MultiRoundTrip bool
	// Presented is what the client brought back of an earlier confirmation.
	Presented Presented
	// ProgressToken is the client's, nil when it asked for no progress.
	ProgressToken mcp.ProgressToken
	// Notify sends a notification to the calling client; nil when there is
	// no client to tell (the command line).
	Notify func(method string, params map[string]any)
	// Elicit puts a question to the person on the line through the calling
	// client (an upstream MCP server's elicitation, forwarded); nil when the
	// client cannot be asked during a call.
	Elicit func(ctx context.Context, p mcp.ElicitationParams) (*mcp.ElicitationResult, error)
	// IdempotencyKey is set by policy on a confirmed call; integrations send
	// it upstream so that a replay cannot act twice.
	IdempotencyKey string
	// TraceParent and TraceState are the W3C trace context the client sent
	// (_meta.traceparent, else the traceparent header); "" when none.
	TraceParent, TraceState string
	// Decision and Reason are what policy decided, for the audit line and
	// the metrics.
	Decision string
	Reason   string

	// Context is the call context: what the voice platform (never the
	// model) says about the phone call, from the headers named in
	// server.call_headers and the request's _meta["io.switchboard/call"].
	// Names match [a-z0-9_]+; nil when the request carried none. Its values
	// are personal data: they reach an upstream only through a param's
	// value_from, and never the audit log.
	Context map[string]string
	// Shared: the call's result came from one upstream request shared with
	// identical calls in flight (coalescing); for the audit line.
	Shared bool
	// Elicited is what became of a question the integration itself put to
	// the person on the line (an upstream MCP server's elicitation), for the
	// audit line: "" (none), asked (sent in an input_required result, the
	// answer comes in the retry), accept, decline, cancel, unanswered (the
	// client failed or went away) or refused (the client cannot be asked).
	Elicited string
}

// CallID is the call context's call_id, "" when there is none.
func (c *Call) CallID() string { return c.Context["call_id"] }

// Presented is what a client brought back of an earlier round: a
// confirmation token, or the requestState and answers of an input_required
// result (policy's confirmation, or an upstream's question).
type Presented struct {
	// Token is the confirmation_token argument.
	Token string
	// TokenSent: a confirmation_token other than null or "" was sent (it
	// may still not be a string, and is then refused as invalid).
	TokenSent    bool
	RequestState string
	Responses    mcp.InputResponses
}

// NewCall decodes an MCP tools/call request for tool t. For a tool that
// needs confirmation the confirmation_token argument is taken out of the
// arguments (its own schema does not know it); for any other tool it stays,
// and the schema refuses it like any unknown argument.
func NewCall(t *Tool, p mcp.CallToolParams) *Call {
	c := &Call{Tool: t.Name()}
	c.Args, c.ArgsErr = DecodeArgs(p.RawArguments, p.Arguments)
	if c.Args == nil {
		c.Args = map[string]any{}
	}
	if t.NeedsConfirmation {
		c.Presented = takeToken(c.Args)
	}
	c.Presented.RequestState = p.RequestState
	c.Presented.Responses = p.InputResponses
	if p.Meta != nil {
		c.ProgressToken = p.Meta.ProgressToken
	}
	return c
}

func takeToken(args map[string]any) Presented {
	v, ok := args[TokenParam]
	if !ok {
		return Presented{}
	}
	delete(args, TokenParam)
	s, isString := v.(string)
	if v == nil || (isString && strings.TrimSpace(s) == "") {
		return Presented{} // how many models say "no token"
	}
	return Presented{Token: strings.TrimSpace(s), TokenSent: true}
}

// DecodeArgs decodes tool arguments keeping every number exact: from raw
// JSON when the transport kept it, else from an already decoded value (an
// in-process caller), whose numbers are turned into json.Number too.
func DecodeArgs(raw json.RawMessage, decoded any) (map[string]any, error) {
	if len(raw) > 0 {
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		var v any
		if err := dec.Decode(&v); err != nil {
			return nil, fmt.Errorf("arguments are not valid JSON: %w", err)
		}
		if dec.More() {
			return nil, errors.New("arguments: trailing data after the JSON object")
		}
		return asObject(v)
	}
	if decoded == nil {
		return map[string]any{}, nil
	}
	if m, ok := decoded.(map[string]any); ok {
		return exact(m).(map[string]any), nil
	}
	b, err := json.Marshal(decoded)
	if err != nil {
		return nil, fmt.Errorf("arguments: %w", err)
	}
	return DecodeArgs(b, nil)
}

func asObject(v any) (map[string]any, error) {
	switch m := v.(type) {
	case nil:
		return map[string]any{}, nil
	case map[string]any:
		return m, nil
	}
	return nil, errors.New("arguments must be a JSON object")
}

// exact copies a decoded value with every Go number as a json.Number.
func exact(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = exact(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = exact(e)
		}
		return out
	case float64:
		return json.Number(strconv.FormatFloat(x, 'g', -1, 64))
	case float32:
		return json.Number(strconv.FormatFloat(float64(x), 'g', -1, 32))
	case int:
		return json.Number(strconv.Itoa(x))
	case int64:
		return json.Number(strconv.FormatInt(x, 10))
	case int32:
		return json.Number(strconv.FormatInt(int64(x), 10))
	case uint64:
		return json.Number(strconv.FormatUint(x, 10))
	}
	return v
}

// Progress sends notifications/progress to the calling client, when it
// asked for progress and there is a client to tell.
func (c *Call) Progress(params map[string]any) {
	if c.ProgressToken == nil || c.Notify == nil {
		return
	}
	out := make(map[string]any, len(params)+1)
	for k, v := range params {
		out[k] = v
	}
	out["progressToken"] = c.ProgressToken
	c.Notify(string(mcp.MethodNotificationProgress), out)
}

// Decide records policy's decision for the audit line and metrics.
func (c *Call) Decide(decision, reason string) { c.Decision, c.Reason = decision, reason }
