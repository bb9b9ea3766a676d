package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	mcpclient "github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	mcpgo "github.com/mark3labs/mcp-go/mcp"
	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
)

// payments is a small payments API that records what it receives: nothing
// may reach it before the caller confirms.
type payments struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []recorded
}

func newPayments(t *testing.T) *payments {
	p := &payments{}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/refunds", func(w http.ResponseWriter, r *http.Request) {
		var body map[string]any
		_ = json.NewDecoder(r.Body).Decode(&body)
		body["id"] = "r-1"
		writeJSON(w, 201, body)
	})
	mux.HandleFunc("POST /api/subscriptions/{id}/cancel", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, map[string]any{"id": r.PathValue("id"), "status": "cancelled"})
	})
	mux.HandleFunc("DELETE /api/customers/{id}", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, map[string]any{"deleted": r.PathValue("id")})
	})
	mux.HandleFunc("GET /api/orders/{id}", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, map[string]any{"id": r.PathValue("id"), "total": 40})
	})
	p.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		p.mu.Lock()
		p.reqs = append(p.reqs, recorded{r.Method, r.URL.EscapedPath(), r.URL.RawQuery, r.Header.Clone(), string(b)})
		p.mu.Unlock()
		r.Body = io.NopCloser(strings.NewReader(string(b)))
		if r.Header.Get("Authorization") != "Bearer "+upstreamToken {
			writeJSON(w, 401, map[string]any{"error": "unauthorized"})
			return
		}
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(p.Close)
	return p
}

// received returns the requests whose path and body contain each of marks.
func (p *payments) received(method, path string, marks ...string) []recorded {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []recorded
next:
	for _, r := range p.reqs {
		if r.Method != method || !strings.HasPrefix(r.Path, path) {
			continue
		}
		for _, m := range marks {
			if !strings.Contains(r.Path+" "+r.Body, m) {
				continue next
			}
		}
		out = append(out, r)
	}
	return out
}

// confirmConfig is a payments integration with every kind of confirmation:
// a confirm: block (English and Spanish), a confirm rule, a deny rule.
func confirmConfig(url, mode, ttl, audit string) string {
	return `
server:
  name: switchboard-e2e
policy:
  confirmation: {mode: ` + mode + `, ttl: ` + ttl + `}
  rules:
    - {tools: ["pay_cancel_*"], action: confirm}
    - {tools: ["pay_delete_*"], action: deny}
audit:
  path: ` + audit + `
integrations:
  - name: pay
    type: http
    description: Test payments
    base_url: ` + url + `/api
    auth: {type: bearer, secret: "env:E2E_HELPDESK_TOKEN"}
    tools:
      - name: refund
        description: Refund part of an order.
        method: POST
        path: /refunds
        params:
          - {name: order_id, type: string, required: true}
          - {name: amount, type: number, required: true, validate: "gt=0,lte=500"}
          - {name: pin, type: string, sensitive: true}
        confirm:
          message: "Do you confirm a refund of {{.amount}} euros for order {{.order_id}}?"
      - name: reembolso
        description: Reembolsa parte de un pedido.
        method: POST
        path: /refunds
        params:
          - {name: order_id, type: string, required: true}
          - {name: amount, type: number, required: true}
        confirm:
          message: "¿Confirmas el reembolso de {{.amount}} euros del pedido {{.order_id}}?"
      - name: cancel_subscription
        description: Cancel a subscription.
        method: POST
        path: /subscriptions/{id}/cancel
        params:
          - {name: id, type: string, required: true}
      - name: delete_customer
        description: Delete a customer.
        method: DELETE
        path: /customers/{id}
        params:
          - {name: id, type: string, required: true}
      - name: get_order
        description: Get an order.
        method: GET
        path: /orders/{id}
        params:
          - {name: id, type: string, required: true}
`
}

func serveConfirm(t *testing.T, p *payments, mode, ttl string) (*served, string) {
	t.Helper()
	audit := filepath.Join(t.TempDir(), "audit.jsonl")
	srv := serve(t, confirmConfig(p.URL, mode, ttl, audit))
	t.Cleanup(func() { srv.app.Close() })
	return srv, audit
}

// asksConfirmation checks that res is a confirmation_required result and
// returns its token.
func asksConfirmation(t *testing.T, res callResult, err error) string {
	t.Helper()
	if err != nil {
		t.Fatalf("call: %v", err)
	}
	tok, _ := res.Structured["confirmation_token"].(string)
	if res.IsError || res.Structured["status"] != "confirmation_required" || tok == "" || !strings.Contains(res.Text, tok) {
		t.Fatalf("want confirmation_required with a token, got %+v", res)
	}
	return tok
}

