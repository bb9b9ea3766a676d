package e2e

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
)

type contactArgs struct {
	Name string `json:"name" jsonschema:"the contact's name"`
}

// crmUpstream is a real MCP server (go-sdk) behind a bearer check, with the
// token the e2e environment resolves for env:E2E_HELPDESK_TOKEN.
func crmUpstream(t *testing.T, sse bool) (*sdk.Server, *httptest.Server) {
	s := sdk.NewServer(&sdk.Implementation{Name: "crm", Version: "1"}, nil)
	sdk.AddTool(s, &sdk.Tool{Name: "find_contact", Description: "Finds a contact by name.", Annotations: &sdk.ToolAnnotations{ReadOnlyHint: true}},
		func(ctx context.Context, req *sdk.CallToolRequest, in contactArgs) (*sdk.CallToolResult, any, error) {
			return &sdk.CallToolResult{Content: []sdk.Content{&sdk.TextContent{Text: "found " + in.Name}}}, nil, nil
		})
	sdk.AddTool(s, &sdk.Tool{Name: "admin_wipe", Description: "Wipes the CRM."},
		func(ctx context.Context, req *sdk.CallToolRequest, in contactArgs) (*sdk.CallToolResult, any, error) {
			return &sdk.CallToolResult{Content: []sdk.Content{&sdk.TextContent{Text: "wiped"}}}, nil, nil
		})
	var h http.Handler = sdk.NewStreamableHTTPHandler(func(*http.Request) *sdk.Server { return s }, nil)
	if sse {
		h = sdk.NewSSEHandler(func(*http.Request) *sdk.Server { return s }, nil)
	}
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+upstreamToken {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(ts.Close)
	return s, ts
}

// An MCP integration's tools reach every client like http tools do, through
// the same policy; a tool the upstream adds later is announced to clients.
func TestMCPIntegrationThroughEveryClient(t *testing.T) {
	up := newUpstream(t)
	crm, crmSrv := crmUpstream(t, false)
	cfg := testConfig(up.URL) + `
  - name: crm
    type: mcp
    url: ` + crmSrv.URL + `/mcp
    auth: {type: bearer, secret: "env:E2E_HELPDESK_TOKEN"}
    tools: {exclude: ["admin_*"]}
`
	srv := serve(t, cfg)
	for _, kind := range clientMatrix() {
		t.Run(kind.Name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			c := kind.Connect(t, ctx, srv.target)
			defer c.Close()
			var names []string
			for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
				tools, err := c.ListTools(ctx)
				if err != nil {
					t.Fatal(err)
				}
				names = names[:0]
				for _, tl := range tools {
					if strings.HasPrefix(tl.Name, "crm_") {
						names = append(names, tl.Name)
					}
				}
				if len(names) > 0 {
					break
				}
			}
			sort.Strings(names)
			if strings.Join(names, ",") != "crm_find_contact" {
				t.Fatalf("crm tools = %v", names)
			}
			res, err := c.Call(ctx, "crm_find_contact", map[string]any{"name": "Ana"})
			if err != nil || res.IsError || res.Text != "found Ana" {
				t.Fatalf("crm_find_contact = %+v %v", res, err)
			}
			res, err = c.Call(ctx, "crm_admin_wipe", map[string]any{"name": "x"})
			if err == nil && !res.IsError {
				t.Fatalf("excluded tool was callable: %+v", res)
			}
		})
	}
	_ = crm
}
