package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	mcpclient "github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	mcpgo "github.com/mark3labs/mcp-go/mcp"
	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
)

// sdkUpstream serves s over streamable HTTP (go-sdk, a real MCP server),
// recording each request's headers and body.
type sdkUpstream struct {
	*httptest.Server
	mu     sync.Mutex
	bodies []string
	conns  atomic.Int64 // TCP connections accepted
}

func newSDKUpstream(t *testing.T, s *sdk.Server, wrap func(http.Handler) http.Handler) *sdkUpstream {
	u := &sdkUpstream{}
	var h http.Handler = sdk.NewStreamableHTTPHandler(func(*http.Request) *sdk.Server { return s }, nil)
	if wrap != nil {
		h = wrap(h)
	}
	u.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := readBody(r)
		u.mu.Lock()
		u.bodies = append(u.bodies, b)
		u.mu.Unlock()
		h.ServeHTTP(w, r)
	}))
	u.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			u.conns.Add(1)
		}
	}
	u.Start()
	t.Cleanup(u.Close)
	return u
}

func (u *sdkUpstream) requests() []string {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]string(nil), u.bodies...)
}

func readBody(r *http.Request) (string, error) {
	if r.Body == nil {
		return "", nil
	}
	var b strings.Builder
	_, err := fmt.Fprint(&b, "")
	buf := make([]byte, 4096)
	for {
		n, rerr := r.Body.Read(buf)
		b.Write(buf[:n])
		if rerr != nil {
			break
		}
	}
	r.Body = readCloser{strings.NewReader(b.String())}
	return b.String(), err
}

type readCloser struct{ *strings.Reader }

func (readCloser) Close() error { return nil }

func rawTool(s *sdk.Server, name, desc string, schema any, ann *sdk.ToolAnnotations, h func(ctx context.Context, req *sdk.CallToolRequest) (*sdk.CallToolResult, error)) {
	if schema == nil {
		schema = map[string]any{"type": "object"}
	}
	s.AddTool(&sdk.Tool{Name: name, Description: desc, InputSchema: schema, Annotations: ann}, h)
}

func text(s string) *sdk.CallToolResult {
	return &sdk.CallToolResult{Content: []sdk.Content{&sdk.TextContent{Text: s}}}
}

// Issue 14 (4): the last progress notification of an upstream call reaches
// the client before the call's result, every time.
func TestMCPLastProgressArrives(t *testing.T) {
	s := sdk.NewServer(&sdk.Implementation{Name: "jobs", Version: "1"}, nil)
	rawTool(s, "steps", "Three steps with progress.", nil, nil, func(ctx context.Context, req *sdk.CallToolRequest) (*sdk.CallToolResult, error) {
		token := req.Params.GetProgressToken()
		for i := 1; i <= 3; i++ {
			_ = req.Session.NotifyProgress(ctx, &sdk.ProgressNotificationParams{ProgressToken: token, Progress: float64(i), Total: 3})
		}
		return text("done"), nil
	})
	up := newSDKUpstream(t, s, nil)
	srv, a, _ := serveLogged(t, "integrations:\n  - name: jobs\n    type: mcp\n    url: "+up.URL+"\n", nil)
	waitTool(t, a, "jobs_steps")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for _, version := range []string{"2025-06-18", mcpgo.ProtocolVersion20260728} {
		c := mcpgoHTTP(t, ctx, srv.BaseURL, version)
		var mu sync.Mutex
		got := map[string][]float64{}
		c.OnNotification(func(n mcpgo.JSONRPCNotification) {
			if n.Method == string(mcpgo.MethodNotificationProgress) {
				mu.Lock()
				tok := fmt.Sprint(n.Params.AdditionalFields["progressToken"])
				got[tok] = append(got[tok], n.Params.AdditionalFields["progress"].(float64))
				mu.Unlock()
			}
		})
		lost := 0
		const runs = 50
		for i := 0; i < runs; i++ {
			var req mcpgo.CallToolRequest
			req.Params.Name = "jobs_steps"
			tok := fmt.Sprintf("p-%s-%d", version, i)
			req.Params.Meta = &mcpgo.Meta{ProgressToken: tok}
			res, err := c.CallTool(ctx, req)
			if err != nil || res.IsError {
				t.Fatalf("call %d: %v %+v", i, err, res)
			}
			mu.Lock()
			if p := got[tok]; len(p) != 3 || p[2] != 3 {
				lost++
			}
			mu.Unlock()
		}
		if lost > 0 {
			t.Errorf("%s: the last progress notification was missing at the result in %d of %d calls", version, lost, runs)
		}
	}
}

