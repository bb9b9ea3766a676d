package state

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	mcpserver "github.com/mark3labs/mcp-go/server"

	"github.com/switchboard-dev/switchboard/internal/testredis"
)

// Both backends implement mcp-go's session id manager through SessionIDs.
var (
	_ mcpserver.SessionIdManager = (*SessionIDs)(nil)
	_ mcpserver.SessionIdManager = LocalSessionIDs{}
)

// replicas opens n stores that share their state the way n switchboard
// processes do: for redis, n stores with a client each on one Redis and one
// key prefix; for memory, one store (a single process) n times.
type backend struct {
	name     string
	replicas func(t *testing.T, n int) []Store
}

func backends(t *testing.T) []backend {
	srv := testredis.Start(t)
	var seq atomic.Int64
	return []backend{
		{"memory", func(t *testing.T, n int) []Store {
			m := NewMemory(Config{})
			out := make([]Store, n)
			for i := range out {
				out[i] = m
			}
			return out
		}},
		{"redis", func(t *testing.T, n int) []Store {
			prefix := fmt.Sprintf("test%d:", seq.Add(1)) // each test its own keys
			out := make([]Store, n)
			for i := range out {
				out[i] = openTestRedis(t, srv.URL(), prefix, nil)
			}
			return out
		}},
	}
}

// suiteTimeout is the op timeout of the behavioural tests: generous, since a
// loaded CI machine can take longer than DefaultOpTimeout to schedule a
// dial; the tests of timeouts use DefaultOpTimeout.
const suiteTimeout = 3 * time.Second

func openTestRedis(t testing.TB, url, prefix string, log *slog.Logger) Store {
	t.Helper()
	return openTimedRedis(t, url, prefix, log, suiteTimeout)
}

func openTimedRedis(t testing.TB, url, prefix string, log *slog.Logger, timeout time.Duration) Store {
	t.Helper()
	s, err := Open(context.Background(), Config{Backend: "redis", URL: url, KeyPrefix: prefix, OpTimeout: timeout}, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// each runs f against every backend.
func each(t *testing.T, f func(t *testing.T, replicas func(n int) []Store)) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			f(t, func(n int) []Store { return b.replicas(t, n) })
		})
	}
}

var ctx = context.Background()

func TestClaim(t *testing.T) {
	each(t, func(t *testing.T, replicas func(int) []Store) {
		r := replicas(2)
		first, err := r[0].Claim(ctx, "nonce-a", time.Minute)
		if err != nil || !first {
			t.Fatalf("first claim: %v %v", first, err)
		}
		for _, s := range r {
			if first, err := s.Claim(ctx, "nonce-a", time.Minute); err != nil || first {
				t.Fatalf("second claim: %v %v, want false", first, err)
			}
		}
		if first, _ := r[1].Claim(ctx, "nonce-b", time.Minute); !first {
			t.Fatal("another key is claimed independently")
		}
		// After its ttl a key can be claimed again (callers use the token's lifetime).
		if first, _ := r[0].Claim(ctx, "short", 30*time.Millisecond); !first {
			t.Fatal("first claim of short")
		}
		time.Sleep(80 * time.Millisecond)
		if first, _ := r[1].Claim(ctx, "short", 30*time.Millisecond); !first {
			t.Fatal("claim after ttl should be first again")
		}
		if _, err := r[0].Claim(ctx, "zero", 0); err == nil {
			t.Fatal("a zero ttl is an error")
		}
	})
}

// The same token presented 12 times at the same moment on 3 replicas is
// accepted exactly once, every time.
func TestClaimConcurrentAcrossReplicas(t *testing.T) {
	each(t, func(t *testing.T, replicas func(int) []Store) {
		r := replicas(3)
		for round := range 10 {
			key := fmt.Sprintf("nonce-%d", round)
			var firsts, errs atomic.Int64
			start := make(chan struct{})
			var wg sync.WaitGroup
			for i := range 12 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					first, err := r[i%3].Claim(ctx, key, time.Minute)
					if err != nil {
						errs.Add(1)
					}
					if first {
						firsts.Add(1)
					}
				}()
			}
			close(start)
			wg.Wait()
			if firsts.Load() != 1 || errs.Load() != 0 {
				t.Fatalf("round %d: %d first claims, %d errors; want exactly 1 and 0", round, firsts.Load(), errs.Load())
			}
		}
	})
}

