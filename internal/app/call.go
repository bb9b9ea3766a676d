package app

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/switchboard-dev/switchboard/integrations"
)

// Call runs one tool call from the command line through the same path as an
// MCP call (policy included): argsJSON is decoded once, with exact numbers;
// callCtx is the call context (switchboard call --call name=value), nil for
// none.
func (a *App) Call(ctx context.Context, tool string, argsJSON []byte, callCtx map[string]string) (*mcp.CallToolResult, error) {
	t, ok := a.Tool(tool)
	if !ok {
		return nil, fmt.Errorf("no tool named %q (see switchboard tools)", tool)
	}
	c := integrations.NewCall(t, mcp.CallToolParams{Name: tool, RawArguments: argsJSON})
	c.Caller = integrations.Caller{ClientID: "cli"}
	c.Context = callCtx
	return t.Handler.Call(ctx, c)
}

// ListedTool is one line of `switchboard tools --json`: the tool exactly as
// tools/list shows it, plus whether it needs confirmation.
type ListedTool struct {
	Name        string             `json:"name"`
	Description string             `json:"description"`
	InputSchema json.RawMessage    `json:"inputSchema"`
	Annotations mcp.ToolAnnotation `json:"annotations"`
	// Meta is the tool's _meta (io.switchboard/speech), when it has one.
	Meta                 map[string]any `json:"_meta,omitempty"`
	ConfirmationRequired bool           `json:"confirmationRequired"`
}

// ToolList renders the exposed tools as clients see them, sorted by name.
func (a *App) ToolList() []ListedTool {
	tools := a.Tools()
	out := make([]ListedTool, 0, len(tools))
	for _, t := range tools {
		b, _ := json.Marshal(t.Definition)
		var wire struct {
			InputSchema json.RawMessage `json:"inputSchema"`
		}
		_ = json.Unmarshal(b, &wire)
		var meta map[string]any
		if t.Definition.Meta != nil && len(t.Definition.Meta.AdditionalFields) > 0 {
			meta = t.Definition.Meta.AdditionalFields
		}
		out = append(out, ListedTool{
			Meta:                 meta,
			Name:                 t.Name(),
			Description:          t.Definition.Description,
			InputSchema:          wire.InputSchema,
			Annotations:          t.Definition.Annotations,
			ConfirmationRequired: t.NeedsConfirmation,
		})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}
