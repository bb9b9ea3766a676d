package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	mcpgo "github.com/mark3labs/mcp-go/mcp"
	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
)

// jsonLines fails the test for every stderr line that is not a JSON object.
func jsonLines(t *testing.T, what string, stderr []byte) []map[string]any {
	t.Helper()
	var out []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(stderr))
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Errorf("%s: a line that is not JSON: %q", what, sc.Text())
			continue
		}
		out = append(out, m)
	}
	return out
}

// With --log-format json every line on stderr is JSON, from every library
// and from a stdio upstream's stderr, also when an HTTP upstream dies; and
// `tools` and `validate` end without a spurious "refreshing tools failed …
// context canceled" (shutting down is not a failure).
func TestMCPJSONLogsAndQuietShutdown(t *testing.T) {
	up := slowUpstream(t, 0)
	node, script := nodeBin(t), everythingScript(t)
	file := writeConfig(t, fmt.Sprintf("integrations:\n  - name: crm\n    type: mcp\n    url: %s\n  - name: everything\n    type: mcp\n    command: [%q, %q, stdio]\n", up.URL, node, script))
	for _, args := range [][]string{{"tools"}, {"validate"}} {
		cmd := exec.Command(binary, append(args, "--config", file, "--log-format", "json", "--log-level", "debug")...)
		cmd.Env = os.Environ()
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("%v: %v\n%s", args, err, stderr.String())
		}
		for _, l := range jsonLines(t, args[0], stderr.Bytes()) {
			if msg, _ := l["msg"].(string); (l["level"] == "WARN" || l["level"] == "ERROR") && msg != "tool left out" {
				t.Errorf("%s logged %v", args[0], l)
			}
		}
	}

	// serve, then the HTTP upstream dies.
	port := freeTCPPort(t)
	cmd := exec.Command(binary, "serve", "--config", file, "--transport", "http", "--listen", fmt.Sprintf("127.0.0.1:%d", port), "--log-format", "json", "--log-level", "debug")
	cmd.Env = os.Environ()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * time.Second)
	up.CloseClientConnections()
	up.Close()
	time.Sleep(2 * time.Second)
	_ = cmd.Process.Signal(os.Interrupt)
	_ = cmd.Wait()
	lines := jsonLines(t, "serve", stderr.Bytes())
	if len(lines) < 3 {
		t.Errorf("serve logged only %d lines:\n%s", len(lines), stderr.String())
	}
}

// A client that gives up on a call is logged as cancelled, not as an
// unavailable upstream.
func TestMCPClientCancellationIsLoggedAsCancelled(t *testing.T) {
	s := sdk.NewServer(&sdk.Implementation{Name: "slow", Version: "1"}, nil)
	release := make(chan struct{})
	rawTool(s, "wait", "Waits.", nil, nil, func(ctx context.Context, req *sdk.CallToolRequest) (*sdk.CallToolResult, error) {
		select {
		case <-ctx.Done():
		case <-release:
		}
		return text("late"), nil
	})
	up := newSDKUpstream(t, s, nil)
	t.Cleanup(func() { close(release) }) // before the upstream closes
	srv, a, logs := serveLogged(t, "integrations:\n  - name: slow\n    type: mcp\n    url: "+up.URL+"\n    timeout: 30s\n", nil)
	waitTool(t, a, "slow_wait")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c := mcpgoHTTP(t, ctx, srv.BaseURL, "2025-06-18")
	cctx, ccancel := context.WithTimeout(ctx, 500*time.Millisecond)
	defer ccancel()
	var req mcpgo.CallToolRequest
	req.Params.Name = "slow_wait"
	_, _ = c.CallTool(cctx, req)
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if strings.Contains(logs.String(), `"kind":"cancelled"`) {
			return
		}
	}
	t.Fatalf("no cancelled call in the log:\n%s", logs)
}
