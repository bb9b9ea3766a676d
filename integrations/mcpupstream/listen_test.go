package mcpupstream

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"
)

// listening is a 2026-07-28 upstream that declares tools.listChanged and
// answers subscriptions/listen with listen.
func listening(t *testing.T, listen func() (any, map[string]any, bool)) *fakeMCP {
	var up *fakeMCP
	up = newFakeMCP(t, func(w http.ResponseWriter, r *http.Request, method string, params json.RawMessage) (any, map[string]any, bool) {
		switch method {
		case "server/discover":
			return statelessDiscover(true), nil, true
		case "tools/list":
			return map[string]any{"tools": []any{echoTool("echo")}}, nil, true
		case "tools/call":
			return textResult("echoed"), nil, true
		case "subscriptions/listen":
			// The n-th stream is answered once the n-th connection has
			// asked for its tools: switchboard has kept the connection by
			// then.
			for deadline := time.Now().Add(10 * time.Second); up.count("tools/list") < up.count("subscriptions/listen") && time.Now().Before(deadline); {
				time.Sleep(5 * time.Millisecond)
			}
			return listen()
		}
		return nil, nil, false
	})
	return up
}

// An upstream that declares tools.listChanged is subscribed to; when its
// subscriptions/listen stream breaks, the connection is taken for lost and
// made again (without notifications, a changed tool list would go unseen).
func TestBrokenListenStreamReconnects(t *testing.T) {
	t.Parallel()
	up := listening(t, func() (any, map[string]any, bool) {
		return nil, map[string]any{"code": -32603, "message": "stream broke"}, true
	})
	logs := &logRecorder{}
	u := mustNew(t, integration(t, plainYAML(up.URL+"/mcp")), Deps{Logger: logs.logger(), MaxBackoff: 300 * time.Millisecond})
	run(t, u) // the connection may be lost before WaitStarted looks
	logs.wait(t, "subscriptions/listen stream ended", 1)
	up.waitCount(t, "server/discover", 2)
	logs.wait(t, "reconnecting to upstream MCP server", 1)
}

// An upstream that declares tools.listChanged but answers "method not
// found" to subscriptions/listen sends no notifications: the connection is
// kept, not made again in a loop.
func TestListenMethodNotFoundKeepsTheConnection(t *testing.T) {
	t.Parallel()
	up := listening(t, func() (any, map[string]any, bool) { return nil, nil, false })
	logs := &logRecorder{}
	u := mustNew(t, integration(t, plainYAML(up.URL+"/mcp")), Deps{Logger: logs.logger(), MaxBackoff: 300 * time.Millisecond})
	started(t, u)
	logs.wait(t, "upstream does not support subscriptions/listen; its tool list is read at each connection", 1)
	if res, err := call(t, u, "crm_echo", map[string]any{"text": "x"}); err != nil || text(res) != "echoed" {
		t.Fatalf("call: %v %v", res, err)
	}
	if n := up.count("server/discover"); n != 1 || len(logs.with("reconnecting to upstream MCP server")) != 0 {
		t.Fatalf("server/discover sent %d times; log:\n%s", n, logs)
	}
}
