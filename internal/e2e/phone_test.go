package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	mcpgo "github.com/mark3labs/mcp-go/mcp"
	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
)

// Phone calls, end to end through real clients: the call context (headers
// and _meta), speech while a slow tool runs, coalescing of identical reads,
// and dedupe of repeated actions.

// progressLog is the progress notifications a client received.
type progressLog struct {
	mu    sync.Mutex
	notes []map[string]any
}

func (p *progressLog) add(n map[string]any) {
	p.mu.Lock()
	p.notes = append(p.notes, n)
	p.mu.Unlock()
}

// since returns the notes with progressToken token.
func (p *progressLog) of(token string) []map[string]any {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []map[string]any
	for _, n := range p.notes {
		if fmt.Sprint(n["progressToken"]) == token {
			out = append(out, n)
		}
	}
	return out
}

// metaCall calls a tool with a request _meta (the call context under
// io.switchboard/call) and, when token is set, a progressToken; it returns
// the progress notes that had arrived when the result did.
func metaCall(ctx context.Context, t *testing.T, c client, name string, args map[string]any, callCtx map[string]any, token string) (callResult, []map[string]any) {
	t.Helper()
	meta := map[string]any{}
	if callCtx != nil {
		meta["io.switchboard/call"] = callCtx
	}
	switch cl := c.(type) {
	case *mcpgoClient:
		var req mcpgo.CallToolRequest
		req.Params.Name = name
		req.Params.Arguments = args
		req.Params.Meta = &mcpgo.Meta{AdditionalFields: meta}
		if token != "" {
			req.Params.Meta.ProgressToken = token
		}
		res, err := cl.c.CallTool(ctx, req)
		if err != nil {
			t.Fatalf("call %s: %v", name, err)
		}
		notes := cl.progress.of(token)
		out := callResult{IsError: res.IsError, Structured: asObject(res.StructuredContent)}
		for _, ct := range res.Content {
			if tc, ok := ct.(mcpgo.TextContent); ok {
				out.Text += tc.Text
			}
		}
		return out, notes
	case *sdkClient:
		p := &sdk.CallToolParams{Name: name, Arguments: args, Meta: meta}
		if token != "" {
			p.SetProgressToken(token)
		}
		res, err := cl.s.CallTool(ctx, p)
		if err != nil {
			t.Fatalf("call %s: %v", name, err)
		}
		notes := cl.progress.of(token)
		out := callResult{IsError: res.IsError, Structured: asObject(res.StructuredContent)}
		for _, ct := range res.Content {
			if tc, ok := ct.(*sdk.TextContent); ok {
				out.Text += tc.Text
			}
		}
		return out, notes
	}
	t.Fatalf("unknown client %T", c)
	return callResult{}, nil
}

// phoneUpstream is a helpdesk that records the numbers it is asked about,
// sleeps on /slow, counts reads of /read (held readHold), and opens tickets
// (failing the first attempt of subject "fail-once").
type phoneUpstream struct {
	*httptest.Server
	mu       sync.Mutex
	numbers  []string
	reads    atomic.Int32
	tickets  atomic.Int32
	failed   atomic.Bool
	readHold time.Duration
}

func newPhoneUpstream(t *testing.T) *phoneUpstream {
	u := &phoneUpstream{readHold: 800 * time.Millisecond}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/customers", func(w http.ResponseWriter, r *http.Request) {
		u.mu.Lock()
		u.numbers = append(u.numbers, r.URL.Query().Get("phone"))
		u.mu.Unlock()
		writeJSON(w, 200, map[string]any{"id": "c-1", "name": "Ana García"})
	})
	mux.HandleFunc("GET /api/slow", func(w http.ResponseWriter, r *http.Request) {
		d, _ := time.ParseDuration(r.URL.Query().Get("for"))
		time.Sleep(d)
		writeJSON(w, 200, map[string]any{"done": true})
	})
	mux.HandleFunc("GET /api/read", func(w http.ResponseWriter, r *http.Request) {
		n := u.reads.Add(1)
		time.Sleep(u.readHold)
		writeJSON(w, 200, map[string]any{"read": n})
	})
	mux.HandleFunc("POST /api/tickets", func(w http.ResponseWriter, r *http.Request) {
		var body map[string]any
		_ = json.NewDecoder(r.Body).Decode(&body)
		if body["subject"] == "fail-once" && !u.failed.Swap(true) {
			writeJSON(w, 503, map[string]any{"message": "try later"})
			return
		}
		n := u.tickets.Add(1)
		writeJSON(w, 201, map[string]any{"id": fmt.Sprintf("t-%d", n), "subject": body["subject"]})
	})
	u.Server = httptest.NewServer(mux)
	t.Cleanup(u.Close)
	return u
}

