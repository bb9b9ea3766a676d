// Package state is the state that switchboard replicas share: single-use
// confirmations, de-duplication of repeated calls, rate limits and the
// handshake-era streamable-HTTP sessions.
//
// One Store serves a process. The memory backend keeps everything in the
// process (one replica; the default); the redis backend keeps it in Redis or
// Valkey, so that every replica on the same Redis (and key prefix) sees the
// same state.
//
// Every operation is bounded by the store's operation timeout (OpTimeout,
// 200 ms by default) whatever the caller's context says: a Redis that answers
// slowly or not at all costs a call at most that long. When Redis cannot be
// used the error wraps ErrUnavailable, so that a caller fails closed with one
// sentence; Allow is the exception, it degrades to a limiter in this process
// and does not fail. Outages and recoveries are logged once each, not per
// call. The go-redis pool reconnects by itself: nothing needs a restart, or a
// new Store, when Redis is back.
//
// Keys are the caller's: pass short digests, never personal data (a caller's
// number, argument values), since a key is visible to anyone who can list the
// keys of the Redis.
package state

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Store is the state shared by every replica that uses the same backend.
type Store interface {
	// Claim reports whether this is the first claim of key within ttl, across
	// every replica: of any number of claims of one key, at the same moment
	// or not, exactly one is first. Use it for single-use tokens, with the
	// token's remaining lifetime (plus a margin for clock steps) as ttl.
	Claim(ctx context.Context, key string, ttl time.Duration) (first bool, err error)

	// Reserve looks key up for de-duplication. The reservation's Outcome
	// says what to do: Done, the call succeeded before and Result is what
	// it returned; Run, this caller now holds the lease on key for lease
	// and must execute, then Remember the result or Release the lease;
	// Busy, another call with key holds the lease. Dedupe drives this loop.
	Reserve(ctx context.Context, key string, lease time.Duration) (Reservation, error)

	// Remember stores the result of a successful call under the reserved
	// key for window (Reserve then answers Done), replacing the lease.
	Remember(ctx context.Context, r Reservation, result []byte, window time.Duration) error

	// Release gives up the lease of a call that failed, so that a repeat
	// executes. It does nothing when the lease is no longer r's.
	Release(ctx context.Context, r Reservation) error

	// Allow reports whether one more event under key fits limit, and when
	// not, how long until one would. Keys are limited independently; the
	// limit of a key may change between calls (on a reload). With the
	// redis backend the limit holds across replicas; when Redis cannot be
	// used, Allow falls back to a limiter in this process (each replica
	// then allows the whole limit) and logs a warning once per outage.
	Allow(ctx context.Context, key string, limit Limit) (ok bool, retryAfter time.Duration, err error)

	// TouchSession reports the state of session id and, when live, keeps it
	// live for another idle. An id with no record is created live when
	// create is set (Live), and is Unknown otherwise. Ended ids stay Ended
	// for the keep given to EndSession. SessionIDs builds mcp-go's
	// session id manager on this.
	TouchSession(ctx context.Context, id string, idle time.Duration, create bool) (SessionState, error)

	// EndSession marks session id ended on every replica, remembered as
	// Ended for keep, and returns its state before.
	EndSession(ctx context.Context, id string, keep time.Duration) (before SessionState, err error)

	// Ping reports whether the backend can be used (for /readyz).
	Ping(ctx context.Context) error

	// Close releases the backend's connections.
	Close() error
}

// ErrUnavailable is wrapped by every error of an operation that could not
// reach the backend (Redis down, unreachable, too slow, refusing the
// command). Callers fail closed on it.
var ErrUnavailable = errors.New("shared state unavailable")

// Limit is a token bucket: PerSecond events a second on average, Burst at
// once. A Burst below 1 counts as 1.
type Limit struct {
	PerSecond float64
	Burst     int
}

func (l Limit) check() (Limit, error) {
	if !(l.PerSecond > 0) || math.IsInf(l.PerSecond, 0) {
		return l, fmt.Errorf("state: rate limit: per_second must be a positive number, not %v", l.PerSecond)
	}
	if l.Burst < 1 {
		l.Burst = 1
	}
	return l, nil
}

// Outcome is what a Reservation tells its caller to do.
type Outcome int

