package e2e

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	mcpclient "github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	mcpgo "github.com/mark3labs/mcp-go/mcp"
	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
)

// Progress from an upstream MCP tool reaches the client under the client's
// own progress token, while the call is still running.
func TestMCPIntegrationProgress(t *testing.T) {
	release := make(chan struct{})
	s := sdk.NewServer(&sdk.Implementation{Name: "jobs", Version: "1"}, nil)
	sdk.AddTool(s, &sdk.Tool{Name: "long_task", Description: "Reports progress, then waits."},
		func(ctx context.Context, req *sdk.CallToolRequest, _ struct{}) (*sdk.CallToolResult, any, error) {
			if token := req.Params.GetProgressToken(); token != nil {
				_ = req.Session.NotifyProgress(ctx, &sdk.ProgressNotificationParams{ProgressToken: token, Progress: 1, Total: 3, Message: "looking up the order"})
			}
			select {
			case <-release:
			case <-ctx.Done():
			}
			return &sdk.CallToolResult{Content: []sdk.Content{&sdk.TextContent{Text: "order found"}}}, nil, nil
		})
	up := httptest.NewServer(sdk.NewStreamableHTTPHandler(func(*http.Request) *sdk.Server { return s }, nil))
	defer up.Close()
	srv := serve(t, "integrations:\n  - name: jobs\n    type: mcp\n    url: "+up.URL+"\n    timeout: 30s\n")

	tr, err := transport.NewStreamableHTTP(srv.BaseURL + "/mcp")
	if err != nil {
		t.Fatal(err)
	}
	c := mcpclient.NewClient(tr, mcpclient.WithProtocolVersion("2025-06-18"))
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Initialize(ctx, mcpgo.InitializeRequest{}); err != nil {
		t.Fatal(err)
	}
	progress := make(chan map[string]any, 4)
	c.OnNotification(func(n mcpgo.JSONRPCNotification) {
		if n.Method == string(mcpgo.MethodNotificationProgress) {
			progress <- n.Params.AdditionalFields
		}
	})
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		res, err := c.ListTools(ctx, mcpgo.ListToolsRequest{})
		if err == nil && len(res.Tools) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("jobs tools never appeared: %v", err)
		}
	}
	done := make(chan error, 1)
	go func() {
		var req mcpgo.CallToolRequest
		req.Params.Name = "jobs_long_task"
		req.Params.Meta = &mcpgo.Meta{ProgressToken: "client-token-7"}
		_, err := c.CallTool(ctx, req)
		done <- err
	}()
	select {
	case p := <-progress:
		if p["progressToken"] != "client-token-7" || p["message"] != "looking up the order" || p["progress"] != 1.0 {
			t.Fatalf("progress = %v", p)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no progress reached the client")
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatalf("call: %v", err)
	}
}