func withArg(args map[string]any, k string, v any) map[string]any {
	out := map[string]any{k: v}
	for kk, vv := range args {
		if kk != k {
			out[kk] = vv
		}
	}
	return out
}

// TestConfirmTokenThroughEveryClient: a tool that needs confirmation runs
// only after a call that brings back the token, exactly once, with an
// Idempotency-Key; changed arguments, forged and replayed tokens do not run.
func TestConfirmTokenThroughEveryClient(t *testing.T) {
	p := newPayments(t)
	srv, audit := serveConfirm(t, p, "token", "2m")
	for i, kind := range clientMatrix() {
		t.Run(kind.Name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			c := kind.Connect(t, ctx, srv.target)
			defer c.Close()
			order := fmt.Sprintf("ORD-%02d-77", i)

			tools, err := c.ListTools(ctx)
			if err != nil {
				t.Fatal(err)
			}
			schemas := map[string]string{}
			for _, tl := range tools {
				schemas[tl.Name] = tl.Schema
			}
			if _, ok := schemas["pay_delete_customer"]; ok {
				t.Error("a denied tool is listed")
			}
			for _, name := range []string{"pay_refund", "pay_reembolso", "pay_cancel_subscription"} {
				if !strings.Contains(schemas[name], `"confirmation_token":{`) {
					t.Errorf("%s does not declare confirmation_token: %s", name, schemas[name])
				}
			}
			if strings.Contains(schemas["pay_get_order"], "confirmation_token") {
				t.Error("pay_get_order declares confirmation_token")
			}

			args := map[string]any{"order_id": order, "amount": 12.5, "pin": "PIN-4242"}
			res, err := c.Call(ctx, "pay_refund", args)
			tok := asksConfirmation(t, res, err)
			if res.Structured["message"] != "Do you confirm a refund of 12.5 euros for order "+order+"?" || res.Structured["expires_in_seconds"] != 120.0 {
				t.Errorf("confirmation = %v", res.Structured)
			}
			if !strings.Contains(res.Text, "call pay_refund again with the same arguments") || !strings.Contains(res.Text, "tell the caller it was not done") {
				t.Errorf("text does not say what to do: %q", res.Text)
			}

			// Changed amount, forged token: asked again, nothing sent.
			res, err = c.Call(ctx, "pay_refund", withArg(withArg(args, "amount", 499.0), "confirmation_token", tok))
			asksConfirmation(t, res, err)
			forged := []byte(tok)
			forged[5] ^= 1
			res, err = c.Call(ctx, "pay_refund", withArg(args, "confirmation_token", string(forged)))
			asksConfirmation(t, res, err)
			if !strings.Contains(res.Text, "not accepted") {
				t.Errorf("a forged token is not reported: %q", res.Text)
			}
			if got := p.received("POST", "/api/refunds", order); len(got) != 0 {
				t.Fatalf("sent before confirmation: %+v", got)
			}

			// The same arguments written another way, with the token: runs once.
			res, err = c.Call(ctx, "pay_refund", map[string]any{"pin": "PIN-4242", "amount": json.Number("1.250e1"), "confirmation_token": tok, "order_id": order})
			if err != nil || res.IsError || res.Structured["id"] != "r-1" {
				t.Fatalf("confirmed call = %+v, %v", res, err)
			}
			got := p.received("POST", "/api/refunds", order)
			if len(got) != 1 {
				t.Fatalf("confirmed refund sent %d times", len(got))
			}
			key := got[0].Header.Get("Idempotency-Key")
			if len(key) != 36 || strings.Contains(got[0].Body, "confirmation_token") {
				t.Errorf("upstream got Idempotency-Key %q, body %s", key, got[0].Body)
			}

			// A replay asks again and sends nothing.
			res, err = c.Call(ctx, "pay_refund", withArg(args, "confirmation_token", tok))
			asksConfirmation(t, res, err)
			if !strings.Contains(res.Text, "already used") {
				t.Errorf("replay: %q", res.Text)
			}
			if got := p.received("POST", "/api/refunds", order); len(got) != 1 {
				t.Fatalf("a replayed token sent the refund again: %d", len(got))
			}

			// A confirm rule without a message: a generic question.
			sub := fmt.Sprintf("sub-%02d", i)
			res, err = c.Call(ctx, "pay_cancel_subscription", map[string]any{"id": sub})
			tok = asksConfirmation(t, res, err)
			if res.Structured["message"] != "Do you confirm pay_cancel_subscription with id "+sub+"?" {
				t.Errorf("generic message = %q", res.Structured["message"])
			}
			res, err = c.Call(ctx, "pay_cancel_subscription", map[string]any{"id": sub, "confirmation_token": tok})
			if err != nil || res.IsError || res.Structured["status"] != "cancelled" || len(p.received("POST", "/api/subscriptions/"+sub)) != 1 {
				t.Fatalf("cancel = %+v, %v", res, err)
			}

			// A Spanish message gets Spanish instructions.
			res, err = c.Call(ctx, "pay_reembolso", map[string]any{"order_id": order + "-ES", "amount": 3})
			asksConfirmation(t, res, err)
			if !strings.Contains(res.Text, "Pregúntale exactamente esto") || !strings.Contains(res.Text, "¿Confirmas el reembolso de 3 euros") {
				t.Errorf("Spanish text: %q", res.Text)
			}

			// A denied tool is refused, and nothing is sent.
			res, err = c.Call(ctx, "pay_delete_customer", map[string]any{"id": "c-" + order})
			if err == nil && !res.IsError {
				t.Fatalf("a denied tool ran: %+v", res)
			}
			if len(p.received("DELETE", "/api/customers/")) != 0 {
				t.Fatal("a denied tool reached the upstream")
			}
		})
	}

	lines := readAudit(t, audit)
	count := map[string]int{}
	stdio := false
	for _, l := range lines {
		count[l["tool"].(string)+" "+l["decision"].(string)]++
		stdio = stdio || l["session_id"] == "stdio"
	}
	n := len(clientMatrix())
	if count["pay_refund confirmation_required"] != 4*n || count["pay_refund confirmed"] != n ||
		count["pay_cancel_subscription confirmed"] != n || count["pay_reembolso confirmation_required"] != n {
		t.Errorf("audit decisions: %v", count)
	}
	if !stdio {
		t.Error("no audit line from the stdio binary's handshake-era session")
	}
	raw, _ := os.ReadFile(audit)
	for _, s := range []string{"ORD-", "PIN-4242", "sub-0"} {
		if strings.Contains(string(raw), s) {
			t.Fatalf("the audit log holds an argument value (%s):\n%s", s, raw)
		}
	}
}

