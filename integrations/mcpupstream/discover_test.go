package mcpupstream

import (
	"context"
	"encoding/json"
	"net/http"
	"sort"
	"strings"
	"sync/atomic"
	"testing"

	mcpgo "github.com/mark3labs/mcp-go/mcp"

	"github.com/switchboard-dev/switchboard/integrations"
)

const echoSchema = `{"$schema":"https://json-schema.org/draft/2020-12/schema","type":"object","properties":{"text":{"type":"string","minLength":2},"n":{"type":"integer"}},"required":["text"],"additionalProperties":false}`

// What discovery makes of an upstream's tools/list: each input schema passes
// through byte for byte ($schema and all) and checks the arguments before
// anything is sent; a schema that does not compile leaves the checking to
// the upstream; a tool that requires task-augmented calls is left out (and
// said so once), one that merely supports them is listed.
func TestDiscoveredTools(t *testing.T) {
	t.Parallel()
	tools := []any{
		map[string]any{"name": "echo", "description": "Echoes text.", "inputSchema": json.RawMessage(echoSchema)},
		map[string]any{"name": "broken", "description": "Its schema is not one.", "inputSchema": map[string]any{"type": "object", "properties": map[string]any{"x": map[string]any{"$ref": "https://schemas.example.com/x.json"}}}},
		map[string]any{"name": "tasky", "description": "Needs tasks.", "inputSchema": map[string]any{"type": "object"}, "execution": map[string]any{"taskSupport": "required"}},
		map[string]any{"name": "maybe_tasky", "description": "Tasks if you like.", "inputSchema": map[string]any{"type": "object"}, "execution": map[string]any{"taskSupport": "optional"}},
		map[string]any{"name": "bare", "description": "Sent no input schema."},
	}
	var listed atomic.Value
	listed.Store(tools)
	up := newFakeMCP(t, func(w http.ResponseWriter, r *http.Request, method string, params json.RawMessage) (any, map[string]any, bool) {
		switch method {
		case "server/discover":
			return statelessDiscover(false), nil, true
		case "tools/list":
			return map[string]any{"tools": listed.Load()}, nil, true
		case "tools/call":
			return textResult("echoed"), nil, true
		}
		return nil, nil, false
	})
	logs := &logRecorder{}
	ch := newChanges()
	u := mustNew(t, integration(t, plainYAML(up.URL+"/mcp")), Deps{Logger: logs.logger(), OnChange: ch.on})
	started(t, u)
	ch.next(t)

	byName := map[string]*integrations.Tool{}
	var names []string
	for _, tl := range u.Tools() {
		byName[tl.Name()] = tl
		names = append(names, tl.Name())
	}
	sort.Strings(names)
	if got := strings.Join(names, ","); got != "crm_bare,crm_broken,crm_echo,crm_maybe_tasky" {
		t.Fatalf("tools %s; want the task-requiring one left out and the others listed", got)
	}
	left := logs.with("tool left out")
	if len(left) != 1 || left[0].Attrs["tool"] != "tasky" || !strings.Contains(left[0].Attrs["reason"].(string), "taskSupport: required") {
		t.Fatalf("left-out log: %+v", left)
	}

	var def struct {
		InputSchema json.RawMessage `json:"inputSchema"`
	}
	if err := json.Unmarshal(mustJSON(t, byName["crm_echo"].Definition), &def); err != nil {
		t.Fatal(err)
	}
	if string(def.InputSchema) != echoSchema {
		t.Fatalf("input schema listed as\n%s\nwant the upstream's, byte for byte:\n%s", def.InputSchema, echoSchema)
	}

	// The upstream's own schema refuses bad arguments before anything is
	// sent, naming every problem once.
	for _, tc := range []struct {
		args string
		want []string
	}{
		{`{}`, []string{"missing property 'text'"}},
		{`{"text":"a","n":1.5}`, []string{"n: got number, want integer", "text: minLength: got 1, want 2"}},
		{`{"text":"ab","extra":true}`, []string{"additional properties 'extra' not allowed"}},
	} {
		_, err := callJSON(t, u, "crm_echo", tc.args)
		if integrations.KindOf(err) != integrations.KindInvalid {
			t.Fatalf("%s: %v, want invalid arguments", tc.args, err)
		}
		msg := integrations.PublicMessage(err)
		want := "Invalid arguments for crm_echo: " + strings.Join(tc.want, "; ") + ". Correct them and call again."
		if msg != want {
			t.Errorf("%s:\n got %q\nwant %q", tc.args, msg, want)
		}
	}
	if n := up.count("tools/call"); n != 0 {
		t.Fatalf("%d tools/call sent for invalid arguments", n)
	}
	if res, err := callJSON(t, u, "crm_echo", `{"text":"ab","n":3}`); err != nil || text(res) != "echoed" {
		t.Fatalf("valid call: %v %v", res, err)
	}
	if p := up.paramsOf("tools/call"); len(p) != 1 || !strings.Contains(string(p[0]), `"arguments":{"n":3,"text":"ab"}`) {
		t.Fatalf("tools/call params %s", p)
	}

	// A schema that does not compile: logged, and the upstream judges.
	broken := logs.with("upstream tool's input schema does not compile; its arguments are checked by the upstream only")
	if len(broken) != 1 || broken[0].Attrs["tool"] != "broken" {
		t.Fatalf("schema warnings: %+v (want one, for broken)", broken)
	}
	if res, err := callJSON(t, u, "crm_broken", `{"anything":1}`); err != nil || text(res) != "echoed" {
		t.Fatalf("call of a tool whose schema does not compile: %v %v", res, err)
	}

	// Rediscovery (list_changed, a reconnect) of the same tools announces
	// nothing and says nothing new about the same left-out tool; a changed
	// definition is announced.
	if err := u.discover(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := len(logs.with("tool left out")); n != 1 {
		t.Fatalf("tool left out logged %d times after rediscovery, want once", n)
	}
	changed := append([]any(nil), tools...)
	changed[0] = map[string]any{"name": "echo", "description": "Echoes text, louder.", "inputSchema": json.RawMessage(echoSchema)}
	listed.Store(changed)
	if err := u.discover(context.Background()); err != nil {
		t.Fatal(err)
	}
	select {
	case got := <-ch.ch:
		if strings.Join(got, ",") != "crm_bare,crm_broken,crm_echo,crm_maybe_tasky" {
			t.Fatalf("announced %v", got)
		}
	default:
		t.Fatal("a changed description was not announced")
	}
	for _, tl := range u.Tools() {
		if tl.Name() == "crm_echo" && tl.Definition.Description != "Echoes text, louder." {
			t.Fatalf("description %q after the change", tl.Definition.Description)
		}
	}
	select {
	case got := <-ch.ch:
		t.Fatalf("the same tools announced again: %v", got)
	default:
	}
}

// An in-process caller's arguments (Go slices and maps, not JSON) are
// checked against the upstream's schema as JSON would be.
func TestInProcessArgumentsAreValidated(t *testing.T) {
	t.Parallel()
	schema := `{"type":"object","properties":{"tags":{"type":"array","items":{"type":"string"},"minItems":2}},"required":["tags"]}`
	up := statelessEcho(t, []any{map[string]any{"name": "tag", "description": "Tags.", "inputSchema": json.RawMessage(schema)}}, nil)
	u := mustNew(t, integration(t, plainYAML(up.URL+"/mcp")), Deps{})
	started(t, u)
	_, err := call(t, u, "crm_tag", map[string]any{"tags": []string{"only-one"}})
	if integrations.KindOf(err) != integrations.KindInvalid || !strings.Contains(integrations.PublicMessage(err), "tags: minItems") {
		t.Fatalf("one tag: %v, want refused by minItems", err)
	}
	if res, err := call(t, u, "crm_tag", map[string]any{"tags": []string{"a", "b"}}); err != nil || text(res) != "echoed" {
		t.Fatalf("two tags: %v %v", res, err)
	}
	if n := up.count("tools/call"); n != 1 {
		t.Fatalf("%d tools/call sent, want 1 (the valid call)", n)
	}
}

// callJSON calls an exposed tool with raw JSON arguments, as the edge does.
func callJSON(t *testing.T, u *Upstream, name, args string) (*mcpgo.CallToolResult, error) {
	t.Helper()
	for _, tl := range u.Tools() {
		if tl.Name() == name {
			var p mcpgo.CallToolParams
			p.Name = name
			p.RawArguments = json.RawMessage(args)
			return tl.Handler.Call(context.Background(), integrations.NewCall(tl, p))
		}
	}
	t.Fatalf("no tool %s", name)
	return nil, nil
}

// What a server/discover answer must hold to be taken for the stateless
// core: supported versions and a capabilities object. Anything less makes
// switchboard speak the handshake; a proper answer never does.
func TestDiscoverAnswerDecidesTheProtocol(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		discover  string
		handshake bool
	}{
		{"proper", `{"supportedVersions":["2026-07-28"],"capabilities":{"tools":{}}}`, false},
		{"empty", `{}`, true},
		{"no versions", `{"supportedVersions":[],"capabilities":{"tools":{}}}`, true},
		{"no capabilities", `{"supportedVersions":["2026-07-28"]}`, true},
		{"null capabilities", `{"supportedVersions":["2026-07-28"],"capabilities":null}`, true},
		{"not an object", `["2026-07-28"]`, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			up := newFakeMCP(t, func(w http.ResponseWriter, r *http.Request, method string, params json.RawMessage) (any, map[string]any, bool) {
				switch method {
				case "server/discover":
					return json.RawMessage(tc.discover), nil, true
				case "initialize":
					return legacyInit(w), nil, true
				case "notifications/initialized":
					return nil, nil, true
				case "tools/list":
					return map[string]any{"tools": []any{echoTool("echo")}}, nil, true
				}
				return nil, nil, false
			})
			u := mustNew(t, integration(t, plainYAML(up.URL+"/mcp")), Deps{})
			started(t, u)
			if len(u.Tools()) != 1 {
				t.Fatalf("tools %v", u.Tools())
			}
			if got := up.count("initialize") > 0; got != tc.handshake {
				t.Fatalf("discover answer %s: handshake used = %v, want %v", tc.discover, got, tc.handshake)
			}
		})
	}
}

