// Command conformanceclient runs switchboard as the client in the MCP
// conformance suite's client scenarios (`conformance client --command ...`):
// the suite starts a test server and runs this command with its URL as the
// last argument. The URL becomes a `type: mcp` integration of a generated
// config, built through internal/app exactly as `switchboard serve` builds
// it; then every exposed tool is called once, as `switchboard call` would,
// with arguments made from its input schema. Output is for the suite's log.
//
//	go run ./internal/e2e/conformanceclient http://localhost:PORT/mcp
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/switchboard-dev/switchboard/internal/app"
)

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "conformanceclient:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return fmt.Errorf("usage: conformanceclient SERVER_URL")
	}
	url := args[len(args)-1]
	scenario := os.Getenv("MCP_CONFORMANCE_SCENARIO")
	cfg := fmt.Sprintf("server: {name: switchboard-conformance}\nintegrations:\n  - name: up\n    type: mcp\n    url: %q\n    transport: streamable\n    timeout: 20s\n", url)
	log := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	a, err := app.Open(ctx, app.Source{YAML: []byte(cfg)}, app.Options{Version: "conformance", Getenv: os.Getenv, Logger: log, Stderr: stderr})
	if err != nil {
		return err
	}
	defer a.Close()
	wctx, wcancel := context.WithTimeout(ctx, 20*time.Second)
	errs := a.WaitUpstreams(wctx)
	wcancel()
	if err := errs["up"]; err != nil {
		return fmt.Errorf("scenario %s: upstream not discovered: %w", scenario, err)
	}
	tools := a.ToolList()
	fmt.Fprintf(stdout, "scenario %s: %d tools\n", scenario, len(tools))
	sort.Slice(tools, func(i, j int) bool { return tools[i].Name < tools[j].Name })
	schemas := map[string]json.RawMessage{}
	for _, t := range tools {
		schemas[t.Name] = t.InputSchema
	}
	for _, t := range tools {
		args := argsFor(t.InputSchema, strings.HasSuffix(t.Name, "_null"))
		if t.Name == "up_json_schema_echo" {
			// The scenario asks the client to pass back the schema it sees
			// for its focal tool: what switchboard exposes, as is.
			args = map[string]any{"schema": schemas["up_json_schema_2020_12_tool"]}
		}
		b, _ := json.Marshal(args)
		res, err := a.Call(ctx, t.Name, b, nil)
		if err != nil {
			fmt.Fprintf(stdout, "%s %s: error: %v\n", t.Name, b, err)
			continue
		}
		fmt.Fprintf(stdout, "%s %s: isError=%v %s\n", t.Name, b, res.IsError, text(res))
	}
	return nil
}

// argsFor makes arguments for a tool from its input schema: every property
// with a value of its type (the first enum value, or the default, when
// there is one); with requiredOnly, the required ones only (a tool
// named *_null tests that an omitted argument is omitted).
func argsFor(schema json.RawMessage, requiredOnly bool) map[string]any {
	var s struct {
		Required   []string `json:"required"`
		Properties map[string]struct {
			Type    any   `json:"type"`
			Enum    []any `json:"enum"`
			Default any   `json:"default"`
		} `json:"properties"`
	}
	_ = json.Unmarshal(schema, &s)
	out := map[string]any{}
	for name, p := range s.Properties {
		if requiredOnly && !slices.Contains(s.Required, name) {
			continue
		}
		switch {
		case p.Default != nil:
			out[name] = p.Default
			continue
		case len(p.Enum) > 0:
			out[name] = p.Enum[0]
			continue
		}
		typ, _ := p.Type.(string)
		switch typ {
		case "string":
			out[name] = sample(name)
		case "integer":
			out[name] = 1
		case "number":
			out[name] = 1.5
		case "boolean":
			out[name] = true
		case "array":
			out[name] = []any{}
		case "object":
			out[name] = map[string]any{}
		}
	}
	return out
}

// sample is a string value for a property, shaped by its name the way a
// model would fill it (the header scenarios name the spelling they test).
func sample(name string) string {
	switch {
	case strings.Contains(name, "non_ascii"):
		return "Región Ñ"
	case strings.Contains(name, "leading_space"):
		return " leading"
	case strings.Contains(name, "trailing_space"):
		return "trailing "
	case strings.Contains(name, "internal_space"):
		return "a b c"
	case strings.Contains(name, "whitespace"):
		return "  both  "
	case strings.Contains(name, "control_char"):
		return "a\x01b"
	case strings.Contains(name, "crlf"):
		return "a\r\nb"
	case strings.Contains(name, "tab"):
		return "\tx"
	}
	return "test"
}

func text(res *mcp.CallToolResult) string {
	var s string
	for _, c := range res.Content {
		if tc, ok := c.(mcp.TextContent); ok {
			s += tc.Text
		}
	}
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}
