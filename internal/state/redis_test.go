package state

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-dev/switchboard/internal/testredis"
)

// slack is how long past the op timeout an operation may take to give up.
const slack = 300 * time.Millisecond

func TestRedisKeysUnderPrefix(t *testing.T) {
	srv := testredis.Start(t)
	s := openTestRedis(t, srv.URL(), "sb-test:", nil)
	s.Claim(ctx, "n", time.Minute)
	Dedupe(ctx, s, "d", DedupeOptions{Window: time.Minute}, func(context.Context) ([]byte, error) { return []byte("r"), nil })
	s.Allow(ctx, "c", Limit{PerSecond: 1, Burst: 1})
	s.TouchSession(ctx, "s", time.Minute, true)
	keys, err := srv.Client().Keys(ctx, "*").Result()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{"sb-test:claim:n": true, "sb-test:dedupe:d": true, "rate:sb-test:rate:c": true, "sb-test:session:s": true}
	for _, k := range keys {
		if !want[k] {
			t.Errorf("unexpected key %q", k)
		}
		delete(want, k)
	}
	if len(want) > 0 {
		t.Errorf("missing keys %v (have %v)", want, keys)
	}
	ttl := srv.Client().PTTL(ctx, "sb-test:claim:n").Val()
	if ttl <= 0 || ttl > time.Minute {
		t.Errorf("claim ttl %v", ttl)
	}
}

