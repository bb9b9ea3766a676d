package openapi

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/switchboard-dev/switchboard/configs"
	"github.com/switchboard-dev/switchboard/integrations"
	"github.com/switchboard-dev/switchboard/integrations/httpapi"
	"github.com/switchboard-dev/switchboard/internal/secrets"
)

// callGitHubTool calls one imported GitHub operation through switchboard's
// real call path (httpapi tools built from the parsed generated config)
// against an upstream that checks method, path, query and body. Kept in one
// function so a change of the Handler signature is one edit here.
func callGitHubTool(t *testing.T, cfg *configs.Config) {
	var got struct {
		method, path string
		query        map[string][]string
		body         map[string]any
	}
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got.method, got.path, got.query = r.Method, r.URL.EscapedPath(), r.URL.Query()
		b, _ := io.ReadAll(r.Body)
		_ = json.Unmarshal(b, &got.body)
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"attestations_subject_digests":{}}`)
	}))
	defer up.Close()

	in := cfg.Integrations[0]
	in.BaseURL = up.URL
	tools, err := httpapi.New(in, httpapi.Deps{Secrets: secrets.NewResolver(nil)})
	if err != nil {
		t.Fatal(err)
	}
	const name = "github_orgs_list_attestations_bulk"
	var tool *integrations.Tool
	for _, tl := range tools {
		if tl.Name() == name {
			tool = tl
		}
	}
	if tool == nil {
		t.Fatalf("no tool %s", name)
	}
	var req mcp.CallToolRequest
	req.Params.Name = name
	req.Params.Arguments = map[string]any{
		"org":             "acme corp",
		"per_page":        5,
		"before":          "cursor-1",
		"subject_digests": []any{"sha256:abc"},
		"predicate_type":  "provenance",
	}
	res, err := tool.Handler.Call(context.Background(), integrations.NewCall(tool, req.Params))
	if err != nil {
		t.Fatal(err)
	}
	if res.IsError {
		t.Fatalf("the call failed: %+v", res.Content)
	}
	if got.method != "POST" || got.path != "/orgs/acme%20corp/attestations/bulk-list" {
		t.Errorf("upstream got %s %s", got.method, got.path)
	}
	if want := map[string][]string{"per_page": {"5"}, "before": {"cursor-1"}}; !reflect.DeepEqual(got.query, want) {
		t.Errorf("query %v, want %v", got.query, want)
	}
	if want := map[string]any{"subject_digests": []any{"sha256:abc"}, "predicate_type": "provenance"}; !reflect.DeepEqual(got.body, want) {
		t.Errorf("body %v, want %v", got.body, want)
	}
}
