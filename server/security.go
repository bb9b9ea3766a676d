package server

import (
	"net"
	"net/http"
	"net/url"
	"strings"
)

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