func readAudit(t *testing.T, path string) []map[string]any {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("audit line %q: %v", l, err)
		}
		for _, k := range []string{"time", "client_id", "session_id", "tool", "args_hash", "decision", "outcome", "duration_ms"} {
			if _, ok := m[k]; !ok {
				t.Fatalf("audit line lacks %s: %s", k, l)
			}
		}
		out = append(out, m)
	}
	return out
}

// Concurrent replays of one token run the tool at most once.
func TestConfirmConcurrentReplays(t *testing.T) {
	p := newPayments(t)
	srv, _ := serveConfirm(t, p, "token", "2m")
	for i, kind := range clientMatrix() {
		t.Run(kind.Name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			c := kind.Connect(t, ctx, srv.target)
			defer c.Close()
			args := map[string]any{"order_id": fmt.Sprintf("RACE-%02d", i), "amount": 7}
			res, err := c.Call(ctx, "pay_refund", args)
			tok := asksConfirmation(t, res, err)
			var wg sync.WaitGroup
			var mu sync.Mutex
			ran := 0
			for range 8 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					res, err := c.Call(ctx, "pay_refund", withArg(args, "confirmation_token", tok))
					if err != nil {
						t.Error(err)
						return
					}
					if res.Structured["id"] == "r-1" {
						mu.Lock()
						ran++
						mu.Unlock()
					} else if res.Structured["status"] != "confirmation_required" {
						t.Errorf("replay: %+v", res)
					}
				}()
			}
			wg.Wait()
			if got := len(p.received("POST", "/api/refunds", args["order_id"].(string))); got != 1 || ran != 1 {
				t.Fatalf("8 concurrent uses of one token: %d refunds sent, %d reported run; want 1", got, ran)
			}
		})
	}
}

// An expired token asks again.
func TestConfirmTokenExpires(t *testing.T) {
	p := newPayments(t)
	srv, _ := serveConfirm(t, p, "token", "1s")
	for i, kind := range clientMatrix() {
		t.Run(kind.Name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			c := kind.Connect(t, ctx, srv.target)
			defer c.Close()
			args := map[string]any{"order_id": fmt.Sprintf("EXP-%02d", i), "amount": 7}
			res, err := c.Call(ctx, "pay_refund", args)
			tok := asksConfirmation(t, res, err)
			if res.Structured["expires_in_seconds"] != 1.0 {
				t.Errorf("expires_in_seconds = %v", res.Structured["expires_in_seconds"])
			}
			time.Sleep(1100 * time.Millisecond)
			res, err = c.Call(ctx, "pay_refund", withArg(args, "confirmation_token", tok))
			asksConfirmation(t, res, err)
			if !strings.Contains(res.Text, "expired") {
				t.Errorf("text does not say the token expired: %q", res.Text)
			}
			if got := p.received("POST", "/api/refunds", args["order_id"].(string)); len(got) != 0 {
				t.Fatalf("an expired token sent the refund")
			}
		})
	}
}

