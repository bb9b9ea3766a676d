package policy

import "context"

// Caller is who is calling a tool: set by the transport, read by policy.
type Caller struct {
	// ClientID names the configured client (server.clients), "stdio" for a
	// desktop client, "cli" for switchboard call, "" for an open HTTP server.
	ClientID string
	// Integrations the caller may use; nil means all.
	Integrations map[string]bool
}

// Allows reports whether the caller may see and call tools of integration.
func (c Caller) Allows(integration string) bool {
	return c.Integrations == nil || c.Integrations[integration]
}

type callerKey struct{}

// WithCaller attaches the caller to ctx.
func WithCaller(ctx context.Context, c Caller) context.Context {
	return context.WithValue(ctx, callerKey{}, c)
}

// CallerFrom returns the caller attached to ctx (the zero Caller, allowed
// everything, when none is).
func CallerFrom(ctx context.Context) Caller {
	c, _ := ctx.Value(callerKey{}).(Caller)
	return c
}
