package policy

import (
	"context"
	"io"
	"testing"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/switchboard-dev/switchboard/configs"
	"github.com/switchboard-dev/switchboard/integrations"
)

func TestMetricsCountPolicyDecisions(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg)
	p, err := New(configs.Policy{Confirmation: configs.Confirmation{Mode: "token", TTL: 60e9}},
		Deps{Metrics: m, Audit: NewAudit(io.Discard, nil)})
	if err != nil {
		t.Fatal(err)
	}
	tmpl, _ := configs.ParseConfirmTemplate("Refund {{.amount}}?")
	ran := 0
	tool := &integrations.Tool{
		Definition:  mcp.NewTool("shop_refund", mcp.WithNumber("amount", mcp.Required())),
		Integration: "shop",
		Confirm:     tmpl,
		Handler: integrations.HandlerFunc(func(context.Context, *integrations.Call) (*mcp.CallToolResult, error) {
			ran++
			return mcp.NewToolResultText("done"), nil
		}),
	}
	exposed := expose(p, []*integrations.Tool{tool})
	var req mcp.CallToolRequest
	req.Params.Name = "shop_refund"
	req.Params.Arguments = map[string]any{"amount": 5.0}
	res, err := exposed[0].Handler.Call(context.Background(), req)
	if err != nil || res.IsError || ran != 0 {
		t.Fatalf("first call: %+v %v ran=%d", res, err, ran)
	}
	if got := testutil.ToFloat64(m.calls.WithLabelValues("shop_refund", "confirmation_required")); got != 1 {
		t.Fatalf("confirmation_required count = %v, want 1", got)
	}
	if got := testutil.ToFloat64(m.calls.WithLabelValues("shop_refund", "ok")); got != 0 {
		t.Fatalf("ok count = %v, want 0", got)
	}
}
