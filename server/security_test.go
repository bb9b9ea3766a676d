package server

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-dev/switchboard/integrations"
)

// seen records what the innermost handler got.
type seen struct {
	called bool
	caller integrations.Caller
	body   []byte
	err    error // from reading the body
}

func (s *seen) handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.called = true
		s.caller = callerFrom(r.Context())
		s.body, s.err = io.ReadAll(r.Body)
		if s.err != nil {
			http.Error(w, s.err.Error(), http.StatusBadRequest)
			return
		}
		w.WriteHeader(http.StatusOK)
	})
}

func TestClientKeys(t *testing.T) {
	auth := StaticKeys([]Client{
		{ID: "voice", Key: "key-voice-123", Integrations: []string{"helpdesk", "shop"}},
		{ID: "ops", Key: "key-ops-456"},
		{ID: "keyless"}, // its reference resolved to nothing: it can never connect
	})
	for _, tc := range []struct {
		name, header string
		want         string // client id; "" for 401
	}{
		{"voice", "Bearer key-voice-123", "voice"},
		{"ops", "Bearer key-ops-456", "ops"},
		{"scheme is case-insensitive", "bearer key-ops-456", "ops"},
		{"surrounding spaces", "Bearer   key-ops-456  ", "ops"},
		{"no header", "", ""},
		{"a prefix of a key", "Bearer key-voice-12", ""},
		{"one character", "Bearer k", ""},
		{"a key is a prefix of it", "Bearer key-voice-1234", ""},
		{"two keys run together", "Bearer key-voice-123key-ops-456", ""},
		{"other case", "Bearer KEY-VOICE-123", ""},
		{"empty key", "Bearer ", ""},
		{"no scheme", "key-voice-123", ""},
		{"other scheme", "Basic key-voice-123", ""},
		{"scheme glued to the key", "Bearerkey-voice-123", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var s seen
			r := httptest.NewRequest("POST", "/mcp", nil)
			if tc.header != "" {
				r.Header.Set("Authorization", tc.header)
			}
			w := httptest.NewRecorder()
			auth.requireClient(nil, s.handler()).ServeHTTP(w, r)
			if tc.want == "" {
				if w.Code != http.StatusUnauthorized || s.called {
					t.Fatalf("status %d, handler called %v; want 401 and not called", w.Code, s.called)
				}
				if got := w.Header().Get("WWW-Authenticate"); got != `Bearer realm="switchboard"` {
					t.Errorf("WWW-Authenticate = %q", got)
				}
				return
			}
			if w.Code != http.StatusOK || s.caller.ClientID != tc.want {
				t.Fatalf("status %d, caller %q; want 200 and %q", w.Code, s.caller.ClientID, tc.want)
			}
		})
	}

	// The caller carries the client's allowlist; no allowlist means all.
	if c, ok := auth.lookup(context.Background(), "key-voice-123"); !ok || !c.Allows("shop") || !c.Allows("helpdesk") || c.Allows("payments") {
		t.Errorf("voice: %+v, %v", c, ok)
	}
	if c, ok := auth.lookup(context.Background(), "key-ops-456"); !ok || c.Integrations != nil {
		t.Errorf("ops: %+v, %v", c, ok)
	}
	if c, ok := auth.lookup(context.Background(), ""); ok {
		t.Errorf("the empty key is %q's", c.ClientID)
	}
}

func TestNoClientsIsOpen(t *testing.T) {
	auth := StaticKeys(nil)
	var s seen
	w := httptest.NewRecorder()
	r := httptest.NewRequest("POST", "/mcp", nil)
	r.RemoteAddr = "127.0.0.1:40000" // an open server serves loopback (protected mode)
	r = r.WithContext(WithCaller(r.Context(), integrations.Caller{ClientID: "forged"}))
	auth.requireClient(nil, s.handler()).ServeHTTP(w, r)
	if w.Code != http.StatusOK || s.caller.ClientID != "" || s.caller.Integrations != nil {
		t.Fatalf("status %d, caller %+v; want 200 and the open caller", w.Code, s.caller)
	}
}

