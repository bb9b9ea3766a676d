// Package server serves the registry's tools over MCP: stdio for desktop
// clients, and on one HTTP listener streamable HTTP (/mcp), legacy SSE
// (/sse + /message), health, readiness and metrics. It is the edge of a tool
// call: it knows who the client is (its key), decodes each request once into
// an integrations.Call, and hands that to the tool's policy-wrapped handler.
// It knows nothing about upstreams.
package server

import (
	"context"
	"io"
	"log/slog"
	"reflect"
	"sync"
	"sync/atomic"

	"github.com/mark3labs/mcp-go/mcp"
	mcpserver "github.com/mark3labs/mcp-go/server"

	"github.com/switchboard-dev/switchboard/integrations"
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

// MCP is the mcp-go server with the registry's tools on it. The tool set can
// change while serving (an upstream MCP server's tools come and go); mcp-go
// tells clients with notifications/tools/list_changed.
type MCP struct {
	*mcpserver.MCPServer
	reg      atomic.Pointer[integrations.Registry]
	inflight *sync.WaitGroup

	mu         sync.Mutex
	registered map[string]mcp.Tool // what mcp-go lists now
}

// NewMCP serves the tools of reg, and follows its changes. tools/list shows a
// client only the tools of the integrations it may use.
func NewMCP(reg *integrations.Registry, opts Options) *MCP {
	m := &MCP{inflight: opts.Inflight, registered: map[string]mcp.Tool{}}
	m.reg.Store(reg)
	if m.inflight == nil {
		m.inflight = &sync.WaitGroup{}
	}
	// No WithElicitation: elicitation is a client capability. The server
	// asks through elicitation/create only when the client declared it.
	m.MCPServer = mcpserver.NewMCPServer(opts.Name, opts.Version,
		mcpserver.WithToolCapabilities(true),
		mcpserver.WithRecovery(),
		mcpserver.WithInstructions(opts.Instructions),
		mcpserver.WithToolFilter(m.visible),
	)
	reg.Watch(m.sync)
	m.sync()
	return m
}

// Use swaps in the registry of a reloaded config: new calls look their tool
// up there (calls already running finish with the tool they started with),
// and the difference in tools is announced with tools/list_changed.
// Visibility may change with no tool added or removed (an allowlist, a
// rule): clients are told anyway, so they list again.
func (m *MCP) Use(reg *integrations.Registry) {
	m.reg.Store(reg)
	reg.Watch(m.sync)
	if !m.apply() {
		m.SendNotificationToAllClients(mcp.MethodNotificationToolsListChanged, nil)
	}
}

func (m *MCP) tools() *integrations.Registry { return m.reg.Load() }

func (m *MCP) visible(ctx context.Context, list []mcp.Tool) []mcp.Tool {
	c := callerFrom(ctx)
	if c.Integrations == nil {
		return list
	}
	out := list[:0:0]
	for _, d := range list {
		if t, ok := m.tools().Lookup(d.Name); ok && c.Allows(t.Integration) {
			out = append(out, d)
		}
	}
	return out
}

// sync makes mcp-go list exactly the registry's tools: new and changed
// definitions are added, vanished ones deleted. Handlers look the tool up at
// call time, so a changed handler needs no re-registration.
func (m *MCP) sync() { m.apply() }

// apply is sync, reporting whether mcp-go's tool set changed (mcp-go then
// sent tools/list_changed).
func (m *MCP) apply() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	all := m.tools().All()
	keep := make(map[string]bool, len(all))
	var add []mcpserver.ServerTool
	for _, t := range all {
		name := t.Name()
		keep[name] = true
		if old, ok := m.registered[name]; ok && reflect.DeepEqual(old, t.Definition) {
			continue
		}
		m.registered[name] = t.Definition
		add = append(add, mcpserver.ServerTool{Tool: t.Definition, Handler: m.handle})
	}
	var gone []string
	for name := range m.registered {
		if !keep[name] {
			gone = append(gone, name)
			delete(m.registered, name)
		}
	}
	if len(gone) > 0 {
		m.DeleteTools(gone...)
	}
	if len(add) > 0 {
		m.AddTools(add...)
	}
	return len(gone) > 0 || len(add) > 0
}

// handle is the edge of every MCP tool call.
func (m *MCP) handle(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
	m.inflight.Add(1)
	defer m.inflight.Done()
	t, ok := m.tools().Lookup(req.Params.Name)
	if !ok {
		return mcp.NewToolResultError(integrations.UnknownTool(req.Params.Name).Public), nil
	}
	return t.Handler.Call(ctx, m.newCall(ctx, t, req))
}

// ServeStdio serves s on stdin/stdout until ctx ends or stdin closes.
func ServeStdio(ctx context.Context, s *MCP, stdin io.Reader, stdout io.Writer, logger *slog.Logger) error {
	stdio := mcpserver.NewStdioServer(s.MCPServer)
	stdio.SetErrorLogger(slog.NewLogLogger(logger.Handler(), slog.LevelError))
	stdio.SetContextFunc(func(ctx context.Context) context.Context {
		return WithCaller(ctx, integrations.Caller{ClientID: "stdio"})
	})
	err := stdio.Listen(ctx, stdin, stdout)
	if ctx.Err() != nil {
		return nil
	}
	return err
}