func (u *phoneUpstream) asked() []string {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]string(nil), u.numbers...)
}

func phoneConfig(url, audit string) string {
	return `
server:
  name: switchboard-e2e
  call_headers: {caller_number: X-Caller-Number, call_id: X-Call-Id}
audit:
  path: ` + audit + `
integrations:
  - name: helpdesk
    type: http
    base_url: ` + url + `/api
    timeout: 5s
    speech:
      start: Un momento, lo compruebo.
      slow: {after: 150ms, say: "Sigue tardando, gracias por esperar."}
    tools:
      - name: whoami
        description: The customer calling.
        method: GET
        path: /customers
        params:
          - {name: phone, in: query, value_from: call.caller_number, required: true, validate: e164}
      - name: wait
        description: Takes as long as asked.
        method: GET
        path: /slow
        params:
          - {name: for, in: query, type: string, required: true}
      - name: read
        description: A slow read.
        method: GET
        path: /read
        params:
          - {name: q, in: query, type: string}
      - name: ticket
        description: Open a ticket.
        method: POST
        path: /tickets
        dedupe: 30s
        params:
          - {name: subject, type: string, required: true}
`
}

func readPhoneAudit(t *testing.T, path string) (string, []map[string]any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var lines []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if l == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("audit line %q: %v", l, err)
		}
		lines = append(lines, m)
	}
	return string(b), lines
}

// The upstream gets the caller's number from the call (never from the model)
// on every client, transport and revision; a missing or invalid number sends
// nothing; the audit line has the call_id and no number.
func TestCallContextEndToEnd(t *testing.T) {
	up := newPhoneUpstream(t)
	audit := filepath.Join(t.TempDir(), "audit.jsonl")
	srv := serve(t, phoneConfig(up.URL, audit))
	for i, kind := range clientMatrix() {
		t.Run(kind.Name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			c := kind.Connect(t, ctx, srv.target)
			defer c.Close()
			number := fmt.Sprintf("+346123450%02d", i)
			callID := "c-" + kind.Name

			tools, err := c.ListTools(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, tl := range tools {
				if tl.Name == "helpdesk_whoami" && strings.Contains(tl.Schema, "phone") {
					t.Fatalf("value_from param in the schema: %s", tl.Schema)
				}
			}

			before := len(up.asked())
			res, _ := metaCall(ctx, t, c, "helpdesk_whoami", nil, map[string]any{"caller_number": number, "call_id": callID}, "")
			if res.IsError || !strings.Contains(res.Text, "Ana") {
				t.Fatalf("whoami with _meta = %+v", res)
			}
			if got := up.asked(); len(got) != before+1 || got[len(got)-1] != number {
				t.Fatalf("upstream was asked %v, want %s", got[before:], number)
			}

			// The model sends a number of its own: refused, never sent.
			res, _ = metaCall(ctx, t, c, "helpdesk_whoami", map[string]any{"phone": "+34699999999"}, map[string]any{"caller_number": number, "call_id": callID}, "")
			if !res.IsError || !strings.Contains(res.Text, "unknown parameter") {
				t.Fatalf("model-sent phone = %+v", res)
			}
			// No number, or one that is not a number: nothing sent.
			res, _ = metaCall(ctx, t, c, "helpdesk_whoami", nil, map[string]any{"call_id": callID}, "")
			if !res.IsError || !strings.Contains(res.Text, "did not provide caller_number") {
				t.Fatalf("no number = %+v", res)
			}
			res, _ = metaCall(ctx, t, c, "helpdesk_whoami", nil, map[string]any{"caller_number": "anonymous", "call_id": callID}, "")
			if !res.IsError || !strings.Contains(res.Text, "a caller_number that is not valid") {
				t.Fatalf("invalid number = %+v", res)
			}
			if got := up.asked(); len(got) != before+1 {
				t.Fatalf("refused calls reached the upstream: %v", got[before:])
			}

			if kind.Transport == "stdio" {
				return // no headers on stdio
			}
			// Headers: the voice platform's HTTP client sets them on every request.
			hdr := http.Header{"X-Caller-Number": {number + "9"}, "X-Call-Id": {callID + "-h"}}
			hc := kind.Connect(t, ctx, target{BaseURL: srv.BaseURL, Header: hdr})
			defer hc.Close()
			res, _ = metaCall(ctx, t, hc, "helpdesk_whoami", nil, nil, "")
			if res.IsError {
				t.Fatalf("whoami with headers = %+v", res)
			}
			if got := up.asked(); got[len(got)-1] != number+"9" {
				t.Fatalf("from headers the upstream was asked %s", got[len(got)-1])
			}
			// _meta wins over a header.
			res, _ = metaCall(ctx, t, hc, "helpdesk_whoami", nil, map[string]any{"caller_number": number}, "")
			if got := up.asked(); res.IsError || got[len(got)-1] != number {
				t.Fatalf("_meta did not win over the header: %v %+v", got[len(got)-1], res)
			}
		})
	}
	raw, lines := readPhoneAudit(t, audit)
	if strings.Contains(raw, "+346123450") {
		t.Fatal("a caller's number is in the audit log")
	}
	withID := 0
	for _, l := range lines {
		if id, _ := l["call_id"].(string); strings.HasPrefix(id, "c-") {
			withID++
		}
	}
	// stdio servers write their audit to the same file: every line of a call
	// with a call_id has it.
	if withID < 4*len(clientMatrix()) {
		t.Fatalf("only %d audit lines carry a call_id", withID)
	}
}