func TestOrigin(t *testing.T) {
	h := checkOrigin([]string{"https://console.example.com/", "HTTPS://Other.Example"}, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusOK)
	}))
	for _, tc := range []struct {
		origin string
		want   int
	}{
		{"", 200}, // not a browser
		{"http://localhost:3000", 200},
		{"http://LocalHost:3000", 200},
		{"http://localhost", 200},
		{"http://127.0.0.1:8080", 200},
		{"http://127.1.2.3", 200},
		{"http://[::1]:8080", 200},
		{"https://console.example.com", 200},
		{"https://CONSOLE.example.com", 200},
		{"https://other.example", 200},

		{"http://localhost.evil.example", 403},
		{"http://localhost.evil.example:3000", 403},
		{"http://127.0.0.1.evil.example", 403},
		{"http://127.0.0.1.nip.io:8080", 403},
		{"http://evil-localhost", 403},
		{"http://[::1].evil.example", 403},
		{"http://localhost@evil.example", 403},
		{"null", 403},
		{"localhost", 403},
		{"127.0.0.1", 403},
		{"http://evil.example", 403},
		{"http://10.0.0.1", 403},
		{"http://[::2]:8080", 403},
		{"https://console.example.com.evil.example", 403},
		{"https://console.example.com:8443", 403},
		{"http://console.example.com", 403},
	} {
		r := httptest.NewRequest("POST", "/mcp", nil)
		if tc.origin != "" {
			r.Header.Set("Origin", tc.origin)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != tc.want {
			t.Errorf("Origin %q: status %d, want %d", tc.origin, w.Code, tc.want)
		}
	}
}

func TestBodyLimit(t *testing.T) {
	const max = 100
	for _, tc := range []struct {
		name    string
		size    int
		chunked bool
		status  int  // what limitBody answers before the handler, 0: the handler runs
		cut     bool // the handler's read fails
	}{
		{"at the cap", max, false, 0, false},
		{"over the cap", max + 1, false, http.StatusRequestEntityTooLarge, false},
		{"chunked at the cap", max, true, 0, false},
		{"chunked over the cap", max + 1, true, 0, true},
		{"chunked far over the cap", 100 * max, true, 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var s seen
			r := httptest.NewRequest("POST", "/mcp", strings.NewReader(strings.Repeat("x", tc.size)))
			if tc.chunked {
				r.ContentLength = -1
			}
			w := httptest.NewRecorder()
			limitBody(max, s.handler()).ServeHTTP(w, r)
			if tc.status != 0 {
				if w.Code != tc.status || s.called {
					t.Fatalf("status %d, handler called %v; want %d before the handler", w.Code, s.called, tc.status)
				}
				return
			}
			var tooLarge *http.MaxBytesError
			switch {
			case !s.called:
				t.Fatalf("status %d before the handler", w.Code)
			case tc.cut && !errors.As(s.err, &tooLarge):
				t.Fatalf("read %d bytes of %d, err %v; want the read cut at %d", len(s.body), tc.size, s.err, max)
			case tc.cut && len(s.body) > max:
				t.Fatalf("read %d bytes past the cap of %d", len(s.body), max)
			case !tc.cut && (s.err != nil || len(s.body) != tc.size):
				t.Fatalf("read %d bytes of %d, err %v", len(s.body), tc.size, s.err)
			}
		})
	}
}

// The same over a real connection: the client streams the body without a
// Content-Length, and the server still stops reading at the cap.
func TestBodyLimitChunkedOverTheWire(t *testing.T) {
	const max = 1000
	var s seen
	var chunked bool
	inner := s.handler()
	ts := httptest.NewServer(limitBody(max, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		chunked = r.ContentLength == -1 && len(r.TransferEncoding) == 1 && r.TransferEncoding[0] == "chunked"
		inner.ServeHTTP(w, r)
	})))
	defer ts.Close()

	// io.LimitReader hides the length: the client sends it chunked.
	req, err := http.NewRequest("POST", ts.URL, io.LimitReader(strings.NewReader(strings.Repeat("x", 100*max)), 100*max))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err == nil {
		resp.Body.Close()
		if resp.StatusCode < 400 {
			t.Fatalf("status %d", resp.StatusCode)
		}
	}
	var tooLarge *http.MaxBytesError
	if !chunked || !s.called || !errors.As(s.err, &tooLarge) || len(s.body) > max {
		t.Fatalf("chunked %v, handler called %v, read %d bytes, err %v", chunked, s.called, len(s.body), s.err)
	}
}

// newTestHTTP is the whole HTTP surface with no tools.
func newTestHTTP(opts HTTPOptions) *HTTP {
	return NewHTTP(NewMCP(integrations.NewRegistry(nil, nil, nil), Options{Name: "test", Version: "0"}), opts)
}

const initBody = `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"0"}}}`

// mcpRequest is a request as MCP clients send it. Its context ends after a
// few seconds, so that a GET /sse let through by a defect ends its stream.
func mcpRequest(t *testing.T, method, path, body string) *http.Request {
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Second)
	t.Cleanup(cancel)
	r := httptest.NewRequestWithContext(ctx, method, path, strings.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("Accept", "application/json, text/event-stream")
	return r
}