func TestRedisPassword(t *testing.T) {
	srv := testredis.Start(t)
	if err := srv.Client().ConfigSet(ctx, "requirepass", "s3cret-pw").Err(); err != nil {
		t.Fatal(err)
	}
	log, logs := newLog()
	noPw := openTestRedis(t, srv.URL(), "p:", log)
	if err := noPw.Ping(ctx); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("without the password: %v, want ErrUnavailable", err)
	}
	withPw, err := Open(ctx, Config{Backend: "redis", URL: srv.URL(), Password: "s3cret-pw", KeyPrefix: "p:"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer withPw.Close()
	if err := withPw.Ping(ctx); err != nil {
		t.Fatalf("with the password: %v", err)
	}
	inURL := openTestRedis(t, strings.Replace(srv.URL(), "redis://", "redis://:s3cret-pw@", 1), "p:", nil)
	if first, err := inURL.Claim(ctx, "x", time.Minute); !first || err != nil {
		t.Fatalf("password in the URL: %v %v", first, err)
	}
	if strings.Contains(logs.String(), "s3cret") {
		t.Fatalf("the password was logged: %s", logs)
	}
}

// rediss:// means TLS: against a plain Redis it cannot work, and says so
// without failing Open.
func TestRedisTLSURL(t *testing.T) {
	srv := testredis.Start(t)
	short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	s, err := Open(short, Config{Backend: "redis", URL: strings.Replace(srv.URL(), "redis://", "rediss://", 1)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Ping(ctx); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("TLS to a plain server: %v", err)
	}
}

// Redis gone: Claim and dedupe fail closed within the op timeout, Allow
// limits per replica, sessions stay usable; the outage is logged once.
// Redis back: everything works again with the same stores.
func TestRedisOutageAndRecovery(t *testing.T) {
	srv := testredis.Start(t)
	log, logs := newLog()
	a := openTimedRedis(t, srv.URL(), "o:", log, DefaultOpTimeout)
	b := openTestRedis(t, srv.URL(), "o:", nil)
	ids, err := NewSessionIDs(a, []byte("0123456789abcdef"), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	session := ids.Generate()
	if _, err := ids.Validate(session); err != nil {
		t.Fatal(err)
	}
	if first, _ := a.Claim(ctx, "before", time.Minute); !first {
		t.Fatal("claim before the outage")
	}

	srv.Stop()
	t0 := time.Now()
	defer func() { t.Logf("outage part took %v", time.Since(t0)) }()

	bounded := func(what string, f func() error) {
		t.Helper()
		t0 := time.Now()
		err := f()
		d := time.Since(t0)
		if d > DefaultOpTimeout+slack {
			t.Errorf("%s took %v with Redis down", what, d)
		}
		if !errors.Is(err, ErrUnavailable) {
			t.Errorf("%s: %v, want ErrUnavailable", what, err)
		}
	}
	for range 5 {
		bounded("Claim", func() error { _, err := a.Claim(ctx, "during", time.Minute); return err })
		bounded("Reserve", func() error { _, err := a.Reserve(ctx, "during", time.Minute); return err })
		bounded("Dedupe", func() error {
			_, _, err := Dedupe(ctx, a, "during", DedupeOptions{Window: time.Minute}, func(context.Context) ([]byte, error) {
				t.Error("a dedupe call ran without the store")
				return nil, nil
			})
			return err
		})
		bounded("TouchSession", func() error { _, err := a.TouchSession(ctx, "x", time.Hour, true); return err })
		bounded("Ping", func() error { return a.Ping(ctx) })
	}
	if term, err := ids.Validate(session); term || err != nil {
		t.Fatalf("a session during the outage: %v %v; want it served", term, err)
	}
	if _, err := ids.Validate("mcp-session-forged"); err == nil {
		t.Fatal("a forged id is refused during the outage too")
	}
	// Rate limits hold per replica: this replica's own burst, no error.
	allowed := 0
	for range 10 {
		t0 := time.Now()
		ok, _, err := a.Allow(ctx, "client", Limit{PerSecond: 0.2, Burst: 3})
		if err != nil {
			t.Fatalf("Allow during the outage: %v", err)
		}
		if d := time.Since(t0); d > DefaultOpTimeout+slack {
			t.Errorf("Allow took %v", d)
		}
		if ok {
			allowed++
		}
	}
	if allowed != 3 {
		t.Fatalf("%d allowed during the outage, want the local burst 3", allowed)
	}
	if n := logs.count("redis unavailable"); n != 1 {
		t.Fatalf("outage logged %d times, want once:\n%s", n, logs)
	}

	srv.Restart()
	back := time.Now()
	eventually(t, 5*time.Second, func() error { return a.Ping(ctx) })
	t.Logf("usable %v after Redis answered again", time.Since(back).Round(time.Millisecond))
	if first, err := a.Claim(ctx, "after", time.Minute); !first || err != nil {
		t.Fatalf("claim after recovery: %v %v", first, err)
	}
	if first, err := b.Claim(ctx, "after", time.Minute); first || err != nil {
		t.Fatalf("claim on the other replica after recovery: %v %v", first, err)
	}
	if _, _, err := Dedupe(ctx, b, "after", DedupeOptions{Window: time.Minute}, func(context.Context) ([]byte, error) { return []byte("ok"), nil }); err != nil {
		t.Fatalf("dedupe after recovery: %v", err)
	}
	if ok, _, err := b.Allow(ctx, "client", Limit{PerSecond: 0.2, Burst: 3}); !ok || err != nil {
		t.Fatalf("shared limit after recovery: %v %v", ok, err)
	}
	// The Redis came back empty: a session younger than idle lives on.
	if term, err := ids.Validate(session); term || err != nil {
		t.Fatalf("session after an empty restart: %v %v", term, err)
	}
	if n := logs.count("redis reachable again"); n != 1 {
		t.Fatalf("recovery logged %d times, want once:\n%s", n, logs)
	}
}

// A Redis that does not answer (CLIENT PAUSE) costs a call at most the op
// timeout; when it answers again the same store works.
func TestRedisSlowIsBounded(t *testing.T) {
	srv := testredis.Start(t)
	s := openTimedRedis(t, srv.URL(), "slow:", nil, DefaultOpTimeout)
	if err := s.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	admin := srv.Client()
	if err := admin.Do(ctx, "CLIENT", "PAUSE", "1500", "ALL").Err(); err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	_, err := s.Claim(ctx, "k", time.Minute)
	if d := time.Since(t0); d > DefaultOpTimeout+slack {
		t.Fatalf("Claim against a paused Redis took %v", d)
	}
	if !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "no answer within") {
		t.Fatalf("err = %v", err)
	}
	t0 = time.Now()
	if ok, _, err := s.Allow(ctx, "c", Limit{PerSecond: 1, Burst: 1}); !ok || err != nil {
		t.Fatalf("Allow against a paused Redis: %v %v, want the local limiter", ok, err)
	}
	if d := time.Since(t0); d > DefaultOpTimeout+slack {
		t.Fatalf("Allow against a paused Redis took %v", d)
	}
	// A caller's own shorter deadline is kept, and is not an outage.
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if _, err := s.Claim(short, "k", time.Minute); !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, ErrUnavailable) {
		t.Fatalf("caller's deadline: %v", err)
	}
	// A third timeout in a row: then Redis is not asked for a while, and
	// calls stop paying the op timeout.
	if _, err := s.Reserve(ctx, "k", time.Minute); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("third: %v", err)
	}
	for range 5 {
		t0 = time.Now()
		_, err := s.Claim(ctx, "k", time.Minute)
		if d := time.Since(t0); d > 50*time.Millisecond || !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "not asked") {
			t.Fatalf("Claim with Redis skipped: %v after %v", err, d)
		}
		t0 = time.Now()
		if _, _, err := s.Allow(ctx, "c2", Limit{PerSecond: 1, Burst: 5}); err != nil || time.Since(t0) > 50*time.Millisecond {
			t.Fatalf("Allow with Redis skipped: %v after %v", err, time.Since(t0))
		}
	}
	if err := admin.Do(ctx, "CLIENT", "UNPAUSE").Err(); err != nil {
		t.Fatal(err)
	}
	eventually(t, 3*time.Second, func() error { return s.Ping(ctx) })
	if first, err := s.Claim(ctx, "k2", time.Minute); !first || err != nil {
		t.Fatalf("after the pause: %v %v", first, err)
	}
}

func eventually(t *testing.T, within time.Duration, f func() error) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("not within %v: %v", within, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
