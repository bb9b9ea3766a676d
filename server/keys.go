package server

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/switchboard-dev/switchboard/integrations"
)

// Client is one configured caller of the HTTP transport.
type Client struct {
	ID           string
	Key          string   // resolved from its secret reference
	Integrations []string // empty: all
}

// ClientSet is what a key read returns: the clients whose keys could be
// read, and the ids of those whose key could not be read right now (the
// store is unreachable), whose previous key stays valid until it can.
type ClientSet struct {
	// Configured: the config has server.clients (an empty Clients with
	// Configured set refuses every request; it does not open the server).
	Configured bool
	Clients    []Client
	// Unavailable lists client ids whose key could not be read because the
	// secret store is unavailable; their last known key is kept.
	Unavailable []string
}

// KeySource reads the current client keys (from Vault, env or files).
type KeySource func(ctx context.Context) (ClientSet, error)

// Keys holds the client keys of the HTTP transport and keeps them fresh:
// re-read every refresh interval, on Refresh (a reload), and at once (at
// most once a second) when a request brings a key not known yet, so that a
// key added in Vault works on its first request. A key that is gone is
// refused on the next request, whatever session it opened, and the
// long-lived streams it opened are closed. Keys are compared by their
// SHA-256 in constant time and never logged.
type Keys struct {
	src     KeySource
	log     *slog.Logger
	refresh time.Duration
	now     func() time.Time

	mu       sync.Mutex
	set      keySet
	lastRead time.Time
	reading  chan struct{} // closed when the running read ends; nil when none runs
	streams  map[[32]byte]map[*stream]struct{}
}

type keySet struct {
	configured bool
	entries    []keyEntry
}

type keyEntry struct {
	hash   [32]byte
	caller integrations.Caller
}

type stream struct{ cancel context.CancelFunc }

// NewKeys returns Keys read from src; call Refresh once before serving.
func NewKeys(src KeySource, refresh time.Duration, log *slog.Logger) *Keys {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if refresh <= 0 {
		refresh = 30 * time.Second
	}
	return &Keys{src: src, log: log, refresh: refresh, now: time.Now, streams: map[[32]byte]map[*stream]struct{}{}}
}

// StaticKeys serves a fixed set of clients (tests, tools without a store).
func StaticKeys(clients []Client) *Keys {
	k := NewKeys(func(context.Context) (ClientSet, error) {
		return ClientSet{Configured: len(clients) > 0, Clients: clients}, nil
	}, time.Hour, nil)
	_ = k.Refresh(context.Background())
	return k
}

// SetInterval changes how often keys are re-read (a reload may change it).
func (k *Keys) SetInterval(d time.Duration) {
	if d <= 0 {
		return
	}
	k.mu.Lock()
	k.refresh = d
	k.mu.Unlock()
}

// Run re-reads the keys every interval until ctx ends.
func (k *Keys) Run(ctx context.Context) {
	for {
		k.mu.Lock()
		d := k.refresh
		k.mu.Unlock()
		select {
		case <-ctx.Done():
			return
		case <-time.After(d):
		}
		if err := k.Refresh(ctx); err != nil && ctx.Err() == nil {
			k.log.Warn("client keys could not be re-read; keeping the last ones", "error", err)
		}
	}
}