// A slow call with a progressToken hears the slow sentence before its
// result; a quick one hears nothing.
func TestSlowSentenceEndToEnd(t *testing.T) {
	up := newPhoneUpstream(t)
	srv := serve(t, phoneConfig(up.URL, filepath.Join(t.TempDir(), "audit.jsonl")))
	for _, kind := range clientMatrix() {
		t.Run(kind.Name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			c := kind.Connect(t, ctx, srv.target)
			defer c.Close()
			tools, err := c.ListTools(ctx)
			if err != nil {
				t.Fatal(err)
			}
			_ = tools
			res, notes := metaCall(ctx, t, c, "helpdesk_wait", map[string]any{"for": "600ms"}, nil, "slow-1")
			if res.IsError {
				t.Fatalf("slow call = %+v", res)
			}
			if len(notes) == 0 {
				t.Fatal("no progress arrived before the result of a 600 ms call (slow.after 150ms)")
			}
			for _, n := range notes {
				if n["message"] != "Sigue tardando, gracias por esperar." {
					t.Fatalf("progress = %v", n)
				}
			}
			_, notes = metaCall(ctx, t, c, "helpdesk_wait", map[string]any{"for": "0s"}, nil, "fast-1")
			time.Sleep(300 * time.Millisecond)
			if late := c.(interface{ notesOf(string) int }).notesOf("fast-1"); len(notes) != 0 || late != 0 {
				t.Fatalf("a quick call got progress: %v (%d in all)", notes, late)
			}
		})
	}
}

func (m *mcpgoClient) notesOf(token string) int { return len(m.progress.of(token)) }
func (g *sdkClient) notesOf(token string) int   { return len(g.progress.of(token)) }

