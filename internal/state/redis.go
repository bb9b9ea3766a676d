package state

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
)

// redisStore is the redis backend. Keys (after Config.KeyPrefix):
//
//	claim:<key>      "1" until the claim's ttl
//	dedupe:<key>     "L<token>" while a call holds the lease, "R<result>" after it succeeded
//	session:<id>     "live" (expires after idle without a touch) or "ended" (kept for keep)
//	rate:<prefix>rate:<key>  redis_rate's GCRA state (that library puts "rate:" first)
type redisStore struct {
	rdb     *redis.Client
	rate    *redis_rate.Limiter
	prefix  string
	timeout time.Duration
	local   *localLimiters // Allow's fallback while Redis cannot be used
	log     *slog.Logger
	down    atomic.Bool // an outage has been logged and not yet its end

	// A Redis that fails tripFailures times in a row (slow, refusing) is
	// not asked for retryEvery: operations fail at once (Allow uses the
	// local limiter) instead of each waiting for the op timeout. go-redis
	// does the same for failed dials; this covers a Redis that accepts
	// connections and answers too slowly.
	mu        sync.Mutex
	failures  int
	skipUntil time.Time
}

const (
	tripFailures = 3
	retryEvery   = time.Second
)

func openRedis(ctx context.Context, cfg Config, log *slog.Logger) (*redisStore, error) {
	if cfg.URL == "" {
		return nil, errors.New("state.redis.url is required with backend redis")
	}
	opt, err := redis.ParseURL(cfg.URL)
	if err != nil {
		// The URL may hold a password: say what is wrong, not what it is.
		return nil, fmt.Errorf("state.redis.url: %v", redactURLError(err, cfg.URL))
	}
	if cfg.Password != "" {
		opt.Password = cfg.Password
	}
	// Every command is bounded by its context (the op timeout below); the
	// socket timeouts are a backstop for a command without a deadline.
	opt.ContextTimeoutEnabled = true
	if opt.ReadTimeout <= 0 || opt.ReadTimeout > time.Second {
		opt.ReadTimeout = time.Second
	}
	if opt.WriteTimeout <= 0 || opt.WriteTimeout > time.Second {
		opt.WriteTimeout = time.Second
	}
	if opt.DialTimeout <= 0 || opt.DialTimeout > 2*time.Second {
		opt.DialTimeout = 2 * time.Second
	}
	opt.PoolTimeout = cfg.OpTimeout
	// Within one op timeout there is no time for go-redis's dial retries
	// (5, 100 ms apart): one dial, and one retry of a command on a fresh
	// connection (a pooled one may be dead after a Redis restart). A refused
	// connection then fails in a millisecond, not after the op timeout.
	opt.DialerRetries = 1
	if opt.MaxRetries == 0 {
		opt.MaxRetries = 1
	}
	// Push notifications for managed-cloud maintenance are not ours to handle.
	opt.MaintNotificationsConfig = &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
	opt.DisableIdentity = true // no CLIENT SETINFO (refused by older servers and some proxies)
	rdb := redis.NewClient(opt)
	s := &redisStore{
		rdb:     rdb,
		rate:    redis_rate.NewLimiter(rdb),
		prefix:  cfg.KeyPrefix,
		timeout: cfg.OpTimeout,
		local:   newLocalLimiters(cfg.MaxLimiters),
		log:     log.With("backend", "redis", "addr", opt.Addr),
	}
	pctx, cancel := context.WithTimeout(ctx, max(cfg.OpTimeout, 2*time.Second))
	defer cancel()
	if err := rdb.Ping(pctx).Err(); err != nil {
		s.failed(err)
	} else {
		s.log.Info("state: redis reachable", "key_prefix", s.prefix)
	}
	return s, nil
}

// redactURLError keeps a password in the URL out of a parse error.
func redactURLError(err error, raw string) string {
	msg := err.Error()
	if i := strings.Index(raw, "://"); i >= 0 {
		if j := strings.LastIndex(raw, "@"); j > i {
			msg = strings.ReplaceAll(msg, raw[i+3:j], "xxxxx")
		}
	}
	return msg
}

