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
	in := f.u.callFor(ctx)
	switch {
	case in != nil && in.held != nil:
		return in.held.ask(ctx, f.u, req.Params)
	case in == nil || !in.call.CanElicit || in.call.Elicit == nil:
		tool := ""
		if in != nil {
			tool = in.call.Tool
			in.setElicited(elicitRefused)
		}
		f.u.log.Info("refused an upstream's elicitation", "tool", tool, "reason", errNoElicitation)
		return nil, errNoElicitation
	}
	c := in.call
	f.u.log.Info("forwarding an upstream's elicitation to the client", "tool", c.Tool)
	res, err := c.Elicit(ctx, req.Params)
	if err == nil && res == nil {
		err = errors.New("the client sent no answer")
	}
	if err != nil {
		in.setElicited(elicitUnanswered)
		f.u.log.Info("elicitation forwarded to the client failed", "tool", c.Tool, "error", err)
		return nil, err
	}
	in.setElicited(string(res.Action))
	f.u.log.Info("elicitation answered", "tool", c.Tool, "action", res.Action)
	return res, nil
}

// What became of an upstream's question, for the audit line (besides the
// answer's action: accept, decline, cancel).
const (
	elicitAsked      = "asked"
	elicitUnanswered = "unanswered"
	elicitRefused    = "refused"
)

// noRoots answers roots/list: switchboard exposes no filesystem roots.
type noRoots struct{}

func (noRoots) ListRoots(context.Context, mcp.ListRootsRequest) (*mcp.ListRootsResult, error) {
	return &mcp.ListRootsResult{Roots: []mcp.Root{}}, nil
}
