package server

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"sync"
	"time"
)

// sessions tracks streamable HTTP sessions of the handshake era, so that a
// request naming an unknown or terminated Mcp-Session-Id gets 404 (mcp-go's
// default manager accepts any well-formed id). Idle sessions are forgotten
// after idle, so a server that runs for months does not grow without bound.
type sessions struct {
	mu        sync.Mutex
	live      map[string]time.Time
	ended     map[string]time.Time
	idle      time.Duration
	lastPrune time.Time
	now       func() time.Time
}

func newSessions(idle time.Duration) *sessions {
	return &sessions{live: map[string]time.Time{}, ended: map[string]time.Time{}, idle: idle, now: time.Now}
}

var errUnknownSession = errors.New("unknown session")

func (s *sessions) Generate() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	id := "mcp-session-" + hex.EncodeToString(b[:])
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	s.live[id] = now
	if now.Sub(s.lastPrune) > time.Minute {
		s.lastPrune = now
		for k, t := range s.live {
			if now.Sub(t) > s.idle {
				delete(s.live, k)
			}
		}
		for k, t := range s.ended {
			if now.Sub(t) > s.idle {
				delete(s.ended, k)
			}
		}
	}
	return id
}

func (s *sessions) Validate(id string) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.ended[id]; ok {
		return true, nil
	}
	if _, ok := s.live[id]; !ok {
		return false, errUnknownSession
	}
	s.live[id] = s.now()
	return false, nil
}

func (s *sessions) Terminate(id string) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.live[id]; !ok {
		if _, ok := s.ended[id]; ok {
			return false, nil
		}
		return false, errUnknownSession
	}
	delete(s.live, id)
	s.ended[id] = s.now()
	return false, nil
}

// count is the number of live (not terminated, not forgotten) sessions.
func (s *sessions) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	now := s.now()
	for _, t := range s.live {
		if now.Sub(t) <= s.idle {
			n++
		}
	}
	return n
}
