package policy

import (
	"context"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/switchboard-dev/switchboard/integrations"
	edge "github.com/switchboard-dev/switchboard/server"
)

type Caller = integrations.Caller

// WithCaller is the server's: calls are built from a context and an MCP
// request exactly as the edge builds them.
var WithCaller = edge.WithCaller

// exposedTool is a tool as clients see it, with a handler that takes MCP
// requests.
type exposedTool struct {
	*integrations.Tool
	Action  Action
	Handler reqHandler
}

// reqHandler decodes an MCP request the way the server's edge does and
// calls the policy-wrapped handler.
type reqHandler struct{ t *integrations.Tool }

func (h reqHandler) Call(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
	if req.Params.Name == "" {
		req.Params.Name = h.t.Name()
	}
	return h.t.Handler.Call(ctx, edge.NewCall(ctx, h.t, req))
}

func expose(p *Policy, tools []*integrations.Tool) []exposedTool {
	var out []exposedTool
	for _, t := range tools {
		e := p.Expose(t)
		if e == nil {
			continue
		}
		act := Allow
		if e.NeedsConfirmation {
			act = Confirm
		}
		out = append(out, exposedTool{Tool: e, Action: act, Handler: reqHandler{e}})
	}
	return out
}
