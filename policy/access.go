package policy

import (
	"context"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/switchboard-dev/switchboard/integrations"
)

// access refuses a call from a client that may not use the tool's
// integration (to that client the tool does not exist), and a call whose
// arguments could not be decoded, before anything else looks at it.
func access(t *integrations.Tool, next integrations.Handler) integrations.Handler {
	return integrations.HandlerFunc(func(ctx context.Context, c *integrations.Call) (*mcp.CallToolResult, error) {
		if !c.Caller.Allows(t.Integration) {
			c.Decide(string(DecisionDenied), "client_not_allowed")
			return nil, integrations.UnknownTool(t.Name())
		}
		if c.ArgsErr != nil {
			return nil, integrations.InvalidArgs(t.Name(), []string{c.ArgsErr.Error()})
		}
		return next.Call(ctx, c)
	})
}