// The speech a platform can say is in tools/list, exactly as the SPEC shows.
func TestSpeechInToolsListEndToEnd(t *testing.T) {
	up := newPhoneUpstream(t)
	srv := serve(t, phoneConfig(up.URL, filepath.Join(t.TempDir(), "audit.jsonl")))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c := sdkConnect("streamable", "2025-06-18")(t, ctx, srv.target).(*sdkClient)
	defer c.Close()
	res, err := c.s.ListTools(ctx, &sdk.ListToolsParams{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tl := range res.Tools {
		b, _ := json.Marshal(tl.Meta["io.switchboard/speech"])
		if want := `{"slow":{"after_ms":150,"say":"Sigue tardando, gracias por esperar."},"start":"Un momento, lo compruebo."}`; string(b) != want {
			t.Fatalf("%s speech = %s, want %s", tl.Name, b, want)
		}
	}
}

// Five identical reads in flight make one upstream request; each is audited
// as shared.
func TestCoalescingEndToEnd(t *testing.T) {
	up := newPhoneUpstream(t)
	audit := filepath.Join(t.TempDir(), "audit.jsonl")
	srv := serve(t, phoneConfig(up.URL, audit))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	clients := []client{
		mcpgoConnect("streamable", "2025-06-18")(t, ctx, srv.target),
		sdkConnect("streamable", mcpgo.ProtocolVersion20260728)(t, ctx, srv.target),
		sdkConnect("sse", "2024-11-05")(t, ctx, srv.target),
	}
	for _, c := range clients {
		defer c.Close()
	}
	var wg sync.WaitGroup
	results := make([]callResult, 5)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], _ = metaCall(ctx, t, clients[i%len(clients)], "helpdesk_read", map[string]any{"q": "stock"}, map[string]any{"call_id": "c-5"}, "")
		}()
	}
	wg.Wait()
	if n := up.reads.Load(); n != 1 {
		t.Fatalf("5 identical reads made %d upstream requests, want 1", n)
	}
	for i, r := range results {
		if r.IsError || r.Structured["read"] != 1.0 {
			t.Fatalf("result %d = %+v", i, r)
		}
	}
	// Another call id is another request.
	metaCall(ctx, t, clients[0], "helpdesk_read", map[string]any{"q": "stock"}, map[string]any{"call_id": "c-6"}, "")
	if n := up.reads.Load(); n != 2 {
		t.Fatalf("reads = %d, want 2", n)
	}
	_, lines := readPhoneAudit(t, audit)
	shared := 0
	for _, l := range lines {
		if l["shared"] == true {
			shared++
		}
	}
	if shared != 5 {
		t.Fatalf("%d audit lines marked shared, want 5", shared)
	}
}

// A repeated ticket within dedupe opens one; another call id or other
// arguments open another; a failed first attempt is tried again.
func TestDedupeEndToEnd(t *testing.T) {
	up := newPhoneUpstream(t)
	audit := filepath.Join(t.TempDir(), "audit.jsonl")
	srv := serve(t, phoneConfig(up.URL, audit))
	for _, kind := range []clientKind{clientMatrix()[1], clientMatrix()[5], clientMatrix()[9]} {
		t.Run(kind.Name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			c := kind.Connect(t, ctx, srv.target)
			defer c.Close()
			start := up.tickets.Load()
			callID := map[string]any{"call_id": "c-" + kind.Name}
			first, _ := metaCall(ctx, t, c, "helpdesk_ticket", map[string]any{"subject": "Pedido perdido"}, callID, "")
			again, _ := metaCall(ctx, t, c, "helpdesk_ticket", map[string]any{"subject": "Pedido perdido"}, callID, "")
			if first.IsError || again.Text != first.Text {
				t.Fatalf("first %+v, repeat %+v", first, again)
			}
			if n := up.tickets.Load() - start; n != 1 {
				t.Fatalf("a repeated ticket opened %d tickets", n)
			}
			metaCall(ctx, t, c, "helpdesk_ticket", map[string]any{"subject": "Pedido perdido"}, map[string]any{"call_id": "other-" + kind.Name}, "")
			metaCall(ctx, t, c, "helpdesk_ticket", map[string]any{"subject": "Otro"}, callID, "")
			if n := up.tickets.Load() - start; n != 3 {
				t.Fatalf("another call id and other arguments: %d tickets, want 3", n)
			}
		})
	}
	// A failed first attempt is not remembered.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c := mcpgoConnect("streamable", "2025-06-18")(t, ctx, srv.target)
	defer c.Close()
	start := up.tickets.Load()
	failed, _ := metaCall(ctx, t, c, "helpdesk_ticket", map[string]any{"subject": "fail-once"}, map[string]any{"call_id": "c-f"}, "")
	retry, _ := metaCall(ctx, t, c, "helpdesk_ticket", map[string]any{"subject": "fail-once"}, map[string]any{"call_id": "c-f"}, "")
	if !failed.IsError || retry.IsError || up.tickets.Load()-start != 1 {
		t.Fatalf("failed %+v, retry %+v, tickets %d", failed, retry, up.tickets.Load()-start)
	}
	_, lines := readPhoneAudit(t, audit)
	dedup := 0
	for _, l := range lines {
		if l["decision"] == "deduplicated" {
			dedup++
		}
	}
	if dedup != 3 {
		t.Fatalf("%d audit lines say deduplicated, want 3", dedup)
	}
}

