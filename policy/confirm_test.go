package policy

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/switchboard-dev/switchboard/configs"
	"github.com/switchboard-dev/switchboard/integrations"
	"github.com/switchboard-dev/switchboard/internal/state"
)

// spy is a tool handler that records what reached it.
type spy struct {
	mu    sync.Mutex
	calls []spyCall
	// invalid, when set, is what ValidateArgs says.
	invalid error
}

type spyCall struct {
	args map[string]any
	key  string
}

func (s *spy) Call(ctx context.Context, c *integrations.Call) (*mcp.CallToolResult, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, spyCall{args: c.Args, key: c.IdempotencyKey})
	return mcp.NewToolResultText("refund r-1 created"), nil
}

func (s *spy) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.calls)
}

func (s *spy) last() spyCall {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[len(s.calls)-1]
}

// validatingSpy also checks arguments without acting.
type validatingSpy struct{ *spy }

func (v validatingSpy) ValidateArgs(*integrations.Call) error { return v.invalid }

const refundSchema = `{"type":"object","properties":{"order_id":{"type":"string"},"amount":{"type":"number"},"pin":{"type":"string"}},"required":["order_id","amount"],"additionalProperties":false}`

func refundTool(t *testing.T, h integrations.Handler, msg string) *integrations.Tool {
	t.Helper()
	tool := &integrations.Tool{
		Definition:  mcp.NewToolWithRawSchema("pay_refund", "Refund an order.", json.RawMessage(refundSchema)),
		Integration: "pay",
		Sensitive:   []string{"pin"},
		Handler:     h,
	}
	if msg != "" {
		tmpl, err := configs.ParseConfirmTemplate(msg)
		if err != nil {
			t.Fatal(err)
		}
		tool.Confirm = tmpl
	}
	return tool
}

// clock is a settable time source.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type fixture struct {
	h     reqHandler
	spy   *spy
	clock *clock
	def   mcp.Tool
	audit *bytes.Buffer
}

func newFixture(t *testing.T, cfg configs.Policy, msg string, deps Deps) *fixture {
	t.Helper()
	f := &fixture{spy: &spy{}, clock: &clock{t: time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)}, audit: &bytes.Buffer{}}
	if deps.Now == nil {
		deps.Now = f.clock.now
	}
	if deps.Audit == nil {
		deps.Audit = NewAudit(f.audit, nil)
	}
	p, err := New(cfg, deps)
	if err != nil {
		t.Fatal(err)
	}
	exposed := expose(p, []*integrations.Tool{refundTool(t, f.spy, msg)})
	if len(exposed) != 1 {
		t.Fatalf("exposed %d tools", len(exposed))
	}
	f.h, f.def = exposed[0].Handler, exposed[0].Definition
	return f
}

func tokenPolicy() configs.Policy {
	return configs.Policy{Confirmation: configs.Confirmation{Mode: "token", TTL: 2 * time.Minute}}
}

func callReq(args map[string]any) mcp.CallToolRequest {
	var req mcp.CallToolRequest
	req.Params.Name = "pay_refund"
	req.Params.Arguments = args
	return req
}

func (f *fixture) call(t *testing.T, ctx context.Context, args map[string]any) *mcp.CallToolResult {
	t.Helper()
	return f.callReq(t, ctx, callReq(args))
}

func (f *fixture) callReq(t *testing.T, ctx context.Context, req mcp.CallToolRequest) *mcp.CallToolResult {
	t.Helper()
	res, err := f.h.Call(ctx, req)
	if err != nil || res == nil {
		t.Fatalf("call: %v, %v", res, err)
	}
	return res
}

func text(res *mcp.CallToolResult) string {
	var sb strings.Builder
	for _, c := range res.Content {
		if tc, ok := c.(mcp.TextContent); ok {
			sb.WriteString(tc.Text)
		}
	}
	return sb.String()
}

// confirmation checks that res asks for a confirmation and returns its token.
func confirmation(t *testing.T, res *mcp.CallToolResult) string {
	t.Helper()
	sc, ok := res.StructuredContent.(map[string]any)
	if res.IsError || !ok || sc["status"] != "confirmation_required" {
		t.Fatalf("want confirmation_required, got isError=%v %v %q", res.IsError, res.StructuredContent, text(res))
	}
	tok, _ := sc["confirmation_token"].(string)
	if tok == "" || !strings.Contains(text(res), tok) {
		t.Fatalf("token %q missing from structured content or text: %q", tok, text(res))
	}
	return tok
}

func with(args map[string]any, k string, v any) map[string]any {
	out := map[string]any{}
	for kk, vv := range args {
		out[kk] = vv
	}
	out[k] = v
	return out
}

var caller = Caller{ClientID: "voice-prod"}

