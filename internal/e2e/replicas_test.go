package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchboard-dev/switchboard/internal/testredis"
)

// replicaSet is three switchboard processes (the built binary) sharing one
// real Redis, and a round-robin reverse proxy in front of them, as a load
// balancer without session affinity would spread requests.
type replicaSet struct {
	redis    *testredis.Server
	up       *upstream
	replicas []string // base URLs
	proxy    *httptest.Server
	hits     []atomic.Int64
}

const replicaConfirmKey = "replica-shared-confirmation-key-0123456789"

func replicaConfig(redisURL, upstreamURL string) string {
	return `
server:
  name: switchboard-replicas
  call_headers: {call_id: X-Call-Id}
  call_rate_limit: {per_second: 0.0001, burst: 4}
state:
  backend: redis
  redis: {url: "` + redisURL + `", key_prefix: "e2e:"}
policy:
  confirmation: {mode: token, ttl: 2m, key: "env:SB_CONFIRM_KEY"}
integrations:
  - name: helpdesk
    type: http
    base_url: ` + upstreamURL + `/api
    auth: {type: bearer, secret: "env:E2E_HELPDESK_TOKEN"}
    tools:
      - name: get_customer
        description: Get one customer by id.
        method: GET
        path: /customers/{id}
        params: [{name: id, in: path, type: string, required: true}]
      - name: create_ticket
        description: Open a ticket.
        method: POST
        path: /tickets
        dedupe: 30s
        params: [{name: subject, type: string, required: true}]
      - name: refund
        description: Refund an order.
        method: POST
        path: /tickets
        params: [{name: subject, type: string, required: true}]
        confirm: {message: "Do you confirm the refund {{.subject}}?"}
`
}

func startReplicas(t *testing.T, n int) *replicaSet {
	t.Helper()
	rs := &replicaSet{redis: testredis.Start(t), up: newUpstream(t), hits: make([]atomic.Int64, n)}
	file := filepath.Join(t.TempDir(), "switchboard.yaml")
	if err := os.WriteFile(file, []byte(replicaConfig(rs.redis.URL(), rs.up.URL)), 0o600); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		rs.replicas = append(rs.replicas, startProcess(t, file, fmt.Sprintf("replica-%d", i+1)))
	}
	var next atomic.Int64
	targets := make([]*url.URL, n)
	for i, r := range rs.replicas {
		targets[i], _ = url.Parse(r)
	}
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			i := int(next.Add(1)-1) % n
			rs.hits[i].Add(1)
			pr.SetURL(targets[i])
			pr.Out.Host = targets[i].Host
		},
		FlushInterval: -1, // SSE answers stream through
	}
	rs.proxy = httptest.NewServer(rp)
	t.Cleanup(rs.proxy.Close)
	return rs
}

// startProcess runs `switchboard serve` on a free port and waits for it to
// listen; its log goes to the test's log on failure.
func startProcess(t *testing.T, file, name string) string {
	t.Helper()
	cmd := exec.Command(binary, "serve", "--config", file, "--transport", "http", "--listen", "127.0.0.1:0", "--log-format", "json")
	cmd.Env = append(os.Environ(), "E2E_HELPDESK_TOKEN="+upstreamToken, "SB_CONFIRM_KEY="+replicaConfirmKey)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	found := make(chan string, 1)
	var logs strings.Builder
	var mu sync.Mutex
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			mu.Lock()
			logs.WriteString(sc.Text() + "\n")
			mu.Unlock()
			var line map[string]any
			if json.Unmarshal(sc.Bytes(), &line) == nil && line["msg"] == "serving over HTTP" {
				u, _ := line["mcp"].(string)
				found <- strings.TrimSuffix(u, "/mcp")
			}
		}
	}()
	select {
	case u := <-found:
		return u
	case <-time.After(30 * time.Second):
		mu.Lock()
		defer mu.Unlock()
		t.Fatalf("%s did not start:\n%s", name, logs.String())
		return ""
	}
}

func (rs *replicaSet) posts(path string) int {
	n := 0
	for _, r := range rs.up.requests() {
		if r.Method == "POST" && r.Path == path {
			n++
		}
	}
	return n
}

