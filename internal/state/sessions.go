package state

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"time"
)

// SessionIDs are the ids of handshake-era streamable-HTTP sessions, shared by
// every replica on the same store: it implements mcp-go's
// server.SessionIdManager (Generate, Validate, Terminate).
//
// An id is sealed: "mcp-session-" and base64url(version, issue time, 16
// random bytes, HMAC-SHA256 over them with the shared key). Only a replica
// holding the key can issue one, so a forged or foreign id is refused
// without asking the store, and Generate needs no round trip. The store
// keeps what the id cannot say: the last use (a record that expires after
// idle) and a DELETE (a tombstone that outlives the record, so a
// terminated id is reported terminated on every replica, 404).
//
// An id that has no record is live if it was issued less than idle ago (it
// was never used yet, or the record was lost with a Redis that restarted
// empty): a session idle for longer would have an issue time older than
// that. So idle expiry is exact, and a Redis that restarts without its data
// ends only the sessions older than idle.
//
// When the store cannot be used, a sealed id is taken as live (a session id
// is not a credential: every request still carries its client key), so
// read-only work goes on through a Redis outage; during it, idle expiry
// and a DELETE on another replica are not seen.
type SessionIDs struct {
	store Store
	key   []byte
	idle  time.Duration
	keep  time.Duration
	now   func() time.Time
}

const (
	sessionPrefix  = "mcp-session-"
	sessionVersion = 1
	sessionRandLen = 16
	sessionMACLen  = 16
	sessionBodyLen = 1 + 8 + sessionRandLen
)

// errUnknownSession is what mcp-go answers 404 to.
var errUnknownSession = errors.New("unknown session")

// NewSessionIDs returns the session ids kept in store, idle expiring after
// idle. key seals the ids: replicas must share it (derive it from
// policy.confirmation.key); without one a random key is used, which is
// right only for one process and refused with the redis backend.
func NewSessionIDs(store Store, key []byte, idle time.Duration) (*SessionIDs, error) {
	if err := checkTTL("session idle", idle); err != nil {
		return nil, err
	}
	if len(key) == 0 {
		if _, shared := store.(*redisStore); shared {
			return nil, errors.New("state: sessions shared through redis need a key shared by the replicas")
		}
		key = make([]byte, 32)
		_, _ = rand.Read(key)
	} else if len(key) < 16 {
		return nil, fmt.Errorf("state: session key is %d bytes; use at least 16", len(key))
	}
	return &SessionIDs{store: store, key: append([]byte{}, key...), idle: idle, keep: idle, now: time.Now}, nil
}

// Generate returns a new session id. It needs no store: the session's record
// is written by its first Validate.
func (s *SessionIDs) Generate() string {
	b := make([]byte, sessionBodyLen, sessionBodyLen+sessionMACLen)
	b[0] = sessionVersion
	binary.BigEndian.PutUint64(b[1:9], uint64(s.now().UnixMilli()))
	_, _ = rand.Read(b[9:])
	return sessionPrefix + base64.RawURLEncoding.EncodeToString(append(b, s.mac(b)...))
}

func (s *SessionIDs) mac(body []byte) []byte {
	h := hmac.New(sha256.New, s.key)
	h.Write([]byte("switchboard session id\x00"))
	h.Write(body)
	return h.Sum(nil)[:sessionMACLen]
}

// open checks id's seal and returns when it was issued.
func (s *SessionIDs) open(id string) (time.Time, bool) {
	// Strict: one id, one spelling (else a variant of a terminated id would
	// have no tombstone).
	raw, err := base64.RawURLEncoding.Strict().DecodeString(strings.TrimPrefix(id, sessionPrefix))
	if err != nil || !strings.HasPrefix(id, sessionPrefix) || len(raw) != sessionBodyLen+sessionMACLen || raw[0] != sessionVersion {
		return time.Time{}, false
	}
	if !hmac.Equal(raw[sessionBodyLen:], s.mac(raw[:sessionBodyLen])) {
		return time.Time{}, false
	}
	return time.UnixMilli(int64(binary.BigEndian.Uint64(raw[1:9]))), true
}

// young reports whether an id issued at could not have been idle for idle.
func (s *SessionIDs) young(issued time.Time) bool {
	return s.now().Sub(issued) < s.idle
}

// Validate reports whether id is a terminated session (true) or a live one
// (false, nil), and keeps a live one alive; an unknown or expired id is an
// error (mcp-go answers 404 to both).
func (s *SessionIDs) Validate(id string) (isTerminated bool, err error) {
	issued, ok := s.open(id)
	if !ok {
		return false, errUnknownSession
	}
	st, err := s.store.TouchSession(context.Background(), id, s.idle, s.young(issued))
	if err != nil {
		if errors.Is(err, ErrUnavailable) {
			return false, nil // see the type's comment: live while the store is out
		}
		return false, err
	}
	switch st {
	case SessionLive:
		return false, nil
	case SessionEnded:
		return true, nil
	}
	return false, errUnknownSession
}

// Terminate ends session id on every replica (a DELETE). Terminating an
// ended session again is not an error; an unknown one is.
func (s *SessionIDs) Terminate(id string) (isNotAllowed bool, err error) {
	issued, ok := s.open(id)
	if !ok {
		return false, errUnknownSession
	}
	before, err := s.store.EndSession(context.Background(), id, s.keep)
	if err != nil {
		return false, err
	}
	if before == SessionUnknown && !s.young(issued) {
		return false, errUnknownSession
	}
	return false, nil
}

// Local returns the same ids with a Terminate that ends nothing shared. Give
// it to mcp-go for requests without an HTTP request (the idle sweeper and
// CloseSessions at shutdown pass nil to the SessionIdManagerResolver): a
// replica that has not seen a session for a while, or that shuts down, must
// not end it on the others. Shared idle expiry is the store's.
func (s *SessionIDs) Local() LocalSessionIDs { return LocalSessionIDs{s} }

// LocalSessionIDs: see SessionIDs.Local.
type LocalSessionIDs struct{ ids *SessionIDs }

func (l LocalSessionIDs) Generate() string                 { return l.ids.Generate() }
func (l LocalSessionIDs) Validate(id string) (bool, error) { return l.ids.Validate(id) }
func (l LocalSessionIDs) Terminate(string) (bool, error)   { return false, nil }
