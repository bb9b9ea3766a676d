// Package integrations defines the one tool interface that every kind of
// integration (declarative REST APIs in httpapi, upstream MCP servers in
// mcpupstream) implements, and that policy middleware wraps. A call flows
// server → policy → Handler → upstream, and this package is the seam.
package integrations

import (
	"context"
	"text/template"

	"github.com/mark3labs/mcp-go/mcp"
)

// Handler runs one tool call. Arguments arrive as the client sent them; the
// handler validates them before anything leaves the process. A failure is
// returned as an error (ideally an *Error with a sentence the model may see);
// the edge turns it into an isError result.
type Handler interface {
	Call(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error)
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error)

// Call runs f.
func (f HandlerFunc) Call(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
	return f(ctx, req)
}

// Middleware wraps a tool's handler; it sees the tool it wraps.
type Middleware func(t *Tool, next Handler) Handler

// Tool is one tool as exposed to MCP clients.
type Tool struct {
	// Definition is what tools/list shows (name is <integration>_<tool>).
	Definition mcp.Tool
	// Integration names the integration the tool belongs to.
	Integration string
	// ReadOnly tools never change anything upstream.
	ReadOnly bool
	// Confirm, when set, makes the tool need the user's confirmation; it
	// renders the sentence read to the caller from the arguments.
	Confirm *template.Template
	// ConfirmRequired makes the tool need confirmation with a generic
	// message (an upstream MCP tool under a confirm glob).
	ConfirmRequired bool
	// Sensitive lists argument names whose values never reach a log.
	Sensitive []string
	Handler   Handler
}

// Name is the exposed tool name.
func (t *Tool) Name() string { return t.Definition.Name }

// Wrap applies middleware so that the first one listed runs first.
func Wrap(t *Tool, mws ...Middleware) Handler {
	h := t.Handler
	for i := len(mws) - 1; i >= 0; i-- {
		h = mws[i](t, h)
	}
	return h
}

type idempotencyKey struct{}

// WithIdempotencyKey marks ctx as a confirmed call; integrations send key
// upstream (HTTP: the Idempotency-Key header) so a replay cannot act twice.
func WithIdempotencyKey(ctx context.Context, key string) context.Context {
	return context.WithValue(ctx, idempotencyKey{}, key)
}

// IdempotencyKey returns the key set by WithIdempotencyKey, or "".
func IdempotencyKey(ctx context.Context) string {
	k, _ := ctx.Value(idempotencyKey{}).(string)
	return k
}