// A handshake-era session opened through the proxy is served by every
// replica, in each revision of the era; a DELETE on one is 404 on all.
func TestReplicasShareSessions(t *testing.T) {
	rs := startReplicas(t, 3)
	kinds := []string{"go-sdk/streamable/2025-06-18", "go-sdk/streamable/2025-03-26", "mcp-go/streamable/2025-06-18"}
	for _, k := range clientMatrix() {
		if !contains(kinds, k.Name) {
			continue
		}
		t.Run(k.Name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			before := make([]int64, len(rs.hits))
			for i := range rs.hits {
				before[i] = rs.hits[i].Load()
			}
			c := k.Connect(t, ctx, target{BaseURL: rs.proxy.URL})
			defer c.Close()
			for range 6 {
				if _, err := c.ListTools(ctx); err != nil {
					t.Fatalf("tools/list through the proxy: %v", err)
				}
				res, err := c.Call(ctx, "helpdesk_get_customer", map[string]any{"id": "c-1"})
				if err != nil || res.IsError || !strings.Contains(res.Text, "Ana García") {
					t.Fatalf("call through the proxy: %+v %v", res, err)
				}
			}
			for i := range rs.hits {
				if rs.hits[i].Load() == before[i] {
					t.Fatalf("replica %d served none of the session's requests", i+1)
				}
			}
		})
	}

	// Raw: open a session on replica 1, end it on replica 2, ask all three.
	resp := post(t, rs.replicas[0]+"/mcp", initBody, nil)
	sid := resp.Header.Get("Mcp-Session-Id")
	if resp.StatusCode != 200 || sid == "" {
		t.Fatalf("initialize on replica 1: %d %q", resp.StatusCode, sid)
	}
	hdr := map[string]string{"Mcp-Session-Id": sid, "Mcp-Protocol-Version": "2025-06-18"}
	list := `{"jsonrpc":"2.0","id":2,"method":"tools/list"}`
	for i, r := range rs.replicas {
		if got := post(t, r+"/mcp", list, hdr); got.StatusCode != 200 {
			t.Fatalf("replica %d does not know the session opened on replica 1: %d", i+1, got.StatusCode)
		}
	}
	del, _ := http.NewRequest("DELETE", rs.replicas[1]+"/mcp", nil)
	for k, v := range hdr {
		del.Header.Set(k, v)
	}
	dr, err := http.DefaultClient.Do(del)
	if err != nil {
		t.Fatal(err)
	}
	dr.Body.Close()
	for i, r := range rs.replicas {
		if got := post(t, r+"/mcp", list, hdr); got.StatusCode != 404 {
			t.Fatalf("replica %d after DELETE on replica 2: %d, want 404", i+1, got.StatusCode)
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// stateless is a 2026-07-28 client of one replica: its requests are
// stateless, so a confirmation is bound to the client, not a session.
func stateless(t *testing.T, ctx context.Context, base string, header http.Header) client {
	t.Helper()
	for _, k := range clientMatrix() {
		if k.Name == "mcp-go/streamable/2026-07-28" {
			return k.Connect(t, ctx, target{BaseURL: base, Header: header})
		}
	}
	t.Fatal("no stateless client in the matrix")
	return nil
}

func tokenOf(t *testing.T, res callResult) string {
	t.Helper()
	tok, _ := res.Structured["confirmation_token"].(string)
	if res.IsError || tok == "" {
		t.Fatalf("want a confirmation token, got %+v", res)
	}
	return tok
}

// A token issued on replica 1 runs once on replica 2 and is refused on
// replica 3; presented 12 times at once across the three, it runs once.
func TestReplicasConfirmOnce(t *testing.T) {
	rs := startReplicas(t, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cs := make([]client, 3)
	for i, r := range rs.replicas {
		cs[i] = stateless(t, ctx, r, nil)
		defer cs[i].Close()
	}
	args := map[string]any{"subject": "A-1"}
	first, err := cs[0].Call(ctx, "helpdesk_refund", args)
	if err != nil {
		t.Fatal(err)
	}
	tok := tokenOf(t, first)
	withTok := map[string]any{"subject": "A-1", "confirmation_token": tok}
	if res, err := cs[1].Call(ctx, "helpdesk_refund", withTok); err != nil || res.IsError || rs.posts("/api/tickets") != 1 {
		t.Fatalf("replica 2 did not run replica 1's token: %+v %v (posts %d)", res, err, rs.posts("/api/tickets"))
	}
	res, err := cs[2].Call(ctx, "helpdesk_refund", withTok)
	if err != nil || !strings.Contains(res.Text, "already used") || rs.posts("/api/tickets") != 1 {
		t.Fatalf("replica 3 accepted a spent token: %+v %v (posts %d)", res, err, rs.posts("/api/tickets"))
	}

	for round := range 4 {
		subject := fmt.Sprintf("B-%d", round)
		first, err := cs[round%3].Call(ctx, "helpdesk_refund", map[string]any{"subject": subject})
		if err != nil {
			t.Fatal(err)
		}
		tok := tokenOf(t, first)
		before := rs.posts("/api/tickets")
		var wg sync.WaitGroup
		for i := range 12 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, _ = cs[i%3].Call(ctx, "helpdesk_refund", map[string]any{"subject": subject, "confirmation_token": tok})
			}()
		}
		wg.Wait()
		if got := rs.posts("/api/tickets") - before; got != 1 {
			t.Fatalf("round %d: 12 concurrent presentations across 3 replicas ran the refund %d times, want 1", round, got)
		}
	}
}

// A ticket re-sent within dedupe on each of three replicas is opened once.
func TestReplicasDedupe(t *testing.T) {
	rs := startReplicas(t, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for i, r := range rs.replicas {
		c := stateless(t, ctx, r, http.Header{"X-Call-Id": {"call-77"}})
		res, err := c.Call(ctx, "helpdesk_create_ticket", map[string]any{"subject": "the router is down"})
		c.Close()
		if err != nil || res.IsError {
			t.Fatalf("replica %d: %+v %v", i+1, res, err)
		}
	}
	if got := rs.posts("/api/tickets"); got != 1 {
		t.Fatalf("the same ticket on three replicas was opened %d times, want 1", got)
	}
}

// Redis stopped mid-run: confirmed calls are refused with one sentence, read
// tools keep working, /readyz says so; Redis back: everything works again,
// with no restart.
func TestReplicasRedisOutage(t *testing.T) {
	rs := startReplicas(t, 2)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c := stateless(t, ctx, rs.replicas[0], nil)
	defer c.Close()
	tok := tokenOf(t, mustCall(t, ctx, c, "helpdesk_refund", map[string]any{"subject": "C-1"}))

	rs.redis.Stop()
	res := mustCall(t, ctx, c, "helpdesk_refund", map[string]any{"subject": "C-1", "confirmation_token": tok})
	if !res.IsError || !strings.Contains(res.Text, "cannot confirm that right now") || rs.posts("/api/tickets") != 0 {
		t.Fatalf("with Redis down a confirmed call gave %+v (posts %d)", res, rs.posts("/api/tickets"))
	}
	if res := mustCall(t, ctx, c, "helpdesk_get_customer", map[string]any{"id": "c-1"}); res.IsError {
		t.Fatalf("a read tool failed with Redis down: %q", res.Text)
	}
	if code := readyzCode(t, rs.replicas[1]); code != 503 {
		t.Fatalf("/readyz with Redis down: %d, want 503", code)
	}

	rs.redis.Restart()
	deadline := time.Now().Add(15 * time.Second)
	for readyzCode(t, rs.replicas[1]) != 200 {
		if time.Now().After(deadline) {
			t.Fatal("/readyz did not recover after Redis came back")
		}
		time.Sleep(200 * time.Millisecond)
	}
	tok = tokenOf(t, mustCall(t, ctx, c, "helpdesk_refund", map[string]any{"subject": "C-2"}))
	if res := mustCall(t, ctx, c, "helpdesk_refund", map[string]any{"subject": "C-2", "confirmation_token": tok}); res.IsError || rs.posts("/api/tickets") != 1 {
		t.Fatalf("after Redis came back: %+v (posts %d)", res, rs.posts("/api/tickets"))
	}
}

func mustCall(t *testing.T, ctx context.Context, c client, tool string, args map[string]any) callResult {
	t.Helper()
	res, err := c.Call(ctx, tool, args)
	if err != nil {
		t.Fatalf("%s: %v", tool, err)
	}
	return res
}

func readyzCode(t *testing.T, base string) int {
	code, _ := readyz(t, base)
	return code
}

// A client's rate limit holds across replicas: its calls spread over three
// replicas through the proxy are counted in one bucket in Redis.
func TestReplicasShareRateLimits(t *testing.T) {
	rs := startReplicas(t, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	// The limit is per call_id here (server.call_rate_limit) and per client
	// (an open server's client is ""): burst 4, no refill within the test.
	c := stateless(t, ctx, rs.proxy.URL, http.Header{"X-Call-Id": {"call-rl"}})
	defer c.Close()
	passed, refused := 0, 0
	for range 9 {
		res := mustCall(t, ctx, c, "helpdesk_get_customer", map[string]any{"id": "c-1"})
		switch {
		case !res.IsError:
			passed++
		case strings.Contains(res.Text, "during this phone call"):
			refused++
		default:
			t.Fatalf("unexpected answer: %q", res.Text)
		}
	}
	if passed != 4 || refused != 5 {
		t.Fatalf("9 calls of one phone call over 3 replicas: %d passed, %d refused; want 4 and 5 (one shared bucket of 4)", passed, refused)
	}
	other := stateless(t, ctx, rs.proxy.URL, http.Header{"X-Call-Id": {"call-other"}})
	defer other.Close()
	if res := mustCall(t, ctx, other, "helpdesk_get_customer", map[string]any{"id": "c-1"}); res.IsError {
		t.Fatalf("another phone call was limited too: %q", res.Text)
	}
}
