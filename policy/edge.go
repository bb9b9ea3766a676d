package policy

import (
	"context"
	"fmt"
	"log/slog"
	"runtime/debug"
	"time"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/switchboard-dev/switchboard/integrations"
)

// edge is the outermost middleware: it decides once what the model and the
// log each get to see. Errors become an isError result with the public
// sentence; the detail goes to the log only; a panic never reaches the
// client or stops the server.
func (p *Policy) edge(t *integrations.Tool, next integrations.Handler) integrations.Handler {
	return integrations.HandlerFunc(func(ctx context.Context, c *integrations.Call) (res *mcp.CallToolResult, err error) {
		start := time.Now()
		defer func() {
			if r := recover(); r != nil {
				p.log.Error("tool panicked", "tool", t.Name(), "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
				res, err = mcp.NewToolResultError(integrations.PublicMessage(nil)), nil
			}
		}()
		res, err = next.Call(ctx, c)
		dur := time.Since(start)
		log := p.log
		if id := c.CallID(); id != "" {
			log = log.With("call_id", id)
		}
		if err != nil {
			kind := integrations.KindOf(err)
			level := slog.LevelWarn
			switch kind {
			case integrations.KindInternal:
				level = slog.LevelError
			case integrations.KindCancelled, integrations.KindInvalid:
				level = slog.LevelInfo
			}
			log.Log(ctx, level, "tool call failed", "tool", t.Name(), "kind", kind,
				"status", integrations.StatusOf(err), "duration", dur, "error", err.Error())
			return mcp.NewToolResultError(integrations.PublicMessage(err)), nil
		}
		log.Debug("tool call", "tool", t.Name(), "duration", dur)
		return res, nil
	})
}
