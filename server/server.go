// Package server serves policy-wrapped tools over MCP: stdio for desktop
// clients, and on one HTTP listener streamable HTTP (/mcp), legacy SSE
// (/sse + /message), health, readiness and metrics. It knows who the client
// is (its key) and hands that to policy; it knows nothing about upstreams.
package server

import (
	"context"
	"io"
	"log/slog"
	"sync"

	"github.com/mark3labs/mcp-go/mcp"
	mcpserver "github.com/mark3labs/mcp-go/server"

	"github.com/switchboard-dev/switchboard/policy"
)

// Options configure the MCP server.
type Options struct {
	Name         string
	Version      string
	Instructions string
	Logger       *slog.Logger
	// Inflight, when set, counts running tool calls for graceful shutdown.
	Inflight *sync.WaitGroup
}

// MCP is the mcp-go server with switchboard's tools on it. The tool set can
// change while serving (an upstream MCP server's tools come and go); clients
// are told with notifications/tools/list_changed.
type MCP struct {
	*mcpserver.MCPServer
	inflight *sync.WaitGroup
	mu       sync.RWMutex
	integ    map[string]string // exposed tool name → integration
}

// NewMCP registers the exposed tools on an mcp-go server. tools/list shows a
// client only the tools of the integrations it may use.
func NewMCP(tools []*policy.Exposed, opts Options) *MCP {
	m := &MCP{inflight: opts.Inflight, integ: map[string]string{}}
	if m.inflight == nil {
		m.inflight = &sync.WaitGroup{}
	}
	m.MCPServer = mcpserver.NewMCPServer(opts.Name, opts.Version,
		mcpserver.WithToolCapabilities(true),
		mcpserver.WithElicitation(),
		mcpserver.WithRecovery(),
		mcpserver.WithInstructions(opts.Instructions),
		mcpserver.WithToolFilter(m.visible),
	)
	m.Replace(nil, tools)
	return m
}

func (m *MCP) visible(ctx context.Context, list []mcp.Tool) []mcp.Tool {
	c := policy.CallerFrom(ctx)
	if c.Integrations == nil {
		return list
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	out := list[:0:0]
	for _, t := range list {
		if c.Allows(m.integ[t.Name]) {
			out = append(out, t)
		}
	}
	return out
}

// Replace swaps the tools in old for those in next: tools no longer present
// are removed, the others added or updated.
func (m *MCP) Replace(old, next []*policy.Exposed) {
	keep := map[string]bool{}
	var add []mcpserver.ServerTool
	m.mu.Lock()
	for _, t := range next {
		keep[t.Definition.Name] = true
		m.integ[t.Definition.Name] = t.Tool.Integration
		add = append(add, mcpserver.ServerTool{Tool: t.Definition, Handler: m.handler(t)})
	}
	var gone []string
	for _, t := range old {
		if !keep[t.Definition.Name] {
			gone = append(gone, t.Definition.Name)
			delete(m.integ, t.Definition.Name)
		}
	}
	m.mu.Unlock()
	if len(gone) > 0 {
		m.DeleteTools(gone...)
	}
	if len(add) > 0 {
		m.AddTools(add...)
	}
}

func (m *MCP) handler(t *policy.Exposed) mcpserver.ToolHandlerFunc {
	h := t.Handler
	return func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		m.inflight.Add(1)
		defer m.inflight.Done()
		return h.Call(ctx, req)
	}
}

// ServeStdio serves s on stdin/stdout until ctx ends or stdin closes.
func ServeStdio(ctx context.Context, s *MCP, stdin io.Reader, stdout io.Writer, logger *slog.Logger) error {
	stdio := mcpserver.NewStdioServer(s.MCPServer)
	stdio.SetErrorLogger(slog.NewLogLogger(logger.Handler(), slog.LevelError))
	stdio.SetContextFunc(func(ctx context.Context) context.Context {
		return policy.WithCaller(ctx, policy.Caller{ClientID: "stdio"})
	})
	err := stdio.Listen(ctx, stdin, stdout)
	if ctx.Err() != nil {
		return nil
	}
	return err
}
