package mcpupstream

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"
	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/switchboard-dev/switchboard/configs"
	"github.com/switchboard-dev/switchboard/integrations"
)

// tool wraps one upstream tool as an integrations.Tool exposed under
// <integration>_<name>. The upstream's schema (byte for byte, as it sent it),
// description and annotations pass through; annotations can only be made
// stricter here (a tool under a confirm glob is destructive), never looser.
func (u *Upstream) tool(t mcp.Tool, rawSchema json.RawMessage) *integrations.Tool {
	def := t
	def.Name = u.cfg.Name + "_" + t.Name
	def.Meta = nil
	def.Execution = nil // tasks are not forwarded (tools that require them are left out)
	if len(rawSchema) > 0 {
		def.InputSchema = mcp.ToolInputSchema{}
		def.RawInputSchema = rawSchema
	}
	readOnly := t.Annotations.ReadOnlyHint != nil && *t.Annotations.ReadOnlyHint
	it := &integrations.Tool{
		Definition:  def,
		Integration: u.cfg.Name,
		ReadOnly:    readOnly,
	}
	if f := u.cfg.Tools.Filter; f != nil && matchAny(f.Confirm, t.Name) {
		it.ConfirmRequired = true
		it.ReadOnly = false
		it.Definition.Annotations.ReadOnlyHint = mcp.ToBoolPtr(false)
		it.Definition.Annotations.DestructiveHint = mcp.ToBoolPtr(true)
	}
	h := &handler{u: u, name: t.Name, exposed: def.Name}
	if len(rawSchema) > 0 {
		h.schema = u.compileSchema(t.Name, rawSchema)
	}
	it.Handler = h
	return it
}

// handler forwards calls of one upstream tool. It validates arguments
// against the upstream's own input schema first (also for policy, before a
// caller is asked to confirm), when that schema compiles.
type handler struct {
	u       *Upstream
	name    string // the upstream's
	exposed string
	schema  *jsonschema.Schema // nil: no pre-validation
}

func (h *handler) Call(ctx context.Context, c *integrations.Call) (*mcp.CallToolResult, error) {
	if err := h.ValidateArgs(c); err != nil {
		return nil, err
	}
	return h.u.call(ctx, h, c)
}

// ValidateArgs checks the call's arguments against the upstream's input
// schema and sends nothing.
func (h *handler) ValidateArgs(c *integrations.Call) error {
	if h.schema == nil {
		return nil
	}
	err := h.schema.Validate(jsonValue(c.Args))
	var ve *jsonschema.ValidationError
	if err == nil || !errors.As(err, &ve) {
		return nil
	}
	var problems []string
	var walk func(o jsonschema.OutputUnit)
	walk = func(o jsonschema.OutputUnit) {
		if o.Error != nil && len(o.Errors) == 0 {
			where := strings.TrimPrefix(strings.ReplaceAll(o.InstanceLocation, "/", "."), ".")
			if where == "" {
				problems = append(problems, o.Error.String())
			} else {
				problems = append(problems, where+": "+o.Error.String())
			}
		}
		for _, e := range o.Errors {
			walk(e)
		}
	}
	walk(*ve.BasicOutput())
	if len(problems) == 0 {
		problems = []string{ve.Error()}
	}
	sort.Strings(problems)
	return integrations.InvalidArgs(h.exposed, dedupe(problems))
}

func dedupe(s []string) []string {
	out := s[:0]
	for i, v := range s {
		if i == 0 || v != s[i-1] {
			out = append(out, v)
		}
	}
	return out
}

// jsonValue is v as the schema validator reads JSON: json.Number numbers,
// maps and slices of any. Arguments decoded at the edge already are.
func jsonValue(v map[string]any) any {
	b, err := json.Marshal(v)
	if err != nil {
		return v
	}
	out, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		return v
	}
	return out
}

// compileSchema compiles an upstream tool's input schema once, at
// discovery. A schema that does not compile (or refers to documents
// elsewhere) means no pre-validation: the upstream still validates.
func (u *Upstream) compileSchema(name string, raw json.RawMessage) *jsonschema.Schema {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err == nil {
		c := jsonschema.NewCompiler()
		c.UseLoader(noLoader{})
		const loc = "mcp://upstream/input-schema.json"
		if err = c.AddResource(loc, doc); err == nil {
			var s *jsonschema.Schema
			if s, err = c.Compile(loc); err == nil {
				return s
			}
		}
	}
	u.log.Warn("upstream tool's input schema does not compile; its arguments are checked by the upstream only", "tool", name, "error", err)
	return nil
}

