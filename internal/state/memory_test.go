package state

import (
	"fmt"
	"testing"
	"time"
)

// The memory store drops what expired, so a server that runs for months
// does not grow without bound.
func TestMemoryPrunes(t *testing.T) {
	m := NewMemory(Config{})
	now := time.Now()
	m.now = func() time.Time { return now }
	for i := range 100 {
		k := fmt.Sprint(i)
		m.Claim(ctx, k, time.Minute)
		r, _ := m.Reserve(ctx, k, time.Minute)
		m.Remember(ctx, r, []byte("x"), time.Minute)
		m.TouchSession(ctx, k, time.Minute, true)
	}
	now = now.Add(time.Minute + pruneEvery)
	m.Claim(ctx, "new", time.Minute)
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.claims) != 1 || len(m.dedupe) != 0 || len(m.sessions) != 0 {
		t.Fatalf("after expiry: %d claims, %d dedupe, %d sessions", len(m.claims), len(m.dedupe), len(m.sessions))
	}
}

// Local limiters are bounded, and the ones that refilled are dropped.
func TestLocalLimitersBounded(t *testing.T) {
	l := newLocalLimiters(10)
	now := time.Now()
	limit := Limit{PerSecond: 1, Burst: 2}
	for i := range 50 {
		l.allow(fmt.Sprint(i), limit, now)
	}
	if n := l.len(); n != 10 {
		t.Fatalf("%d limiters kept, want the bound 10", n)
	}
	// The most recently used key keeps its state.
	l.allow("49", limit, now)
	if ok, retry := l.allow("49", limit, now); ok || retry <= 0 {
		t.Fatalf("third event at once: %v %v", ok, retry)
	}
	// Full again after burst/rate: dropped on the next sweep.
	later := now.Add(sweepEvery + 3*time.Second)
	l.allow("fresh", limit, later)
	if n := l.len(); n != 1 {
		t.Fatalf("%d limiters after the sweep, want 1", n)
	}
}

// A lowered limit applies at once, without a fresh burst.
func TestLocalLimiterLowered(t *testing.T) {
	l := newLocalLimiters(10)
	now := time.Now()
	for range 3 {
		l.allow("k", Limit{PerSecond: 1, Burst: 10}, now)
	}
	if ok, _ := l.allow("k", Limit{PerSecond: 1, Burst: 3}, now); ok {
		t.Fatal("3 used of a burst lowered to 3: the next is refused")
	}
}
