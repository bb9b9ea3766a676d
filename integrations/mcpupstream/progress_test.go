package mcpupstream

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/switchboard-dev/switchboard/integrations"
)

// An upstream's progress reaches the client that asked for it, under the
// client's own token (the upstream sees one of switchboard's, never the
// client's); a call that asked for none sends the upstream no token.
func TestProgressIsForwardedUnderTheClientsToken(t *testing.T) {
	t.Parallel()
	s := sdk.NewServer(&sdk.Implementation{Name: "slow", Version: "1"}, nil)
	sdk.AddTool(s, &sdk.Tool{Name: "work", Description: "Works in steps."},
		func(ctx context.Context, req *sdk.CallToolRequest, _ struct{}) (*sdk.CallToolResult, any, error) {
			token := req.Params.GetProgressToken()
			if token != nil {
				for i := 1; i <= 2; i++ {
					if err := req.Session.NotifyProgress(ctx, &sdk.ProgressNotificationParams{ProgressToken: token, Progress: float64(i), Total: 2}); err != nil {
						return nil, nil, err
					}
				}
			}
			return &sdk.CallToolResult{Content: []sdk.Content{&sdk.TextContent{Text: fmt.Sprintf("token %v", token)}}}, nil, nil
		})
	ts := httptest.NewServer(sdk.NewStreamableHTTPHandler(func(*http.Request) *sdk.Server { return s }, nil))
	t.Cleanup(ts.Close)
	u := mustNew(t, integration(t, plainYAML(ts.URL)), Deps{})
	started(t, u)

	got := make(chan map[string]any, 8)
	r, err := callCtx(t, context.Background(), u, "crm_work", nil, func(c *integrations.Call) {
		c.ProgressToken = "client-7"
		c.Notify = func(method string, params map[string]any) {
			if method == "notifications/progress" {
				got <- params
			}
		}
	})
	if err != nil || text(r) != "token switchboard-1" {
		t.Fatalf("call with progress: %q %v (the upstream must see switchboard's token)", textOf(r), err)
	}
	for i := 1; i <= 2; i++ {
		select {
		case p := <-got:
			if p["progressToken"] != "client-7" || fmt.Sprint(p["progress"]) != fmt.Sprint(i) {
				t.Fatalf("progress %d forwarded as %v", i, p)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("progress %d never reached the client", i)
		}
	}

	r, err = callCtx(t, context.Background(), u, "crm_work", nil, func(c *integrations.Call) {
		c.Notify = func(string, map[string]any) { t.Error("a call without a progress token was notified") }
	})
	if err != nil || text(r) != "token <nil>" {
		t.Fatalf("call without progress: %q %v", textOf(r), err)
	}
}
