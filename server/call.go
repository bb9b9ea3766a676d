package server

import (
	"context"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	mcpserver "github.com/mark3labs/mcp-go/server"

	"github.com/switchboard-dev/switchboard/integrations"
)

// newCall decodes one tools/call request into the Call that policy and the
// integration read: the arguments (once, exact numbers), who is calling,
// the session, whether the client can be asked a question, and how to send
// it notifications. Nothing below this reads the transport again.
func (m *MCP) newCall(ctx context.Context, t *integrations.Tool, req mcp.CallToolRequest) *integrations.Call {
	c := NewCall(ctx, t, req)
	srv := m.MCPServer
	c.Notify = func(method string, params map[string]any) {
		if srv.SendNotificationToClient(ctx, method, params) == nil {
			settle(ctx)
		}
	}
	if c.CanElicit && c.Session != "" {
		// A handshake-era session can be sent elicitation/create during the
		// call (an upstream MCP server's question, forwarded).
		// The call's own context carries the session to ask.
		// Ending with either: the asker's (its timeout) or the call's.
		c.Elicit = func(actx context.Context, p mcp.ElicitationParams) (*mcp.ElicitationResult, error) {
			rctx, cancel := context.WithCancel(ctx)
			defer cancel()
			defer context.AfterFunc(actx, cancel)()
			return srv.RequestElicitation(rctx, mcp.ElicitationRequest{Params: p})
		}
	}
	return c
}

// NewCall is newCall without a way to notify the client: what a request
// and its context say about the call (exported for policy's tests, which
// build calls exactly as the edge does).
func NewCall(ctx context.Context, t *integrations.Tool, req mcp.CallToolRequest) *integrations.Call {
	c := integrations.NewCall(t, req.Params)
	c.Caller = callerFrom(ctx)
	c.Session, c.CanElicit, c.MultiRoundTrip = session(ctx)
	c.Context = callContext(ctx, req.Params.Meta)
	c.TraceParent, c.TraceState = traceContext(req)
	return c
}

// traceContext is the W3C trace context of a request: _meta.traceparent
// (and tracestate) on any transport, else the HTTP headers.
func traceContext(req mcp.CallToolRequest) (parent, state string) {
	if m := req.Params.Meta; m != nil {
		if p, ok := m.AdditionalFields["traceparent"].(string); ok && p != "" {
			s, _ := m.AdditionalFields["tracestate"].(string)
			return p, s
		}
	}
	if req.Header != nil {
		return req.Header.Get("traceparent"), req.Header.Get("tracestate")
	}
	return "", ""
}

// session returns the MCP session id of a handshake-era call (a 2026-07-28
// request is stateless and has none), whether the client declared form
// elicitation (in the request's _meta for 2026-07-28, at initialize for the
// handshake era) and whether it is a 2026-07-28 request.
func session(ctx context.Context) (id string, canElicit, modern bool) {
	if info := mcpserver.RequestProtocolInfoFromContext(ctx); info != nil && info.Modern {
		return "", info.ClientCapabilities != nil && formElicitation(info.ClientCapabilities.Elicitation), true
	}
	s := mcpserver.ClientSessionFromContext(ctx)
	if s == nil {
		return "", false, false
	}
	id = s.SessionID()
	if _, ok := s.(mcpserver.SessionWithElicitation); !ok {
		return id, false, false
	}
	ci, ok := s.(mcpserver.SessionWithClientInfo)
	return id, ok && formElicitation(ci.GetClientCapabilities().Elicitation), false
}

// formElicitation: an empty elicitation capability means form mode.
func formElicitation(e *mcp.ElicitationCapability) bool {
	return e != nil && (e.Form != nil || e.URL == nil)
}

type callerKey struct{}

// WithCaller attaches the authenticated client to a request's context; the
// edge copies it into the Call.
func WithCaller(ctx context.Context, c integrations.Caller) context.Context {
	return context.WithValue(ctx, callerKey{}, c)
}

func callerFrom(ctx context.Context) integrations.Caller {
	c, _ := ctx.Value(callerKey{}).(integrations.Caller)
	return c
}

// settle waits, briefly, until the transport has taken the notifications
// queued for the session off its queue, and a moment more for it to write
// them. mcp-go's streamable HTTP handler drops a notification it takes off
// the queue after it began writing the response, so the last progress of an
// upstream call, forwarded just before the call returns, was sometimes lost
// (issue 14, 4). Notify runs on the goroutine that forwards the upstream's
// messages, so the upstream's result waits too.
func settle(ctx context.Context) {
	s := mcpserver.ClientSessionFromContext(ctx)
	if s == nil {
		return
	}
	ch := s.NotificationChannel()
	for deadline := time.Now().Add(50 * time.Millisecond); len(ch) > 0 && time.Now().Before(deadline); {
		time.Sleep(50 * time.Microsecond)
	}
	time.Sleep(settleWrite)
}

// settleWrite is how long settle leaves the transport to write what it took.
const settleWrite = 500 * time.Microsecond
