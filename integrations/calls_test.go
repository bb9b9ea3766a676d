package integrations

import (
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/mark3labs/mcp-go/mcp"
	"go.opentelemetry.io/otel/trace"
)

// Progress reaches the calling client under the client's own token, with
// the upstream's fields, only when it asked for progress and can be told.
func TestCallProgress(t *testing.T) {
	var got []map[string]any
	notify := func(method string, params map[string]any) {
		if method != "notifications/progress" {
			t.Errorf("method %s", method)
		}
		got = append(got, params)
	}
	upstream := map[string]any{"progressToken": "switchboard-7", "progress": 1, "total": 3}
	(&Call{Notify: notify}).Progress(upstream)              // no progress asked for
	(&Call{ProgressToken: "client-tok"}).Progress(upstream) // no client to tell
	(&Call{ProgressToken: "client-tok", Notify: notify}).Progress(upstream)
	want := []map[string]any{{"progressToken": "client-tok", "progress": 1, "total": 3}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("notified %v, want %v", got, want)
	}
	if upstream["progressToken"] != "switchboard-7" {
		t.Fatal("the upstream's params were changed")
	}
}

// Middleware runs in the order listed, around the tool's handler.
func TestWrapOrder(t *testing.T) {
	var order []string
	mw := func(name string) Middleware {
		return func(tl *Tool, next Handler) Handler {
			return HandlerFunc(func(ctx context.Context, c *Call) (*mcp.CallToolResult, error) {
				order = append(order, name+":"+tl.Name())
				return next.Call(ctx, c)
			})
		}
	}
	tl := &Tool{Definition: mcp.NewTool("crm_find"), Handler: HandlerFunc(func(context.Context, *Call) (*mcp.CallToolResult, error) {
		order = append(order, "handler")
		return mcp.NewToolResultText("ok"), nil
	})}
	res, err := Wrap(tl, mw("policy"), mw("audit"), mw("limits")).Call(context.Background(), &Call{})
	if err != nil || res == nil || strings.Join(order, ",") != "policy:crm_find,audit:crm_find,limits:crm_find,handler" {
		t.Fatalf("order %v (%v)", order, err)
	}
	order = nil
	if _, err := Wrap(tl).Call(context.Background(), &Call{}); err != nil || strings.Join(order, ",") != "handler" {
		t.Fatalf("no middleware: %v", order)
	}
}

// An in-process caller's arguments of any Go shape decode as JSON would,
// numbers exact; what cannot be JSON is an error.
func TestDecodeArgsFromGoValues(t *testing.T) {
	type args struct {
		ID    int64   `json:"id"`
		Ratio float32 `json:"ratio"`
	}
	got, err := DecodeArgs(nil, args{ID: 9007199254740993, Ratio: 1.25})
	if err != nil || !reflect.DeepEqual(got, map[string]any{"id": json.Number("9007199254740993"), "ratio": json.Number("1.25")}) {
		t.Fatalf("struct: %#v %v", got, err)
	}
	got, err = DecodeArgs(nil, map[string]any{"f": float32(1.25), "u": uint64(18446744073709551615), "i32": int32(-7), "i64": int64(-9)})
	want := map[string]any{"f": json.Number("1.25"), "u": json.Number("18446744073709551615"), "i32": json.Number("-7"), "i64": json.Number("-9")}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("map: %#v %v", got, err)
	}
	if _, err := DecodeArgs(nil, struct{ C chan int }{}); err == nil || !strings.Contains(err.Error(), "arguments") {
		t.Fatalf("a value that is not JSON: %v", err)
	}
	if got, err := DecodeArgs(nil, nil); err != nil || len(got) != 0 || got == nil {
		t.Fatalf("no arguments: %#v %v", got, err)
	}
}

// TraceMeta carries the trace context of a sampled span, nothing without
// one.
func TestTraceMeta(t *testing.T) {
	if m := TraceMeta(context.Background()); m != nil {
		t.Fatalf("no span: %v", m)
	}
	sc := trace.NewSpanContext(trace.SpanContextConfig{
		TraceID:    trace.TraceID{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16},
		SpanID:     trace.SpanID{1, 2, 3, 4, 5, 6, 7, 8},
		TraceFlags: trace.FlagsSampled,
	})
	m := TraceMeta(trace.ContextWithSpanContext(context.Background(), sc))
	if m["traceparent"] != "00-0102030405060708090a0b0c0d0e0f10-0102030405060708-01" {
		t.Fatalf("sampled span: %v", m)
	}
}
