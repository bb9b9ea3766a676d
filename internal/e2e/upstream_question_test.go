package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	mcpclient "github.com/mark3labs/mcp-go/client"
	mcpgo "github.com/mark3labs/mcp-go/mcp"
	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
)

// Issue 14: an upstream MCP server's question to the person on the line
// reaches every client that can be asked (during the call in the handshake
// era; in an input_required result that the client answers in its retry for
// 2026-07-28), the answer goes back to the upstream, and the audit says what
// became of the question.

// bookingUpstream asks "Book the 10:00 slot?" in its tool book and says
// what the answer was; its tool plain asks nothing.
func bookingUpstream(t *testing.T) *sdkUpstream {
	s := sdk.NewServer(&sdk.Implementation{Name: "cal", Version: "1"}, nil)
	rawTool(s, "book", "Books the 10:00 slot after asking the caller.", nil, nil, func(ctx context.Context, req *sdk.CallToolRequest) (*sdk.CallToolResult, error) {
		ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		defer cancel()
		res, err := req.Session.Elicit(ctx, &sdk.ElicitParams{Message: "Book the 10:00 slot?", RequestedSchema: map[string]any{
			"type": "object", "properties": map[string]any{"confirm": map[string]any{"type": "boolean"}}}})
		if err != nil {
			return &sdk.CallToolResult{IsError: true, Content: []sdk.Content{&sdk.TextContent{Text: "elicitation failed: " + err.Error()}}}, nil
		}
		return text(fmt.Sprintf("%s %v", res.Action, res.Content["confirm"])), nil
	})
	return newSDKUpstream(t, s, nil)
}

func bookingConfig(upURL, audit, extra string) string {
	return "audit:\n  path: " + audit + "\nintegrations:\n  - name: cal\n    type: mcp\n    url: " + upURL + "\n    timeout: 20s\n" + extra
}

func TestMCPUpstreamQuestionReachesEveryElicitingClient(t *testing.T) {
	up := bookingUpstream(t)
	audit := filepath.Join(t.TempDir(), "audit.jsonl")
	srv := serve(t, bookingConfig(up.URL, audit, ""))
	waitTool(t, srv.app, "cal_book")
	modern := 0
	for _, kind := range elicitingClients() {
		if strings.HasSuffix(kind.Name, "2026-07-28") {
			modern++
		}
		t.Run(kind.Name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
			defer cancel()
			a := &asker{}
			c := kind.Connect(t, ctx, srv.target, a)
			defer c.Close()
			for _, tc := range []struct{ answer, want string }{{"accept", "accept true"}, {"decline", "decline <nil>"}} {
				a.set(tc.answer)
				res, err := c.Call(ctx, "cal_book", map[string]any{})
				if err != nil || res.IsError || res.Text != tc.want {
					t.Fatalf("%s: %+v, %v; want %q", tc.answer, res, err, tc.want)
				}
			}
			if q := a.questions(); len(q) != 2 || q[0] != "Book the 10:00 slot?" || q[1] != q[0] {
				t.Errorf("the caller was asked %q", q)
			}
		})
	}
	// One line per request: a 2026-07-28 client's call is two (the question
	// goes out, then the answer comes in), a handshake-era call is one.
	n := len(elicitingClients())
	count := map[string]int{}
	for _, l := range waitAudit(t, audit, 2*modern+2*n) {
		if l["tool"] != "cal_book" || l["decision"] != "allowed" || l["outcome"] != "ok" {
			t.Errorf("audit line %v", l)
		}
		e, _ := l["upstream_elicitation"].(string)
		count[e]++
	}
	if count["asked"] != 2*modern || count["accept"] != n || count["decline"] != n || len(count) != 3 {
		t.Errorf("upstream_elicitation in the audit: %v (want asked %d, accept %d, decline %d)", count, 2*modern, n, n)
	}
}

// A client that cannot be asked (no elicitation, legacy SSE) gets a prompt
// refusal, and the audit line says the question was refused.
func TestMCPUpstreamQuestionRefusedIsAudited(t *testing.T) {
	up := bookingUpstream(t)
	audit := filepath.Join(t.TempDir(), "audit.jsonl")
	srv := serve(t, bookingConfig(up.URL, audit, ""))
	waitTool(t, srv.app, "cal_book")
	kinds := 0
	for _, kind := range clientMatrix() {
		if kind.Transport == "stdio" {
			continue // the same process code as streamable; keeps the test short
		}
		kinds++
		t.Run(kind.Name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			c := kind.Connect(t, ctx, srv.target)
			defer c.Close()
			res, err := c.Call(ctx, "cal_book", map[string]any{})
			if err != nil || !res.IsError || !strings.Contains(res.Text, "elicitation failed") {
				t.Fatalf("%+v, %v; want the upstream's own failure after a refusal", res, err)
			}
		})
	}
	for _, l := range waitAudit(t, audit, kinds) {
		if l["upstream_elicitation"] != "refused" || l["outcome"] != "error" {
			t.Errorf("audit line %v, want upstream_elicitation refused", l)
		}
	}
}