// ---- elicitation ----

// asker stands in for a client's user interface: it answers each question
// with the next scripted answer and remembers what it was asked.
type asker struct {
	mu     sync.Mutex
	answer string // accept | accept-false | decline | cancel
	asked  []string
}

func (a *asker) set(answer string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.answer = answer
}

func (a *asker) reply(msg string) (string, map[string]any) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.asked = append(a.asked, msg)
	switch a.answer {
	case "accept":
		return "accept", map[string]any{"confirm": true}
	case "accept-false":
		return "accept", map[string]any{"confirm": false}
	}
	return a.answer, nil
}

func (a *asker) questions() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]string(nil), a.asked...)
}

func (a *asker) Elicit(_ context.Context, req mcpgo.ElicitationRequest) (*mcpgo.ElicitationResult, error) {
	action, content := a.reply(req.Params.Message)
	return &mcpgo.ElicitationResult{ElicitationResponse: mcpgo.ElicitationResponse{Action: mcpgo.ElicitationResponseAction(action), Content: content}}, nil
}

func (a *asker) sdkHandler(_ context.Context, req *sdk.ElicitRequest) (*sdk.ElicitResult, error) {
	action, content := a.reply(req.Params.Message)
	return &sdk.ElicitResult{Action: action, Content: content}, nil
}

type elicitKind struct {
	Name    string
	Connect func(t *testing.T, ctx context.Context, tg target, a *asker) client
}

// elicitingClients are real clients that declare elicitation, at the
// stateless revision (input_required results) and the handshake era
// (elicitation/create during the call).
func elicitingClients() []elicitKind {
	return []elicitKind{
		{"go-sdk/streamable/2026-07-28", sdkElicitConnect("streamable", "2026-07-28")},
		{"go-sdk/streamable/2025-06-18", sdkElicitConnect("streamable", "2025-06-18")},
		{"go-sdk/stdio/2026-07-28", sdkElicitConnect("stdio", "2026-07-28")},
		{"go-sdk/stdio/2025-06-18", sdkElicitConnect("stdio", "2025-06-18")},
		{"mcp-go/streamable/2026-07-28", mcpgoElicitConnect("streamable", mcpgo.ProtocolVersion20260728)},
		{"mcp-go/streamable/2025-06-18", mcpgoElicitConnect("streamable", "2025-06-18")},
		{"mcp-go/stdio/2026-07-28", mcpgoElicitConnect("stdio", mcpgo.ProtocolVersion20260728)},
		{"mcp-go/stdio/2025-11-25", mcpgoElicitConnect("stdio", "2025-11-25")},
	}
}

func sdkElicitConnect(kind, version string) func(t *testing.T, ctx context.Context, tg target, a *asker) client {
	return func(t *testing.T, ctx context.Context, tg target, a *asker) client {
		t.Helper()
		var tr sdk.Transport
		switch kind {
		case "streamable":
			tr = &sdk.StreamableClientTransport{Endpoint: tg.BaseURL + "/mcp", HTTPClient: httpClientWith(tg.Header), MaxRetries: -1}
		case "stdio":
			tr = &sdk.CommandTransport{Command: tg.Command()}
		}
		c := sdk.NewClient(&sdk.Implementation{Name: "e2e-go-sdk-elicit", Version: "1"}, &sdk.ClientOptions{ElicitationHandler: a.sdkHandler})
		s, err := c.Connect(ctx, tr, &sdk.ClientSessionOptions{ProtocolVersion: version})
		if err != nil {
			t.Fatalf("go-sdk connect (%s %s): %v", kind, version, err)
		}
		return &sdkClient{s: s}
	}
}