// op starts one operation: bounded by the store's timeout, or refused at
// once while Redis is skipped after failures in a row.
func (s *redisStore) op(ctx context.Context, what string) (context.Context, context.CancelFunc, error) {
	s.mu.Lock()
	skip := s.failures >= tripFailures && time.Now().Before(s.skipUntil)
	s.mu.Unlock()
	if skip {
		return nil, nil, fmt.Errorf("state: redis %s: %w: not asked for %v after %d failures in a row", what, ErrUnavailable, retryEvery, tripFailures)
	}
	octx, cancel := context.WithTimeout(ctx, s.timeout)
	return octx, cancel, nil
}

// result turns the error of an operation into what the caller sees, and
// keeps track of the outage: logged when it starts and when it ends.
func (s *redisStore) result(ctx context.Context, what string, err error) error {
	if err == nil || errors.Is(err, redis.Nil) {
		s.succeeded()
		return nil
	}
	if ctx.Err() != nil {
		// The caller gave up (not our timeout): not an outage.
		return fmt.Errorf("state: redis %s: %w", what, ctx.Err())
	}
	s.failed(err)
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("state: redis %s: %w: no answer within %v", what, ErrUnavailable, s.timeout)
	}
	return fmt.Errorf("state: redis %s: %w: %w", what, ErrUnavailable, err)
}

func (s *redisStore) failed(err error) {
	s.mu.Lock()
	s.failures++
	if s.failures >= tripFailures {
		s.skipUntil = time.Now().Add(retryEvery)
	}
	s.mu.Unlock()
	if s.down.CompareAndSwap(false, true) {
		s.log.Warn("state: redis unavailable; confirmations and de-duplication are refused and rate limits hold per replica until it is back", "err", err)
	}
}

func (s *redisStore) succeeded() {
	s.mu.Lock()
	s.failures = 0
	s.mu.Unlock()
	if s.down.Load() && s.down.CompareAndSwap(true, false) {
		s.log.Info("state: redis reachable again; shared state restored")
	}
}

func (s *redisStore) Claim(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	if err := checkTTL("claim ttl", ttl); err != nil {
		return false, err
	}
	octx, cancel, err := s.op(ctx, "claim")
	if err != nil {
		return false, err
	}
	defer cancel()
	ok, err := s.rdb.SetNX(octx, s.prefix+"claim:"+key, "1", roundMS(ttl)).Result()
	if err = s.result(ctx, "claim", err); err != nil {
		return false, err
	}
	return ok, nil
}

// reserveScript returns {1, value} when key holds a lease or a result, and
// otherwise takes the lease (ARGV[1], for ARGV[2] ms) and returns {0}.
var reserveScript = redis.NewScript(`
local v = redis.call('GET', KEYS[1])
if v then return {1, v} end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return {0}
`)

