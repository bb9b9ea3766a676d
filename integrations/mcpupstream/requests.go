package mcpupstream

import (
	"context"
	"errors"

	"github.com/mark3labs/mcp-go/mcp"
)

// Requests an upstream sends to switchboard (its client) are always
// answered, never left to time out.

// errNoElicitation is the answer to an upstream's elicitation that cannot
// be put to anyone: the call's client cannot be asked, or the request came
// outside any one call.
var errNoElicitation = errors.New("switchboard cannot ask the user: the calling client does not support elicitation over this connection")

// elicitForwarder puts an upstream's question to the client of the call
// that caused it, when that client supports elicitation, and passes the
// answer back; otherwise it refuses at once.
type elicitForwarder struct{ u *Upstream }

func (f elicitForwarder) Elicit(ctx context.Context, req mcp.ElicitationRequest) (*mcp.ElicitationResult, error) {
	c := f.u.callFor(ctx)
	if c == nil || !c.CanElicit || c.Elicit == nil {
		tool := ""
		if c != nil {
			tool = c.Tool
		}
		f.u.log.Info("refused an upstream's elicitation", "tool", tool, "reason", errNoElicitation)
		return nil, errNoElicitation
	}
	f.u.log.Info("forwarding an upstream's elicitation to the client", "tool", c.Tool)
	res, err := c.Elicit(ctx, req.Params)
	if err != nil {
		f.u.log.Info("elicitation forwarded to the client failed", "tool", c.Tool, "error", err)
		return nil, err
	}
	f.u.log.Info("elicitation answered", "tool", c.Tool, "action", res.Action)
	return res, nil
}

// noRoots answers roots/list: switchboard exposes no filesystem roots.
type noRoots struct{}

func (noRoots) ListRoots(context.Context, mcp.ListRootsRequest) (*mcp.ListRootsResult, error) {
	return &mcp.ListRootsResult{Roots: []mcp.Root{}}, nil
}
