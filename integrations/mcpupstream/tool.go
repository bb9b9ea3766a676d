package mcpupstream

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"

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
	it.Handler = integrations.HandlerFunc(func(ctx context.Context, c *integrations.Call) (*mcp.CallToolResult, error) {
		return u.call(ctx, upstreamName, c)
	})
	return it
}

// call forwards one call with the integration's timeout. The arguments go
// out exactly as the client sent them (json.Number keeps every digit). A
// credential that cannot be read stops the call before anything is sent. A
// transport failure marks the connection lost, so the supervisor reconnects.
func (u *Upstream) call(ctx context.Context, name string, c *integrations.Call) (*mcp.CallToolResult, error) {
	mc := u.current()
	if mc == nil {
		return nil, integrations.Reconnecting(u.cfg.Name, u.lastError())
	}
	parent := ctx
	ctx, cancel := context.WithTimeout(ctx, u.cfg.Timeout)
	defer cancel()
	var out mcp.CallToolRequest
	out.Params.Name = name
	out.Params.Arguments = c.Args
	out.Params.Meta = &mcp.Meta{}
	if c.IdempotencyKey != "" {
		out.Params.Meta.AdditionalFields = map[string]any{"idempotencyKey": c.IdempotencyKey}
	}
	if c.ProgressToken != nil {
		token := u.progressToken()
		out.Params.Meta.ProgressToken = token
		u.progress.Store(token, c)
		defer u.progress.Delete(token)
	}
	res, err := mc.CallTool(ctx, out)
	if err != nil {
		var cred *credentialError
		switch {
		case errors.As(err, &cred):
			return nil, integrations.SecretError(u.cfg.Name, cred.err)
		case parent.Err() != nil:
			return nil, integrations.Cancelled(u.cfg.Name, err)
		case errors.Is(ctx.Err(), context.DeadlineExceeded):
			return nil, integrations.Timeout(u.cfg.Name, u.cfg.Timeout, err)
		case errors.Is(err, transport.ErrAuthorizationRequired) || errors.Is(err, transport.ErrUnauthorized):
			return nil, integrations.CredentialsRefused(u.cfg.Name, err)
		case isProtocolError(err):
			return nil, integrations.Refused(u.cfg.Name, err.Error(), err)
		}
		u.markLost()
		return nil, integrations.Unreachable(u.cfg.Name, err)
	}
	return u.scrub(res), nil
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
