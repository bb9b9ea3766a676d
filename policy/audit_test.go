package policy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/switchboard-dev/switchboard/configs"
	"github.com/switchboard-dev/switchboard/integrations"
)

func auditLines(t *testing.T, b []byte) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if l == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("audit line is not JSON: %q", l)
		}
		out = append(out, m)
	}
	return out
}

func TestAuditLines(t *testing.T) {
	var buf bytes.Buffer
	cfg := tokenPolicy()
	cfg.Rules = []configs.Rule{{Tools: []string{"pay_refund"}, Action: "confirm"}}
	p, err := New(cfg, Deps{Audit: NewAudit(&buf, nil)})
	if err != nil {
		t.Fatal(err)
	}
	refund := refundTool(t, &spy{}, "Refund {{.amount}} for {{.order_id}}?")
	handler := func(name string, f integrations.HandlerFunc) *integrations.Tool {
		return &integrations.Tool{Definition: mcp.NewTool(name), Integration: "pay", Handler: f}
	}
	okTool := handler("pay_get", func(context.Context, *integrations.Call) (*mcp.CallToolResult, error) {
		return mcp.NewToolResultText("ok"), nil
	})
	badArgs := handler("pay_bad", func(context.Context, *integrations.Call) (*mcp.CallToolResult, error) {
		return nil, integrations.Errorf(integrations.KindInvalid, nil, "Invalid arguments.")
	})
	upstream := handler("pay_down", func(context.Context, *integrations.Call) (*mcp.CallToolResult, error) {
		return nil, &integrations.Error{Kind: integrations.KindUpstream, Public: "pay answered 502.", Status: 502}
	})
	other := &integrations.Tool{Definition: mcp.NewTool("crm_get"), Integration: "crm", Handler: okTool.Handler}
	tools := map[string]reqHandler{}
	for _, e := range expose(p, []*integrations.Tool{refund, okTool, badArgs, upstream, other}) {
		tools[e.Definition.Name] = e.Handler
	}
	voice := WithCaller(context.Background(), Caller{ClientID: "voice-prod", Integrations: map[string]bool{"pay": true}})
	secretArgs := map[string]any{"order_id": "ORD-77731", "amount": 431.17, "pin": "PIN-4242"}

	call := func(name string, args map[string]any) *mcp.CallToolResult {
		res, err := tools[name].Call(voice, callReq(args))
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	call("pay_get", map[string]any{"q": "ORD-77731"})
	call("pay_bad", map[string]any{"q": "ORD-77731"})
	call("pay_down", nil)
	call("crm_get", nil)
	tok := confirmation(t, call("pay_refund", secretArgs))
	call("pay_refund", with(secretArgs, integrations.TokenParam, tok))
	call("pay_refund", with(secretArgs, integrations.TokenParam, tok))
	// The same call with another PIN: the hash must not depend on it (else
	// a short secret could be found by hashing guesses).
	call("pay_refund", with(secretArgs, "pin", "PIN-0000"))
	// The same call with another order: the hash must change.
	call("pay_refund", with(secretArgs, "order_id", "ORD-11111"))

	lines := auditLines(t, buf.Bytes())
	want := []struct{ tool, decision, reason, outcome string }{
		{"pay_get", "allowed", "", "ok"},
		{"pay_bad", "allowed", "", "invalid"},
		{"pay_down", "allowed", "", "error"},
		{"crm_get", "denied", "client_not_allowed", "invalid"},
		{"pay_refund", "confirmation_required", "", "ok"},
		{"pay_refund", "confirmed", "", "ok"},
		{"pay_refund", "confirmation_required", "reused", "ok"},
		{"pay_refund", "confirmation_required", "", "ok"},
		{"pay_refund", "confirmation_required", "", "ok"},
	}
	if len(lines) != len(want) {
		t.Fatalf("%d audit lines, want %d:\n%s", len(lines), len(want), buf.String())
	}
	for i, w := range want {
		l := lines[i]
		if l["tool"] != w.tool || l["decision"] != w.decision || l["outcome"] != w.outcome || (l["reason"] != nil && l["reason"] != w.reason) || (w.reason != "" && l["reason"] != w.reason) {
			t.Errorf("line %d = %v, want %+v", i, l, w)
		}
		for _, k := range []string{"time", "client_id", "session_id", "tool", "integration", "args_hash", "decision", "outcome", "duration_ms"} {
			if _, ok := l[k]; !ok {
				t.Errorf("line %d lacks %s: %v", i, k, l)
			}
		}
		if l["client_id"] != "voice-prod" {
			t.Errorf("line %d client_id = %v", i, l["client_id"])
		}
	}
	if lines[2]["upstream_status"] != 502.0 {
		t.Errorf("upstream status not recorded: %v", lines[2])
	}
	if h := lines[4]["args_hash"]; h == "" || h != lines[5]["args_hash"] || len(h.(string)) != 64 {
		t.Errorf("the confirmation and the confirmed call should share an args hash: %v %v", h, lines[5]["args_hash"])
	}
	if lines[7]["args_hash"] != lines[4]["args_hash"] {
		t.Errorf("calls that differ only in a sensitive argument have different hashes: %v %v", lines[4]["args_hash"], lines[7]["args_hash"])
	}
	if lines[8]["args_hash"] == lines[4]["args_hash"] {
		t.Error("calls with different arguments have the same hash")
	}
	for _, s := range []string{"ORD-77731", "431.17", "PIN-4242", "PIN-0000", tok} {
		if strings.Contains(buf.String(), s) {
			t.Errorf("the audit log holds %q:\n%s", s, buf.String())
		}
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

type logRecorder struct {
	mu   sync.Mutex
	msgs []string
}

func (l *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (l *logRecorder) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.msgs = append(l.msgs, r.Message)
	return nil
}
func (l *logRecorder) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *logRecorder) WithGroup(string) slog.Handler      { return l }

func TestAuditWriteFailureKeepsTheResult(t *testing.T) {
	logs := &logRecorder{}
	p, err := New(configs.Policy{}, Deps{Audit: NewAudit(failingWriter{}, slog.New(logs))})
	if err != nil {
		t.Fatal(err)
	}
	tool := &integrations.Tool{Definition: mcp.NewTool("pay_get"), Integration: "pay", Handler: integrations.HandlerFunc(
		func(context.Context, *integrations.Call) (*mcp.CallToolResult, error) {
			return mcp.NewToolResultText("the answer"), nil
		})}
	res, err := expose(p, []*integrations.Tool{tool})[0].Handler.Call(context.Background(), callReq(nil))
	if err != nil || res.IsError || text(res) != "the answer" {
		t.Fatalf("result lost: %v %v", res, err)
	}
	if len(logs.msgs) != 1 || logs.msgs[0] != "audit write failed" {
		t.Errorf("logged %v", logs.msgs)
	}
}

func TestAuditPanicIsAnError(t *testing.T) {
	var buf bytes.Buffer
	p, _ := New(configs.Policy{}, Deps{Audit: NewAudit(&buf, nil)})
	tool := &integrations.Tool{Definition: mcp.NewTool("pay_get"), Integration: "pay", Handler: integrations.HandlerFunc(
		func(context.Context, *integrations.Call) (*mcp.CallToolResult, error) { panic("boom") })}
	res, err := expose(p, []*integrations.Tool{tool})[0].Handler.Call(context.Background(), callReq(nil))
	if err != nil || !res.IsError {
		t.Fatalf("panic not turned into an isError result: %v %v", res, err)
	}
	lines := auditLines(t, buf.Bytes())
	if len(lines) != 1 || lines[0]["outcome"] != "error" {
		t.Errorf("audit after a panic: %s", buf.String())
	}
}

func TestAuditElicitationDecisions(t *testing.T) {
	var buf bytes.Buffer
	f := newFixture(t, elicitPolicy("elicit"), "Refund {{.amount}}?", Deps{Audit: NewAudit(&buf, nil)})
	ctx := modern(canElicit)
	args := map[string]any{"order_id": "A-1", "amount": 12.5}
	state, _ := question(t, f.call(t, ctx, args))
	f.callReq(t, ctx, answer(args, state, "decline", nil))
	state, _ = question(t, f.call(t, ctx, args))
	f.callReq(t, ctx, answer(args, state, "accept", yes))
	f.call(t, modern(mcp.ClientCapabilities{}), args)
	var got []string
	for _, l := range auditLines(t, buf.Bytes()) {
		got = append(got, l["decision"].(string)+"/"+l["outcome"].(string))
	}
	want := "confirmation_required/ok declined/ok confirmation_required/ok confirmed/ok denied/error"
	if strings.Join(got, " ") != want {
		t.Errorf("decisions = %v, want %s", got, want)
	}
}

// duration_ms is the call's time in milliseconds: a call that takes at
// least 20 ms says at least 20, and not a million.
func TestAuditDurationIsInMilliseconds(t *testing.T) {
	var buf bytes.Buffer
	p, err := New(tokenPolicy(), Deps{Audit: NewAudit(&buf, nil)})
	if err != nil {
		t.Fatal(err)
	}
	slow := &integrations.Tool{Definition: mcp.NewTool("pay_slow"), Integration: "pay", Handler: integrations.HandlerFunc(
		func(context.Context, *integrations.Call) (*mcp.CallToolResult, error) {
			time.Sleep(20 * time.Millisecond)
			return mcp.NewToolResultText("ok"), nil
		})}
	exposed := expose(p, []*integrations.Tool{slow})
	if _, err := exposed[0].Handler.Call(context.Background(), callReq(nil)); err != nil {
		t.Fatal(err)
	}
	lines := auditLines(t, buf.Bytes())
	if d, _ := lines[0]["duration_ms"].(float64); d < 20 || d > 60_000 {
		t.Fatalf("duration_ms = %v for a call of at least 20 ms", lines[0]["duration_ms"])
	}
}
