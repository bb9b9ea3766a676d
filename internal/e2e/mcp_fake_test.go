package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

// Issue 14 (1): a 2026-07-28 upstream that does not declare listChanged and
// answers -32601 to subscriptions/listen is not subscribed to, not
// reconnected to in a loop, and its tools work.
func TestMCPNoSubscriptionWithoutListChanged(t *testing.T) {
	up := newFakeMCP(t, func(w http.ResponseWriter, r *http.Request, method string, params, id json.RawMessage) (any, map[string]any, bool) {
		switch method {
		case "server/discover":
			return map[string]any{
				"supportedVersions": []string{"2026-07-28"},
				"capabilities":      map[string]any{"tools": map[string]any{}},
				"_meta":             map[string]any{"io.modelcontextprotocol/serverInfo": map[string]any{"name": "fake", "version": "1"}},
			}, nil, true
		case "tools/list":
			return map[string]any{"tools": []any{echoTool("echo")}}, nil, true
		case "tools/call":
			return textResult("echoed"), nil, true
		}
		return nil, nil, false
	})
	_, a, _ := serveLogged(t, "integrations:\n  - name: crm\n    type: mcp\n    url: "+up.URL+"/mcp\n", nil)
	waitTool(t, a, "crm_echo")
	time.Sleep(2 * time.Second)
	if n := up.count("subscriptions/listen"); n != 0 {
		t.Errorf("subscriptions/listen sent %d times to an upstream without listChanged", n)
	}
	if n := up.count("server/discover"); n > 2 {
		t.Errorf("server/discover sent %d times in 2s: a reconnect loop", n)
	}
	if text, res := cliCall(t, a, "crm_echo", `{"text":"hi"}`); res.IsError || text != "echoed" {
		t.Fatalf("crm_echo = %q (isError %v)", text, res.IsError)
	}
}

// Issue 14 (1): an upstream that declares listChanged but answers -32601 to
// subscriptions/listen gets no notifications, and is not reconnected to in a
// loop either (every retry path waits the backoff).
func TestMCPListenMethodNotFoundIsNoNotifications(t *testing.T) {
	up := newFakeMCP(t, func(w http.ResponseWriter, r *http.Request, method string, params, id json.RawMessage) (any, map[string]any, bool) {
		switch method {
		case "server/discover":
			return map[string]any{
				"supportedVersions": []string{"2026-07-28"},
				"capabilities":      map[string]any{"tools": map[string]any{"listChanged": true}},
				"_meta":             map[string]any{"io.modelcontextprotocol/serverInfo": map[string]any{"name": "fake", "version": "1"}},
			}, nil, true
		case "tools/list":
			return map[string]any{"tools": []any{echoTool("echo")}}, nil, true
		case "tools/call":
			return textResult("echoed"), nil, true
		}
		return nil, nil, false
	})
	_, a, _ := serveLogged(t, "integrations:\n  - name: crm\n    type: mcp\n    url: "+up.URL+"/mcp\n", nil)
	waitTool(t, a, "crm_echo")
	time.Sleep(2 * time.Second)
	if n := up.count("server/discover") + up.count("tools/list"); n > 6 {
		t.Errorf("%d discover + tools/list requests in 2s: a reconnect loop", n)
	}
	if text, res := cliCall(t, a, "crm_echo", `{"text":"hi"}`); res.IsError || text != "echoed" {
		t.Fatalf("crm_echo = %q (isError %v)", text, res.IsError)
	}
}

