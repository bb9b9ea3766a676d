// Package integrations is the seam between policy and the kinds of
// integration (declarative REST APIs in httpapi, upstream MCP servers in
// mcpupstream): the one Handler interface every tool implements, the Call
// value that carries one tool call from the edge to the upstream, the Registry
// that holds every exposed tool, and the sentences the model hears when a call
// fails. A call flows server → policy → Handler → upstream.
package integrations

import (
	"context"
	"text/template"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
)

// Handler runs one tool call. The Call was decoded once at the edge; a
// handler validates the arguments before anything leaves the process. A
// failure is returned as an error (ideally an *Error with a sentence the
// model may see); the edge turns it into an isError result.
type Handler interface {
	Call(ctx context.Context, c *Call) (*mcp.CallToolResult, error)
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc func(ctx context.Context, c *Call) (*mcp.CallToolResult, error)

// Call runs f.
func (f HandlerFunc) Call(ctx context.Context, c *Call) (*mcp.CallToolResult, error) {
	return f(ctx, c)
}

// ArgsValidator is implemented by handlers that can check arguments without
// acting, so that a caller is never asked to confirm a call that would be
// refused as invalid.
type ArgsValidator interface {
	ValidateArgs(c *Call) error
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
	// NeedsConfirmation is policy's decision (the tool's own confirm:, a
	// confirm glob or a confirm rule); set on the exposed copy of a tool.
	NeedsConfirmation bool
	// Sensitive lists argument names whose values never reach a log.
	Sensitive []string
	// Speech is what a voice platform may say while the tool runs (the
	// tool's speech:, else its integration's); nil for none.
	Speech *Speech
	// Dedupe is how long a successful call is remembered, so that a repeat
	// returns its result without acting again; 0 is off. Only for tools that
	// are not read-only.
	Dedupe  time.Duration
	Handler Handler
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

// Caller is who is calling a tool: set by the transport from the client's
// key (or "stdio", "cli"), read by policy.
type Caller struct {
	// ClientID names the configured client (server.clients), "stdio" for a
	// desktop client, "cli" for switchboard call, "" for an open HTTP server.
	ClientID string
	// Integrations the caller may use; nil means all.
	Integrations map[string]bool
}

// Allows reports whether the caller may see and call tools of integration.
// It is the one place that decides a client's visibility.
func (c Caller) Allows(integration string) bool {
	return c.Integrations == nil || c.Integrations[integration]
}