func TestDedupe(t *testing.T) {
	each(t, func(t *testing.T, replicas func(int) []Store) {
		r := replicas(3)
		o := DedupeOptions{Window: time.Minute, Lease: 5 * time.Second, Wait: 2 * time.Second}
		var runs atomic.Int64
		ticket := func(ctx context.Context) ([]byte, error) {
			n := runs.Add(1)
			return fmt.Appendf(nil, `{"ticket":%d}`, n), nil
		}

		t.Run("repeats on every replica get the first result", func(t *testing.T) {
			runs.Store(0)
			res, repeated, err := Dedupe(ctx, r[0], "crear_ticket", o, ticket)
			if err != nil || repeated || string(res) != `{"ticket":1}` {
				t.Fatalf("first: %s %v %v", res, repeated, err)
			}
			for _, s := range r {
				res, repeated, err := Dedupe(ctx, s, "crear_ticket", o, ticket)
				if err != nil || !repeated || string(res) != `{"ticket":1}` {
					t.Fatalf("repeat: %s %v %v", res, repeated, err)
				}
			}
			if _, repeated, _ := Dedupe(ctx, r[1], "crear_ticket/other-args", o, ticket); repeated {
				t.Fatal("another key runs")
			}
			if runs.Load() != 2 {
				t.Fatalf("%d runs, want 2", runs.Load())
			}
		})

		t.Run("a failed call is not remembered", func(t *testing.T) {
			boom := errors.New("upstream 503")
			_, _, err := Dedupe(ctx, r[0], "fails-first", o, func(context.Context) ([]byte, error) { return nil, boom })
			if !errors.Is(err, boom) {
				t.Fatalf("err = %v", err)
			}
			res, repeated, err := Dedupe(ctx, r[1], "fails-first", o, func(context.Context) ([]byte, error) { return []byte("ok"), nil })
			if err != nil || repeated || string(res) != "ok" {
				t.Fatalf("retry after failure: %s %v %v; want it to run", res, repeated, err)
			}
		})

		t.Run("a panicking call releases its lease", func(t *testing.T) {
			func() {
				defer func() { _ = recover() }()
				_, _, _ = Dedupe(ctx, r[0], "panics", o, func(context.Context) ([]byte, error) { panic("boom") })
			}()
			res, repeated, err := Dedupe(ctx, r[2], "panics", DedupeOptions{Window: time.Minute}, func(context.Context) ([]byte, error) { return []byte("ok"), nil })
			if err != nil || repeated || string(res) != "ok" {
				t.Fatalf("after panic: %s %v %v", res, repeated, err)
			}
		})

		t.Run("a repeat while the first runs waits for its result", func(t *testing.T) {
			release := make(chan struct{})
			started := make(chan struct{})
			var first []byte
			var wg sync.WaitGroup
			wg.Add(1)
			go func() {
				defer wg.Done()
				first, _, _ = Dedupe(ctx, r[0], "slow", o, func(context.Context) ([]byte, error) {
					close(started)
					<-release
					return []byte("slow-result"), nil
				})
			}()
			<-started
			time.AfterFunc(50*time.Millisecond, func() { close(release) })
			res, repeated, err := Dedupe(ctx, r[1], "slow", o, func(context.Context) ([]byte, error) {
				t.Error("the repeat executed while the first was running")
				return nil, nil
			})
			wg.Wait()
			if err != nil || !repeated || string(res) != "slow-result" || string(first) != "slow-result" {
				t.Fatalf("repeat: %s %v %v (first %s)", res, repeated, err, first)
			}
		})

		t.Run("a repeat gives up with ErrBusy after its wait", func(t *testing.T) {
			release := make(chan struct{})
			started := make(chan struct{})
			done := make(chan struct{})
			go func() {
				defer close(done)
				_, _, _ = Dedupe(ctx, r[0], "stuck", o, func(context.Context) ([]byte, error) {
					close(started)
					<-release
					return []byte("x"), nil
				})
			}()
			<-started
			t0 := time.Now()
			_, _, err := Dedupe(ctx, r[2], "stuck", DedupeOptions{Window: time.Minute, Wait: 60 * time.Millisecond}, func(context.Context) ([]byte, error) {
				t.Error("the repeat executed while the first was running")
				return nil, nil
			})
			if !errors.Is(err, ErrBusy) {
				t.Fatalf("err = %v, want ErrBusy", err)
			}
			if d := time.Since(t0); d > time.Second {
				t.Fatalf("gave up after %v", d)
			}
			close(release)
			<-done
		})

		t.Run("a waiting repeat runs when the first fails", func(t *testing.T) {
			release := make(chan struct{})
			started := make(chan struct{})
			go func() {
				_, _, _ = Dedupe(ctx, r[0], "fails-while-waiting", o, func(context.Context) ([]byte, error) {
					close(started)
					<-release
					return nil, errors.New("timeout")
				})
			}()
			<-started
			time.AfterFunc(30*time.Millisecond, func() { close(release) })
			res, repeated, err := Dedupe(ctx, r[1], "fails-while-waiting", o, func(context.Context) ([]byte, error) { return []byte("second"), nil })
			if err != nil || repeated || string(res) != "second" {
				t.Fatalf("waiting repeat: %s %v %v; want it to run", res, repeated, err)
			}
		})

		t.Run("12 identical calls at once over 3 replicas run once", func(t *testing.T) {
			for round := range 5 {
				key := fmt.Sprintf("burst-%d", round)
				var runs, repeats atomic.Int64
				start := make(chan struct{})
				var wg sync.WaitGroup
				for i := range 12 {
					wg.Add(1)
					go func() {
						defer wg.Done()
						<-start
						res, repeated, err := Dedupe(ctx, r[i%3], key, o, func(context.Context) ([]byte, error) {
							runs.Add(1)
							time.Sleep(30 * time.Millisecond)
							return []byte("one"), nil
						})
						if err != nil || string(res) != "one" {
							t.Errorf("call %d: %s %v", i, res, err)
						}
						if repeated {
							repeats.Add(1)
						}
					}()
				}
				close(start)
				wg.Wait()
				if runs.Load() != 1 || repeats.Load() != 11 {
					t.Fatalf("round %d: %d runs, %d repeats; want 1 and 11", round, runs.Load(), repeats.Load())
				}
			}
		})

		t.Run("the window ends", func(t *testing.T) {
			short := DedupeOptions{Window: 40 * time.Millisecond}
			_, _, _ = Dedupe(ctx, r[0], "short", short, ticket)
			time.Sleep(100 * time.Millisecond)
			if _, repeated, _ := Dedupe(ctx, r[1], "short", short, ticket); repeated {
				t.Fatal("repeat after the window was deduplicated")
			}
		})

		t.Run("Release of a lease that is not held does nothing", func(t *testing.T) {
			a, err := r[0].Reserve(ctx, "lease", time.Minute)
			if err != nil || a.Outcome != Run {
				t.Fatalf("reserve: %+v %v", a, err)
			}
			b, _ := r[1].Reserve(ctx, "lease", time.Minute)
			if b.Outcome != Busy {
				t.Fatalf("second reserve: %v, want busy", b.Outcome)
			}
			if err := r[1].Release(ctx, b); err != nil {
				t.Fatal(err)
			}
			if c, _ := r[2].Reserve(ctx, "lease", time.Minute); c.Outcome != Busy {
				t.Fatalf("a busy reservation released the lease: %v", c.Outcome)
			}
			if err := r[0].Release(ctx, a); err != nil {
				t.Fatal(err)
			}
			if c, _ := r[2].Reserve(ctx, "lease", time.Minute); c.Outcome != Run {
				t.Fatalf("after release: %v, want run", c.Outcome)
			}
		})
	})
}