// For a type: mcp tool, speech comes from the integration: the upstream's own
// progress passes as always, and the slow sentence is added only in the
// intervals in which the upstream said nothing.
func TestSlowSentenceMCPIntegration(t *testing.T) {
	s := sdk.NewServer(&sdk.Implementation{Name: "jobs", Version: "1"}, nil)
	sdk.AddTool(s, &sdk.Tool{Name: "chatty", Description: "Reports progress at once, then works 500 ms."},
		func(ctx context.Context, req *sdk.CallToolRequest, _ struct{}) (*sdk.CallToolResult, any, error) {
			if token := req.Params.GetProgressToken(); token != nil {
				_ = req.Session.NotifyProgress(ctx, &sdk.ProgressNotificationParams{ProgressToken: token, Progress: 1, Message: "buscando el pedido"})
			}
			time.Sleep(500 * time.Millisecond)
			return &sdk.CallToolResult{Content: []sdk.Content{&sdk.TextContent{Text: "ok"}}}, nil, nil
		})
	sdk.AddTool(s, &sdk.Tool{Name: "silent", Description: "Works 500 ms without a word."},
		func(ctx context.Context, req *sdk.CallToolRequest, _ struct{}) (*sdk.CallToolResult, any, error) {
			time.Sleep(500 * time.Millisecond)
			return &sdk.CallToolResult{Content: []sdk.Content{&sdk.TextContent{Text: "ok"}}}, nil, nil
		})
	up := httptest.NewServer(sdk.NewStreamableHTTPHandler(func(*http.Request) *sdk.Server { return s }, nil))
	defer up.Close()
	srv := serve(t, "integrations:\n  - name: jobs\n    type: mcp\n    url: "+up.URL+"\n    timeout: 30s\n"+
		"    speech: {start: Un momento., slow: {after: 200ms, say: Sigue tardando.}}\n")

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c := mcpgoConnect("streamable", "2025-06-18")(t, ctx, srv.target).(*mcpgoClient)
	defer c.Close()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		res, err := c.c.ListTools(ctx, mcpgo.ListToolsRequest{})
		if err == nil && len(res.Tools) == 2 {
			for _, tl := range res.Tools {
				b, _ := json.Marshal(tl.Meta)
				if want := `{"io.switchboard/speech":{"slow":{"after_ms":200,"say":"Sigue tardando."},"start":"Un momento."}}`; string(b) != want {
					t.Fatalf("%s _meta = %s, want %s", tl.Name, b, want)
				}
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("jobs tools never appeared: %v", err)
		}
	}
	messages := func(notes []map[string]any) (upstream, ours int) {
		for _, n := range notes {
			switch n["message"] {
			case "buscando el pedido":
				upstream++
			case "Sigue tardando.":
				ours++
			}
		}
		return
	}
	_, notes := metaCall(ctx, t, c, "jobs_chatty", nil, nil, "chatty-1")
	// The upstream spoke at 0 ms: the 200 ms tick is left out, the 400 ms
	// one is not (policy/speech_test.go pins the intervals exactly).
	chattyU, chattyO := messages(notes)
	_, notes = metaCall(ctx, t, c, "jobs_silent", nil, nil, "silent-1")
	silentU, silentO := messages(notes)
	if chattyU != 1 || chattyO < 1 || silentU != 0 || silentO < 2 || chattyO >= silentO {
		t.Fatalf("chatty: upstream %d (want 1), slow %d (want ≥1); silent: upstream %d, slow %d (want ≥2 and more than chatty)",
			chattyU, chattyO, silentU, silentO)
	}
}