// Refresh re-reads the keys now. Concurrent calls share one read.
func (k *Keys) Refresh(ctx context.Context) error {
	k.mu.Lock()
	if ch := k.reading; ch != nil {
		k.mu.Unlock()
		select {
		case <-ch:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	ch := make(chan struct{})
	k.reading = ch
	k.lastRead = k.now()
	k.mu.Unlock()
	defer func() {
		k.mu.Lock()
		k.reading = nil
		k.mu.Unlock()
		close(ch)
	}()
	cs, err := k.src(ctx)
	if err != nil {
		return err
	}
	k.install(cs)
	return nil
}

// install replaces the key set; a client whose key is unavailable keeps its
// previous entry. Streams opened with a key that is gone are closed.
func (k *Keys) install(cs ClientSet) {
	next := keySet{configured: cs.Configured}
	for _, c := range cs.Clients {
		if c.Key == "" {
			continue
		}
		next.entries = append(next.entries, keyEntry{hash: sha256.Sum256([]byte(c.Key)), caller: callerOf(c)})
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	for _, id := range cs.Unavailable {
		for _, e := range k.set.entries {
			if e.caller.ClientID == id {
				next.entries = append(next.entries, e)
			}
		}
	}
	live := make(map[[32]byte]bool, len(next.entries))
	for _, e := range next.entries {
		live[e.hash] = true
	}
	for h, ss := range k.streams {
		if live[h] {
			continue
		}
		for s := range ss {
			s.cancel()
		}
		delete(k.streams, h)
	}
	k.set = next
}

func callerOf(c Client) integrations.Caller {
	caller := integrations.Caller{ClientID: c.ID}
	if len(c.Integrations) > 0 {
		caller.Integrations = map[string]bool{}
		for _, n := range c.Integrations {
			caller.Integrations[n] = true
		}
	}
	return caller
}

// Configured reports whether client keys are required.
func (k *Keys) Configured() bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.set.configured
}

// match finds the caller of a presented key hash. Every entry is compared,
// in constant time, so the time taken says nothing about which key is close.
func (s keySet) match(h [32]byte) (integrations.Caller, bool) {
	var found integrations.Caller
	ok := 0
	for _, e := range s.entries {
		if subtle.ConstantTimeCompare(h[:], e.hash[:]) == 1 {
			found, ok = e.caller, 1
		}
	}
	return found, ok == 1
}

// lookup returns the caller for key. An unknown key makes the keys be read
// again at once, at most once a second, so a key just added works.
func (k *Keys) lookup(ctx context.Context, key string) (integrations.Caller, bool) {
	h := sha256.Sum256([]byte(key))
	k.mu.Lock()
	c, ok := k.set.match(h)
	stale := k.now().Sub(k.lastRead) >= time.Second
	k.mu.Unlock()
	if ok || key == "" || !stale {
		return c, ok
	}
	if err := k.Refresh(ctx); err != nil {
		k.log.Warn("client keys could not be re-read", "error", err)
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.set.match(h)
}

// track ties a long-lived stream (an SSE stream, a streamable HTTP GET) to
// the key that opened it, so that it ends when the key is rotated out.
func (k *Keys) track(ctx context.Context, key string) (context.Context, func()) {
	ctx, cancel := context.WithCancel(ctx)
	h := sha256.Sum256([]byte(key))
	s := &stream{cancel: cancel}
	k.mu.Lock()
	if k.streams[h] == nil {
		k.streams[h] = map[*stream]struct{}{}
	}
	k.streams[h][s] = struct{}{}
	k.mu.Unlock()
	return ctx, func() {
		k.mu.Lock()
		delete(k.streams[h], s)
		if len(k.streams[h]) == 0 {
			delete(k.streams, h)
		}
		k.mu.Unlock()
		cancel()
	}
}

// ProtectedModeBody is what a non-loopback peer reads when the server has no
// client keys and was not opened deliberately.
const ProtectedModeBody = `switchboard is running in protected mode: no client keys are configured, so only loopback connections are accepted.
To serve other hosts, either
  1. configure client keys (recommended):
       server:
         clients:
           - id: my-agent
             key: vault:secret/switchboard/clients#my-agent
     and send Authorization: Bearer <key> with every request, or
  2. set server.open: true to accept any client without a key (only behind a trusted network).
`

// requireClient answers 401 to a request without a known key and attaches
// the caller to the request's context otherwise. Without client keys only
// loopback peers are served (protected mode), unless open.
func (k *Keys) requireClient(open func() bool, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !k.Configured() {
			if (open == nil || !open()) && !loopbackPeer(r) {
				w.Header().Set("Content-Type", "text/plain; charset=utf-8")
				w.WriteHeader(http.StatusForbidden)
				_, _ = w.Write([]byte(ProtectedModeBody))
				return
			}
			next.ServeHTTP(w, r.WithContext(WithCaller(r.Context(), integrations.Caller{})))
			return
		}
		key, ok := bearer(r.Header.Get("Authorization"))
		var caller integrations.Caller
		if ok {
			caller, ok = k.lookup(r.Context(), key)
		}
		if !ok {
			w.Header().Set("WWW-Authenticate", `Bearer realm="switchboard"`)
			http.Error(w, "unauthorized: send Authorization: Bearer <client key>", http.StatusUnauthorized)
			return
		}
		ctx := WithCaller(r.Context(), caller)
		if r.Method == http.MethodGet {
			var done func()
			ctx, done = k.track(ctx, key)
			defer done()
		}
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// loopbackPeer: the TCP peer is on this host.
func loopbackPeer(r *http.Request) bool {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// bearer returns the token of an "Authorization: Bearer <token>" header (the
// scheme is case-insensitive, RFC 9110 §11.1).
func bearer(header string) (string, bool) {
	scheme, token, _ := strings.Cut(header, " ")
	token = strings.TrimSpace(token)
	return token, strings.EqualFold(scheme, "Bearer") && token != ""
}