func TestAllow(t *testing.T) {
	each(t, func(t *testing.T, replicas func(int) []Store) {
		r := replicas(3)
		limit := Limit{PerSecond: 0.1, Burst: 5}
		allowed := 0
		var retry time.Duration
		for i := range 20 {
			ok, ra, err := r[i%3].Allow(ctx, "client:a", limit)
			if err != nil {
				t.Fatal(err)
			}
			if ok {
				allowed++
			} else {
				retry = ra
			}
		}
		if allowed != 5 {
			t.Fatalf("%d allowed across 3 replicas, want the burst of 5", allowed)
		}
		if retry <= 0 || retry > 10*time.Second {
			t.Fatalf("retryAfter = %v, want (0, 10s]", retry)
		}
		if ok, _, _ := r[0].Allow(ctx, "client:b", limit); !ok {
			t.Fatal("another key has its own bucket")
		}

		fast := Limit{PerSecond: 5, Burst: 1}
		if ok, _, _ := r[0].Allow(ctx, "fast", fast); !ok {
			t.Fatal("first event")
		}
		ok, ra, _ := r[1].Allow(ctx, "fast", fast)
		if ok || ra <= 0 || ra > 200*time.Millisecond {
			t.Fatalf("second at once: %v %v, want refused with retry <= 200ms", ok, ra)
		}
		time.Sleep(ra + 10*time.Millisecond)
		if ok, _, _ := r[2].Allow(ctx, "fast", fast); !ok {
			t.Fatal("allowed again after retryAfter")
		}

		// A reload that raises the limit applies to the key at once.
		if ok, _, _ := r[0].Allow(ctx, "fast", Limit{PerSecond: 5, Burst: 3}); !ok {
			t.Fatal("raised burst")
		}

		if _, _, err := r[0].Allow(ctx, "bad", Limit{PerSecond: 0, Burst: 1}); err == nil {
			t.Fatal("per_second 0 is an error")
		}
	})
}

