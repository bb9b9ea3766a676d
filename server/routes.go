package server

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	mcpserver "github.com/mark3labs/mcp-go/server"

	"github.com/switchboard-dev/switchboard/internal/state"
)

// HTTPOptions configure the HTTP listener.
type HTTPOptions struct {
	// Keys are the client keys; nil: none (protected mode unless Open).
	Keys *Keys
	// Open reports whether non-loopback peers are served without client
	// keys (server.open; a reload may change it); nil: protected mode.
	Open           func() bool
	AllowedOrigins []string
	MaxBodyBytes   int64
	// Ready reports whether the server can serve calls (config loaded, Vault
	// reachable and authenticated when used) and the report /readyz shows;
	// nil means always ready.
	Ready func(ctx context.Context) (ok bool, report any)
	// AdmitSession, when set, is asked before a request that opens a
	// session (a handshake-era initialize, an SSE stream) for the client
	// id or, on an open server, the peer address; false answers 429.
	AdmitSession func(ctx context.Context, who string) (ok bool, retryAfter time.Duration)
	Metrics      http.Handler
	Logger       *slog.Logger
	// Inflight counts running tool calls; shutdown waits for them.
	Inflight *sync.WaitGroup
	// Sessions keeps handshake-era session ids, shared by replicas through
	// the state store; nil keeps them in this process.
	Sessions *state.SessionIDs
	// CallHeaders maps call context names to the headers that carry them
	// (server.call_headers).
	CallHeaders map[string]string
}

// HTTP is the whole HTTP surface of switchboard.
type HTTP struct {
	handler    http.Handler
	streamable *mcpserver.StreamableHTTPServer
	sse        *mcpserver.SSEServer
	inflight   *sync.WaitGroup
	sessions   *sessions
	// open long-lived streams, for the sessions gauge
	sseStreams, listenStreams atomic.Int64
	// readHeaderTimeout bounds how long a client may take to send its
	// request headers, so a slow one (slowloris) cannot hold connections;
	// the server's tests shorten it.
	readHeaderTimeout time.Duration
}

const defaultReadHeaderTimeout = 10 * time.Second

// NewHTTP builds every route on one mux:
//
//	POST/GET/DELETE /mcp   streamable HTTP (both protocol eras)
//	GET /sse, POST /message legacy SSE (2024-11-05)
//	GET /healthz           the process is alive
//	GET /readyz            config version, credential store, upstream MCP servers (JSON)
//	GET /metrics           Prometheus
func NewHTTP(s *MCP, opts HTTPOptions) *HTTP {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Inflight == nil {
		opts.Inflight = &sync.WaitGroup{}
	}
	if opts.Keys == nil {
		opts.Keys = StaticKeys(nil)
	}
	h := &HTTP{inflight: opts.Inflight, sessions: newSessions(opts.Sessions), readHeaderTimeout: defaultReadHeaderTimeout}
	h.streamable = mcpserver.NewStreamableHTTPServer(s.MCPServer,
		mcpserver.WithEndpointPath("/mcp"),
		mcpserver.WithSessionIdManagerResolver(h.sessions),
		mcpserver.WithSessionIdleTTL(SessionIdle),
		mcpserver.WithStreamableHTTPLogger(opts.Logger),
	)
	h.sse = mcpserver.NewSSEServer(s.MCPServer,
		mcpserver.WithSSEEndpoint("/sse"),
		mcpserver.WithMessageEndpoint("/message"),
		mcpserver.WithKeepAlive(true),
		mcpserver.WithKeepAliveInterval(25*time.Second),
	)

	mcpRoute := func(next http.Handler) http.Handler {
		return checkOrigin(opts.AllowedOrigins, limitBody(opts.MaxBodyBytes,
			opts.Keys.requireClient(opts.Open, h.admit(opts.AdmitSession, h.count(callHeaders(opts.CallHeaders, next))))))
	}

	mux := http.NewServeMux()
	mux.Handle("/mcp", mcpRoute(batches(h.streamable)))
	mux.Handle("/sse", mcpRoute(h.sse.SSEHandler()))
	mux.Handle("/message", mcpRoute(h.sse.MessageHandler()))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if opts.Ready == nil {
			writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
		defer cancel()
		ok, report := opts.Ready(ctx)
		code := http.StatusOK
		if !ok {
			code = http.StatusServiceUnavailable
		}
		writeJSON(w, code, report)
	})
	if opts.Metrics != nil {
		mux.Handle("GET /metrics", opts.Metrics)
	}
	h.handler = mux
	return h
}

func (h *HTTP) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.handler.ServeHTTP(w, r) }

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// Serve serves on ln until ctx ends, then shuts down gracefully: no new
// connections, running tool calls finish (up to grace), open streams are
// closed, and Serve returns nil.
func (h *HTTP) Serve(ctx context.Context, ln net.Listener, grace time.Duration, logger *slog.Logger) error {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: h.readHeaderTimeout, ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelWarn)}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	shut := make(chan error, 1)
	go func() { shut <- srv.Shutdown(sctx) }()
	waitGroup(sctx, h.inflight)
	h.sse.CloseSessions()
	h.streamable.CloseSessions(sctx)
	err := <-shut
	<-errc
	if errors.Is(err, context.DeadlineExceeded) {
		logger.Warn("shutdown grace period over; closing remaining connections")
		_ = srv.Close()
		return nil
	}
	return err
}

func waitGroup(ctx context.Context, wg *sync.WaitGroup) {
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
	}
}
