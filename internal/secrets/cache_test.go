package secrets

import (
	"context"
	"errors"
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
	c := NewCache(src, ttl, stale, nil)
	clk := &clock{t: time.Unix(1e9, 0)}
	c.now = clk.now
	return c, clk
}

func mustGet(t *testing.T, c *Cache, want string) {
	t.Helper()
	v, err := c.Get(t.Context(), testRef)
	if err != nil || v != want {
		t.Fatalf("Get = %q, %v; want %q", v, err, want)
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
