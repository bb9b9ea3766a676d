package server

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestSessions(t *testing.T) {
	now := time.Unix(1e9, 0)
	s := newSessions(time.Hour)
	s.now = func() time.Time { return now }

	id := s.Generate()
	if !strings.HasPrefix(id, "mcp-session-") || len(id) != len("mcp-session-")+32 || s.Generate() == id {
		t.Fatalf("id %q", id)
	}
	if ended, err := s.Validate(id); ended || err != nil {
		t.Fatalf("Validate(live) = %v, %v", ended, err)
	}
	if _, err := s.Validate("mcp-session-unknown"); !errors.Is(err, errUnknownSession) {
		t.Fatalf("Validate(unknown): %v", err)
	}
	if _, err := s.Terminate("mcp-session-unknown"); !errors.Is(err, errUnknownSession) {
		t.Fatalf("Terminate(unknown): %v", err)
	}
	if _, err := s.Terminate(id); err != nil {
		t.Fatalf("Terminate: %v", err)
	}
	if ended, err := s.Validate(id); !ended || err != nil {
		t.Fatalf("Validate(terminated) = %v, %v; want ended", ended, err)
	}
	if _, err := s.Terminate(id); err != nil {
		t.Fatalf("Terminate twice: %v", err)
	}
}

// Sessions idle (or ended) for longer than idle are forgotten when a new one
// starts, at most once a minute; a session in use stays.
func TestSessionsForgetIdleOnes(t *testing.T) {
	t0 := time.Unix(1e9, 0)
	now := t0
	s := newSessions(time.Hour)
	s.now = func() time.Time { return now }
	s.Generate() // the first prune, on an empty table
	idle, used, ended := s.Generate(), s.Generate(), s.Generate()
	if _, err := s.Terminate(ended); err != nil {
		t.Fatal(err)
	}
	has := func(m map[string]time.Time, id string) bool { _, ok := m[id]; return ok }

	now = t0.Add(time.Hour)
	if _, err := s.Validate(used); err != nil {
		t.Fatal(err)
	}
	s.Generate() // prunes: an hour is not over the hour
	if !has(s.live, idle) || !has(s.ended, ended) {
		t.Fatal("sessions idle for exactly the idle time were forgotten")
	}

	now = t0.Add(time.Hour + time.Minute + time.Nanosecond)
	s.Generate() // prunes: idle and ended are over the hour, used is not
	if _, err := s.Validate(idle); !errors.Is(err, errUnknownSession) {
		t.Fatalf("idle for over an hour: %v, want forgotten", err)
	}
	if end, err := s.Validate(ended); end || !errors.Is(err, errUnknownSession) {
		t.Fatalf("ended over an hour ago: %v, %v; want forgotten", end, err)
	}
	if _, err := s.Validate(used); err != nil {
		t.Fatalf("in use a minute ago: %v", err)
	}

	// Within a minute of the last prune, nothing is pruned, however old.
	last := now
	s.live["old"] = now.Add(-2 * time.Hour)
	now = last.Add(time.Minute)
	s.Generate()
	if !has(s.live, "old") {
		t.Fatal("pruned a minute after the last prune; want over a minute")
	}
	now = last.Add(time.Minute + time.Nanosecond)
	s.Generate()
	if has(s.live, "old") {
		t.Fatal("not pruned over a minute after the last prune")
	}
}
