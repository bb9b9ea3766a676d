package mcpupstream

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/switchboard-dev/switchboard/internal/secrets"
)

// recordingTransport counts the requests it carries and the credentials
// they had.
type recordingTransport struct {
	mu    sync.Mutex
	auths []string
}

func (r *recordingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	r.mu.Lock()
	r.auths = append(r.auths, req.Header.Get("Authorization"))
	r.mu.Unlock()
	return http.DefaultTransport.RoundTrip(req)
}

// The shared HTTP client's transport carries every request to an HTTP
// upstream (so connections are pooled across integrations), with the
// integration's credentials added.
func TestSharedTransportCarriesTheRequests(t *testing.T) {
	t.Parallel()
	up := statelessEcho(t, []any{echoTool("echo")}, nil)
	rt := &recordingTransport{}
	res := secrets.NewResolver(map[secrets.Scheme]secrets.Source{secrets.SchemeVault: secrets.Memory{"vault:secret/crm#token": "tok-7"}})
	u := mustNew(t, integration(t, plainYAML(up.URL+"/mcp", `auth: {type: bearer, secret: "vault:secret/crm#token"}`)),
		Deps{Secrets: res, HTTPClient: &http.Client{Transport: rt}})
	started(t, u)
	if _, err := call(t, u, "crm_echo", map[string]any{"text": "x"}); err != nil {
		t.Fatal(err)
	}
	rt.mu.Lock()
	defer rt.mu.Unlock()
	if len(rt.auths) < 3 { // discover, tools/list, tools/call
		t.Fatalf("the shared transport carried %d requests", len(rt.auths))
	}
	for _, a := range rt.auths {
		if a != "Bearer tok-7" {
			t.Fatalf("a request went out with Authorization %q", a)
		}
	}
}

// An upstream that does not speak the stateless core is spoken to with the
// newest handshake-era revision, and is not probed with server/discover
// again once that is known.
func TestHandshakeUpstreamGetsTheNewestHandshakeRevision(t *testing.T) {
	t.Parallel()
	up := newFakeMCP(t, func(w http.ResponseWriter, r *http.Request, method string, params json.RawMessage) (any, map[string]any, bool) {
		switch method {
		case "initialize":
			return legacyInit(w), nil, true
		case "notifications/initialized":
			return nil, nil, true
		case "tools/list":
			return map[string]any{"tools": []any{echoTool("echo")}}, nil, true
		case "tools/call":
			return textResult("echoed"), nil, true
		}
		return nil, nil, false
	})
	logs := &logRecorder{}
	u := mustNew(t, integration(t, plainYAML(up.URL+"/mcp")), Deps{Logger: logs.logger()})
	started(t, u)
	inits := up.paramsOf("initialize")
	var p struct {
		ProtocolVersion string `json:"protocolVersion"`
	}
	if len(inits) == 0 || json.Unmarshal(inits[len(inits)-1], &p) != nil || p.ProtocolVersion != "2025-11-25" {
		t.Fatalf("initialize sent %s; want protocolVersion 2025-11-25", inits)
	}
	if n := up.count("server/discover"); n != 1 {
		t.Fatalf("server/discover sent %d times, want once (the first probe)", n)
	}
	if l := logs.with("upstream does not speak the stateless core; using the handshake"); len(l) != 1 {
		t.Fatalf("fallback logged %d times", len(l))
	}
	if res, err := call(t, u, "crm_echo", map[string]any{"text": "x"}); err != nil || text(res) != "echoed" {
		t.Fatalf("call: %v %v", res, err)
	}
}

// connections counts the connections made to an upstream: the requests that
// open one (server/discover, initialize).
type connections struct {
	next http.Handler
	n    atomic.Int64
}

func (c *connections) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodPost {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		var msg struct {
			Method string `json:"method"`
		}
		_ = json.Unmarshal(body, &msg)
		if msg.Method == "server/discover" || msg.Method == "initialize" {
			c.n.Add(1)
		}
	}
	c.next.ServeHTTP(w, r)
}

// A list_changed notification refreshes the tool list on the live
// connection: each change is announced and the connection is kept.
func TestListChangedKeepsTheConnection(t *testing.T) {
	t.Parallel()
	for _, versions := range [][]string{nil, {"2025-11-25"}} {
		t.Run(strings.Join(append([]string{"versions"}, versions...), " "), func(t *testing.T) {
			t.Parallel()
			g := newGoSDKServer("")
			if versions != nil {
				g.srv = sdk.NewServer(&sdk.Implementation{Name: "crm", Version: "1"}, &sdk.ServerOptions{SupportedProtocolVersions: versions})
				sdk.AddTool(g.srv, &sdk.Tool{Name: "echo", Description: "Echoes text."}, echoHandler)
			}
			conns := &connections{next: sdk.NewStreamableHTTPHandler(func(*http.Request) *sdk.Server { return g.srv }, nil)}
			ts := httptest.NewServer(conns)
			t.Cleanup(ts.Close)
			ch := newChanges()
			u := mustNew(t, integration(t, plainYAML(ts.URL)), Deps{OnChange: ch.on})
			started(t, u)
			ch.next(t)
			before := conns.n.Load()
			for _, name := range []string{"find_contact", "add_note"} {
				sdk.AddTool(g.srv, &sdk.Tool{Name: name, Description: "Another tool."}, echoHandler)
				if got := ch.next(t); !strings.Contains(strings.Join(got, ","), "crm_"+name) {
					t.Fatalf("after adding %s: %v", name, got)
				}
			}
			if n := conns.n.Load(); n != before {
				t.Fatalf("%d new connection(s) for two list_changed notifications, want none", n-before)
			}
		})
	}
}

