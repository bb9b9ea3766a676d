package policy

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/switchboard-dev/switchboard/configs"
	"github.com/switchboard-dev/switchboard/integrations"
)

func TestAccessRefusesOtherIntegrations(t *testing.T) {
	p, _ := New(configs.Policy{}, Deps{})
	s := &spy{}
	tool := &integrations.Tool{Definition: mcp.NewTool("pay_get"), Integration: "pay", Handler: s}
	h := expose(p, []*integrations.Tool{tool})[0].Handler
	ctx := WithCaller(context.Background(), Caller{ClientID: "crm-only", Integrations: map[string]bool{"crm": true}})
	res, err := h.Call(ctx, callReq(nil))
	if err != nil || !res.IsError || text(res) != "There is no tool named pay_get." || s.count() != 0 {
		t.Fatalf("%v %q ran=%d", err, text(res), s.count())
	}
}

// Arguments that are not a JSON object never reach the tool, and the model
// is told what is wrong with them.
func TestAccessRefusesUndecodableArguments(t *testing.T) {
	var audit strings.Builder
	p, _ := New(configs.Policy{}, Deps{Audit: NewAudit(&audit, nil)})
	s := &spy{}
	tool := &integrations.Tool{Definition: mcp.NewTool("pay_get"), Integration: "pay", Handler: s}
	h := expose(p, []*integrations.Tool{tool})[0].Handler
	var req mcp.CallToolRequest
	req.Params.RawArguments = json.RawMessage(`["not", "an", "object"]`)
	res, err := h.Call(context.Background(), req)
	if err != nil || !res.IsError || !strings.Contains(text(res), "arguments must be a JSON object") || s.count() != 0 {
		t.Fatalf("%v %q ran=%d", err, text(res), s.count())
	}
	if !strings.Contains(audit.String(), `"outcome":"invalid"`) {
		t.Errorf("audit: %s", audit.String())
	}
}
