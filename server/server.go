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

// NewMCP registers the exposed tools on an mcp-go server. tools/list shows a
// client only the tools of the integrations it may use.
func NewMCP(tools []*policy.Exposed, opts Options) *mcpserver.MCPServer {
	integrationOf := make(map[string]string, len(tools))
	for _, t := range tools {
		integrationOf[t.Definition.Name] = t.Tool.Integration
	}
	s := mcpserver.NewMCPServer(opts.Name, opts.Version,
		mcpserver.WithToolCapabilities(true),
		mcpserver.WithElicitation(),
		mcpserver.WithRecovery(),
		mcpserver.WithInstructions(opts.Instructions),
		mcpserver.WithToolFilter(func(ctx context.Context, list []mcp.Tool) []mcp.Tool {
			c := policy.CallerFrom(ctx)
			if c.Integrations == nil {
				return list
			}
			out := list[:0:0]
			for _, t := range list {
				if c.Allows(integrationOf[t.Name]) {
					out = append(out, t)
				}
			}
			return out
		}),
	)
	inflight := opts.Inflight
	if inflight == nil {
		inflight = &sync.WaitGroup{}
	}
	for _, t := range tools {
		h := t.Handler
		s.AddTool(t.Definition, func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			inflight.Add(1)
			defer inflight.Done()
			return h.Call(ctx, req)
		})
	}
	return s
}

// ServeStdio serves s on stdin/stdout until ctx ends or stdin closes.
func ServeStdio(ctx context.Context, s *mcpserver.MCPServer, stdin io.Reader, stdout io.Writer, logger *slog.Logger) error {
	stdio := mcpserver.NewStdioServer(s)
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