// noLoader refuses to fetch a referenced schema: validation never reaches
// out of the process.
type noLoader struct{}

func (noLoader) Load(url string) (any, error) {
	return nil, fmt.Errorf("schema %s is not loaded (no remote references)", url)
}

// call forwards one call with the integration's timeout. The arguments go
// out exactly as the client sent them (json.Number keeps every digit). A
// credential that cannot be read stops the call before anything is sent. A
// transport failure marks the connection lost, so the supervisor reconnects.
func (u *Upstream) call(ctx context.Context, h *handler, c *integrations.Call) (*mcp.CallToolResult, error) {
	switch {
	case strings.HasPrefix(c.Presented.RequestState, heldPrefix):
		return u.resume(ctx, h, c)
	case c.MultiRoundTrip && c.CanElicit:
		return u.hold(ctx, h, c)
	}
	return u.send(ctx, h, c, nil)
}

// send is one upstream call. hc is the held call it runs for, nil when the
// upstream's questions (if any) are put to the client during the call.
func (u *Upstream) send(ctx context.Context, h *handler, c *integrations.Call, hc *held) (*mcp.CallToolResult, error) {
	mc := u.current()
	if mc == nil {
		return nil, integrations.Reconnecting(u.cfg.Name, u.lastError())
	}
	parent := ctx
	ctx, cancel := context.WithTimeout(ctx, u.cfg.Timeout)
	defer cancel()
	// Requests the upstream sends while this call runs (an elicitation)
	// find the call through the request's context (HTTP) or, when only one
	// call is in flight, through the list of calls (stdio).
	in := &inflight{call: c, held: hc}
	ctx = context.WithValue(ctx, callKey{}, in)
	u.track(in, true)
	defer u.track(in, false)
	var out mcp.CallToolRequest
	out.Params.Name = h.name
	out.Params.Arguments = c.Args
	out.Params.Meta = &mcp.Meta{}
	// The upstream continues switchboard's trace (traceparent in _meta, as
	// the MCP trace-context convention has it) and sees the confirmation.
	if meta := integrations.TraceMeta(ctx); meta != nil || c.IdempotencyKey != "" {
		if meta == nil {
			meta = map[string]any{}
		}
		if c.IdempotencyKey != "" {
			meta["idempotencyKey"] = c.IdempotencyKey
		}
		out.Params.Meta.AdditionalFields = meta
	}
	if c.ProgressToken != nil {
		token := u.progressToken()
		out.Params.Meta.ProgressToken = token
		u.progress.Store(token, c)
		if hc != nil {
			hc.progressToken.Store(&token)
		}
		// mcp-go delivers notifications of one stream in order, before the
		// response; a handshake-era upstream may send the last one on its
		// standalone stream instead, racing the response: keep forwarding a
		// moment after the call ends.
		defer time.AfterFunc(progressGrace, func() { u.progress.Delete(token) })
	}
	res, err := mc.CallTool(ctx, out)
	if e := in.elicited(); e != "" {
		c.Elicited = e
	}
	if err != nil {
		var cred *credentialError
		switch {
		case errors.As(err, &cred):
			return nil, integrations.SecretError(u.cfg.Name, cred.err)
		case errors.Is(ctx.Err(), context.DeadlineExceeded):
			// Before cancellation: a held call's own context has the
			// same deadline.
			return nil, integrations.Timeout(u.cfg.Name, u.cfg.Timeout, err)
		case parent.Err() != nil:
			return nil, integrations.Cancelled(u.cfg.Name, err)
		case errors.Is(err, transport.ErrAuthorizationRequired) || errors.Is(err, transport.ErrUnauthorized):
			return nil, integrations.CredentialsRefused(u.cfg.Name, err)
		case errors.Is(err, errNoElicitation):
			return nil, integrations.NeedsCaller(h.exposed, err)
		case isProtocolError(err):
			return nil, integrations.Refused(h.exposed, h.rename(u.redact(err.Error())), err)
		}
		// Only a broken connection is reconnected; anything else (a multi
		// round-trip that could not be completed, an answer mcp-go could
		// not decode) fails this call alone.
		var terr *transport.Error
		if errors.As(err, &terr) {
			u.markLost()
		}
		return nil, integrations.Unreachable(u.cfg.Name, err)
	}
	res = u.scrub(res)
	if res.IsError {
		h.renameIn(res)
	}
	return integrations.CapResult(res, u.maxBytes()), nil
}