// Issue 14 (9): an empty {} answer to server/discover is not stateless-core
// support: switchboard falls back to initialize.
func TestMCPEmptyDiscoverFallsBackToInitialize(t *testing.T) {
	initialized := false
	up := newFakeMCP(t, func(w http.ResponseWriter, r *http.Request, method string, params, id json.RawMessage) (any, map[string]any, bool) {
		switch method {
		case "server/discover":
			return map[string]any{}, nil, true
		case "initialize":
			initialized = true
			return legacyInit(w), nil, true
		case "notifications/initialized":
			return nil, nil, true
		case "tools/list":
			if r.Header.Get("Mcp-Session-Id") != "fake-session-1" {
				return nil, map[string]any{"code": -32600, "message": "no session: initialize first"}, true
			}
			return map[string]any{"tools": []any{echoTool("echo")}}, nil, true
		case "tools/call":
			if r.Header.Get("Mcp-Session-Id") != "fake-session-1" {
				return nil, map[string]any{"code": -32600, "message": "no session: initialize first"}, true
			}
			return textResult("echoed"), nil, true
		}
		return nil, nil, false
	})
	_, a, _ := serveLogged(t, "integrations:\n  - name: crm\n    type: mcp\n    url: "+up.URL+"/mcp\n", nil)
	waitTool(t, a, "crm_echo")
	if up.count("initialize") == 0 || !initialized {
		t.Fatal("initialize was never sent after an empty server/discover answer")
	}
	if text, res := cliCall(t, a, "crm_echo", `{"text":"hi"}`); res.IsError || text != "echoed" {
		t.Fatalf("crm_echo = %q (isError %v)", text, res.IsError)
	}
}

// Issue 14 (7): a handshake-era upstream that ends a POST's SSE stream
// after an event id and retry:, expecting a GET with Last-Event-ID, is
// reconnected to and the call gets its answer.
func TestMCPSSEResumption(t *testing.T) {
	var lastEventID string
	up := newFakeMCP(t, func(w http.ResponseWriter, r *http.Request, method string, params, id json.RawMessage) (any, map[string]any, bool) {
		switch method {
		case "server/discover":
			return nil, nil, false
		case "initialize":
			return legacyInit(w), nil, true
		case "notifications/initialized", "response":
			return nil, nil, true
		case "tools/list":
			return map[string]any{"tools": []any{echoTool("echo")}}, nil, true
		case "tools/call":
			// Prime the client with an event id, ask it to come back in
			// 50ms, and end the stream before the response.
			w.Header().Set("X-Handled", "1")
			w.Header().Set("Content-Type", "text/event-stream")
			fmt.Fprintf(w, "id: call-%s-0\nretry: 50\ndata: \n\n", id)
			return nil, nil, true
		case http.MethodGet:
			lastEventID = r.Header.Get("Last-Event-ID")
			if lastEventID == "" {
				return nil, nil, true // the standalone stream: 405
			}
			w.Header().Set("X-Handled", "1")
			w.Header().Set("Content-Type", "text/event-stream")
			callID := strings.TrimSuffix(strings.TrimPrefix(lastEventID, "call-"), "-0")
			b, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": json.RawMessage(callID), "result": textResult("resumed")})
			fmt.Fprintf(w, "id: %s-1\ndata: %s\n\n", lastEventID, b)
			return nil, nil, true
		}
		return nil, nil, false
	})
	_, a, _ := serveLogged(t, "integrations:\n  - name: crm\n    type: mcp\n    url: "+up.URL+"/mcp\n    timeout: 10s\n", nil)
	waitTool(t, a, "crm_echo")
	text, res := cliCall(t, a, "crm_echo", `{"text":"hi"}`)
	if res.IsError || text != "resumed" {
		t.Fatalf("crm_echo = %q (isError %v); GET Last-Event-ID %q", text, res.IsError, lastEventID)
	}
}