// Every MCP route is behind the Origin check, the body limit and the client
// keys; health and metrics are not.
func TestRoutesAreGuarded(t *testing.T) {
	h := newTestHTTP(HTTPOptions{MaxBodyBytes: 4096, Keys: StaticKeys([]Client{{ID: "voice", Key: "key-voice-123"}})})
	for _, route := range []struct{ method, path string }{{"POST", "/mcp"}, {"GET", "/mcp"}, {"DELETE", "/mcp"}, {"GET", "/sse"}, {"POST", "/message"}} {
		name := route.method + " " + route.path
		w := httptest.NewRecorder()
		r := mcpRequest(t, route.method, route.path, initBody)
		r.Header.Set("Origin", "http://localhost.evil.example")
		r.Header.Set("Authorization", "Bearer key-voice-123")
		h.ServeHTTP(w, r)
		if w.Code != http.StatusForbidden {
			t.Errorf("%s, foreign origin: %d, want 403", name, w.Code)
		}
		w = httptest.NewRecorder()
		h.ServeHTTP(w, mcpRequest(t, route.method, route.path, initBody))
		if w.Code != http.StatusUnauthorized {
			t.Errorf("%s, no key: %d, want 401", name, w.Code)
		}
		w = httptest.NewRecorder()
		r = mcpRequest(t, route.method, route.path, strings.Repeat("x", 4097))
		r.Header.Set("Authorization", "Bearer key-voice-123")
		h.ServeHTTP(w, r)
		if w.Code != http.StatusRequestEntityTooLarge {
			t.Errorf("%s, body over the cap: %d, want 413", name, w.Code)
		}
	}

	// A chunked initialize over the cap is cut, not answered.
	r := mcpRequest(t, "POST", "/mcp", `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"pad":"`+strings.Repeat("x", 5000)+`"}}`)
	r.ContentLength = -1
	r.Header.Set("Authorization", "Bearer key-voice-123")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code < 400 || strings.Contains(w.Body.String(), `"result"`) {
		t.Errorf("chunked body over the cap: %d %s", w.Code, w.Body)
	}
	// The same body within the cap is served.
	r = mcpRequest(t, "POST", "/mcp", initBody)
	r.ContentLength = -1
	r.Header.Set("Authorization", "Bearer key-voice-123")
	w = httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), `"result"`) {
		t.Errorf("chunked initialize: %d %s", w.Code, w.Body)
	}

	for _, path := range []string{"/healthz", "/readyz"} {
		w := httptest.NewRecorder()
		r := httptest.NewRequest("GET", path, nil)
		r.Header.Set("Origin", "http://evil.example")
		h.ServeHTTP(w, r)
		if w.Code != http.StatusOK {
			t.Errorf("%s: %d", path, w.Code)
		}
	}
}

// DNS rebinding: a page of evil.example whose name now resolves to 127.0.0.1
// reaches the loopback listener with Host: evil.example, and may send no
// Origin at all (its requests are same-origin for the browser).
func TestHostCheck(t *testing.T) {
	// server.open: the peers below are not loopback (protected mode is
	// tested on its own); what is checked here is the Host.
	h := newTestHTTP(HTTPOptions{MaxBodyBytes: 4096, Open: func() bool { return true }})
	serve := func(local, host, method, path string) int {
		r := mcpRequest(t, method, path, initBody)
		r.Host = host
		ctx, cancel := context.WithCancel(r.Context())
		cancel() // a GET /sse that is let through would stream until then
		r = r.WithContext(context.WithValue(ctx, http.LocalAddrContextKey, addr(local)))
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w.Code
	}
	for _, local := range []string{"127.0.0.1:8080", "[::1]:8080"} {
		for _, route := range []struct{ method, path string }{{"POST", "/mcp"}, {"GET", "/mcp"}, {"GET", "/sse"}, {"POST", "/message"}} {
			for _, host := range []string{"evil.example", "evil.example:8080", "localhost.evil.example:8080", "127.0.0.1.evil.example", "10.0.0.1:8080"} {
				if code := serve(local, host, route.method, route.path); code != http.StatusForbidden {
					t.Errorf("on %s, %s %s with Host %s: %d, want 403", local, route.method, route.path, host, code)
				}
			}
			for _, host := range []string{"localhost:8080", "127.0.0.1:8080", "[::1]:8080", "localhost"} {
				if code := serve(local, host, route.method, route.path); code == http.StatusForbidden {
					t.Errorf("on %s, %s %s with Host %s: 403", local, route.method, route.path, host)
				}
			}
		}
	}
	// Not on loopback: the Host is whatever name the server is reached by.
	if code := serve("10.0.0.5:8080", "switchboard.example.com", "POST", "/mcp"); code != http.StatusOK {
		t.Errorf("on 10.0.0.5 with Host switchboard.example.com: %d, want 200", code)
	}
}

type addr string

func (a addr) Network() string { return "tcp" }
func (a addr) String() string  { return string(a) }

var _ net.Addr = addr("")