// progressGrace is how long progress of a finished call is still forwarded.
const progressGrace = 2 * time.Second

func (u *Upstream) maxBytes() int64 {
	if r := u.cfg.Response; r != nil && r.MaxBytes > 0 {
		return int64(r.MaxBytes)
	}
	return int64(configs.DefaultMaxBytes)
}

// rename replaces the upstream's own tool name in a text the model will
// read with the exposed name, the only one the model knows.
func (h *handler) rename(s string) string {
	re := regexp.MustCompile(`(^|[^A-Za-z0-9_-])` + regexp.QuoteMeta(h.name) + `($|[^A-Za-z0-9_-])`)
	for i := 0; i < 3 && re.MatchString(s); i++ { // adjacent matches share a separator
		s = re.ReplaceAllString(s, "${1}"+h.exposed+"${2}")
	}
	return s
}

// renameIn applies rename to the text of an error result.
func (h *handler) renameIn(res *mcp.CallToolResult) {
	for i, c := range res.Content {
		if tc, ok := c.(mcp.TextContent); ok {
			tc.Text = h.rename(tc.Text)
			res.Content[i] = tc
		}
	}
}

type callKey struct{}

// inflight is one upstream call in flight: the Call it is for, and, for a
// 2026-07-28 client, the held call its questions go through.
type inflight struct {
	call *integrations.Call
	held *held

	mu  sync.Mutex
	got string // what became of a question forwarded during the call
}

func (in *inflight) setElicited(s string) {
	in.mu.Lock()
	in.got = s
	in.mu.Unlock()
}

func (in *inflight) elicited() string {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.got
}

func (u *Upstream) track(in *inflight, on bool) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.calls == nil {
		u.calls = map[*integrations.Call]*inflight{}
	}
	if on {
		u.calls[in.call] = in
	} else {
		delete(u.calls, in.call)
	}
}

// callFor finds the call an upstream's request belongs to: the one whose
// context it came with, else the only call in flight.
func (u *Upstream) callFor(ctx context.Context) *inflight {
	if in, ok := ctx.Value(callKey{}).(*inflight); ok {
		return in
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if len(u.calls) != 1 {
		return nil
	}
	for _, in := range u.calls {
		return in
	}
	return nil
}

// progressToken is a fresh token for one forwarded call, so that progress of
// concurrent calls from different clients never crosses.
func (u *Upstream) progressToken() string {
	return fmt.Sprintf("switchboard-%d", u.nextProgress.Add(1))
}

// forwardProgress passes an upstream's progress to the client that asked
// for it, under the client's own token.
func (u *Upstream) forwardProgress(params map[string]any) {
	if c, ok := u.progress.Load(fmt.Sprint(params["progressToken"])); ok {
		c.(*integrations.Call).Progress(params)
	}
}

// isProtocolError tells an upstream's JSON-RPC error (it answered) from a
// broken connection (it did not).
func isProtocolError(err error) bool {
	for _, e := range []error{mcp.ErrInvalidParams, mcp.ErrMethodNotFound, mcp.ErrInvalidRequest, mcp.ErrInternalError, mcp.ErrResourceNotFound} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

func (u *Upstream) lastError() error {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.lastErr == nil {
		return errors.New("not connected")
	}
	return u.lastErr
}

func (u *Upstream) redact(s string) string {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.used.Redact(s)
}

// scrub removes any credential switchboard sent upstream, in any spelling,
// from what came back; structured content that holds one is dropped.
func (u *Upstream) scrub(res *mcp.CallToolResult) *mcp.CallToolResult {
	u.mu.Lock()
	defer u.mu.Unlock()
	for i, c := range res.Content {
		if tc, ok := c.(mcp.TextContent); ok {
			tc.Text = u.used.Redact(tc.Text)
			res.Content[i] = tc
		}
	}
	if res.StructuredContent != nil {
		if b, err := json.Marshal(res.StructuredContent); err != nil || u.used.Contains(string(b)) {
			res.StructuredContent = nil
		}
	}
	return res
}

var _ integrations.ArgsValidator = (*handler)(nil)
