package server

import (
	"crypto/sha256"
	"net"
	"net/http"
	"net/url"
	"strings"

	"github.com/switchboard-dev/switchboard/integrations"
)

// Client is one configured caller of the HTTP transport.
type Client struct {
	ID           string
	Key          string   // resolved from its secret reference
	Integrations []string // empty: all
}

// authenticator maps a bearer key to its caller. Keys are compared by hash,
// so lookup time does not depend on how much of a guessed key is right.
type authenticator struct {
	byHash map[[32]byte]integrations.Caller
}

func newAuthenticator(clients []Client) *authenticator {
	if len(clients) == 0 {
		return nil
	}
	a := &authenticator{byHash: map[[32]byte]integrations.Caller{}}
	for _, c := range clients {
		caller := integrations.Caller{ClientID: c.ID}
		if len(c.Integrations) > 0 {
			caller.Integrations = map[string]bool{}
			for _, n := range c.Integrations {
				caller.Integrations[n] = true
			}
		}
		a.byHash[sha256.Sum256([]byte(c.Key))] = caller
	}
	return a
}

// requireClient answers 401 to a request without a known key and attaches
// the caller to the request's context otherwise. With no clients configured
// the server is open, for loopback use.
func (a *authenticator) requireClient(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if a == nil {
			next.ServeHTTP(w, r.WithContext(WithCaller(r.Context(), integrations.Caller{})))
			return
		}
		key, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		caller, known := a.byHash[sha256.Sum256([]byte(strings.TrimSpace(key)))]
		if !ok || !known {
			w.Header().Set("WWW-Authenticate", `Bearer realm="switchboard"`)
			http.Error(w, "unauthorized: send Authorization: Bearer <client key>", http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r.WithContext(WithCaller(r.Context(), caller)))
	})
}

// checkOrigin refuses browser requests from foreign origins (DNS rebinding
// and cross-site requests). Requests without Origin (every non-browser MCP
// client) pass; loopback origins and the configured ones pass.
func checkOrigin(allowed []string, next http.Handler) http.Handler {
	ok := map[string]bool{}
	for _, o := range allowed {
		ok[strings.TrimSuffix(strings.ToLower(o), "/")] = true
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		if origin != "" && !ok[strings.ToLower(origin)] && !loopbackOrigin(origin) {
			http.Error(w, "forbidden: origin not allowed", http.StatusForbidden)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func loopbackOrigin(origin string) bool {
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return false
	}
	h := u.Hostname()
	if strings.EqualFold(h, "localhost") {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// limitBody caps request bodies; a larger one fails to decode and is refused.
func limitBody(max int64, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > max {
			http.Error(w, "request body too large", http.StatusRequestEntityTooLarge)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, max)
		next.ServeHTTP(w, r)
	})
}