type refundArgs struct {
	OrderID string `json:"order_id"`
	Amount  int    `json:"amount" jsonschema:"the amount in euros"`
}

// Issue 14 (5): invalid arguments to a tool under a confirm glob are refused
// before anyone is asked to confirm, against the upstream's own schema;
// valid ones are asked for; issue 18: the confirmed call carries
// _meta.idempotencyKey upstream.
func TestMCPConfirmValidatesFirstAndSendsIdempotencyKey(t *testing.T) {
	s := sdk.NewServer(&sdk.Implementation{Name: "pay", Version: "1"}, nil)
	var keys []any
	var mu sync.Mutex
	rawTool(s, "refund", "Refunds an order.", map[string]any{
		"type": "object", "required": []string{"order_id", "amount"}, "additionalProperties": false,
		"properties": map[string]any{"order_id": map[string]any{"type": "string"}, "amount": map[string]any{"type": "integer", "minimum": 1, "maximum": 500}},
	}, nil, func(ctx context.Context, req *sdk.CallToolRequest) (*sdk.CallToolResult, error) {
		mu.Lock()
		keys = append(keys, req.Params.Meta["idempotencyKey"])
		mu.Unlock()
		return text("refunded"), nil
	})
	up := newSDKUpstream(t, s, nil)
	_, a, _ := serveLogged(t, "integrations:\n  - name: pay\n    type: mcp\n    url: "+up.URL+"\n    tools: {confirm: [refund]}\n", nil)
	waitTool(t, a, "pay_refund")
	for _, bad := range []string{`{"order_id":"A1","amount":"ten"}`, `{"order_id":"A1","amount":0}`, `{"amount":5}`, `{"order_id":"A1","amount":5,"extra":1}`} {
		txt, res := cliCall(t, a, "pay_refund", bad)
		if !res.IsError || !strings.Contains(txt, "Invalid arguments for pay_refund") || strings.Contains(txt, "confirm") {
			t.Errorf("%s: %q (isError %v), want invalid arguments and no confirmation", bad, txt, res.IsError)
		}
	}
	_, res := cliCall(t, a, "pay_refund", `{"order_id":"A1","amount":5}`)
	sc, _ := res.StructuredContent.(map[string]any)
	if res.IsError || sc["status"] != "confirmation_required" {
		t.Fatalf("valid call: %+v, want confirmation_required", res)
	}
	txt, res := cliCall(t, a, "pay_refund", fmt.Sprintf(`{"order_id":"A1","amount":5,"confirmation_token":%q}`, sc["confirmation_token"]))
	if res.IsError || txt != "refunded" {
		t.Fatalf("confirmed call = %q", txt)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(keys) != 1 || keys[0] == nil || keys[0] == "" {
		t.Fatalf("upstream calls and idempotency keys = %v, want one call with _meta.idempotencyKey", keys)
	}
}

// Issue 14 (10): an mcp tool's result is capped at max_bytes (default 16
// KiB, or response.max_bytes) with the http tools' truncation note.
func TestMCPResultsAreCapped(t *testing.T) {
	s := sdk.NewServer(&sdk.Implementation{Name: "big", Version: "1"}, nil)
	rawTool(s, "dump", "A megabyte.", nil, nil, func(ctx context.Context, req *sdk.CallToolRequest) (*sdk.CallToolResult, error) {
		return text(strings.Repeat("é", 512<<10)), nil
	})
	up := newSDKUpstream(t, s, nil)
	_, a, _ := serveLogged(t, "integrations:\n  - name: big\n    type: mcp\n    url: "+up.URL+"\n  - name: small\n    type: mcp\n    url: "+up.URL+"\n    response: {max_bytes: 1KiB}\n", nil)
	waitTool(t, a, "big_dump")
	waitTool(t, a, "small_dump")
	for tool, limit := range map[string]int{"big_dump": 16 << 10, "small_dump": 1 << 10} {
		txt, res := cliCall(t, a, tool, `{}`)
		note := fmt.Sprintf("\n[truncated: the reply was longer than %d bytes]", limit)
		if res.IsError || !strings.HasSuffix(txt, note) || len(txt) > limit+len(note) {
			t.Errorf("%s: %d bytes, ends %q; want at most %d bytes and the note", tool, len(txt), txt[max(0, len(txt)-60):], limit)
		}
	}
}

// Issue 14 (6): requests from an HTTP upstream are answered: an
// elicitation goes to switchboard's client when it supports elicitation and
// the answer comes back; a client that does not gets a prompt refusal;
// roots/list gets an empty list.
func TestMCPUpstreamRequestsAreAnswered(t *testing.T) {
	s := sdk.NewServer(&sdk.Implementation{Name: "ask", Version: "1"}, nil)
	rawTool(s, "ask_name", "Asks the caller's name.", nil, nil, func(ctx context.Context, req *sdk.CallToolRequest) (*sdk.CallToolResult, error) {
		ctx, cancel := context.WithTimeout(ctx, 8*time.Second)
		defer cancel()
		res, err := req.Session.Elicit(ctx, &sdk.ElicitParams{Message: "What is your name?", RequestedSchema: map[string]any{
			"type": "object", "properties": map[string]any{"name": map[string]any{"type": "string"}}}})
		if err != nil {
			return &sdk.CallToolResult{IsError: true, Content: []sdk.Content{&sdk.TextContent{Text: "elicitation failed: " + err.Error()}}}, nil
		}
		return text(fmt.Sprintf("%s %v", res.Action, res.Content["name"])), nil
	})
	rawTool(s, "roots", "Lists roots.", nil, nil, func(ctx context.Context, req *sdk.CallToolRequest) (*sdk.CallToolResult, error) {
		ctx, cancel := context.WithTimeout(ctx, 8*time.Second)
		defer cancel()
		res, err := req.Session.ListRoots(ctx, nil)
		if err != nil {
			return text("roots error: " + err.Error()), nil
		}
		return text(fmt.Sprintf("roots %d", len(res.Roots))), nil
	})
	up := newSDKUpstream(t, s, nil)
	srv, a, _ := serveLogged(t, "integrations:\n  - name: ask\n    type: mcp\n    url: "+up.URL+"\n    timeout: 20s\n", nil)
	waitTool(t, a, "ask_ask_name")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	var question string
	asker := mcpgoHTTP(t, ctx, srv.BaseURL, "2025-06-18", mcpclient.WithElicitationHandler(elicitFunc(func(ctx context.Context, r mcpgo.ElicitationRequest) (*mcpgo.ElicitationResult, error) {
		question = r.Params.Message
		return &mcpgo.ElicitationResult{ElicitationResponse: mcpgo.ElicitationResponse{Action: mcpgo.ElicitationResponseActionAccept, Content: map[string]any{"name": "Ana"}}}, nil
	})))
	var req mcpgo.CallToolRequest
	req.Params.Name = "ask_ask_name"
	res, err := asker.CallTool(ctx, req)
	if err != nil || res.IsError || resultText(res) != "accept Ana" || question != "What is your name?" {
		t.Errorf("forwarded elicitation: %v %q (question %q)", err, resultOf(res), question)
	}

	plain := mcpgoHTTP(t, ctx, srv.BaseURL, "2025-06-18")
	start := time.Now()
	res, err = plain.CallTool(ctx, req)
	if err != nil || !strings.Contains(resultText(res), "elicitation failed") || time.Since(start) > 5*time.Second {
		t.Errorf("elicitation to a client without it: %v %q after %s, want a prompt refusal", err, resultOf(res), time.Since(start))
	}
	req.Params.Name = "ask_roots"
	start = time.Now()
	res, err = plain.CallTool(ctx, req)
	if err != nil || resultText(res) != "roots 0" || time.Since(start) > 5*time.Second {
		t.Errorf("roots/list: %v %q after %s, want an empty list at once", err, resultOf(res), time.Since(start))
	}
}

func resultOf(res *mcpgo.CallToolResult) string {
	if res == nil {
		return "<nil>"
	}
	return resultText(res)
}

type elicitFunc func(ctx context.Context, r mcpgo.ElicitationRequest) (*mcpgo.ElicitationResult, error)

func (f elicitFunc) Elicit(ctx context.Context, r mcpgo.ElicitationRequest) (*mcpgo.ElicitationResult, error) {
	return f(ctx, r)
}

// slowUpstream is a go-sdk MCP server that takes delay to answer its first
// request, as an npx-started server does.
func slowUpstream(t *testing.T, delay time.Duration) *sdkUpstream {
	s := sdk.NewServer(&sdk.Implementation{Name: "crm", Version: "1"}, nil)
	sdk.AddTool(s, &sdk.Tool{Name: "find_contact", Description: "Finds a contact by name."},
		func(ctx context.Context, req *sdk.CallToolRequest, in contactArgs) (*sdk.CallToolResult, any, error) {
			return text("found " + in.Name), nil, nil
		})
	var once sync.Once
	return newSDKUpstream(t, s, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			once.Do(func() { time.Sleep(delay) })
			h.ServeHTTP(w, r)
		})
	})
}

