package policy

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/switchboard-dev/switchboard/configs"
	"github.com/switchboard-dev/switchboard/integrations"
)

// A confirmation is bound to the call_id: a token issued on one phone call
// does not confirm the same action on another.
func TestConfirmationBoundToCallID(t *testing.T) {
	h := &counting{}
	tool := &integrations.Tool{Handler: h, ConfirmRequired: true, NeedsConfirmation: true}
	f := newPhoneFixture(t, tool, Deps{})
	ctx := context.Background()
	args := map[string]any{"subject": "x"}
	token := confirmation(t, must(f.call(ctx, args, map[string]string{"call_id": "c-1"})))
	with := map[string]any{"subject": "x", "confirmation_token": token}
	if res, _ := f.call(ctx, with, map[string]string{"call_id": "c-2"}); h.n.Load() != 0 || !strings.Contains(text(res), "not accepted") {
		t.Fatalf("a token of call c-1 ran on call c-2: %q", text(res))
	}
	if res, _ := f.call(ctx, with, map[string]string{"call_id": "c-1"}); h.n.Load() != 1 || res.IsError {
		t.Fatalf("the token on its own call: %q", text(res))
	}
}

func must[T any, U any](v T, _ U) T { return v }

func TestConfirmMessageReadsTheCallContext(t *testing.T) {
	tmpl, err := configs.ParseConfirmTemplate("¿Cambio la dirección de la cuenta del {{.call.caller_number}} a {{.address}}?")
	if err != nil {
		t.Fatal(err)
	}
	tool := &integrations.Tool{Handler: &counting{}, Confirm: tmpl, NeedsConfirmation: true}
	f := newPhoneFixture(t, tool, Deps{})
	res, _ := f.call(context.Background(), map[string]any{"address": "Calle Mayor 1"}, map[string]string{"caller_number": "+34612345678"})
	if got := res.StructuredContent.(map[string]any)["message"]; got != "¿Cambio la dirección de la cuenta del +34612345678 a Calle Mayor 1?" {
		t.Fatalf("message = %v", got)
	}
}

// The audit line has the call_id and never another context value.
func TestAuditCallIDNoNumber(t *testing.T) {
	f := newPhoneFixture(t, &integrations.Tool{Handler: &counting{}, ReadOnly: true}, Deps{})
	f.call(context.Background(), map[string]any{"q": "x"}, map[string]string{"call_id": "c-81", "caller_number": "+34612345678"})
	f.call(context.Background(), map[string]any{"q": "x"}, map[string]string{"caller_number": "+34699999999"})
	f.mu.Lock()
	raw := f.audit.String()
	f.mu.Unlock()
	if strings.Contains(raw, "612345678") || strings.Contains(raw, "699999999") {
		t.Fatalf("a caller's number reached the audit log: %s", raw)
	}
	lines := f.lines(t)
	if lines[0]["call_id"] != "c-81" || lines[1]["call_id"] != nil {
		t.Fatalf("call_id: %v / %v", lines[0]["call_id"], lines[1]["call_id"])
	}
	if lines[0]["args_hash"] != lines[1]["args_hash"] {
		t.Fatal("the args hash depends on the call context")
	}
}

// The log lines of a call carry its call_id, and never its caller's number.
func TestLogLinesCarryTheCallID(t *testing.T) {
	var buf strings.Builder
	var mu sync.Mutex
	log := slog.New(slog.NewTextHandler(writerFunc(func(b []byte) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		return buf.Write(b)
	}), &slog.HandlerOptions{Level: slog.LevelDebug}))
	h := &counting{}
	h.fail.Store(true)
	f := newPhoneFixture(t, &integrations.Tool{Handler: h}, Deps{Logger: log})
	f.call(context.Background(), nil, map[string]string{"call_id": "c-81", "caller_number": "+34612345678"})
	mu.Lock()
	out := buf.String()
	mu.Unlock()
	if !strings.Contains(out, "tool call failed") || !strings.Contains(out, "call_id=c-81") || strings.Contains(out, "612345678") {
		t.Fatalf("log:\n%s", out)
	}
}

type writerFunc func([]byte) (int, error)

func (w writerFunc) Write(b []byte) (int, error) { return w(b) }
