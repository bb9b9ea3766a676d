package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	mcpgo "github.com/mark3labs/mcp-go/mcp"
)

// Third-party MCP software, installed from npm at pinned versions into
// $SWITCHBOARD_CI_CACHE (default ~/.cache/switchboard-ci), as
// .ci/conformance.sh installs the conformance suite: the reference server
// @modelcontextprotocol/server-everything as an upstream, the official
// TypeScript SDK as a client. Without npm these tests fail, never skip.
const (
	everythingVersion = "2026.8.31"
	tsSDKVersion      = "1.32.2"
)

var npmMu sync.Mutex

// npmPackage installs spec (once) into the cache directory name and returns
// the directory: into a temp prefix, then renamed, so that an interrupted
// install never looks cached.
func npmPackage(t *testing.T, name, spec string) string {
	t.Helper()
	cache := os.Getenv("SWITCHBOARD_CI_CACHE")
	if cache == "" {
		base := os.Getenv("XDG_CACHE_HOME")
		if base == "" {
			home, _ := os.UserHomeDir()
			base = filepath.Join(home, ".cache")
		}
		cache = filepath.Join(base, "switchboard-ci")
	}
	dir := filepath.Join(cache, name)
	npmMu.Lock()
	defer npmMu.Unlock()
	if _, err := os.Stat(dir); err == nil {
		return dir
	}
	npm, err := exec.LookPath("npm")
	if err != nil {
		t.Fatalf("these tests need npm (Node.js >= 18) to install %s from the npm registry: %v", spec, err)
	}
	tmp := dir + ".tmp"
	_ = os.RemoveAll(tmp)
	out, err := exec.Command(npm, "install", "--prefix", tmp, "--no-save", "--no-audit", "--no-fund", "--loglevel=error", spec).CombinedOutput()
	if err != nil {
		t.Fatalf("npm install %s: %v\n%s", spec, err, out)
	}
	if err := os.Rename(tmp, dir); err != nil {
		t.Fatal(err)
	}
	return dir
}

func nodeBin(t *testing.T) string {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("these tests need Node.js >= 18: %v", err)
	}
	return node
}

func everythingScript(t *testing.T) string {
	dir := npmPackage(t, "everything-"+everythingVersion, "@modelcontextprotocol/server-everything@"+everythingVersion)
	return filepath.Join(dir, "node_modules/@modelcontextprotocol/server-everything/dist/index.js")
}

// freeTCPPort is a port nothing listens on now.
func freeTCPPort(t *testing.T) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// everythingHTTP starts server-everything's streamable HTTP transport and
// returns its /mcp URL.
func everythingHTTP(t *testing.T) string {
	port := freeTCPPort(t)
	cmd := exec.Command(nodeBin(t), everythingScript(t), "streamableHttp")
	cmd.Env = append(os.Environ(), fmt.Sprintf("PORT=%d", port))
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("server-everything did not listen on %s", addr)
		}
	}
	return "http://" + addr + "/mcp"
}

// server-everything as a stdio and a streamable-HTTP upstream: its tools
// are listed (the ones it registers after initialization too, announced
// with list_changed), echo is called, the progress of a long-running tool
// reaches the client, roots/list is answered.
func TestMCPServerEverything(t *testing.T) {
	node := nodeBin(t)
	script := everythingScript(t)
	for _, tc := range []struct{ name, upstream string }{
		{"stdio", fmt.Sprintf("    command: [%q, %q, stdio]\n", node, script)},
		{"streamable", fmt.Sprintf("    url: %s\n", everythingHTTP(t))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, a, logs := serveLogged(t, "integrations:\n  - name: everything\n    type: mcp\n    timeout: 30s\n"+tc.upstream, func(k string) string { return os.Getenv(k) })
			waitTool(t, a, "everything_echo")
			// get-roots-list is registered once the server has seen
			// switchboard's capabilities (roots), and announced.
			waitTool(t, a, "everything_get-roots-list")
			var names []string
			for _, tl := range a.Tools() {
				names = append(names, tl.Name())
			}
			t.Logf("%d tools: %s", len(names), strings.Join(names, " "))
			if txt, res := cliCall(t, a, "everything_echo", `{"message":"hola"}`); res.IsError || txt != "Echo: hola" {
				t.Errorf("echo = %q", txt)
			}
			if txt, res := cliCall(t, a, "everything_get-sum", `{"a":9007199254740993,"b":1}`); res.IsError {
				t.Errorf("get-sum = %q", txt)
			}
			if txt, res := cliCall(t, a, "everything_get-roots-list", `{}`); res.IsError || !strings.Contains(txt, "no roots") {
				t.Errorf("get-roots-list = %q\n%s", txt, logs)
			}
			if txt, res := cliCall(t, a, "everything_echo", `{}`); !res.IsError || !strings.Contains(txt, "everything_echo") {
				t.Errorf("echo without its required argument = %q, want an invalid-arguments error naming everything_echo", txt)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			c := mcpgoHTTP(t, ctx, srv.BaseURL, "2025-06-18")
			var mu sync.Mutex
			var progress []float64
			c.OnNotification(func(n mcpgo.JSONRPCNotification) {
				if n.Method == string(mcpgo.MethodNotificationProgress) {
					mu.Lock()
					progress = append(progress, n.Params.AdditionalFields["progress"].(float64))
					mu.Unlock()
				}
			})
			var req mcpgo.CallToolRequest
			req.Params.Name = "everything_trigger-long-running-operation"
			req.Params.Arguments = map[string]any{"duration": 1, "steps": 4}
			req.Params.Meta = &mcpgo.Meta{ProgressToken: "lro-1"}
			res, err := c.CallTool(ctx, req)
			if err != nil || res.IsError {
				t.Fatalf("long-running operation: %v %+v", err, res)
			}
			mu.Lock()
			if len(progress) != 4 || progress[3] != 4 {
				t.Errorf("progress = %v, want 4 notifications ending at 4", progress)
			}
			mu.Unlock()
			if strings.Contains(logs.String(), `"level":"ERROR"`) {
				t.Logf("errors logged:\n%s", logs)
			}
		})
	}
}

