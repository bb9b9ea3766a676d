package server

import (
	"net/http"
	"time"

	mcpserver "github.com/mark3labs/mcp-go/server"

	"github.com/switchboard-dev/switchboard/internal/state"
)

// SessionIdle is how long a handshake-era session may go unused before it is
// forgotten, so a server that runs for months does not grow without bound.
const SessionIdle = time.Hour

// sessionResolver hands mcp-go the session ids of the shared state (an
// unknown or terminated Mcp-Session-Id gets 404; mcp-go's default manager
// accepts any well-formed id). mcp-go's idle sweeper and its shutdown end
// sessions without a request: those get the local view, which ends nothing
// on other replicas (a replica that has not seen a session for a while, or
// that shuts down, must not end it for the others).
type sessionResolver struct{ ids *state.SessionIDs }

func (r sessionResolver) ResolveSessionIdManager(req *http.Request) mcpserver.SessionIdManager {
	if req == nil {
		return r.ids.Local()
	}
	return r.ids
}

// memorySessions are the session ids of a single process.
func memorySessions() *state.SessionIDs {
	ids, err := state.NewSessionIDs(state.NewMemory(state.Config{}), nil, SessionIdle)
	if err != nil {
		panic(err) // only for an idle time that is not positive
	}
	return ids
}