func mcpgoElicitConnect(kind, version string) func(t *testing.T, ctx context.Context, tg target, a *asker) client {
	return func(t *testing.T, ctx context.Context, tg target, a *asker) client {
		t.Helper()
		var tr transport.Interface
		var err error
		switch kind {
		case "streamable":
			tr, err = transport.NewStreamableHTTP(tg.BaseURL+"/mcp", transport.WithHTTPBasicClient(httpClientWith(tg.Header)))
		case "stdio":
			cmd := tg.Command()
			tr = transport.NewStdio(cmd.Path, cmd.Env, cmd.Args[1:]...)
		}
		if err != nil {
			t.Fatal(err)
		}
		c := mcpclient.NewClient(tr, mcpclient.WithProtocolVersion(version), mcpclient.WithElicitationHandler(a))
		if err := c.Start(ctx); err != nil {
			t.Fatalf("mcp-go start: %v", err)
		}
		var init mcpgo.InitializeRequest
		init.Params.ClientInfo = mcpgo.Implementation{Name: "e2e-mcp-go-elicit", Version: "1"}
		if _, err := c.Initialize(ctx, init); err != nil {
			c.Close()
			t.Fatalf("mcp-go initialize (%s %s): %v", kind, version, err)
		}
		return &mcpgoClient{c: c}
	}
}

// TestConfirmByElicitation: the user is asked through the client; only an
// explicit yes runs the tool, once, with an Idempotency-Key.
func TestConfirmByElicitation(t *testing.T) {
	for _, mode := range []string{"elicit", "auto"} {
		t.Run(mode, func(t *testing.T) {
			p := newPayments(t)
			srv, audit := serveConfirm(t, p, mode, "2m")
			for i, kind := range elicitingClients() {
				t.Run(kind.Name, func(t *testing.T) {
					ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
					defer cancel()
					a := &asker{}
					c := kind.Connect(t, ctx, srv.target, a)
					defer c.Close()
					order := fmt.Sprintf("ELI-%02d", i)
					args := map[string]any{"order_id": order, "amount": 12.5}

					for _, no := range []string{"decline", "cancel", "accept-false"} {
						a.set(no)
						res, err := c.Call(ctx, "pay_refund", args)
						if err != nil || res.IsError || res.Structured["status"] != "declined" || !strings.Contains(res.Text, "was not run") {
							t.Fatalf("%s: %+v, %v", no, res, err)
						}
					}
					if got := p.received("POST", "/api/refunds", order); len(got) != 0 {
						t.Fatalf("a declined refund was sent")
					}

					a.set("accept")
					res, err := c.Call(ctx, "pay_refund", args)
					if err != nil || res.IsError || res.Structured["id"] != "r-1" {
						t.Fatalf("accepted: %+v, %v", res, err)
					}
					got := p.received("POST", "/api/refunds", order)
					if len(got) != 1 || len(got[0].Header.Get("Idempotency-Key")) != 36 {
						t.Fatalf("accepted refund sent %d times: %+v", len(got), got)
					}
					q := a.questions()
					if len(q) != 4 || q[3] != "Do you confirm a refund of 12.5 euros for order "+order+"?" {
						t.Errorf("the user was asked %q", q)
					}
				})
			}
			count := map[string]int{}
			for _, l := range readAudit(t, audit) {
				count[l["decision"].(string)]++
			}
			// A 2026-07-28 call is two requests (the question, then the
			// answer), a handshake-era call one (asked during the call).
			n, modern := len(elicitingClients()), 0
			for _, k := range elicitingClients() {
				if strings.HasSuffix(k.Name, "2026-07-28") {
					modern++
				}
			}
			if count["confirmation_required"] != 4*modern || count["declined"] != 3*n || count["confirmed"] != n {
				t.Errorf("audit decisions: %v", count)
			}
		})
	}
}

// In elicit mode a client that cannot be asked gets a clear refusal; in
// auto mode it gets a token instead.
func TestConfirmWithoutElicitation(t *testing.T) {
	p := newPayments(t)
	elicit, _ := serveConfirm(t, p, "elicit", "2m")
	auto, _ := serveConfirm(t, p, "auto", "2m")
	for i, kind := range clientMatrix() {
		t.Run(kind.Name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			args := map[string]any{"order_id": fmt.Sprintf("NOEL-%02d", i), "amount": 5}

			c := kind.Connect(t, ctx, elicit.target)
			res, err := c.Call(ctx, "pay_refund", args)
			c.Close()
			if err != nil || !res.IsError || !strings.Contains(res.Text, "cannot ask for it") {
				t.Fatalf("elicit mode, client without elicitation: %+v, %v", res, err)
			}

			c = kind.Connect(t, ctx, auto.target)
			defer c.Close()
			res, err = c.Call(ctx, "pay_refund", args)
			tok := asksConfirmation(t, res, err)
			res, err = c.Call(ctx, "pay_refund", withArg(args, "confirmation_token", tok))
			if err != nil || res.IsError || res.Structured["id"] != "r-1" {
				t.Fatalf("auto mode token: %+v, %v", res, err)
			}
		})
	}
}
