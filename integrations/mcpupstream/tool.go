package mcpupstream

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"
	mcpserver "github.com/mark3labs/mcp-go/server"

	"github.com/switchboard-dev/switchboard/integrations"
)

// tool wraps one upstream tool as an integrations.Tool exposed under
// <integration>_<name>. The upstream's schema, description and annotations
// pass through; annotations can only be made stricter here (a tool under a
// confirm glob is destructive), never looser.
func (u *Upstream) tool(t mcp.Tool) *integrations.Tool {
	def := t
	def.Name = u.cfg.Name + "_" + t.Name
	def.Meta = nil
	def.Execution = nil // tasks are not forwarded
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
	upstreamName := t.Name
	it.Handler = integrations.HandlerFunc(func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		return u.call(ctx, upstreamName, req)
	})
	return it
}

// call forwards one call with the integration's timeout. A transport failure
// marks the connection lost, so the supervisor reconnects.
func (u *Upstream) call(ctx context.Context, name string, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
	c := u.current()
	if c == nil {
		return nil, integrations.Errorf(integrations.KindUnavailable, u.lastError(),
			"%s is unavailable right now (switchboard is reconnecting); try again shortly or offer to follow up later.", u.cfg.Name)
	}
	parent := ctx
	ctx, cancel := context.WithTimeout(ctx, u.cfg.Timeout)
	defer cancel()
	var out mcp.CallToolRequest
	out.Params.Name = name
	out.Params.Arguments = req.GetArguments()
	out.Params.Meta = &mcp.Meta{}
	if key := integrations.IdempotencyKey(ctx); key != "" {
		out.Params.Meta.AdditionalFields = map[string]any{"idempotencyKey": key}
	}
	if m := req.Params.Meta; m != nil && m.ProgressToken != nil {
		token := u.progressToken()
		out.Params.Meta.ProgressToken = token
		u.progress.Store(token, progressTo(ctx, m.ProgressToken))
		defer u.progress.Delete(token)
	}
	res, err := c.CallTool(ctx, out)
	if err != nil {
		if callerErr := parent.Err(); callerErr != nil {
			return nil, integrations.Errorf(integrations.KindUnavailable, err, "The call to %s was cancelled.", u.cfg.Name)
		}
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return nil, integrations.Errorf(integrations.KindUnavailable, err,
				"%s did not answer within %s; try once more or offer to follow up later.", u.cfg.Name, u.cfg.Timeout)
		}
		if errors.Is(err, transport.ErrAuthorizationRequired) || errors.Is(err, transport.ErrUnauthorized) {
			return nil, &integrations.Error{Kind: integrations.KindUpstream, Status: 401, Err: err,
				Public: fmt.Sprintf("%s refused switchboard's credentials; this needs the operator, retrying will not help.", u.cfg.Name)}
		}
		if isProtocolError(err) {
			return nil, integrations.Errorf(integrations.KindUpstream, err, "%s refused the call: %s", u.cfg.Name, clip(err.Error(), 200))
		}
		u.markLost()
		return nil, integrations.Errorf(integrations.KindUnavailable, err,
			"%s cannot be reached right now; try again shortly or offer to follow up later.", u.cfg.Name)
	}
	return u.scrub(res), nil
}

// progressToken is a fresh token for one forwarded call, so that progress of
// concurrent calls from different clients never crosses.
func (u *Upstream) progressToken() string {
	return fmt.Sprintf("switchboard-%d", u.nextProgress.Add(1))
}

// progressTo forwards an upstream's progress to the client that asked for
// it, under the client's own token.
func progressTo(ctx context.Context, clientToken mcp.ProgressToken) func(map[string]any) {
	return func(params map[string]any) {
		srv := mcpserver.ServerFromContext(ctx)
		if srv == nil {
			return
		}
		out := make(map[string]any, len(params))
		for k, v := range params {
			out[k] = v
		}
		out["progressToken"] = clientToken
		_ = srv.SendNotificationToClient(ctx, string(mcp.MethodNotificationProgress), out)
	}
}

func (u *Upstream) forwardProgress(params map[string]any) {
	if f, ok := u.progress.Load(fmt.Sprint(params["progressToken"])); ok {
		f.(func(map[string]any))(params)
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

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