type tsResult struct {
	Tools  []string `json:"tools"`
	Result struct {
		Content []struct {
			Text string `json:"text"`
		} `json:"content"`
		IsError bool `json:"isError"`
	} `json:"result"`
	Progress int      `json:"progress"`
	Asked    []string `json:"asked"`
}

func tsClient(t *testing.T, args ...string) tsResult {
	t.Helper()
	return tsClientAnswering(t, "", args...)
}

// tsClientAnswering is tsClient declaring elicitation and answering every
// question with action (accept, decline, cancel); "" declares none.
func tsClientAnswering(t *testing.T, action string, args ...string) tsResult {
	t.Helper()
	sdk := npmPackage(t, "tssdk-"+tsSDKVersion, "@modelcontextprotocol/sdk@"+tsSDKVersion)
	cmd := exec.Command(nodeBin(t), append([]string{"testdata/tsclient.mjs", sdk}, args...)...)
	cmd.Env = append(os.Environ(), "ELICIT="+action)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("TypeScript SDK client %v: %v\n%s", args, err, out)
	}
	var r tsResult
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("TypeScript SDK client output %q: %v", out, err)
	}
	return r
}

// The official TypeScript SDK client drives switchboard: the demo
// (`serve --dev`, over streamable HTTP and stdio) and a config with a
// server-everything upstream.
func TestMCPTypeScriptSDKClient(t *testing.T) {
	port := freeTCPPort(t)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	dev := exec.Command(binary, "serve", "--dev", "--transport", "http", "--listen", addr, "--log-level", "warn")
	if err := dev.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = dev.Process.Kill(); _ = dev.Wait() })
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("serve --dev did not listen")
		}
	}
	devTool, devArgs := demoTool(t)
	for _, r := range []tsResult{
		tsClient(t, "http", "http://"+addr+"/mcp", devTool, devArgs),
		tsClient(t, "stdio", fmt.Sprintf("[%q,\"serve\",\"--dev\",\"--log-level\",\"warn\"]", binary), devTool, devArgs),
	} {
		if len(r.Tools) == 0 || r.Result.IsError || len(r.Result.Content) == 0 || !strings.Contains(r.Result.Content[0].Text, "cus_1001") {
			t.Errorf("demo through the TypeScript SDK: %+v", r)
		}
	}

	node, script := nodeBin(t), everythingScript(t)
	srv, a, _ := serveLogged(t, fmt.Sprintf("integrations:\n  - name: everything\n    type: mcp\n    timeout: 30s\n    command: [%q, %q, stdio]\n", node, script),
		func(k string) string { return os.Getenv(k) })
	waitTool(t, a, "everything_trigger-long-running-operation")
	r := tsClient(t, "http", srv.BaseURL+"/mcp", "everything_trigger-long-running-operation", `{"duration":1,"steps":3}`)
	if r.Result.IsError || r.Progress != 3 {
		t.Errorf("server-everything through switchboard through the TypeScript SDK: progress %d, result %+v", r.Progress, r.Result)
	}
	r = tsClient(t, "http", srv.BaseURL+"/mcp", "everything_echo", `{"message":"hi from TypeScript"}`)
	if len(r.Result.Content) == 0 || r.Result.Content[0].Text != "Echo: hi from TypeScript" {
		t.Errorf("echo through the TypeScript SDK: %+v", r.Result)
	}
}

