package policy

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/switchboard-dev/switchboard/configs"
	"github.com/switchboard-dev/switchboard/integrations"
)

// levelRecorder keeps each log record's level, message and attributes.
type levelRecorder struct{ records []string }

func (l *levelRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (l *levelRecorder) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString(r.Level.String() + " " + r.Message)
	r.Attrs(func(a slog.Attr) bool { b.WriteString(" " + a.String()); return true })
	l.records = append(l.records, b.String())
	return nil
}
func (l *levelRecorder) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *levelRecorder) WithGroup(string) slog.Handler      { return l }

// The edge decides once what each side sees: the model gets the public
// sentence of an *Error and nothing of its cause; the log gets the cause, at
// a level that says how worried to be.
func TestEdgeSplitsWhatModelAndLogSee(t *testing.T) {
	cases := []struct {
		name   string
		err    error
		public string
		level  string
	}{
		{"upstream", &integrations.Error{Kind: integrations.KindUpstream, Public: "pay had a problem.", Status: 502, Err: errors.New("GET /x: body mentions sk_live_1")}, "pay had a problem.", "WARN"},
		{"bare error", errors.New("dial tcp 10.0.0.7:443: secret-host"), "The tool failed unexpectedly. Try again later or continue without it.", "ERROR"},
		{"cancelled", integrations.Cancelled("pay", context.Canceled), "The call to pay was cancelled.", "INFO"},
		{"invalid", integrations.InvalidArgs("pay_get", []string{"id: is required"}), "Invalid arguments for pay_get: id: is required. Correct them and call again.", "INFO"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			logs := &levelRecorder{}
			p, _ := New(configs.Policy{}, Deps{Logger: slog.New(logs)})
			tool := &integrations.Tool{Definition: mcp.NewTool("pay_get"), Integration: "pay", Handler: integrations.HandlerFunc(
				func(context.Context, *integrations.Call) (*mcp.CallToolResult, error) { return nil, tc.err })}
			res, err := expose(p, []*integrations.Tool{tool})[0].Handler.Call(context.Background(), callReq(nil))
			if err != nil || !res.IsError || text(res) != tc.public {
				t.Fatalf("model sees %v %q, want %q", err, text(res), tc.public)
			}
			if len(logs.records) != 1 || !strings.HasPrefix(logs.records[0], tc.level+" tool call failed") || !strings.Contains(logs.records[0], tc.err.Error()) {
				t.Fatalf("log = %q, want one %s line with the cause", logs.records, tc.level)
			}
		})
	}
}

func TestEdgeSurvivesAPanic(t *testing.T) {
	logs := &levelRecorder{}
	p, _ := New(configs.Policy{}, Deps{Logger: slog.New(logs)})
	tool := &integrations.Tool{Definition: mcp.NewTool("pay_get"), Integration: "pay", Handler: integrations.HandlerFunc(
		func(context.Context, *integrations.Call) (*mcp.CallToolResult, error) {
			panic("index out of range: secret-value")
		})}
	res, err := expose(p, []*integrations.Tool{tool})[0].Handler.Call(context.Background(), callReq(nil))
	if err != nil || !res.IsError || strings.Contains(text(res), "secret-value") {
		t.Fatalf("%v %q", err, text(res))
	}
	if len(logs.records) != 1 || !strings.HasPrefix(logs.records[0], "ERROR tool panicked") {
		t.Fatalf("log = %q", logs.records)
	}
}
