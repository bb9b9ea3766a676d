package mcpupstream

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strings"
	"testing"

	mcpgo "github.com/mark3labs/mcp-go/mcp"
	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/switchboard-dev/switchboard/internal/secrets"
)

// The test binary doubles as a stdio upstream: started with
// SWITCHBOARD_TEST_STDIO_CHILD=1 (which only its configured env can give
// it, switchboard passes on nothing else), TestStdioChild serves a go-sdk
// MCP server on stdin/stdout instead of testing.
const childMarker = "SWITCHBOARD_TEST_STDIO_CHILD"

func TestStdioChild(t *testing.T) {
	if os.Getenv(childMarker) != "1" {
		t.Skip("runs only as a stdio upstream started by the other tests")
	}
	var opts *sdk.ServerOptions
	if v := os.Getenv("SWITCHBOARD_TEST_STDIO_VERSIONS"); v != "" {
		opts = &sdk.ServerOptions{SupportedProtocolVersions: strings.Split(v, ",")}
	}
	s := sdk.NewServer(&sdk.Implementation{Name: "stdio-child", Version: "1"}, opts)
	sdk.AddTool(s, &sdk.Tool{Name: "environ", Description: "Lists the child's environment."},
		func(ctx context.Context, _ *sdk.CallToolRequest, _ struct{}) (*sdk.CallToolResult, any, error) {
			env := os.Environ()
			sort.Strings(env)
			return &sdk.CallToolResult{Content: []sdk.Content{&sdk.TextContent{Text: strings.Join(env, "\n")}}}, nil, nil
		})
	addAskTool(s)
	fmt.Fprint(os.Stderr, "child ")
	fmt.Fprintln(os.Stderr, "ready")
	if err := s.Run(context.Background(), &sdk.StdioTransport{}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(0)
}

// addAskTool adds ask_name, a tool that asks the caller's name by elicitation
// and says what came back.
func addAskTool(s *sdk.Server) {
	sdk.AddTool(s, &sdk.Tool{Name: "ask_name", Description: "Asks the caller's name."},
		func(ctx context.Context, req *sdk.CallToolRequest, _ struct{}) (*sdk.CallToolResult, any, error) {
			res, err := req.Session.Elicit(ctx, &sdk.ElicitParams{Message: "What is your name?", RequestedSchema: map[string]any{
				"type": "object", "properties": map[string]any{"name": map[string]any{"type": "string"}}}})
			if err != nil {
				return &sdk.CallToolResult{IsError: true, Content: []sdk.Content{&sdk.TextContent{Text: "elicitation failed: " + err.Error()}}}, nil, nil
			}
			return &sdk.CallToolResult{Content: []sdk.Content{&sdk.TextContent{Text: fmt.Sprintf("%s %v", res.Action, res.Content["name"])}}}, nil, nil
		})
}

// stdioChildYAML is an mcp integration crm whose command is this test
// binary serving TestStdioChild; CRM_TOKEN is a secret. versions, when
// given, are the only protocol versions the child speaks.
func stdioChildYAML(versions string) string {
	env := childMarker + `: "1", CRM_TOKEN: "vault:secret/crm#token"`
	if versions != "" {
		env += `, SWITCHBOARD_TEST_STDIO_VERSIONS: "` + versions + `"`
	}
	return "integrations:\n  - name: crm\n    type: mcp\n    timeout: 10s\n" +
		"    command: [\"" + os.Args[0] + "\", \"-test.run=^TestStdioChild$\"]\n" +
		"    env: {" + env + "}\n"
}

// A stdio upstream's environment is exactly the few variables a program
// needs that are set (HOME, USER, TMPDIR here; an empty one is left out),
// plus its configured env with secrets resolved, nothing of switchboard's
// own; what it echoes of a secret is scrubbed; its stderr is logged a line
// at a time.
func TestStdioChildEnvironment(t *testing.T) {
	t.Parallel()
	env := map[string]string{"HOME": "/home/ana", "USER": "ana", "TMPDIR": "/tmp/ana", "LANG": "", "VAULT_TOKEN": "s.parent"}
	res := secrets.NewResolver(map[secrets.Scheme]secrets.Source{secrets.SchemeVault: secrets.Memory{"vault:secret/crm#token": "child-secret-99"}})
	logs := &logRecorder{}
	u := mustNew(t, integration(t, stdioChildYAML("")), Deps{Secrets: res, Logger: logs.logger(), Getenv: func(k string) string { return env[k] }})
	started(t, u)
	r, err := call(t, u, "crm_environ", nil)
	if err != nil || r.IsError {
		t.Fatalf("environ: %v %v", r, err)
	}
	want := "CRM_TOKEN=[redacted]\nHOME=/home/ana\nSWITCHBOARD_TEST_STDIO_CHILD=1\nTMPDIR=/tmp/ana\nUSER=ana"
	if got := text(r); got != want {
		t.Fatalf("child environment:\n%s\nwant:\n%s", got, want)
	}
	lines := logs.wait(t, "upstream stderr", 1)
	if lines[0].Attrs["line"] != "child ready" {
		t.Fatalf("stderr logged as %v", lines[0].Attrs)
	}
}

// An elicitation from a handshake-era stdio upstream carries no call of its
// own: it belongs to the one call in flight, and is put to its client.
func TestStdioElicitationGoesToTheCallInFlight(t *testing.T) {
	t.Parallel()
	res := secrets.NewResolver(map[secrets.Scheme]secrets.Source{secrets.SchemeVault: secrets.Memory{"vault:secret/crm#token": "x"}})
	u := mustNew(t, integration(t, stdioChildYAML("2025-11-25")), Deps{Secrets: res})
	started(t, u)
	a := &answerer{name: "Ana"}
	r, err := callCtx(t, context.Background(), u, "crm_ask_name", nil, a.asks)
	if err != nil || r.IsError || text(r) != "accept Ana" {
		t.Fatalf("ask: %q %v", textOf(r), err)
	}
	if a.question() != "What is your name?" {
		t.Fatalf("the client was asked %q", a.question())
	}
}

// textOf is the text of a result that may be nil.
func textOf(r *mcpgo.CallToolResult) string {
	if r == nil {
		return "<nil>"
	}
	return text(r)
}