func TestTokenFirstCallAsksAndRunsNothing(t *testing.T) {
	f := newFixture(t, tokenPolicy(), "Do you confirm a refund of {{.amount}} euros for order {{.order_id}}?", Deps{})
	ctx := WithCaller(context.Background(), caller)
	res := f.call(t, ctx, map[string]any{"order_id": "A-1", "amount": 12.5})
	tok := confirmation(t, res)
	if f.spy.count() != 0 {
		t.Fatal("the tool ran on the first call")
	}
	sc := res.StructuredContent.(map[string]any)
	want := map[string]any{
		"status":             "confirmation_required",
		"message":            "Do you confirm a refund of 12.5 euros for order A-1?",
		"confirmation_token": tok,
		"expires_in_seconds": 120,
	}
	if fmt.Sprint(sc) != fmt.Sprint(want) {
		t.Errorf("structured content = %v, want %v", sc, want)
	}
	txt := text(res)
	for _, s := range []string{
		`"Do you confirm a refund of 12.5 euros for order A-1?"`,
		"call pay_refund again with the same arguments",
		`"confirmation_token": "` + tok + `"`,
		"do not call it again; tell the caller it was not done",
		"120 seconds",
	} {
		if !strings.Contains(txt, s) {
			t.Errorf("text lacks %q:\n%s", s, txt)
		}
	}
}