// demoTool is a read-only tool of the bundled demo and arguments for it.
func demoTool(t *testing.T) (string, string) {
	return "helpdesk_buscar_cliente", `{"email":"maria.garcia@example.com"}`
}

// server-everything's own elicitation tool, through switchboard, to a
// 2026-07-28 client (the upstream call held, the question in an
// input_required result) and to a handshake-era one (elicitation/create
// during the call); the answer's action reaches the upstream, which says it.
func TestMCPServerEverythingElicitation(t *testing.T) {
	node := nodeBin(t)
	script := everythingScript(t)
	for _, up := range []struct{ name, upstream string }{
		{"stdio", fmt.Sprintf("    command: [%q, %q, stdio]\n", node, script)},
		{"streamable", fmt.Sprintf("    url: %s\n", everythingHTTP(t))},
	} {
		t.Run(up.name, func(t *testing.T) {
			srv, a, logs := serveLogged(t, "integrations:\n  - name: everything\n    type: mcp\n    timeout: 30s\n"+up.upstream, func(k string) string { return os.Getenv(k) })
			waitTool(t, a, "everything_trigger-elicitation-request")
			for _, kind := range elicitingClients() {
				if !strings.Contains(kind.Name, "/streamable/") {
					continue
				}
				t.Run(kind.Name, func(t *testing.T) {
					ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
					defer cancel()
					asker := &asker{}
					c := kind.Connect(t, ctx, srv.target, asker)
					defer c.Close()
					for answer, want := range map[string]string{"decline": "User declined", "cancel": "User cancelled"} {
						asker.set(answer)
						res, err := c.Call(ctx, "everything_trigger-elicitation-request", map[string]any{})
						if err != nil || res.IsError || !strings.Contains(res.Text, want) {
							t.Fatalf("%s: %+v, %v; want %q\n%s", answer, res, err, want, logs)
						}
					}
					if q := asker.questions(); len(q) != 2 || q[0] != "Please provide inputs for the following fields:" {
						t.Errorf("the caller was asked %q", q)
					}
				})
			}
		})
	}
}

// The TypeScript SDK client, declaring elicitation, is asked: a
// confirmation in elicit mode (during the call; only its yes runs the
// refund) and server-everything's own question through switchboard.
func TestMCPTypeScriptSDKClientIsAsked(t *testing.T) {
	p := newPayments(t)
	srv, audit := serveConfirm(t, p, "elicit", "2m")
	args := `{"order_id":"TS-1","amount":7}`
	r := tsClientAnswering(t, "cancel", "http", srv.BaseURL+"/mcp", "pay_refund", args)
	if r.Result.IsError || len(r.Result.Content) == 0 || !strings.Contains(r.Result.Content[0].Text, "was not run") || len(p.received("POST", "/api/refunds", "TS-1")) != 0 {
		t.Fatalf("cancelled confirmation: %+v", r)
	}
	r = tsClientAnswering(t, "accept", "http", srv.BaseURL+"/mcp", "pay_refund", args)
	if r.Result.IsError || len(r.Asked) != 1 || r.Asked[0] != "Do you confirm a refund of 7 euros for order TS-1?" {
		t.Fatalf("accepted confirmation: %+v", r)
	}
	if got := p.received("POST", "/api/refunds", "TS-1"); len(got) != 1 {
		t.Fatalf("the accepted refund was sent %d times", len(got))
	}
	var decisions []string
	for _, l := range readAudit(t, audit) {
		decisions = append(decisions, l["decision"].(string))
	}
	if strings.Join(decisions, " ") != "declined confirmed" {
		t.Errorf("audit decisions %v, want one line per call: declined, confirmed", decisions)
	}

	node, script := nodeBin(t), everythingScript(t)
	ev, a, _ := serveLogged(t, fmt.Sprintf("integrations:\n  - name: everything\n    type: mcp\n    timeout: 30s\n    command: [%q, %q, stdio]\n", node, script),
		func(k string) string { return os.Getenv(k) })
	waitTool(t, a, "everything_trigger-elicitation-request")
	r = tsClientAnswering(t, "decline", "http", ev.BaseURL+"/mcp", "everything_trigger-elicitation-request", `{}`)
	if r.Result.IsError || len(r.Result.Content) == 0 || !strings.Contains(r.Result.Content[0].Text, "User declined") || len(r.Asked) != 1 {
		t.Fatalf("server-everything's question through switchboard to the TypeScript SDK: %+v", r)
	}
}