func TestSessions(t *testing.T) {
	each(t, func(t *testing.T, replicas func(int) []Store) {
		r := replicas(3)
		idle := time.Minute
		if st, _ := r[0].TouchSession(ctx, "s1", idle, false); st != SessionUnknown {
			t.Fatalf("unknown id: %v", st)
		}
		if st, err := r[0].TouchSession(ctx, "s1", idle, true); st != SessionLive || err != nil {
			t.Fatalf("create: %v %v", st, err)
		}
		for _, s := range r {
			if st, _ := s.TouchSession(ctx, "s1", idle, false); st != SessionLive {
				t.Fatalf("on another replica: %v", st)
			}
		}
		if before, err := r[1].EndSession(ctx, "s1", idle); before != SessionLive || err != nil {
			t.Fatalf("end: %v %v", before, err)
		}
		for _, s := range r {
			if st, _ := s.TouchSession(ctx, "s1", idle, true); st != SessionEnded {
				t.Fatalf("after end, even with create: %v", st)
			}
		}
		if before, _ := r[2].EndSession(ctx, "s1", idle); before != SessionEnded {
			t.Fatalf("end again: %v", before)
		}

		// Idle expiry: touched sessions live on, untouched ones expire.
		short := 400 * time.Millisecond
		r[0].TouchSession(ctx, "busy", short, true)
		r[0].TouchSession(ctx, "idle", short, true)
		for range 6 {
			time.Sleep(100 * time.Millisecond)
			r[1].TouchSession(ctx, "busy", short, false)
		}
		if st, _ := r[2].TouchSession(ctx, "busy", short, false); st != SessionLive {
			t.Fatalf("touched session: %v", st)
		}
		if st, _ := r[2].TouchSession(ctx, "idle", short, false); st != SessionUnknown {
			t.Fatalf("idle session: %v", st)
		}
		// An ended id is remembered for keep, then forgotten.
		r[0].EndSession(ctx, "gone", 40*time.Millisecond)
		time.Sleep(100 * time.Millisecond)
		if st, _ := r[1].TouchSession(ctx, "gone", short, false); st != SessionUnknown {
			t.Fatalf("after keep: %v", st)
		}
	})
}