func TestTokenRunsOnceWithIdempotencyKey(t *testing.T) {
	f := newFixture(t, tokenPolicy(), "Refund {{.amount}} for {{.order_id}}?", Deps{})
	ctx := WithCaller(context.Background(), caller)
	args := map[string]any{"order_id": "A-1", "amount": 12.5}
	tok := confirmation(t, f.call(t, ctx, args))

	res := f.call(t, ctx, with(args, integrations.TokenParam, tok))
	if res.IsError || text(res) != "refund r-1 created" || f.spy.count() != 1 {
		t.Fatalf("confirmed call: %q, ran %d times", text(res), f.spy.count())
	}
	got := f.spy.last()
	if _, ok := got.args[integrations.TokenParam]; ok {
		t.Error("confirmation_token reached the tool")
	}
	if !regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`).MatchString(got.key) {
		t.Errorf("idempotency key %q is not a version 8 UUID", got.key)
	}

	// A replay of the same confirmation asks again and runs nothing.
	res = f.call(t, ctx, with(args, integrations.TokenParam, tok))
	fresh := confirmation(t, res)
	if fresh == tok || !strings.Contains(text(res), "already used") {
		t.Errorf("replay: %q", text(res))
	}
	if f.spy.count() != 1 {
		t.Fatalf("replay ran the tool: %d", f.spy.count())
	}

	// The next confirmation gets its own key.
	f.call(t, ctx, with(args, integrations.TokenParam, fresh))
	if f.spy.count() != 2 || f.spy.last().key == got.key {
		t.Errorf("second confirmation reused key %q", got.key)
	}
}

func TestTokenRefused(t *testing.T) {
	args := map[string]any{"order_id": "A-1", "amount": 12.5}
	ctx := WithCaller(context.Background(), caller)
	cases := []struct {
		name   string
		mutate func(f *fixture, tok string) (context.Context, map[string]any)
		reason string
	}{
		{"changed amount", func(_ *fixture, tok string) (context.Context, map[string]any) {
			return ctx, with(with(args, "amount", 500.0), integrations.TokenParam, tok)
		}, "not issued for this tool"},
		{"added argument", func(_ *fixture, tok string) (context.Context, map[string]any) {
			return ctx, with(with(args, "pin", "1"), integrations.TokenParam, tok)
		}, "not issued"},
		{"other client", func(_ *fixture, tok string) (context.Context, map[string]any) {
			return WithCaller(context.Background(), Caller{ClientID: "other"}), with(args, integrations.TokenParam, tok)
		}, "not issued"},
		{"other session", func(_ *fixture, tok string) (context.Context, map[string]any) {
			return withSession(ctx, "s-2", nil), with(args, integrations.TokenParam, tok)
		}, "not issued"},
		{"expired", func(f *fixture, tok string) (context.Context, map[string]any) {
			f.clock.add(2*time.Minute + time.Millisecond)
			return ctx, with(args, integrations.TokenParam, tok)
		}, "expired"},
		{"flipped character", func(_ *fixture, tok string) (context.Context, map[string]any) {
			b := []byte(tok)
			b[len(b)/2] ^= 1
			return ctx, with(args, integrations.TokenParam, string(b))
		}, "not issued"},
		{"forged", func(_ *fixture, _ string) (context.Context, map[string]any) {
			return ctx, with(args, integrations.TokenParam, base64.RawURLEncoding.EncodeToString(append([]byte{tokenVersion}, make([]byte, tokenLen-1)...)))
		}, "not issued"},
		{"garbage", func(_ *fixture, _ string) (context.Context, map[string]any) {
			return ctx, with(args, integrations.TokenParam, "yes, the caller agreed")
		}, "not issued"},
		{"not a string", func(_ *fixture, _ string) (context.Context, map[string]any) {
			return ctx, with(args, integrations.TokenParam, 12345.0)
		}, "not issued"},
		{"truncated", func(_ *fixture, tok string) (context.Context, map[string]any) {
			return ctx, with(args, integrations.TokenParam, tok[:len(tok)-2])
		}, "not issued"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, tokenPolicy(), "Refund {{.amount}} for {{.order_id}}?", Deps{})
			tok := confirmation(t, f.call(t, withSession(ctx, "s-1", nil), args))
			if tc.name != "other session" {
				// the others run without a session; ask again without one
				tok = confirmation(t, f.call(t, ctx, args))
			}
			cctx, a := tc.mutate(f, tok)
			res := f.call(t, cctx, a)
			confirmation(t, res)
			if !strings.Contains(text(res), tc.reason) {
				t.Errorf("text does not say %q:\n%s", tc.reason, text(res))
			}
			if f.spy.count() != 0 {
				t.Fatal("the tool ran")
			}
		})
	}
}

func TestTokenEmptyIsAFirstCall(t *testing.T) {
	f := newFixture(t, tokenPolicy(), "Refund {{.amount}}?", Deps{})
	res := f.call(t, context.Background(), map[string]any{"order_id": "A", "amount": 1.0, integrations.TokenParam: ""})
	confirmation(t, res)
	if strings.Contains(text(res), "not accepted") {
		t.Errorf("an empty token was reported as refused: %q", text(res))
	}
}

func TestTokenBindsMeaningNotEncoding(t *testing.T) {
	f := newFixture(t, tokenPolicy(), "Refund {{.amount}}?", Deps{})
	var first mcp.CallToolRequest
	first.Params.Name = "pay_refund"
	first.Params.Arguments = map[string]any{"amount": 12.5, "order_id": "A-1"}
	first.Params.RawArguments = json.RawMessage(`{"amount": 12.50, "order_id": "A-1"}`)
	tok := confirmation(t, f.callReq(t, context.Background(), first))

	var again mcp.CallToolRequest
	again.Params.Name = "pay_refund"
	again.Params.Arguments = map[string]any{"order_id": "A-1", "amount": json.Number("1.25e1"), integrations.TokenParam: tok}
	res := f.callReq(t, context.Background(), again)
	if res.IsError || f.spy.count() != 1 {
		t.Fatalf("same arguments written differently were refused: %q", text(res))
	}
}

func TestTokenRawArgumentsLoseTheToken(t *testing.T) {
	f := newFixture(t, tokenPolicy(), "Refund {{.amount}}?", Deps{})
	tok := confirmation(t, f.call(t, context.Background(), map[string]any{"order_id": "A-1", "amount": 12.5}))
	var req mcp.CallToolRequest
	req.Params.Arguments = map[string]any{"order_id": "A-1", "amount": 12.5, integrations.TokenParam: tok}
	req.Params.RawArguments = json.RawMessage(`{"order_id":"A-1","amount":12.5,"confirmation_token":"` + tok + `"}`)
	inner := &rawSpy{}
	tool := refundTool(t, inner, "Refund {{.amount}}?")
	p, _ := New(tokenPolicy(), Deps{})
	// a fresh policy: ask, then confirm through it
	h := expose(p, []*integrations.Tool{tool})[0].Handler
	first, _ := h.Call(context.Background(), callReq(map[string]any{"order_id": "A-1", "amount": 12.5}))
	tok = confirmation(t, first)
	req.Params.Arguments = map[string]any{"order_id": "A-1", "amount": 12.5, integrations.TokenParam: tok}
	req.Params.RawArguments = json.RawMessage(`{"order_id":"A-1","amount":12.5,"confirmation_token":"` + tok + `"}`)
	if _, err := h.Call(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	if inner.raw == "" || strings.Contains(inner.raw, integrations.TokenParam) || !strings.Contains(inner.raw, `"amount":12.5`) {
		t.Errorf("raw arguments reaching the tool: %s", inner.raw)
	}
}

type rawSpy struct{ raw string }

func (r *rawSpy) Call(_ context.Context, c *integrations.Call) (*mcp.CallToolResult, error) {
	b, _ := json.Marshal(c.Args)
	r.raw = string(b)
	return mcp.NewToolResultText("ok"), nil
}

func TestConcurrentReplaysRunOnce(t *testing.T) {
	f := newFixture(t, tokenPolicy(), "Refund {{.amount}}?", Deps{})
	ctx := WithCaller(context.Background(), caller)
	args := map[string]any{"order_id": "A-1", "amount": 12.5}
	tok := confirmation(t, f.call(t, ctx, args))
	var wg sync.WaitGroup
	start := make(chan struct{})
	for range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			if _, err := f.h.Call(ctx, callReq(with(args, integrations.TokenParam, tok))); err != nil {
				t.Error(err)
			}
		}()
	}
	close(start)
	wg.Wait()
	if n := f.spy.count(); n != 1 {
		t.Fatalf("64 concurrent replays ran the tool %d times, want 1", n)
	}
}

// A ticket is consumed once, through the Claimer, until well past its
// expiry; one that expired in between is refused as expired.
func TestTicketsAreConsumedOnce(t *testing.T) {
	clk := &clock{t: time.Unix(1000, 0)}
	c := &confirmer{now: clk.now, once: state.NewMemory(state.Config{})}
	ctx := context.Background()
	for i := range 100 {
		var tk ticket
		tk.nonce[0], tk.nonce[1] = byte(i), 1
		tk.exp = clk.now().Add(time.Minute).UnixMilli()
		if why, err := c.consume(ctx, tk); why != "" || err != nil {
			t.Fatalf("fresh nonce refused: %s %v", why, err)
		}
		if why, _ := c.consume(ctx, tk); why != rejectReused {
			t.Fatalf("nonce used twice: %q", why)
		}
	}
	var expired ticket
	expired.exp = clk.now().UnixMilli()
	if why, _ := c.consume(ctx, expired); why != rejectExpired {
		t.Errorf("expired ticket: %q", why)
	}
}

// A single-use store that cannot be asked fails the call closed.
func TestConfirmFailsClosedWithoutTheStore(t *testing.T) {
	f := newFixture(t, tokenPolicy(), "Refund {{.amount}}?", Deps{Once: brokenClaims{}})
	args := map[string]any{"order_id": "A-1", "amount": 12.5}
	tok := confirmation(t, f.call(t, context.Background(), args))
	res := f.call(t, context.Background(), with(args, integrations.TokenParam, tok))
	if !res.IsError || f.spy.count() != 0 || !strings.Contains(text(res), "cannot confirm that right now") {
		t.Fatalf("isError=%v ran=%d %q", res.IsError, f.spy.count(), text(res))
	}
}

type brokenClaims struct{}

func (brokenClaims) Claim(context.Context, string, time.Duration) (bool, error) {
	return false, state.ErrUnavailable
}

func TestSharedKeyAcrossReplicas(t *testing.T) {
	cfg := tokenPolicy()
	cfg.Confirmation.Key = "vault:secret/switchboard#confirm"
	sec := secretsFunc(func(_ context.Context, ref string) (string, error) {
		if ref != cfg.Confirmation.Key {
			return "", fmt.Errorf("unexpected ref %q", ref)
		}
		return "0123456789abcdef0123456789abcdef", nil
	})
	a := newFixture(t, cfg, "Refund {{.amount}}?", Deps{Secrets: sec})
	b := newFixture(t, cfg, "Refund {{.amount}}?", Deps{Secrets: sec})
	args := map[string]any{"order_id": "A-1", "amount": 12.5}
	tok := confirmation(t, a.call(t, context.Background(), args))
	if res := b.call(t, context.Background(), with(args, integrations.TokenParam, tok)); res.IsError || b.spy.count() != 1 {
		t.Fatalf("replica b refused replica a's token: %q", text(res))
	}
	// Replica a has not seen it used, so it runs it too, with the same key.
	a.call(t, context.Background(), with(args, integrations.TokenParam, tok))
	if a.spy.count() != 1 || a.spy.last().key != b.spy.last().key {
		t.Errorf("replicas derived different idempotency keys: %q %q", a.spy.last().key, b.spy.last().key)
	}

	// Random per-process keys are not shared.
	c := newFixture(t, tokenPolicy(), "Refund {{.amount}}?", Deps{})
	d := newFixture(t, tokenPolicy(), "Refund {{.amount}}?", Deps{})
	tok = confirmation(t, c.call(t, context.Background(), args))
	confirmation(t, d.call(t, context.Background(), with(args, integrations.TokenParam, tok)))
}

type secretsFunc func(ctx context.Context, ref string) (string, error)

func (f secretsFunc) Lookup(ctx context.Context, ref string) (string, error) { return f(ctx, ref) }

func TestKeyProblems(t *testing.T) {
	cfg := tokenPolicy()
	cfg.Confirmation.Key = "env:CONFIRM_KEY"
	if _, err := New(cfg, Deps{}); err == nil {
		t.Error("a key reference without a secret store was accepted")
	}
	for name, sec := range map[string]secretsFunc{
		"unreachable": func(context.Context, string) (string, error) { return "", errors.New("vault down") },
		"too short":   func(context.Context, string) (string, error) { return "short", nil },
	} {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t, cfg, "Refund {{.amount}}?", Deps{Secrets: sec})
			res := f.call(t, context.Background(), map[string]any{"order_id": "A", "amount": 1.0})
			if !res.IsError || !strings.Contains(text(res), "cannot confirm that right now") || strings.Contains(text(res), "vault down") {
				t.Errorf("result: %v %q", res.IsError, text(res))
			}
			if f.spy.count() != 0 {
				t.Error("ran")
			}
		})
	}
}

func TestGenericMessageForRuleConfirm(t *testing.T) {
	cfg := tokenPolicy()
	cfg.Rules = []configs.Rule{{Tools: []string{"pay_*"}, Action: "confirm"}}
	f := newFixture(t, cfg, "", Deps{})
	res := f.call(t, context.Background(), map[string]any{"order_id": "A-1", "amount": 12.5, "pin": "4321"})
	confirmation(t, res)
	msg := res.StructuredContent.(map[string]any)["message"].(string)
	if msg != "Do you confirm pay_refund with amount 12.5, order_id A-1, pin [hidden]?" {
		t.Errorf("message = %q", msg)
	}
	if strings.Contains(text(res), "4321") {
		t.Error("a sensitive value is in the result")
	}
}

func TestLanguageOfTheMessage(t *testing.T) {
	cases := map[string]bool{
		"¿Confirmas que quieres procesar el reembolso de {{.amount}} euros del pedido {{.order_id}}?": true,
		"Confirma la cancelación de la cita del {{.date}}":                                            true,
		"Vas a borrar la cuenta de {{.name}}":                                                         true,
		"Do you confirm a refund of {{.amount}} euros for order {{.order_id}}?":                       false,
		"Cancel the subscription {{.id}}?":                                                            false,
		"":                                                                                            false,
	}
	for msg, want := range cases {
		if got := isSpanish(msg); got != want {
			t.Errorf("isSpanish(%q) = %v", msg, got)
		}
	}
	f := newFixture(t, tokenPolicy(), "¿Confirmas el reembolso de {{.amount}} euros del pedido {{.order_id}}?", Deps{})
	txt := text(f.call(t, context.Background(), map[string]any{"order_id": "A-1", "amount": 12.5}))
	for _, s := range []string{"Pregúntale exactamente esto", "vuelve a llamar a pay_refund con los mismos argumentos", "dile que no se ha hecho"} {
		if !strings.Contains(txt, s) {
			t.Errorf("Spanish text lacks %q:\n%s", s, txt)
		}
	}
}

func TestValidateBeforeAsking(t *testing.T) {
	s := &spy{invalid: integrations.Errorf(integrations.KindInvalid, nil, "Invalid arguments for pay_refund: amount: must be at most 500.")}
	p, err := New(tokenPolicy(), Deps{})
	if err != nil {
		t.Fatal(err)
	}
	h := expose(p, []*integrations.Tool{refundTool(t, validatingSpy{s}, "Refund {{.amount}}?")})[0].Handler
	res, err := h.Call(context.Background(), callReq(map[string]any{"order_id": "A", "amount": 900.0}))
	if err != nil || !res.IsError || !strings.Contains(text(res), "at most 500") {
		t.Fatalf("invalid arguments were not refused before asking: %v %q", err, text(res))
	}
}

func TestSchemaDeclaresToken(t *testing.T) {
	cfg := tokenPolicy()
	p, _ := New(cfg, Deps{})
	confirmTool := refundTool(t, &spy{}, "Refund {{.amount}}?")
	plain := refundTool(t, &spy{}, "")
	plain.Definition.Name = "pay_refund_plain"
	structTool := &integrations.Tool{Definition: mcp.NewTool("pay_struct", mcp.WithString("x")), Integration: "pay", Handler: &spy{}}
	structTool.Confirm = confirmTool.Confirm
	before, _ := json.Marshal(confirmTool.Definition)
	exposed := expose(p, []*integrations.Tool{confirmTool, plain, structTool})
	schemas := map[string]map[string]any{}
	for _, e := range exposed {
		b, _ := json.Marshal(e.Definition)
		var wire struct {
			InputSchema map[string]any `json:"inputSchema"`
		}
		if err := json.Unmarshal(b, &wire); err != nil {
			t.Fatal(err)
		}
		schemas[e.Definition.Name] = wire.InputSchema
	}
	for _, name := range []string{"pay_refund", "pay_struct"} {
		props := schemas[name]["properties"].(map[string]any)
		tp, ok := props[integrations.TokenParam].(map[string]any)
		if !ok || tp["type"] != "string" {
			t.Errorf("%s does not declare confirmation_token: %v", name, schemas[name])
		}
		if req, _ := schemas[name]["required"].([]any); fmt.Sprint(req) != "[order_id amount]" && name == "pay_refund" {
			t.Errorf("%s: required changed: %v", name, req)
		}
	}
	if _, ok := schemas["pay_refund_plain"]["properties"].(map[string]any)[integrations.TokenParam]; ok {
		t.Error("a tool without confirmation declares confirmation_token")
	}
	if after, _ := json.Marshal(confirmTool.Definition); !bytes.Equal(before, after) {
		t.Error("Expose changed the tool's own definition")
	}
	if schemas["pay_refund"]["additionalProperties"] != false {
		t.Error("additionalProperties:false was lost")
	}
}

// ---- elicitation ----

func elicitPolicy(mode string) configs.Policy {
	return configs.Policy{Confirmation: configs.Confirmation{Mode: mode, TTL: 2 * time.Minute}}
}

// modern is the context of a 2026-07-28 request whose _meta declares caps.
func modern(caps mcp.ClientCapabilities) context.Context {
	return server.WithRequestProtocolInfo(WithCaller(context.Background(), caller), &server.RequestProtocolInfo{
		Modern: true, ProtocolVersion: mcp.ProtocolVersion20260728, ClientCapabilities: &caps,
	})
}

var canElicit = mcp.ClientCapabilities{Elicitation: &mcp.ElicitationCapability{}}

// fakeSession is a handshake-era session.
type fakeSession struct {
	id   string
	caps mcp.ClientCapabilities
}

func (s *fakeSession) Initialize()       {}
func (s *fakeSession) Initialized() bool { return true }
func (s *fakeSession) NotificationChannel() chan<- mcp.JSONRPCNotification {
	return make(chan mcp.JSONRPCNotification, 1)
}
func (s *fakeSession) SessionID() string                              { return s.id }
func (s *fakeSession) GetClientInfo() mcp.Implementation              { return mcp.Implementation{} }
func (s *fakeSession) SetClientInfo(mcp.Implementation)               {}
func (s *fakeSession) GetClientCapabilities() mcp.ClientCapabilities  { return s.caps }
func (s *fakeSession) SetClientCapabilities(c mcp.ClientCapabilities) { s.caps = c }
func (s *fakeSession) RequestElicitation(context.Context, mcp.ElicitationRequest) (*mcp.ElicitationResult, error) {
	return nil, errors.New("not in a unit test")
}

var mcpServer = server.NewMCPServer("test", "1")

func withSession(ctx context.Context, id string, caps *mcp.ClientCapabilities) context.Context {
	s := &fakeSession{id: id}
	if caps != nil {
		s.caps = *caps
	}
	return mcpServer.WithContext(ctx, s)
}

// question checks that res is an input_required elicitation and returns its
// requestState and message.
func question(t *testing.T, res *mcp.CallToolResult) (state, msg string) {
	t.Helper()
	if !res.NeedsInput() || res.RequestState == "" {
		t.Fatalf("want input_required with a requestState, got %+v %q", res.Result, text(res))
	}
	ir, ok := res.InputRequests[elicitID]
	if !ok || ir.Elicitation == nil {
		t.Fatalf("no elicitation under %q: %+v", elicitID, res.InputRequests)
	}
	return res.RequestState, ir.Elicitation.Message
}

func answer(args map[string]any, state string, action mcp.ElicitationResponseAction, content any) mcp.CallToolRequest {
	req := callReq(args)
	req.Params.RequestState = state
	req.Params.InputResponses = mcp.InputResponses{elicitID: mcp.NewElicitationInputResponse(mcp.ElicitationResult{
		ElicitationResponse: mcp.ElicitationResponse{Action: action, Content: content},
	})}
	return req
}

var yes = map[string]any{"confirm": true}

func TestElicitAcceptRunsOnce(t *testing.T) {
	f := newFixture(t, elicitPolicy("elicit"), "Refund {{.amount}} euros for {{.order_id}}?", Deps{})
	ctx := modern(canElicit)
	args := map[string]any{"order_id": "A-1", "amount": 12.5}
	state, msg := question(t, f.call(t, ctx, args))
	if msg != "Refund 12.5 euros for A-1?" || f.spy.count() != 0 {
		t.Fatalf("question %q, ran %d", msg, f.spy.count())
	}
	res := f.callReq(t, ctx, answer(args, state, mcp.ElicitationResponseActionAccept, yes))
	if res.IsError || res.NeedsInput() || f.spy.count() != 1 || f.spy.last().key == "" {
		t.Fatalf("accepted: %q, ran %d, key %q", text(res), f.spy.count(), f.spy.last().key)
	}
	// The same answer again is a replay: asked afresh, never run.
	question(t, f.callReq(t, ctx, answer(args, state, mcp.ElicitationResponseActionAccept, yes)))
	if f.spy.count() != 1 {
		t.Fatal("a replayed answer ran the tool")
	}
}

func TestElicitDeclined(t *testing.T) {
	args := map[string]any{"order_id": "A-1", "amount": 12.5}
	for name, resp := range map[string]struct {
		action  mcp.ElicitationResponseAction
		content any
	}{
		"decline":       {mcp.ElicitationResponseActionDecline, nil},
		"cancel":        {mcp.ElicitationResponseActionCancel, nil},
		"accept false":  {mcp.ElicitationResponseActionAccept, map[string]any{"confirm": false}},
		"accept empty":  {mcp.ElicitationResponseActionAccept, map[string]any{}},
		"accept string": {mcp.ElicitationResponseActionAccept, map[string]any{"confirm": "true"}},
	} {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t, elicitPolicy("elicit"), "Refund {{.amount}}?", Deps{})
			ctx := modern(canElicit)
			state, _ := question(t, f.call(t, ctx, args))
			res := f.callReq(t, ctx, answer(args, state, resp.action, resp.content))
			sc, _ := res.StructuredContent.(map[string]any)
			if res.IsError || res.NeedsInput() || sc["status"] != "declined" || !strings.Contains(text(res), "was not run") {
				t.Fatalf("result: %+v %q", sc, text(res))
			}
			if f.spy.count() != 0 {
				t.Fatal("ran")
			}
			// A decline spends the question too.
			question(t, f.callReq(t, ctx, answer(args, state, mcp.ElicitationResponseActionAccept, yes)))
			if f.spy.count() != 0 {
				t.Fatal("an accept after a decline of the same question ran")
			}
		})
	}
}

// TestTamperedRequestStateRefused crafts retries by hand: the answer is an
// accept each time, but the requestState or the call has been changed.
func TestTamperedRequestStateRefused(t *testing.T) {
	args := map[string]any{"order_id": "A-1", "amount": 12.5}
	cases := map[string]func(f *fixture, state string, tok string) (context.Context, mcp.CallToolRequest){
		"flipped byte": func(_ *fixture, state, _ string) (context.Context, mcp.CallToolRequest) {
			b := []byte(state)
			b[len(b)-3] ^= 2
			return modern(canElicit), answer(args, string(b), mcp.ElicitationResponseActionAccept, yes)
		},
		"invented": func(_ *fixture, _, _ string) (context.Context, mcp.CallToolRequest) {
			return modern(canElicit), answer(args, "eyJjb25maXJtZWQiOnRydWV9", mcp.ElicitationResponseActionAccept, yes)
		},
		"changed amount": func(_ *fixture, state, _ string) (context.Context, mcp.CallToolRequest) {
			return modern(canElicit), answer(with(args, "amount", 499.0), state, mcp.ElicitationResponseActionAccept, yes)
		},
		"other client": func(_ *fixture, state, _ string) (context.Context, mcp.CallToolRequest) {
			ctx := server.WithRequestProtocolInfo(WithCaller(context.Background(), Caller{ClientID: "other"}), server.RequestProtocolInfoFromContext(modern(canElicit)))
			return ctx, answer(args, state, mcp.ElicitationResponseActionAccept, yes)
		},
		"expired": func(f *fixture, state, _ string) (context.Context, mcp.CallToolRequest) {
			f.clock.add(3 * time.Minute)
			return modern(canElicit), answer(args, state, mcp.ElicitationResponseActionAccept, yes)
		},
		"no answer": func(_ *fixture, state, _ string) (context.Context, mcp.CallToolRequest) {
			req := answer(args, state, mcp.ElicitationResponseActionAccept, yes)
			req.Params.InputResponses = nil
			return modern(canElicit), req
		},
		"answer under another id": func(_ *fixture, state, _ string) (context.Context, mcp.CallToolRequest) {
			req := answer(args, state, mcp.ElicitationResponseActionAccept, yes)
			req.Params.InputResponses = mcp.InputResponses{"other": req.Params.InputResponses[elicitID]}
			return modern(canElicit), req
		},
		"a token as requestState": func(_ *fixture, _, tok string) (context.Context, mcp.CallToolRequest) {
			return modern(canElicit), answer(args, tok, mcp.ElicitationResponseActionAccept, yes)
		},
	}
	for name, mutate := range cases {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t, elicitPolicy("auto"), "Refund {{.amount}}?", Deps{})
			// auto mode: the same policy hands out a token to a client
			// without elicitation, to try it as a requestState.
			tok := confirmation(t, f.call(t, modern(mcp.ClientCapabilities{}), args))
			state, _ := question(t, f.call(t, modern(canElicit), args))
			ctx, req := mutate(f, state, tok)
			res := f.callReq(t, ctx, req)
			if !res.NeedsInput() || f.spy.count() != 0 {
				t.Fatalf("a tampered answer was not asked afresh: %q, ran %d", text(res), f.spy.count())
			}
			if res.RequestState == state {
				t.Error("the refused requestState was handed out again")
			}
		})
	}
	t.Run("a requestState as token", func(t *testing.T) {
		f := newFixture(t, elicitPolicy("auto"), "Refund {{.amount}}?", Deps{})
		state, _ := question(t, f.call(t, modern(canElicit), args))
		confirmation(t, f.call(t, modern(mcp.ClientCapabilities{}), with(args, integrations.TokenParam, state)))
		if f.spy.count() != 0 {
			t.Fatal("ran")
		}
	})
}

func TestAutoModeChoosesByCapability(t *testing.T) {
	f := newFixture(t, elicitPolicy("auto"), "Refund {{.amount}}?", Deps{})
	args := map[string]any{"order_id": "A-1", "amount": 12.5}
	ctx := WithCaller(context.Background(), caller)
	cases := map[string]struct {
		ctx    context.Context
		elicit bool
	}{
		"2026-07-28 with elicitation":              {modern(canElicit), true},
		"2026-07-28 without":                       {modern(mcp.ClientCapabilities{}), false},
		"2026-07-28 url-only elicitation":          {modern(mcp.ClientCapabilities{Elicitation: &mcp.ElicitationCapability{URL: &struct{}{}}}), false},
		"2026-07-28 form elicitation":              {modern(mcp.ClientCapabilities{Elicitation: &mcp.ElicitationCapability{Form: &struct{}{}}}), true},
		"handshake session with elicitation":       {withSession(ctx, "s-1", &canElicit), true},
		"handshake session without":                {withSession(ctx, "s-1", nil), false},
		"no MCP session at all (switchboard call)": {ctx, false},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			res := f.call(t, tc.ctx, args)
			if tc.elicit {
				question(t, res)
			} else {
				confirmation(t, res)
			}
		})
	}
	if f.spy.count() != 0 {
		t.Fatal("ran")
	}
}

func TestElicitModeNeedsACapableClient(t *testing.T) {
	f := newFixture(t, elicitPolicy("elicit"), "Refund {{.amount}}?", Deps{})
	args := map[string]any{"order_id": "A-1", "amount": 12.5}
	res := f.call(t, modern(mcp.ClientCapabilities{}), args)
	if !res.IsError || !strings.Contains(text(res), "cannot ask for it") {
		t.Fatalf("result: %v %q", res.IsError, text(res))
	}
}

// A token is never accepted in elicit mode, however it was obtained: the two
// policies share policy.confirmation.key, so the token is valid in every
// other respect (the same token does run the tool under a token policy), and
// only the mode can refuse it.
func TestElicitModeRefusesTokens(t *testing.T) {
	key := secretsFunc(func(context.Context, string) (string, error) { return "0123456789abcdef-shared-key", nil })
	withKey := func(p configs.Policy) configs.Policy {
		p.Confirmation.Key = "vault:secret/switchboard#confirm"
		return p
	}
	g := newFixture(t, withKey(tokenPolicy()), "Refund {{.amount}}?", Deps{Secrets: key})
	f := newFixture(t, withKey(elicitPolicy("elicit")), "Refund {{.amount}}?", Deps{Secrets: key, Now: g.clock.now})
	args := map[string]any{"order_id": "A-1", "amount": 12.5}
	tok := confirmation(t, g.call(t, modern(canElicit), args))
	question(t, f.call(t, modern(canElicit), with(args, integrations.TokenParam, tok)))
	if f.spy.count() != 0 {
		t.Fatal("elicit mode ran the tool on a confirmation token")
	}
	g.call(t, modern(canElicit), with(args, integrations.TokenParam, tok))
	if g.spy.count() != 1 {
		t.Fatal("the token itself was not valid, so the elicit check proved nothing")
	}
}

// No ttl in the config means the default two minutes.
func TestConfirmationTTLDefault(t *testing.T) {
	f := newFixture(t, configs.Policy{Confirmation: configs.Confirmation{Mode: "token"}}, "Refund {{.amount}}?", Deps{})
	res := f.call(t, context.Background(), map[string]any{"order_id": "A-1", "amount": 1.5})
	if got := res.StructuredContent.(map[string]any)["expires_in_seconds"]; got != 120 {
		t.Fatalf("expires_in_seconds %v, want 120", got)
	}
}

// The generic question reads a value of up to 80 characters whole, and
// cuts a longer one to 77 plus "...".
func TestGenericQuestionCutsLongValues(t *testing.T) {
	cfg := tokenPolicy()
	cfg.Rules = []configs.Rule{{Tools: []string{"pay_refund"}, Action: "confirm"}}
	f := newFixture(t, cfg, "", Deps{})
	ask := func(id string) string {
		sc := f.call(t, context.Background(), map[string]any{"order_id": id, "amount": 1.5}).StructuredContent.(map[string]any)
		return sc["message"].(string)
	}
	if msg := ask(strings.Repeat("x", 80)); !strings.Contains(msg, "order_id "+strings.Repeat("x", 80)+"?") {
		t.Fatalf("80 characters: %q", msg)
	}
	if msg := ask(strings.Repeat("y", 81)); !strings.Contains(msg, "order_id "+strings.Repeat("y", 77)+"...?") {
		t.Fatalf("81 characters: %q", msg)
	}
}

// A spent token stays spent for as long as it is valid: the single-use
// record outlives the token (here: used, then presented again 90 s later,
// within its 2-minute life).
func TestSpentTokenStaysSpentUntilItExpires(t *testing.T) {
	f := newFixture(t, tokenPolicy(), "Refund {{.amount}}?", Deps{})
	ctx := WithCaller(context.Background(), caller)
	args := map[string]any{"order_id": "A-1", "amount": 12.5}
	tok := confirmation(t, f.call(t, ctx, args))
	if res := f.call(t, ctx, with(args, integrations.TokenParam, tok)); res.IsError || f.spy.count() != 1 {
		t.Fatalf("the token did not run the tool: %q", text(res))
	}
	f.clock.add(90 * time.Second)
	res := f.call(t, ctx, with(args, integrations.TokenParam, tok))
	if f.spy.count() != 1 || !strings.Contains(text(res), "already used") {
		t.Fatalf("a spent token ran again 90 s later: runs %d, %q", f.spy.count(), text(res))
	}
}
