package e2e

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	mcpgo "github.com/mark3labs/mcp-go/mcp"
	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/switchboard-dev/switchboard/integrations"
	"github.com/switchboard-dev/switchboard/internal/app"
	"github.com/switchboard-dev/switchboard/internal/testvault"
)

// The bearer token of an upstream MCP server (a real go-sdk server) comes
// from a real Vault and is read at every request: a rotation in Vault is
// used by the next call, over streamable HTTP and over legacy SSE.
func TestUpstreamMCPTokenFromVault(t *testing.T) {
	tv := testvault.Start(t)
	tv.MountKV("kv", 2)
	getenv := func(k string) string {
		if k == "VAULT_TOKEN" {
			return tv.RootToken
		}
		return ""
	}

	for _, kind := range []string{"streamable", "sse"} {
		t.Run(kind, func(t *testing.T) {
			tv.Write("kv", "crm", map[string]any{"token": "vault-tok-1"})
			var want atomic.Value
			want.Store("vault-tok-1")
			s := sdk.NewServer(&sdk.Implementation{Name: "crm", Version: "1"}, nil)
			sdk.AddTool(s, &sdk.Tool{Name: "find_contact", Description: "Finds a contact."},
				func(ctx context.Context, req *sdk.CallToolRequest, in contactArgs) (*sdk.CallToolResult, any, error) {
					return &sdk.CallToolResult{Content: []sdk.Content{&sdk.TextContent{Text: "found " + in.Name}}}, nil, nil
				})
			var h http.Handler = sdk.NewStreamableHTTPHandler(func(*http.Request) *sdk.Server { return s }, nil)
			path := "/mcp"
			if kind == "sse" {
				h, path = sdk.NewSSEHandler(func(*http.Request) *sdk.Server { return s }, nil), "/sse"
			}
			ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Header.Get("Authorization") != "Bearer "+want.Load().(string) {
					http.Error(w, "unauthorized", http.StatusUnauthorized)
					return
				}
				h.ServeHTTP(w, r)
			}))
			defer ts.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			a, err := app.Open(ctx, app.Source{YAML: []byte("vault: {address: \"" + tv.Addr + "\"}\nintegrations:\n  - name: crm\n    type: mcp\n    url: " + ts.URL + path +
				"\n    auth: {type: bearer, secret: \"vault:kv/crm#token\"}\n")}, app.Options{Getenv: getenv})
			if err != nil {
				t.Fatal(err)
			}
			defer a.Close()
			if errs := a.WaitUpstreams(ctx); len(errs) > 0 {
				t.Fatal(errs)
			}
			callOnce := func(name string) (*mcpgo.CallToolResult, error) {
				return a.Call(ctx, "crm_find_contact", []byte(`{"name":"`+name+`"}`), nil)
			}
			r, err := callOnce("Ana")
			if err != nil || r.IsError || r.Content[0].(mcpgo.TextContent).Text != "found Ana" {
				t.Fatalf("call = %+v %v", r, err)
			}
			tv.Write("kv", "crm", map[string]any{"token": "vault-tok-2"})
			want.Store("vault-tok-2")
			r, err = callOnce("Luis")
			if err != nil || r.IsError || r.Content[0].(mcpgo.TextContent).Text != "found Luis" {
				t.Fatalf("after rotation in Vault: %+v %v (%s)", r, err, integrations.PublicMessage(err))
			}
		})
	}
}
