package server

import (
	"net/http"
	"sync"
	"time"

	mcpserver "github.com/mark3labs/mcp-go/server"

	"github.com/switchboard-dev/switchboard/internal/state"
)

// SessionIdle is how long a handshake-era session may go unused before it is
// forgotten, so a server that runs for months does not grow without bound.
const SessionIdle = time.Hour

// sessions hands mcp-go the session ids of the shared state (an unknown or
// terminated Mcp-Session-Id gets 404; mcp-go's default manager accepts any
// well-formed id), and counts the sessions this process serves for the
// sessions gauge. mcp-go's idle sweeper and its shutdown end sessions
// without a request: those get the local view, which ends nothing on other
// replicas (a replica that has not seen a session for a while, or that
// shuts down, must not end it for the others).
type sessions struct {
	ids *state.SessionIDs

	mu        sync.Mutex
	live      map[string]time.Time // sessions used here, by last use
	lastPrune time.Time
	now       func() time.Time
}

func newSessions(ids *state.SessionIDs) *sessions {
	if ids == nil {
		var err error
		if ids, err = state.NewSessionIDs(state.NewMemory(state.Config{}), nil, SessionIdle); err != nil {
			panic(err) // only for an idle time that is not positive
		}
	}
	return &sessions{ids: ids, live: map[string]time.Time{}, now: time.Now}
}

func (s *sessions) ResolveSessionIdManager(req *http.Request) mcpserver.SessionIdManager {
	if req == nil {
		return local{s}
	}
	return shared{s}
}

func (s *sessions) seen(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	s.live[id] = now
	if now.Sub(s.lastPrune) > time.Minute {
		s.lastPrune = now
		for k, t := range s.live {
			if now.Sub(t) > SessionIdle {
				delete(s.live, k)
			}
		}
	}
}

func (s *sessions) forget(id string) {
	s.mu.Lock()
	delete(s.live, id)
	s.mu.Unlock()
}

// count is the number of sessions used here and not ended or idle.
func (s *sessions) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	now := s.now()
	for _, t := range s.live {
		if now.Sub(t) <= SessionIdle {
			n++
		}
	}
	return n
}

// shared is the view of a request: it ends a session on every replica.
type shared struct{ s *sessions }

func (v shared) Generate() string {
	id := v.s.ids.Generate()
	v.s.seen(id)
	return id
}

func (v shared) Validate(id string) (bool, error) {
	ended, err := v.s.ids.Validate(id)
	if err == nil && !ended {
		v.s.seen(id)
	} else {
		v.s.forget(id)
	}
	return ended, err
}

func (v shared) Terminate(id string) (bool, error) {
	v.s.forget(id)
	return v.s.ids.Terminate(id)
}

// local is the view without a request (idle sweep, shutdown): the session
// stops being served here only.
type local struct{ s *sessions }

func (v local) Generate() string                 { return shared(v).Generate() }
func (v local) Validate(id string) (bool, error) { return v.s.ids.Local().Validate(id) }
func (v local) Terminate(id string) (bool, error) {
	v.s.forget(id)
	return v.s.ids.Local().Terminate(id)
}
