package app

import (
	"context"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/switchboard-dev/switchboard/configs"
	"github.com/switchboard-dev/switchboard/server"
)

// HTTP builds the whole HTTP surface of the App (MCP over streamable HTTP and
// SSE, health, readiness, metrics) from its config; the client keys are read
// now.
func (a *App) HTTP(ctx context.Context) (*server.HTTP, error) {
	clients, err := a.clients(ctx)
	if err != nil {
		return nil, err
	}
	return server.NewHTTP(a.MCP, server.HTTPOptions{
		Clients:        clients,
		AllowedOrigins: a.Config.Server.AllowedOrigins,
		MaxBodyBytes:   a.Config.Server.MaxBodyBytes,
		Ready:          a.Ready,
		Metrics:        a.Metrics(),
		Logger:         a.log,
		Inflight:       a.Inflight,
	}), nil
}

// ServeHTTP serves the HTTP surface on ln until ctx ends, then shuts down
// gracefully.
func (a *App) ServeHTTP(ctx context.Context, ln net.Listener) error {
	h, err := a.HTTP(ctx)
	if err != nil {
		return err
	}
	addr := ln.Addr().String()
	a.log.Info("serving over HTTP", "mcp", "http://"+addr+"/mcp", "sse", "http://"+addr+"/sse", "tools", len(a.Tools()))
	return h.Serve(ctx, ln, ShutdownGrace, a.log)
}

// ServeStdio serves MCP on stdin/stdout until ctx ends or stdin closes.
//
// A desktop client asks for tools/list once, right after it connects, and
// many never ask again: so the first discovery of each upstream MCP server
// is waited for (at most StdioDiscoveryWait, the upstreams connecting side by
// side) before anything is read from stdin. Later changes are announced with
// notifications/tools/list_changed.
func (a *App) ServeStdio(ctx context.Context, stdin io.Reader, stdout io.Writer) error {
	if len(a.upstreams) > 0 {
		wctx, cancel := context.WithTimeout(ctx, StdioDiscoveryWait)
		for name, err := range a.WaitUpstreams(wctx) {
			a.log.Warn("upstream MCP server not discovered before serving; its tools are announced when it comes", "integration", name, "error", err)
		}
		cancel()
	}
	a.log.Info("serving over stdio", "tools", len(a.Tools()))
	return server.ServeStdio(ctx, a.MCP, stdin, stdout, a.log)
}

// StdioDiscoveryWait bounds how long stdio serving waits for the first
// discovery of the upstream MCP servers.
const StdioDiscoveryWait = 10 * time.Second

// Listen is the address serve listens on: the flag, else server.listen.
func (a *App) Listen(flag string) string {
	if flag != "" {
		return flag
	}
	if a.Config.Server.Listen != "" {
		return a.Config.Server.Listen
	}
	return configs.DefaultListen
}

// clients resolves the keys of the configured HTTP clients.
func (a *App) clients(ctx context.Context) ([]server.Client, error) {
	var out []server.Client
	for _, c := range a.Config.Server.Clients {
		key, err := a.Secrets.Lookup(ctx, c.Key)
		if err != nil {
			return nil, fmt.Errorf("client %s key: %w", c.ID, err)
		}
		out = append(out, server.Client{ID: c.ID, Key: key, Integrations: c.Integrations})
	}
	return out, nil
}
