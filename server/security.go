package server

import (
	"crypto/sha256"
	"crypto/subtle"
	"net"
	"net/http"
	"net/url"
	"strings"

	"github.com/switchboard-dev/switchboard/policy"
)

// Client is one configured caller of the HTTP transport.
type Client struct {
	ID           string
	Key          string   // resolved from its secret reference
	Integrations []string // empty: all
}

// authenticator maps a bearer key to its caller.
type authenticator struct {
	keys []clientKey
}

type clientKey struct {
	hash   [sha256.Size]byte
	caller policy.Caller
}

func newAuthenticator(clients []Client) *authenticator {
	if len(clients) == 0 {
		return nil
	}
	a := &authenticator{}
	for _, c := range clients {
		if c.Key == "" { // no key can be presented as empty: such a client cannot connect
			continue
		}
		caller := policy.Caller{ClientID: c.ID}
		if len(c.Integrations) > 0 {
			caller.Integrations = map[string]bool{}
			for _, n := range c.Integrations {
				caller.Integrations[n] = true
			}
		}
		a.keys = append(a.keys, clientKey{hash: sha256.Sum256([]byte(c.Key)), caller: caller})
	}
	return a
}

// lookup returns the caller whose key is key. The presented key is hashed
// and compared with every configured key's hash in constant time: how long
// it takes depends neither on how much of a guess is right nor on its length.
func (a *authenticator) lookup(key string) (policy.Caller, bool) {
	h := sha256.Sum256([]byte(key))
	var caller policy.Caller
	found := false
	for _, k := range a.keys {
		if subtle.ConstantTimeCompare(h[:], k.hash[:]) == 1 {
			caller, found = k.caller, true
		}
	}
	return caller, found
}

// bearer returns the token of an "Authorization: Bearer <token>" header (the
// scheme is case-insensitive, RFC 9110 §11.1).
func bearer(header string) (string, bool) {
	scheme, token, _ := strings.Cut(header, " ")
	token = strings.TrimSpace(token)
	return token, strings.EqualFold(scheme, "Bearer") && token != ""
}

// requireClient answers 401 to a request without a known key and attaches
// the caller to the request's context otherwise. With no clients configured
// the server is open, for loopback use.
func (a *authenticator) requireClient(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if a == nil {
			next.ServeHTTP(w, r.WithContext(policy.WithCaller(r.Context(), policy.Caller{})))
			return
		}
		key, ok := bearer(r.Header.Get("Authorization"))
		caller, known := a.lookup(key)
		if !ok || !known {
			w.Header().Set("WWW-Authenticate", `Bearer realm="switchboard"`)
			http.Error(w, "unauthorized: send Authorization: Bearer <client key>", http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r.WithContext(policy.WithCaller(r.Context(), caller)))
	})
}

// checkOrigin refuses browser requests from foreign origins (DNS rebinding
// and cross-site requests). Requests without Origin (every non-browser MCP
// client) pass; loopback origins and the configured ones pass.
//
// The other half of DNS-rebinding protection, a loopback connection with a
// non-loopback Host gets 403, is done by mcp-go's streamable HTTP and SSE
// handlers (on by default; WithDisableLocalhostProtection would turn it off).
// TestHostCheck pins it.
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

// limitBody caps request bodies at max bytes. A body whose Content-Length is
// over the cap gets 413 at once; one sent without a length (chunked) is cut
// while it is read: reading past max fails, and the handler refuses it.
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