func TestSessionIDs(t *testing.T) {
	key := []byte("0123456789abcdef-shared-by-replicas")
	each(t, func(t *testing.T, replicas func(int) []Store) {
		r := replicas(3)
		ids := make([]*SessionIDs, 3)
		for i := range ids {
			var err error
			if ids[i], err = NewSessionIDs(r[i], key, time.Hour); err != nil {
				t.Fatal(err)
			}
		}
		id := ids[0].Generate()
		if !strings.HasPrefix(id, "mcp-session-") || ids[0].Generate() == id {
			t.Fatalf("ids: %q", id)
		}
		for _, m := range ids {
			if term, err := m.Validate(id); term || err != nil {
				t.Fatalf("validate on a replica: %v %v", term, err)
			}
		}
		// The sweeper's and shutdown's Terminate end nothing shared.
		if _, err := ids[1].Local().Terminate(id); err != nil {
			t.Fatal(err)
		}
		if term, err := ids[2].Validate(id); term || err != nil {
			t.Fatalf("after a local terminate: %v %v", term, err)
		}
		if notAllowed, err := ids[1].Terminate(id); notAllowed || err != nil {
			t.Fatalf("terminate: %v %v", notAllowed, err)
		}
		for _, m := range ids {
			if term, err := m.Validate(id); !term || err != nil {
				t.Fatalf("after DELETE on another replica: terminated=%v %v", term, err)
			}
		}
		if _, err := ids[2].Terminate(id); err != nil {
			t.Fatalf("terminate twice: %v", err)
		}

		// Forged, foreign and malformed ids are unknown, and so is another
		// spelling of a terminated id (base64 with other unused bits).
		const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
		last := strings.IndexByte(alphabet, id[len(id)-1])
		variant := id[:len(id)-1] + string(alphabet[last^1])
		other, _ := NewSessionIDs(r[0], []byte("another key of 16 bytes or more"), time.Hour)
		for _, bad := range []string{variant, "", "mcp-session-", "mcp-session-" + strings.Repeat("A", 55), id + "x", other.Generate(), strings.Replace(id, "mcp-session-", "session-", 1)} {
			if _, err := ids[0].Validate(bad); err == nil {
				t.Errorf("Validate(%q) accepted", bad)
			}
			if _, err := ids[0].Terminate(bad); err == nil {
				t.Errorf("Terminate(%q) accepted", bad)
			}
		}

		// An id issued longer than idle ago with no record has expired.
		old := ids[0]
		past := *old
		past.now = func() time.Time { return time.Now().Add(-2 * time.Hour) }
		stale := past.Generate()
		if _, err := old.Validate(stale); err == nil {
			t.Fatal("an id older than idle, never used, was accepted")
		}
		if _, err := old.Terminate(stale); err == nil {
			t.Fatal("terminating an expired id should say unknown")
		}
		// But one in use stays live past idle from its issue.
		recent := *old
		recent.now = func() time.Time { return time.Now().Add(-59 * time.Minute) }
		used := recent.Generate()
		if _, err := old.Validate(used); err != nil {
			t.Fatal(err)
		}
		later := *old
		later.now = func() time.Time { return time.Now().Add(2 * time.Minute) }
		if _, err := later.Validate(used); err != nil {
			t.Fatalf("a session in use expired with its issue time: %v", err)
		}
	})
}

func TestNewSessionIDsKeys(t *testing.T) {
	if _, err := NewSessionIDs(NewMemory(Config{}), nil, time.Hour); err != nil {
		t.Fatalf("memory without a key: %v", err)
	}
	if _, err := NewSessionIDs(NewMemory(Config{}), []byte("short"), time.Hour); err == nil {
		t.Fatal("a short key is refused")
	}
	srv := testredis.Start(t)
	if _, err := NewSessionIDs(openTestRedis(t, srv.URL(), "k:", nil), nil, time.Hour); err == nil {
		t.Fatal("redis without a shared key is refused")
	}
}

func TestOpen(t *testing.T) {
	s, err := Open(ctx, Config{}, nil)
	if _, ok := s.(*Memory); !ok || err != nil {
		t.Fatalf("default backend: %T %v", s, err)
	}
	if _, err := Open(ctx, Config{Backend: "etcd"}, nil); err == nil || !strings.Contains(err.Error(), "memory or redis") {
		t.Fatalf("unknown backend: %v", err)
	}
	if _, err := Open(ctx, Config{Backend: "redis"}, nil); err == nil {
		t.Fatal("redis without a URL")
	}
	for _, url := range []string{"http://user:hunter2-secret@host:6379", "redis://user:hunter2-secret@host:port/0", "redis://:hunter2-secret@host:6379/zero"} {
		_, err = Open(ctx, Config{Backend: "redis", URL: url}, nil)
		if err == nil || strings.Contains(err.Error(), "hunter2") {
			t.Fatalf("%s: %v (must fail without showing the password)", url, err)
		}
	}
}

// logBuffer collects log lines from many goroutines.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func (l *logBuffer) count(s string) int { return strings.Count(l.String(), s) }

func newLog() (*slog.Logger, *logBuffer) {
	b := &logBuffer{}
	return slog.New(slog.NewTextHandler(b, nil)), b
}
