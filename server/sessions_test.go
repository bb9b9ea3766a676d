package server

import (
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// The ids mcp-go is given: a request's view ends a session for every
// replica; the view without a request (idle sweep, shutdown) only here. The
// count is what this process serves.
func TestSessions(t *testing.T) {
	s := newSessions(nil)
	req := httptest.NewRequest("POST", "/mcp", nil)
	shared, local := s.ResolveSessionIdManager(req), s.ResolveSessionIdManager(nil)

	id := shared.Generate()
	if !strings.HasPrefix(id, "mcp-session-") || shared.Generate() == id {
		t.Fatalf("id %q", id)
	}
	if ended, err := shared.Validate(id); ended || err != nil {
		t.Fatalf("Validate(live) = %v, %v", ended, err)
	}
	if _, err := shared.Validate("mcp-session-unknown"); err == nil {
		t.Fatal("an unknown id was accepted")
	}
	if n := s.count(); n != 2 {
		t.Fatalf("count %d, want 2", n)
	}

	// The sweeper ends a session here only: it is still live for a request
	// (another replica).
	if _, err := local.Terminate(id); err != nil {
		t.Fatal(err)
	}
	if n := s.count(); n != 1 {
		t.Fatalf("count after the local end %d, want 1", n)
	}
	if ended, err := shared.Validate(id); ended || err != nil {
		t.Fatalf("a session ended by the sweeper is gone for every replica: %v, %v", ended, err)
	}

	// DELETE ends it everywhere.
	if _, err := shared.Terminate(id); err != nil {
		t.Fatal(err)
	}
	if ended, err := shared.Validate(id); !ended || err != nil {
		t.Fatalf("Validate(terminated) = %v, %v; want ended", ended, err)
	}
	if ended, _ := local.Validate(id); !ended {
		t.Fatal("the local view does not see the DELETE")
	}
}

func TestSessionsCountForgetsIdleOnes(t *testing.T) {
	now := time.Unix(1e9, 0)
	s := newSessions(nil)
	s.now = func() time.Time { return now }
	shared := s.ResolveSessionIdManager(httptest.NewRequest("POST", "/mcp", nil))
	shared.Generate()
	now = now.Add(SessionIdle)
	if n := s.count(); n != 1 {
		t.Fatalf("idle for exactly the idle time: count %d, want 1", n)
	}
	now = now.Add(time.Nanosecond)
	if n := s.count(); n != 0 {
		t.Fatalf("idle for longer: count %d, want 0", n)
	}
}