// Issue 14 (11): an upstream's error texts name the exposed tool, the only
// name the model knows, never the upstream's own.
func TestMCPErrorTextsNameTheExposedTool(t *testing.T) {
	up := newFakeMCP(t, func(w http.ResponseWriter, r *http.Request, method string, params, id json.RawMessage) (any, map[string]any, bool) {
		var p struct {
			Arguments map[string]any `json:"arguments"`
		}
		_ = json.Unmarshal(params, &p)
		switch method {
		case "initialize":
			return legacyInit(w), nil, true
		case "notifications/initialized":
			return nil, nil, true
		case "tools/list":
			return map[string]any{"tools": []any{echoTool("echo")}}, nil, true
		case "tools/call":
			if p.Arguments["text"] == "rpc" {
				return nil, map[string]any{"code": -32602, "message": "invalid arguments for tool echo: text too short"}, true
			}
			return map[string]any{"isError": true, "content": []any{map[string]any{"type": "text", "text": "Tool echo failed: upstream echo-service down"}}}, nil, true
		}
		return nil, nil, false
	})
	_, a, _ := serveLogged(t, "integrations:\n  - name: crm\n    type: mcp\n    url: "+up.URL+"/mcp\n", nil)
	waitTool(t, a, "crm_echo")
	for _, arg := range []string{"rpc", "result"} {
		text, res := cliCall(t, a, "crm_echo", `{"text":"`+arg+`"}`)
		if !res.IsError || !strings.Contains(text, "crm_echo") || strings.Contains(strings.ReplaceAll(text, "crm_echo", ""), "tool echo") ||
			strings.Contains(strings.ReplaceAll(text, "crm_echo", ""), "Tool echo") {
			t.Errorf("%s error: %q (want crm_echo, never the upstream's name echo)", arg, text)
		}
	}
}

// Issue 14 (8): input schemas pass through byte for byte ($schema kept);
// a tool that requires task augmentation is left out, logged once, and the
// others are listed.
func TestMCPSchemaPassThroughAndTaskTools(t *testing.T) {
	schema := `{"$schema":"https://json-schema.org/draft/2020-12/schema","type":"object","properties":{"text":{"type":"string","minLength":1}},"required":["text"],"additionalProperties":false}`
	up := newFakeMCP(t, func(w http.ResponseWriter, r *http.Request, method string, params, id json.RawMessage) (any, map[string]any, bool) {
		switch method {
		case "initialize":
			return legacyInit(w), nil, true
		case "notifications/initialized":
			return nil, nil, true
		case "tools/list":
			return map[string]any{"tools": []any{
				map[string]any{"name": "echo", "description": "Echoes.", "inputSchema": json.RawMessage(schema)},
				map[string]any{"name": "batch", "description": "Runs as a task.", "inputSchema": map[string]any{"type": "object"},
					"execution": map[string]any{"taskSupport": "required"}},
				map[string]any{"name": "maybe_task", "description": "May run as a task.", "inputSchema": map[string]any{"type": "object"},
					"execution": map[string]any{"taskSupport": "optional"}},
			}}, nil, true
		case "tools/call":
			return textResult("ok"), nil, true
		}
		return nil, nil, false
	})
	_, a, logs := serveLogged(t, "integrations:\n  - name: crm\n    type: mcp\n    url: "+up.URL+"/mcp\n", nil)
	waitTool(t, a, "crm_echo")
	var got []string
	for _, tl := range a.ToolList() {
		got = append(got, tl.Name)
		if tl.Name == "crm_echo" && string(tl.InputSchema) != schema {
			t.Errorf("crm_echo inputSchema =\n %s\nwant\n %s", tl.InputSchema, schema)
		}
	}
	if strings.Join(got, ",") != "crm_echo,crm_maybe_task" {
		t.Errorf("tools = %v, want crm_echo,crm_maybe_task (batch requires tasks)", got)
	}
	if n := strings.Count(logs.String(), `"tool":"batch"`); n != 1 || !strings.Contains(logs.String(), "task") {
		t.Errorf("batch logged %d times, want once with the reason:\n%s", n, logs)
	}
	if text, res := cliCall(t, a, "crm_maybe_task", `{}`); res.IsError || text != "ok" {
		t.Errorf("crm_maybe_task = %q", text)
	}
}