// A server that refuses the stateless-core version it then lists as
// supported (the conformance suite's request-metadata does, once) is asked
// again, and is spoken to statelessly: no handshake.
func TestDiscoverRetriedWhenTheRefusedVersionIsSupported(t *testing.T) {
	t.Parallel()
	var up *fakeMCP
	up = newFakeMCP(t, func(w http.ResponseWriter, r *http.Request, method string, params json.RawMessage) (any, map[string]any, bool) {
		switch method {
		case "server/discover":
			if up.count("server/discover") == 1 {
				return nil, map[string]any{"code": -32022, "message": "unsupported protocol version", "data": map[string]any{"supported": []string{"2026-07-28"}, "requested": "2026-07-28"}}, true
			}
			return statelessDiscover(false), nil, true
		case "tools/list":
			return map[string]any{"tools": []any{echoTool("echo")}}, nil, true
		}
		return nil, nil, false // no initialize: this server has no handshake
	})
	u := mustNew(t, integration(t, plainYAML(up.URL+"/mcp")), Deps{})
	started(t, u)
	if n := up.count("server/discover"); n != 2 || up.count("initialize") != 0 {
		t.Fatalf("server/discover sent %d times, initialize %d; want 2 and none", n, up.count("initialize"))
	}
}

// A filter with no include list exposes every tool it does not exclude; a
// confirm glob alone hides nothing, and makes its tools destructive and
// confirmed.
func TestFilterWithoutInclude(t *testing.T) {
	t.Parallel()
	up := statelessEcho(t, []any{echoTool("echo"), echoTool("admin_reset"), echoTool("delete_contact")}, nil)
	for _, tc := range []struct {
		filter string
		want   string
	}{
		{`tools: {exclude: ["admin_*"]}`, "crm_delete_contact,crm_echo"},
		{`tools: {confirm: ["delete_*"]}`, "crm_admin_reset,crm_delete_contact,crm_echo"},
	} {
		u := mustNew(t, integration(t, plainYAML(up.URL+"/mcp", tc.filter)), Deps{})
		started(t, u)
		var names []string
		for _, tl := range u.Tools() {
			names = append(names, tl.Name())
			confirm := tl.Name() == "crm_delete_contact" && strings.Contains(tc.filter, "confirm")
			if tl.ConfirmRequired != confirm || (confirm && (tl.Definition.Annotations.DestructiveHint == nil || !*tl.Definition.Annotations.DestructiveHint)) {
				t.Errorf("%s: %s confirm %v, annotations %+v", tc.filter, tl.Name(), tl.ConfirmRequired, tl.Definition.Annotations)
			}
		}
		sort.Strings(names)
		if got := strings.Join(names, ","); got != tc.want {
			t.Errorf("%s: tools %s, want %s", tc.filter, got, tc.want)
		}
	}
}
