package testredis

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
)

func TestStartStopRestart(t *testing.T) {
	s := Start(t)
	c := s.Client()
	ctx := context.Background()
	if err := c.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	s.Stop()
	if err := c.Ping(ctx).Err(); err == nil {
		t.Fatal("answers after Stop")
	}
	s.Stop() // twice is fine
	addr := s.Addr()
	s.Restart()
	if s.Addr() != addr {
		t.Fatalf("restarted on %s, want %s", s.Addr(), addr)
	}
	if err := c.Ping(ctx).Err(); err != nil {
		t.Fatalf("after Restart: %v", err)
	}
	if n, _ := c.Exists(ctx, "k").Result(); n != 0 {
		t.Fatal("data survived the restart (no persistence wanted)")
	}
	if !strings.HasPrefix(s.URL(), "redis://127.0.0.1:") {
		t.Fatal(s.URL())
	}
}

// fatalTB records a Fatalf instead of failing the test.
type fatalTB struct {
	testing.TB
	mu  sync.Mutex
	msg string
}

func (f *fatalTB) Fatalf(format string, args ...any) {
	f.mu.Lock()
	f.msg = fmt.Sprintf(format, args...)
	f.mu.Unlock()
	runtime.Goexit()
}

func TestMissingRedisServerFailsWithThePackageName(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	f := &fatalTB{TB: t}
	done := make(chan struct{})
	go func() { defer close(done); Start(f) }()
	<-done
	if !strings.Contains(f.msg, "redis-server") || !strings.Contains(f.msg, "apt-get install redis-server") {
		t.Fatalf("message: %q", f.msg)
	}
}
