package secrets

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// store is a Source whose answer the test sets, counting reads.
type store struct {
	mu    sync.Mutex
	val   string
	err   error
	reads atomic.Int32
	hold  chan struct{} // when set, reads wait for it to close
}

func (s *store) Get(ctx context.Context, _ Ref) (string, error) {
	s.reads.Add(1)
	if s.hold != nil {
		<-s.hold
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.val, s.err
}

func (s *store) set(v string, err error) {
	s.mu.Lock()
	s.val, s.err = v, err
	s.mu.Unlock()
}

var testRef = Ref{Scheme: SchemeVault, Path: "secret/x", Field: "k"}

// clock is a settable time for the cache.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func newTestCache(src Source, ttl, stale time.Duration) (*Cache, *clock) {
	clk := &clock{t: time.Unix(1e9, 0)}
	return NewCache(src, ttl, stale, nil, clk.now), clk
}

func mustGet(t *testing.T, c *Cache, want string) {
	t.Helper()
	v, err := c.Get(t.Context(), testRef)
	if err != nil || v != want {
		t.Fatalf("Get = %q, %v; want %q", v, err, want)
	}
}

func TestCacheDefaultClock(t *testing.T) {
	s := &store{val: "a"}
	c := NewCache(s, time.Hour, 0, nil, nil)
	mustGet(t, c, "a")
	s.set("b", nil)
	mustGet(t, c, "a")
	if e, ok := c.entry(testRef.String()); !ok || time.Since(e.at) > time.Minute {
		t.Fatalf("entry %+v, %v: not aged by the wall clock", e, ok)
	}
}

func TestCacheNoTTLReadsEveryTime(t *testing.T) {
	s := &store{val: "a"}
	c, _ := newTestCache(s, 0, 0)
	mustGet(t, c, "a")
	s.set("b", nil)
	mustGet(t, c, "b")
	if n := s.reads.Load(); n != 2 {
		t.Fatalf("%d reads, want 2", n)
	}
	if len(c.entries) != 0 {
		t.Fatal("values kept with no TTL and no stale-if-error")
	}
}

func TestCacheTTL(t *testing.T) {
	s := &store{val: "a"}
	c, clk := newTestCache(s, time.Minute, 0)
	mustGet(t, c, "a")
	s.set("b", nil)
	clk.t = clk.t.Add(59 * time.Second)
	mustGet(t, c, "a")
	clk.t = clk.t.Add(time.Second)
	mustGet(t, c, "b")
}

func TestCacheStaleIfError(t *testing.T) {
	s := &store{val: "a"}
	c, clk := newTestCache(s, 0, time.Minute)
	mustGet(t, c, "a")
	s.set("", ErrUnavailable)
	clk.t = clk.t.Add(time.Minute)
	mustGet(t, c, "a")
	clk.t = clk.t.Add(time.Second)
	if _, err := c.Get(t.Context(), testRef); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("too old a value served: err = %v", err)
	}

	// Not found or denied: the old value must not be served any more.
	clk.t = clk.t.Add(-time.Minute)
	s.set("", ErrDenied)
	if _, err := c.Get(t.Context(), testRef); !errors.Is(err, ErrDenied) {
		t.Fatalf("err = %v, want ErrDenied", err)
	}
	s.set("", ErrUnavailable)
	if _, err := c.Get(t.Context(), testRef); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("a denied value was served stale: err = %v", err)
	}
}

func TestCacheSharesInflightReadAndHonoursCallerContext(t *testing.T) {
	s := &store{val: "a", hold: make(chan struct{})}
	c, _ := newTestCache(s, 0, 0)

	// A caller that gives up returns at once, without failing the others.
	ctx, cancel := context.WithCancel(t.Context())
	gaveUp := make(chan error)
	go func() {
		_, err := c.Get(ctx, testRef)
		gaveUp <- err
	}()
	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() {
			if v, err := c.Get(t.Context(), testRef); err != nil || v != "a" {
				t.Errorf("Get = %q, %v", v, err)
			}
		})
	}
	for s.reads.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	cancel()
	if err := <-gaveUp; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled caller: err = %v", err)
	}
	time.Sleep(50 * time.Millisecond) // let the others join the read
	close(s.hold)
	wg.Wait()
	if n := s.reads.Load(); n != 1 {
		t.Fatalf("%d reads, want 1", n)
	}
}