const (
	// Run: the caller holds the lease; execute, then Remember or Release.
	Run Outcome = iota + 1
	// Done: a call with the key succeeded within the window; Result is its result.
	Done
	// Busy: another call with the key holds the lease and is still running.
	Busy
)

func (o Outcome) String() string {
	switch o {
	case Run:
		return "run"
	case Done:
		return "done"
	case Busy:
		return "busy"
	}
	return fmt.Sprintf("Outcome(%d)", int(o))
}

// Reservation is the answer of Store.Reserve.
type Reservation struct {
	Key     string
	Outcome Outcome
	Result  []byte // with Done
	lease   string // with Run: the lease's random token
}

// SessionState is the state of a session id.
type SessionState int

const (
	SessionUnknown SessionState = iota // never created, expired, or forgotten
	SessionLive
	SessionEnded // terminated (DELETE); answered 404 like an unknown one
)

func (s SessionState) String() string {
	switch s {
	case SessionUnknown:
		return "unknown"
	case SessionLive:
		return "live"
	case SessionEnded:
		return "ended"
	}
	return fmt.Sprintf("SessionState(%d)", int(s))
}

// Config selects and configures the backend (the `state:` section).
type Config struct {
	// Backend is "memory" (one process; the default when empty) or "redis".
	Backend string
	// URL of the Redis: redis://[user:password@]host:port/db, or rediss://
	// for TLS. Required with the redis backend.
	URL string
	// Password, already resolved from its secret reference; when set it
	// replaces a password in URL.
	Password string
	// KeyPrefix starts every key this store writes; replicas that share
	// state use the same prefix. Default DefaultKeyPrefix.
	KeyPrefix string
	// OpTimeout bounds every operation. Default DefaultOpTimeout.
	OpTimeout time.Duration
	// MaxLimiters bounds the rate limiters kept in this process (the
	// memory backend's, and the redis backend's fallback); the least
	// recently used are dropped beyond it. Default DefaultMaxLimiters.
	MaxLimiters int
	// Now is the memory backend's clock (tests set it); nil is time.Now.
	// Redis keeps time by itself.
	Now func() time.Time
}

const (
	DefaultKeyPrefix   = "switchboard:"
	DefaultOpTimeout   = 200 * time.Millisecond
	DefaultMaxLimiters = 100_000
)

func (c Config) withDefaults() Config {
	if c.Backend == "" {
		c.Backend = "memory"
	}
	if c.KeyPrefix == "" {
		c.KeyPrefix = DefaultKeyPrefix
	}
	if c.OpTimeout <= 0 {
		c.OpTimeout = DefaultOpTimeout
	}
	if c.MaxLimiters <= 0 {
		c.MaxLimiters = DefaultMaxLimiters
	}
	return c
}

// Open returns the store that cfg describes. It fails only on a bad
// configuration: a Redis that cannot be reached at start is logged, and the
// store works as soon as Redis does (until then its operations fail with
// ErrUnavailable, and Ping says why). ctx bounds that first ping.
func Open(ctx context.Context, cfg Config, log *slog.Logger) (Store, error) {
	cfg = cfg.withDefaults()
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	switch strings.ToLower(cfg.Backend) {
	case "memory":
		return NewMemory(cfg), nil
	case "redis":
		return openRedis(ctx, cfg, log)
	}
	return nil, fmt.Errorf("state.backend %q: want memory or redis", cfg.Backend)
}

// checkTTL rejects a duration that cannot be a lifetime.
func checkTTL(what string, d time.Duration) error {
	if d <= 0 {
		return fmt.Errorf("state: %s must be positive, not %v", what, d)
	}
	return nil
}

// RouteRedisLogs sends go-redis's own log lines (one per failed dial, many
// during an outage) to log at debug level; this store already logs an
// outage once, at its start, and once at its end. go-redis has one logger
// per process: main calls this once.
func RouteRedisLogs(log *slog.Logger) {
	redis.SetLogger(redisLogger{log})
}

type redisLogger struct{ log *slog.Logger }

func (l redisLogger) Printf(ctx context.Context, format string, v ...any) {
	l.log.DebugContext(ctx, fmt.Sprintf(format, v...), "component", "go-redis")
}
