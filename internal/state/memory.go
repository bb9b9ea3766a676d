package state

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"slices"
	"sync"
	"time"
)

// Memory is the store of one process (the memory backend). Its operations
// never fail for want of a backend and never block on anything but a mutex.
type Memory struct {
	mu        sync.Mutex
	claims    map[string]time.Time // key → expiry
	dedupe    map[string]memDedupe
	sessions  map[string]memSession
	nextPrune time.Time
	limiters  *localLimiters
	now       func() time.Time
}

type memDedupe struct {
	lease  string // while a call runs
	result []byte // after it succeeded
	exp    time.Time
}

type memSession struct {
	state SessionState
	exp   time.Time
}

// pruneEvery is how often expired entries are dropped.
const pruneEvery = 30 * time.Second

// NewMemory returns a memory store; of cfg only MaxLimiters and Now apply.
func NewMemory(cfg Config) *Memory {
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	return &Memory{
		claims:   map[string]time.Time{},
		dedupe:   map[string]memDedupe{},
		sessions: map[string]memSession{},
		limiters: newLocalLimiters(cfg.MaxLimiters),
		now:      now,
	}
}

// lock takes the mutex and drops what expired, at most every pruneEvery.
func (m *Memory) lock() time.Time {
	m.mu.Lock()
	now := m.now()
	if now.Before(m.nextPrune) {
		return now
	}
	m.nextPrune = now.Add(pruneEvery)
	for k, exp := range m.claims {
		if !now.Before(exp) {
			delete(m.claims, k)
		}
	}
	for k, e := range m.dedupe {
		if !now.Before(e.exp) {
			delete(m.dedupe, k)
		}
	}
	for k, s := range m.sessions {
		if !now.Before(s.exp) {
			delete(m.sessions, k)
		}
	}
	return now
}

func (m *Memory) Claim(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	if err := checkTTL("claim ttl", ttl); err != nil {
		return false, err
	}
	now := m.lock()
	defer m.mu.Unlock()
	if exp, ok := m.claims[key]; ok && now.Before(exp) {
		return false, nil
	}
	m.claims[key] = now.Add(ttl)
	return true, nil
}

func (m *Memory) Reserve(ctx context.Context, key string, lease time.Duration) (Reservation, error) {
	if err := checkTTL("dedupe lease", lease); err != nil {
		return Reservation{}, err
	}
	now := m.lock()
	defer m.mu.Unlock()
	if e, ok := m.dedupe[key]; ok && now.Before(e.exp) {
		if e.lease != "" {
			return Reservation{Key: key, Outcome: Busy}, nil
		}
		return Reservation{Key: key, Outcome: Done, Result: slices.Clone(e.result)}, nil
	}
	token := newToken()
	m.dedupe[key] = memDedupe{lease: token, exp: now.Add(lease)}
	return Reservation{Key: key, Outcome: Run, lease: token}, nil
}

func (m *Memory) Remember(ctx context.Context, r Reservation, result []byte, window time.Duration) error {
	if err := checkTTL("dedupe window", window); err != nil {
		return err
	}
	now := m.lock()
	defer m.mu.Unlock()
	m.dedupe[r.Key] = memDedupe{result: slices.Clone(result), exp: now.Add(window)}
	return nil
}

func (m *Memory) Release(ctx context.Context, r Reservation) error {
	if r.lease == "" {
		return nil
	}
	m.lock()
	defer m.mu.Unlock()
	if e, ok := m.dedupe[r.Key]; ok && e.lease == r.lease {
		delete(m.dedupe, r.Key)
	}
	return nil
}

func (m *Memory) Allow(ctx context.Context, key string, limit Limit) (bool, time.Duration, error) {
	limit, err := limit.check()
	if err != nil {
		return false, 0, err
	}
	ok, retry := m.limiters.allow(key, limit, m.now())
	return ok, retry, nil
}

func (m *Memory) TouchSession(ctx context.Context, id string, idle time.Duration, create bool) (SessionState, error) {
	if err := checkTTL("session idle", idle); err != nil {
		return SessionUnknown, err
	}
	now := m.lock()
	defer m.mu.Unlock()
	s, ok := m.sessions[id]
	if ok && !now.Before(s.exp) {
		ok = false
	}
	switch {
	case ok && s.state == SessionEnded:
		return SessionEnded, nil
	case ok, create:
		m.sessions[id] = memSession{state: SessionLive, exp: now.Add(idle)}
		return SessionLive, nil
	}
	return SessionUnknown, nil
}

func (m *Memory) EndSession(ctx context.Context, id string, keep time.Duration) (SessionState, error) {
	if err := checkTTL("ended session keep", keep); err != nil {
		return SessionUnknown, err
	}
	now := m.lock()
	defer m.mu.Unlock()
	before := SessionUnknown
	if s, ok := m.sessions[id]; ok && now.Before(s.exp) {
		before = s.state
		if before == SessionEnded {
			return before, nil
		}
	}
	m.sessions[id] = memSession{state: SessionEnded, exp: now.Add(keep)}
	return before, nil
}

func (m *Memory) Ping(ctx context.Context) error { return nil }

func (m *Memory) Close() error { return nil }

// newToken returns a random lease token.
func newToken() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
