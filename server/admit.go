package server

import (
	"context"
	"net"
	"net/http"
	"strconv"
	"time"
)

// opensSession: the request starts a session — a handshake-era initialize
// over streamable HTTP (a POST without Mcp-Session-Id and without the
// Mcp-Method header that every 2026-07-28 request carries) or an SSE stream.
func opensSession(r *http.Request) bool {
	switch {
	case r.Method == http.MethodGet && r.URL.Path == "/sse":
		return true
	case r.Method == http.MethodPost && r.URL.Path == "/mcp":
		return r.Header.Get("Mcp-Session-Id") == "" &&
			(r.Header.Get("Mcp-Method") == "" || r.Header.Get("Mcp-Method") == "initialize")
	}
	return false
}

// admit answers 429 (with Retry-After) to a client that opens sessions
// faster than admit allows. Tool calls are limited per call in policy,
// where the answer is a sentence the agent can say; only requests that
// never reach a tool are refused here.
func (h *HTTP) admit(allow func(ctx context.Context, who string) (bool, time.Duration), next http.Handler) http.Handler {
	if allow == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if opensSession(r) {
			who := callerFrom(r.Context()).ClientID
			if who == "" {
				who, _, _ = net.SplitHostPort(r.RemoteAddr)
				who = "peer:" + who
			}
			if ok, retry := allow(r.Context(), who); !ok {
				secs := int(retry.Round(time.Second) / time.Second)
				w.Header().Set("Retry-After", strconv.Itoa(max(secs, 1)))
				http.Error(w, "too many new sessions: wait a moment before connecting again", http.StatusTooManyRequests)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// count keeps the numbers of open SSE streams and 2026-07-28
// subscriptions/listen streams for the sessions gauge.
func (h *HTTP) count(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method == http.MethodGet && r.URL.Path == "/sse":
			h.sseStreams.Add(1)
			defer h.sseStreams.Add(-1)
		case r.Method == http.MethodPost && r.Header.Get("Mcp-Method") == "subscriptions/listen":
			h.listenStreams.Add(1)
			defer h.listenStreams.Add(-1)
		}
		next.ServeHTTP(w, r)
	})
}

// SessionCount is the number of active sessions of one transport and era.
type SessionCount struct {
	Transport string // streamable | sse
	Era       string // handshake | stateless
	N         int
}

// ActiveSessions counts what is open now: handshake-era streamable HTTP
// sessions (until terminated or idle for an hour), SSE streams, and the
// subscriptions/listen streams of 2026-07-28 clients (which have no session).
func (h *HTTP) ActiveSessions() []SessionCount {
	return []SessionCount{
		{"streamable", "handshake", h.sessions.count()},
		{"streamable", "stateless", int(h.listenStreams.Load())},
		{"sse", "handshake", int(h.sseStreams.Load())},
	}
}
