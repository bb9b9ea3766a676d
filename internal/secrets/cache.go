package secrets

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"
)

// Cache wraps a Source so that concurrent Gets of one reference share a single
// read, a value is reused for TTL, and a value read at most StaleIfError ago is
// served when the Source fails with ErrUnavailable. With both durations zero
// it keeps no values at all, only the sharing of in-flight reads.
//
// The shared read runs detached from the caller's cancellation (one caller
// giving up must not fail the others waiting on it), so the wrapped Source
// must bound its own reads with a timeout.
type Cache struct {
	src        Source
	ttl, stale time.Duration
	log        *slog.Logger
	now        func() time.Time
	group      singleflight.Group
	mu         sync.Mutex
	entries    map[string]cacheEntry
}

type cacheEntry struct {
	val string
	at  time.Time
}

// NewCache wraps src. logger may be nil. now is the clock that ages values;
// nil means time.Now (tests pass their own, to step over a TTL at once).
func NewCache(src Source, ttl, staleIfError time.Duration, logger *slog.Logger, now func() time.Time) *Cache {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if now == nil {
		now = time.Now
	}
	return &Cache{src: src, ttl: ttl, stale: staleIfError, log: logger, now: now, entries: map[string]cacheEntry{}}
}

// Get returns the value of ref from the cache or the wrapped Source.
func (c *Cache) Get(ctx context.Context, ref Ref) (string, error) {
	key := ref.String()
	if c.ttl > 0 {
		if e, ok := c.entry(key); ok && c.now().Sub(e.at) < c.ttl {
			return e.val, nil
		}
	}
	ch := c.group.DoChan(key, func() (any, error) {
		v, err := c.src.Get(context.WithoutCancel(ctx), ref)
		c.record(key, v, err)
		return v, err
	})
	select {
	case <-ctx.Done():
		return "", ctx.Err()
	case r := <-ch:
		if r.Err == nil {
			return r.Val.(string), nil
		}
		if c.stale > 0 && errors.Is(r.Err, ErrUnavailable) {
			if e, ok := c.entry(key); ok {
				if age := c.now().Sub(e.at); age <= c.stale {
					c.log.Warn("secret store unavailable; serving the last value read",
						"ref", key, "age", age.Round(time.Millisecond), "error", r.Err)
					return e.val, nil
				}
			}
		}
		return "", r.Err
	}
}

func (c *Cache) entry(key string) (cacheEntry, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[key]
	return e, ok
}

// record keeps a fresh value, and forgets a value that the store says no
// longer exists or may no longer be read: those must not be served stale.
func (c *Cache) record(key, val string, err error) {
	if c.ttl <= 0 && c.stale <= 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case err == nil:
		c.entries[key] = cacheEntry{val: val, at: c.now()}
	case errors.Is(err, ErrNotFound), errors.Is(err, ErrDenied):
		delete(c.entries, key)
	}
}