// Only an unreachable store (ErrUnavailable, however wrapped) lets the cache
// fall back on the last value read. Any other answer is the store's word on
// the secret and reaches the caller: a revoked permission, a deleted secret
// or a malformed request must not be papered over with the old value.
func TestCacheStaleOnlyWhenUnavailable(t *testing.T) {
	for _, tc := range []struct {
		name  string
		err   error
		stale bool
	}{
		{"unavailable", ErrUnavailable, true},
		{"unavailable, wrapped", fmt.Errorf("vault read secret/x: Vault answered 503 (Vault is sealed): %w", ErrUnavailable), true},
		{"unavailable, joined", errors.Join(ErrUnavailable, errors.New("dial tcp: connection refused")), true},
		{"permission denied", fmt.Errorf("vault read secret/x: %w", ErrDenied), false},
		{"not found", fmt.Errorf("vault read secret/x: no field \"k\": %w", ErrNotFound), false},
		{"bad request", errors.New("vault read secret/x: Vault answered 400 (invalid path)"), false},
		{"caller gave up", context.Canceled, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &store{val: "old-value"}
			c, clk := newTestCache(s, 0, time.Hour)
			mustGet(t, c, "old-value")
			s.set("", tc.err)
			clk.t = clk.t.Add(time.Second)
			v, err := c.Get(t.Context(), testRef)
			if tc.stale {
				if err != nil || v != "old-value" {
					t.Fatalf("Get = %q, %v; want the stale value", v, err)
				}
				return
			}
			if v != "" || !errors.Is(err, tc.err) {
				t.Fatalf("Get = %q, %v; want the store's error and no value", v, err)
			}
		})
	}
}

// A store that says a secret is gone or forbidden makes the cache forget its
// value: a later outage must not bring it back.
func TestCacheForgetsWhatTheStoreRefused(t *testing.T) {
	for _, refusal := range []error{ErrNotFound, ErrDenied} {
		s := &store{val: "old-value"}
		c, _ := newTestCache(s, 0, time.Hour)
		mustGet(t, c, "old-value")
		s.set("", fmt.Errorf("vault read secret/x: %w", refusal))
		if _, err := c.Get(t.Context(), testRef); !errors.Is(err, refusal) {
			t.Fatalf("err = %v, want %v", err, refusal)
		}
		s.set("", ErrUnavailable)
		if v, err := c.Get(t.Context(), testRef); v != "" || !errors.Is(err, ErrUnavailable) {
			t.Fatalf("after %v: Get = %q, %v; want ErrUnavailable and no value", refusal, v, err)
		}
	}
	// An ordinary failure is not such an answer: the value stays for an outage.
	s := &store{val: "old-value"}
	c, _ := newTestCache(s, 0, time.Hour)
	mustGet(t, c, "old-value")
	s.set("", errors.New("Vault answered 400"))
	if _, err := c.Get(t.Context(), testRef); err == nil {
		t.Fatal("no error")
	}
	s.set("", ErrUnavailable)
	mustGet(t, c, "old-value")
}

// fields answers each reference with its own value: "<scheme>:<path>#<field>=v<n>",
// n counting the reads of that reference.
type fields struct {
	mu    sync.Mutex
	reads map[Ref]int
	err   error
	hold  chan struct{}
}

func (f *fields) Get(_ context.Context, ref Ref) (string, error) {
	if f.hold != nil {
		<-f.hold
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return "", f.err
	}
	f.reads[ref]++
	return fmt.Sprintf("%s=v%d", ref, f.reads[ref]), nil
}

// Two fields of one secret path (vault:secret/app#user and #password) are
// two values: neither the cache nor the shared in-flight read may hand one
// out for the other.
func TestCacheFieldsOfOnePathDoNotCollide(t *testing.T) {
	refs := []Ref{
		{Scheme: SchemeVault, Path: "secret/app", Field: "user"},
		{Scheme: SchemeVault, Path: "secret/app", Field: "password"},
		{Scheme: SchemeVault, Path: "secret/app/password"},
		{Scheme: SchemeEnv, Path: "APP"},
		{Scheme: SchemeFile, Path: "APP"},
	}
	get := func(c *Cache, r Ref, want string) {
		t.Helper()
		if v, err := c.Get(t.Context(), r); err != nil || v != want {
			t.Fatalf("Get(%s) = %q, %v; want %q", r, v, err, want)
		}
	}

	// Cached for the TTL, each under its own reference.
	f := &fields{reads: map[Ref]int{}}
	c, clk := newTestCache(f, time.Minute, time.Hour)
	for range 2 {
		for _, r := range refs {
			get(c, r, r.String()+"=v1")
		}
	}
	// Stale, each its own.
	clk.t = clk.t.Add(2 * time.Minute)
	f.err = ErrUnavailable
	for _, r := range refs {
		get(c, r, r.String()+"=v1")
	}

	// In flight at once: one read per reference, each caller its own value.
	f = &fields{reads: map[Ref]int{}, hold: make(chan struct{})}
	c, _ = newTestCache(f, 0, 0)
	var wg sync.WaitGroup
	for _, r := range refs {
		for range 3 {
			wg.Go(func() {
				if v, err := c.Get(t.Context(), r); err != nil || !strings.HasPrefix(v, r.String()+"=") {
					t.Errorf("Get(%s) = %q, %v", r, v, err)
				}
			})
		}
	}
	time.Sleep(50 * time.Millisecond) // let them all wait on the held reads
	close(f.hold)
	wg.Wait()
	for _, r := range refs {
		if f.reads[r] == 0 {
			t.Errorf("%s was never read: it was answered with another reference's value", r)
		}
	}
}