// releaseScript deletes key if it still holds the lease ARGV[1].
var releaseScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`)

func (s *redisStore) Reserve(ctx context.Context, key string, lease time.Duration) (Reservation, error) {
	if err := checkTTL("dedupe lease", lease); err != nil {
		return Reservation{}, err
	}
	octx, cancel, err := s.op(ctx, "dedupe")
	if err != nil {
		return Reservation{}, err
	}
	defer cancel()
	mine := Reservation{Key: key, Outcome: Run, lease: "L" + newToken()}
	v, err := reserveScript.Run(octx, s.rdb, []string{s.prefix + "dedupe:" + key}, mine.lease, roundMS(lease).Milliseconds()).Slice()
	if err = s.result(ctx, "dedupe", err); err != nil {
		// The lease may have been taken with the answer lost: give it
		// back, or repeats would wait for a call that never runs.
		go func() { _ = s.Release(context.WithoutCancel(ctx), mine) }()
		return Reservation{}, err
	}
	if len(v) < 2 {
		return mine, nil
	}
	held, _ := v[1].(string)
	if strings.HasPrefix(held, "R") {
		return Reservation{Key: key, Outcome: Done, Result: []byte(held[1:])}, nil
	}
	return Reservation{Key: key, Outcome: Busy}, nil
}

func (s *redisStore) Remember(ctx context.Context, r Reservation, result []byte, window time.Duration) error {
	if err := checkTTL("dedupe window", window); err != nil {
		return err
	}
	octx, cancel, err := s.op(ctx, "dedupe")
	if err != nil {
		return err
	}
	defer cancel()
	v := make([]byte, 0, 1+len(result))
	v = append(append(v, 'R'), result...)
	err = s.rdb.Set(octx, s.prefix+"dedupe:"+r.Key, v, roundMS(window)).Err()
	return s.result(ctx, "dedupe", err)
}

func (s *redisStore) Release(ctx context.Context, r Reservation) error {
	if r.lease == "" {
		return nil
	}
	octx, cancel, err := s.op(ctx, "dedupe")
	if err != nil {
		return err
	}
	defer cancel()
	err = releaseScript.Run(octx, s.rdb, []string{s.prefix + "dedupe:" + r.Key}, r.lease).Err()
	return s.result(ctx, "dedupe", err)
}

func (s *redisStore) Allow(ctx context.Context, key string, limit Limit) (bool, time.Duration, error) {
	limit, err := limit.check()
	if err != nil {
		return false, 0, err
	}
	res, err := s.allow(ctx, key, limit)
	if err != nil {
		if errors.Is(err, ErrUnavailable) {
			ok, retry := s.local.allow(key, limit, time.Now())
			return ok, retry, nil
		}
		return false, 0, err
	}
	if res.Allowed > 0 {
		return true, 0, nil
	}
	return false, max(res.RetryAfter, 0), nil
}

func (s *redisStore) allow(ctx context.Context, key string, limit Limit) (*redis_rate.Result, error) {
	octx, cancel, err := s.op(ctx, "rate limit")
	if err != nil {
		return nil, err
	}
	defer cancel()
	// GCRA with one event per emission interval: Rate 1 per Period.
	rl := redis_rate.Limit{Rate: 1, Burst: limit.Burst, Period: time.Duration(float64(time.Second) / limit.PerSecond)}
	res, err := s.rate.Allow(octx, s.prefix+"rate:"+key, rl)
	return res, s.result(ctx, "rate limit", err)
}

// touchScript: ARGV[1] idle ms, ARGV[2] "1" to create a missing record.
// Returns 0 unknown, 1 live, 2 ended.
var touchScript = redis.NewScript(`
local v = redis.call('GET', KEYS[1])
if v == 'ended' then return 2 end
if v == 'live' then redis.call('PEXPIRE', KEYS[1], ARGV[1]) return 1 end
if ARGV[2] == '1' then redis.call('SET', KEYS[1], 'live', 'PX', ARGV[1]) return 1 end
return 0
`)

// endScript: ARGV[1] keep ms. Returns the state before (0, 1, 2).
var endScript = redis.NewScript(`
local v = redis.call('GET', KEYS[1])
if v == 'ended' then return 2 end
redis.call('SET', KEYS[1], 'ended', 'PX', ARGV[1])
if v == 'live' then return 1 end
return 0
`)

func (s *redisStore) TouchSession(ctx context.Context, id string, idle time.Duration, create bool) (SessionState, error) {
	if err := checkTTL("session idle", idle); err != nil {
		return SessionUnknown, err
	}
	octx, cancel, err := s.op(ctx, "session")
	if err != nil {
		return SessionUnknown, err
	}
	defer cancel()
	c := "0"
	if create {
		c = "1"
	}
	n, err := touchScript.Run(octx, s.rdb, []string{s.prefix + "session:" + id}, roundMS(idle).Milliseconds(), c).Int()
	if err = s.result(ctx, "session", err); err != nil {
		return SessionUnknown, err
	}
	return SessionState(n), nil
}

func (s *redisStore) EndSession(ctx context.Context, id string, keep time.Duration) (SessionState, error) {
	if err := checkTTL("ended session keep", keep); err != nil {
		return SessionUnknown, err
	}
	octx, cancel, err := s.op(ctx, "session")
	if err != nil {
		return SessionUnknown, err
	}
	defer cancel()
	n, err := endScript.Run(octx, s.rdb, []string{s.prefix + "session:" + id}, roundMS(keep).Milliseconds()).Int()
	if err = s.result(ctx, "session", err); err != nil {
		return SessionUnknown, err
	}
	return SessionState(n), nil
}

func (s *redisStore) Ping(ctx context.Context) error {
	octx, cancel, err := s.op(ctx, "ping")
	if err != nil {
		return err
	}
	defer cancel()
	return s.result(ctx, "ping", s.rdb.Ping(octx).Err())
}

func (s *redisStore) Close() error { return s.rdb.Close() }

// roundMS rounds d up to whole milliseconds, the unit of PX.
func roundMS(d time.Duration) time.Duration {
	return (d + time.Millisecond - 1).Truncate(time.Millisecond)
}