func writeConfig(t *testing.T, yaml string) string {
	file := filepath.Join(t.TempDir(), "switchboard.yaml")
	if err := os.WriteFile(file, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return file
}

// Issue 14 (2): `switchboard call` reaches a type: mcp tool (it waits for
// discovery as `tools` does).
func TestMCPSwitchboardCallCommand(t *testing.T) {
	up := slowUpstream(t, 500*time.Millisecond)
	file := writeConfig(t, "integrations:\n  - name: crm\n    type: mcp\n    url: "+up.URL+"\n")
	out, err := exec.Command(binary, "call", "--config", file, "crm_find_contact", "--args", `{"name":"Ana"}`).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "found Ana") {
		t.Fatalf("switchboard call: %v\n%s", err, out)
	}
}

// Issue 14 (3): stdio serve answers the first tools/list with the upstreams'
// tools (it waits, bounded, for their first discovery).
func TestMCPStdioFirstToolsListHasUpstreamTools(t *testing.T) {
	up := slowUpstream(t, 1500*time.Millisecond)
	file := writeConfig(t, "integrations:\n  - name: crm\n    type: mcp\n    url: "+up.URL+"\n")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tr := transport.NewStdio(binary, os.Environ(), "serve", "--config", file, "--log-level", "warn")
	c := mcpclient.NewClient(tr, mcpclient.WithProtocolVersion("2025-06-18"))
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Initialize(ctx, mcpgo.InitializeRequest{}); err != nil {
		t.Fatal(err)
	}
	res, err := c.ListTools(ctx, mcpgo.ListToolsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, tl := range res.Tools {
		names = append(names, tl.Name)
	}
	if strings.Join(names, ",") != "crm_find_contact" {
		t.Fatalf("first tools/list = %v, want crm_find_contact", names)
	}
}

var _ = json.Marshal