func echoHandler(ctx context.Context, req *sdk.CallToolRequest, in echoArgs) (*sdk.CallToolResult, any, error) {
	return &sdk.CallToolResult{Content: []sdk.Content{&sdk.TextContent{Text: "echo: " + in.Text}}}, nil, nil
}

// closeRecorder is a request body that notes it was closed.
type closeRecorder struct {
	io.Reader
	closed atomic.Bool
}

func (c *closeRecorder) Close() error { c.closed.Store(true); return nil }

// A request whose credentials cannot be read never leaves, and its body is
// closed as a RoundTripper must; a request without a body fails the same
// way.
func TestRequestWithoutCredentialsIsNotSent(t *testing.T) {
	t.Parallel()
	var hits atomic.Int64
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	t.Cleanup(ts.Close)
	res := secrets.NewResolver(map[secrets.Scheme]secrets.Source{secrets.SchemeVault: secrets.Memory{}})
	u := mustNew(t, integration(t, plainYAML(ts.URL, `auth: {type: bearer, secret: "vault:secret/crm#missing"}`)), Deps{Secrets: res})

	body := &closeRecorder{Reader: strings.NewReader(`{}`)}
	req, _ := http.NewRequest(http.MethodPost, ts.URL, body)
	_, err := u.http.Do(req)
	var cred *credentialError
	if !errors.As(err, &cred) || !errors.Is(err, secrets.ErrNotFound) || !strings.Contains(err.Error(), "credentials unavailable") {
		t.Fatalf("POST without credentials: %v", err)
	}
	if !body.closed.Load() {
		t.Fatal("the refused request's body was not closed")
	}
	get, _ := http.NewRequest(http.MethodGet, ts.URL, nil)
	if _, err := u.http.Do(get); !errors.As(err, &cred) {
		t.Fatalf("GET without credentials: %v", err)
	}
	if n := hits.Load(); n != 0 {
		t.Fatalf("%d request(s) reached the upstream without credentials", n)
	}
}

// A handshake-era upstream's list_changed arrives on the standalone GET
// stream; when the refreshed list cannot be read, that is logged and the
// connection is made again.
func TestFailedRefreshReconnects(t *testing.T) {
	t.Parallel()
	var up *fakeMCP
	up = newFakeMCP(t, func(w http.ResponseWriter, r *http.Request, method string, params json.RawMessage) (any, map[string]any, bool) {
		switch method {
		case "initialize":
			return legacyInit(w), nil, true
		case "notifications/initialized":
			return nil, nil, true
		case "tools/list":
			if up.count("tools/list") > 1 {
				return nil, map[string]any{"code": -32603, "message": "tools unavailable"}, true
			}
			return map[string]any{"tools": []any{echoTool("echo")}}, nil, true
		case http.MethodGet:
			if up.count(http.MethodGet) > 1 {
				return nil, nil, true // 405: no stream for later connections
			}
			w.Header().Set("X-Handled", "1")
			w.Header().Set("Content-Type", "text/event-stream")
			w.WriteHeader(http.StatusOK)
			w.(http.Flusher).Flush()
			for up.count("tools/list") == 0 && r.Context().Err() == nil { // until the connection has listed its tools
				time.Sleep(5 * time.Millisecond)
			}
			io.WriteString(w, "event: message\ndata: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/tools/list_changed\"}\n\n")
			w.(http.Flusher).Flush()
			<-r.Context().Done()
			return nil, nil, true
		}
		return nil, nil, false
	})
	logs := &logRecorder{}
	u := mustNew(t, integration(t, plainYAML(up.URL+"/mcp")), Deps{Logger: logs.logger(), MaxBackoff: 300 * time.Millisecond})
	run(t, u) // the connection may be lost before WaitStarted looks
	l := logs.wait(t, "refreshing tools failed", 1)
	if e, _ := l[0].Attrs["error"].(error); e == nil || !strings.Contains(e.Error(), "tools unavailable") {
		t.Fatalf("refresh failure logged as %v", l[0].Attrs)
	}
	logs.wait(t, "reconnecting to upstream MCP server", 1)
}
