package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/switchboard-dev/switchboard/configs"
	"github.com/switchboard-dev/switchboard/internal/secrets"
	"github.com/switchboard-dev/switchboard/policy"
	"github.com/switchboard-dev/switchboard/server"
)

// HTTP builds the whole HTTP surface of the App (MCP over streamable HTTP and
// SSE, health, readiness, metrics) from its config; the client keys are read
// now, then kept fresh (every server.client_key_refresh, on reload, and at
// once for an unknown key).
func (a *App) HTTP(ctx context.Context) (*server.HTTP, error) {
	if err := a.keys.Refresh(ctx); err != nil {
		return nil, err
	}
	a.keysOnce.Do(func() { go a.keys.Run(a.runCtx) })
	cfg := a.Config()
	sessions, err := a.sessions(ctx)
	if err != nil {
		return nil, err
	}
	h := server.NewHTTP(a.MCP, server.HTTPOptions{
		Keys:           a.keys,
		Sessions:       sessions,
		Open:           func() bool { return a.Config().Server.Open },
		AllowedOrigins: cfg.Server.AllowedOrigins,
		MaxBodyBytes:   cfg.Server.MaxBodyBytes,
		CallHeaders:    cfg.Server.CallHeaders,
		Ready:          a.Readiness,
		AdmitSession:   a.admitSession,
		Metrics:        a.Metrics(),
		Logger:         a.log,
		Inflight:       a.Inflight,
	})
	a.http.Store(h)
	return h, nil
}

// ServeHTTP serves the HTTP surface on ln until ctx ends, then shuts down
// gracefully.
func (a *App) ServeHTTP(ctx context.Context, ln net.Listener) error {
	h, err := a.HTTP(ctx)
	if err != nil {
		return err
	}
	addr := ln.Addr().String()
	a.log.Info("serving over HTTP", "mcp", "http://"+addr+"/mcp", "sse", "http://"+addr+"/sse", "tools", len(a.Tools()), "config_version", a.Version())
	if cfg := a.Config(); len(cfg.Server.Clients) == 0 && !cfg.Server.Open {
		a.log.Info("no client keys configured: protected mode, only loopback peers are served (server.open: true serves any peer)")
	}
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
	if len(a.current().upstreams) > 0 {
		wctx, cancel := context.WithTimeout(ctx, StdioDiscoveryWait)
		for name, err := range a.WaitUpstreams(wctx) {
			a.log.Warn("upstream MCP server not discovered before serving; its tools are announced when it comes", "integration", name, "error", err)
		}
		cancel()
	}
	a.log.Info("serving over stdio", "tools", len(a.Tools()), "config_version", a.Version())
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
	if l := a.Config().Server.Listen; l != "" {
		return l
	}
	return configs.DefaultListen
}

// readKeys resolves the keys of the live config's clients. A key whose store
// is unavailable keeps its last value (a Vault blip must not lock every
// agent out); a key the store no longer has is dropped.
func (a *App) readKeys(ctx context.Context) (server.ClientSet, error) {
	g := a.current()
	if g == nil {
		return server.ClientSet{}, fmt.Errorf("closed")
	}
	cs := server.ClientSet{Configured: len(g.cfg.Server.Clients) > 0}
	var errs []error
	for _, c := range g.cfg.Server.Clients {
		key, err := g.secrets.Lookup(ctx, c.Key)
		if err != nil {
			errs = append(errs, fmt.Errorf("client %s key: %w", c.ID, err))
			if transient(err) {
				cs.Unavailable = append(cs.Unavailable, c.ID)
			}
			continue
		}
		cs.Clients = append(cs.Clients, server.Client{ID: c.ID, Key: key, Integrations: c.Integrations})
	}
	var err error
	if len(errs) > 0 && len(cs.Clients) == 0 && len(cs.Unavailable) == len(errs) {
		// Nothing could be read at all: keep every key as it was.
		err = fmt.Errorf("%w (and %d more)", errs[0], len(errs)-1)
	} else {
		for _, e := range errs {
			a.log.Warn("client key could not be read", "error", e)
		}
	}
	a.tm.KeyRead(err)
	return cs, err
}

// admitSession applies server.session_rate_limit: how fast one client (or,
// on a server without keys, one peer address) opens sessions (handshake-era
// initialize requests and SSE streams). Over it: HTTP 429 with Retry-After.
// Off unless configured: a voice platform may open many sessions at once
// from one address.
func (a *App) admitSession(ctx context.Context, who string) (bool, time.Duration) {
	lim := a.Config().Server.SessionRateLimit
	if lim == nil {
		return true, 0
	}
	ok, retry := a.limits.Allow(ctx, "session:"+who, policy.Rate{PerSecond: lim.PerSecond, Burst: lim.Burst})
	if !ok {
		client := who
		if len(a.Config().Server.Clients) == 0 {
			client = "" // a peer address is not a bounded label
		}
		a.limits.Hit(policy.LimitSessions, client, "")
	}
	return ok, retry
}

// transient: the store could not be asked; the value may still be good.
func transient(err error) bool {
	return errors.Is(err, secrets.ErrUnavailable) || errors.Is(err, context.DeadlineExceeded)
}
