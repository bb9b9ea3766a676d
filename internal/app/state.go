package app

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"fmt"
	"time"

	"github.com/switchboard-dev/switchboard/configs"
	"github.com/switchboard-dev/switchboard/internal/secrets"
	"github.com/switchboard-dev/switchboard/internal/state"
	"github.com/switchboard-dev/switchboard/server"
)

// openState opens what replicas share (memory for one process): single-use
// confirmations, de-duplication, rate limits, sessions. A Redis that is down
// does not stop the start: what needs it fails closed and /readyz says so.
// It lives as long as the App: a reload keeps it (a changed state: block
// applies at the next start), so a token spent before a reload stays spent.
func (a *App) openState(ctx context.Context, cfg *configs.Config, res *secrets.Resolver) error {
	st := cfg.State
	var password string
	if st.Redis.Password != "" {
		var err error
		if password, err = res.Lookup(ctx, st.Redis.Password); err != nil {
			return fmt.Errorf("state.redis.password: %w", err)
		}
	}
	if st.Backend == "redis" {
		state.RouteRedisLogs(a.log)
	}
	s, err := state.Open(ctx, state.Config{Backend: st.Backend, URL: st.Redis.URL, Password: password, KeyPrefix: st.Redis.KeyPrefix}, a.log.With("component", "state"))
	if err != nil {
		return err
	}
	a.state = s
	a.closers = append(a.closers, func() { s.Close() })
	return nil
}

// sessions are the handshake-era session ids, sealed with a key derived from
// policy.confirmation.key, which replicas share (a random one without it).
func (a *App) sessions(ctx context.Context) (*state.SessionIDs, error) {
	var key []byte
	if ref := a.Config().Policy.Confirmation.Key; ref != "" {
		master, err := a.current().secrets.Lookup(ctx, ref)
		if err != nil {
			return nil, fmt.Errorf("policy.confirmation.key: %w", err)
		}
		h := hmac.New(sha256.New, []byte(master))
		h.Write([]byte("switchboard/sessions"))
		key = h.Sum(nil)
	}
	return state.NewSessionIDs(a.state, key, server.SessionIdle)
}

// stateLimiter keeps rate limits in the App's state store (opened with the
// first config, before any call), so replicas on one Redis share them.
type stateLimiter struct{ a *App }

func (l stateLimiter) Allow(ctx context.Context, key string, limit state.Limit) (bool, time.Duration, error) {
	return l.a.state.Allow(ctx, key, limit)
}