// modernCall is one raw 2026-07-28 tools/call over streamable HTTP from a
// client that declares form elicitation; state and responses continue an
// input_required result.
func modernCall(t *testing.T, baseURL, tool, state string, responses map[string]any) map[string]any {
	t.Helper()
	params := map[string]any{"name": tool, "arguments": map[string]any{}, "_meta": map[string]any{
		mcpgo.MetaKeyProtocolVersion:    "2026-07-28",
		mcpgo.MetaKeyClientInfo:         map[string]any{"name": "raw", "version": "1"},
		mcpgo.MetaKeyClientCapabilities: map[string]any{"elicitation": map[string]any{"form": map[string]any{}}},
	}}
	if state != "" {
		params["requestState"] = state
		params["inputResponses"] = responses
	}
	body, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": params})
	r := post(t, baseURL+"/mcp", string(body), map[string]string{"Mcp-Protocol-Version": "2026-07-28", "Mcp-Method": "tools/call", "Mcp-Name": tool})
	raw, _ := io.ReadAll(r.Body)
	if strings.HasPrefix(r.Header.Get("Content-Type"), "text/event-stream") {
		for sc := bufio.NewScanner(strings.NewReader(string(raw))); sc.Scan(); {
			if d, ok := strings.CutPrefix(sc.Text(), "data: "); ok && strings.Contains(d, `"id":1`) {
				raw = []byte(d)
			}
		}
	}
	var msg struct {
		Result map[string]any `json:"result"`
	}
	if err := json.Unmarshal(raw, &msg); err != nil || msg.Result == nil {
		t.Fatalf("tools/call %s: %d %s", tool, r.StatusCode, raw)
	}
	return msg.Result
}

// The requestState of an upstream's question answers it once, only for the
// call that was asked: a replay, or an answer sent with other arguments or
// to another tool, runs nothing and is told the question is closed.
func TestMCPUpstreamQuestionIsAnsweredOnce(t *testing.T) {
	up := bookingUpstream(t)
	audit := filepath.Join(t.TempDir(), "audit.jsonl")
	srv := serve(t, bookingConfig(up.URL, audit, "    tools: {confirm: [book]}\n")+
		"  - name: cal_free\n    type: mcp\n    url: "+up.URL+"\n    timeout: 20s\n")
	waitTool(t, srv.app, "cal_book")
	waitTool(t, srv.app, "cal_free_book")
	yes := map[string]any{"confirm": map[string]any{"action": "accept", "content": map[string]any{"confirm": true}}}

	// The tool is under a confirm glob: first the confirmation, then, in the
	// same confirmed call, the upstream's own question.
	res := modernCall(t, srv.BaseURL, "cal_book", "", nil)
	if res["resultType"] != "input_required" {
		t.Fatalf("first call: %v, want the confirmation question", res)
	}
	res = modernCall(t, srv.BaseURL, "cal_book", res["requestState"].(string), yes)
	state, _ := res["requestState"].(string)
	reqs, _ := res["inputRequests"].(map[string]any)
	q, _ := reqs["upstream"].(map[string]any)
	if res["resultType"] != "input_required" || !strings.HasPrefix(state, "c.") || !strings.Contains(fmt.Sprint(q), "Book the 10:00 slot?") {
		t.Fatalf("confirmed call: %v, want the upstream's question", res)
	}
	answer := map[string]any{"upstream": map[string]any{"action": "accept", "content": map[string]any{"confirm": true}}}
	// Edited: the inner state of the continuation changed.
	edited := state[:len(state)-1] + map[bool]string{true: "0", false: "1"}[state[len(state)-1] != '0']
	if res := modernCall(t, srv.BaseURL, "cal_book", edited, answer); res["resultType"] != "input_required" || res["requestState"] == state {
		t.Fatalf("an edited continuation: %v, want a fresh confirmation", res)
	}
	res = modernCall(t, srv.BaseURL, "cal_book", state, answer)
	if res["isError"] == true || !strings.Contains(fmt.Sprint(res["content"]), "accept true") {
		t.Fatalf("answered: %v", res)
	}
	// The same answer again: the continuation is spent, so a fresh
	// confirmation is asked and nothing reaches the upstream.
	res = modernCall(t, srv.BaseURL, "cal_book", state, answer)
	if reqs, _ := res["inputRequests"].(map[string]any); res["resultType"] != "input_required" || reqs["confirm"] == nil {
		t.Fatalf("the same answer again: %v, want a fresh confirmation", res)
	}
	// Without a confirmation around it, a replayed answer is told the
	// question is closed.
	first := modernCall(t, srv.BaseURL, "cal_free_book", "", nil)
	again := map[string]any{"upstream": map[string]any{"action": "accept", "content": map[string]any{"confirm": true}}}
	if res := modernCall(t, srv.BaseURL, "cal_free_book", first["requestState"].(string), again); res["isError"] == true {
		t.Fatalf("answering cal_free_book: %v", res)
	}
	if res := modernCall(t, srv.BaseURL, "cal_free_book", first["requestState"].(string), again); res["isError"] != true || !strings.Contains(fmt.Sprint(res["content"]), "no longer open") {
		t.Fatalf("the same answer again: %v, want the question closed", res)
	}
	up.mu.Lock()
	calls := 0
	for _, b := range up.bodies {
		if strings.Contains(b, `"tools/call"`) {
			calls++
		}
	}
	up.mu.Unlock()
	if calls != 2 {
		t.Errorf("the upstream got %d tools/call requests, want 2 (one per tool)", calls)
	}
	var got []string
	for _, l := range waitAudit(t, audit, 8)[:5] {
		got = append(got, fmt.Sprintf("%s/%s/%v", l["decision"], l["outcome"], l["upstream_elicitation"]))
	}
	want := []string{"confirmation_required/ok/<nil>", "confirmed/ok/asked", "confirmation_required/ok/<nil>", "confirmed/ok/accept", "confirmation_required/ok/<nil>"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("audit:\n got %v\nwant %v", got, want)
	}
}

// Issue 14: a handshake-era confirmation whose question goes unanswered (the
// client's elicitation fails, or the call is cancelled while it is open)
// writes the outcome to the audit log, and nothing is sent.
func TestConfirmElicitationUnansweredIsAudited(t *testing.T) {
	p := newPayments(t)
	srv, audit := serveConfirm(t, p, "elicit", "2m")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	failing := mcpgoHTTP(t, ctx, srv.BaseURL, "2025-06-18", mcpclient.WithElicitationHandler(elicitFunc(func(context.Context, mcpgo.ElicitationRequest) (*mcpgo.ElicitationResult, error) {
		return nil, fmt.Errorf("the phone app crashed")
	})))
	var req mcpgo.CallToolRequest
	req.Params.Name = "pay_refund"
	req.Params.Arguments = map[string]any{"order_id": "UNANS-1", "amount": 3}
	res, err := failing.CallTool(ctx, req)
	if err != nil || !res.IsError || !strings.Contains(resultText(res), "did not come back") {
		t.Fatalf("failed elicitation: %v %q", err, resultOf(res))
	}

	var once sync.Once
	opened := make(chan struct{})
	hanging := mcpgoHTTP(t, ctx, srv.BaseURL, "2025-06-18", mcpclient.WithElicitationHandler(elicitFunc(func(ctx context.Context, _ mcpgo.ElicitationRequest) (*mcpgo.ElicitationResult, error) {
		once.Do(func() { close(opened) })
		<-ctx.Done()
		return nil, ctx.Err()
	})))
	callCtx, hangUp := context.WithCancel(ctx)
	done := make(chan error, 1)
	req.Params.Arguments = map[string]any{"order_id": "UNANS-2", "amount": 3}
	go func() {
		_, err := hanging.CallTool(callCtx, req)
		done <- err
	}()
	select {
	case <-opened:
	case <-ctx.Done():
		t.Fatal("the question never reached the client")
	}
	hangUp()
	<-done

	lines := waitAudit(t, audit, 2)
	for _, l := range lines {
		if l["decision"] != "declined" || l["reason"] != "unanswered" || l["outcome"] != "error" || l["session_id"] == "" {
			t.Errorf("audit line %v, want declined/unanswered/error", l)
		}
	}
	for _, order := range []string{"UNANS-1", "UNANS-2"} {
		if got := p.received("POST", "/api/refunds", order); len(got) != 0 {
			t.Errorf("an unconfirmed refund %s was sent", order)
		}
	}
}

// waitAudit waits until the audit file at path has n lines and returns them
// (a line is written when its call ends, which may be just after the client
// got its answer, or, for a cancelled call, later).
func waitAudit(t *testing.T, path string, n int) []map[string]any {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		lines := readAuditIfAny(t, path)
		if len(lines) >= n || time.Now().After(deadline) {
			if len(lines) != n {
				t.Fatalf("audit has %d lines, want %d: %v", len(lines), n, lines)
			}
			return lines
		}
	}
}

func readAuditIfAny(t *testing.T, path string) []map[string]any {
	t.Helper()
	if raw, err := os.ReadFile(path); err != nil || len(strings.TrimSpace(string(raw))) == 0 {
		return nil
	}
	return readAudit(t, path)
}
