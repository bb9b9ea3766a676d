package app

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/switchboard-dev/switchboard/internal/testredis"
)

// stateConfig is one read tool, one confirmed tool and a rate-limited call,
// with the state in memory or in the Redis at redisURL.
func stateConfig(upstream, redisURL string) []byte {
	st := ""
	if redisURL != "" {
		st = "state: {backend: redis, redis: {url: \"" + redisURL + "\"}}\n"
	}
	return []byte(st + `
server:
  call_rate_limit: {per_second: 1000000, burst: 1000000}
policy:
  confirmation: {mode: token, key: "env:CONFIRM_KEY"}
integrations:
  - name: shop
    type: http
    base_url: ` + upstream + `
    tools:
      - {name: order, description: Get an order., method: GET, path: /order}
      - name: refund
        description: Refund.
        method: POST
        path: /refund
        params: [{name: id, type: string, required: true}]
        confirm: {message: "Refund {{.id}}?"}
`)
}

func stateEnv(k string) string {
	if k == "CONFIRM_KEY" {
		return "0123456789abcdef0123456789abcdef"
	}
	return ""
}

func stateUpstream(tb testing.TB) (*httptest.Server, *atomic.Int64) {
	var n atomic.Int64
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"ok":true}`)
	}))
	tb.Cleanup(up.Close)
	return up, &n
}

func redisCommands(t testing.TB, c *redis.Client) int {
	t.Helper()
	info, err := c.Info(context.Background(), "stats").Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(info, "\r\n") {
		if v, ok := strings.CutPrefix(line, "total_commands_processed:"); ok {
			n, _ := strconv.Atoi(v)
			return n
		}
	}
	t.Fatal("no total_commands_processed in INFO")
	return 0
}

// The state costs only what it must: a call that needs nothing shared (a
// read without a call_id, from the command line) makes no Redis round trip;
// a confirmed one does.
func TestNoRedisRoundTripWithoutSharedState(t *testing.T) {
	r := testredis.Start(t)
	up, _ := stateUpstream(t)
	a, err := Open(context.Background(), Source{YAML: stateConfig(up.URL, r.URL())}, Options{Getenv: stateEnv})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	rc := r.Client()
	redisCommands(t, rc) // connect
	before := redisCommands(t, rc)
	for range 10 {
		if res, err := a.Call(context.Background(), "shop_order", []byte(`{}`), nil); err != nil || res.IsError {
			t.Fatalf("%+v %v", res, err)
		}
	}
	// INFO itself is one command.
	if got := redisCommands(t, rc) - before; got != 1 {
		t.Fatalf("10 plain reads made %d Redis commands, want none", got-1)
	}
	res, _ := a.Call(context.Background(), "shop_refund", []byte(`{"id":"A-1"}`), nil)
	tok := res.StructuredContent.(map[string]any)["confirmation_token"].(string)
	before = redisCommands(t, rc)
	if res, err := a.Call(context.Background(), "shop_refund", []byte(`{"id":"A-1","confirmation_token":"`+tok+`"}`), nil); err != nil || res.IsError {
		t.Fatalf("%+v %v", res, err)
	}
	if got := redisCommands(t, rc) - before; got < 2 {
		t.Fatal("a confirmed call made no Redis round trip: single use is not shared")
	}
}

// What the shared state adds to a call: a confirmed call (the token's
// single use) and a rate-limited call (its bucket), with the state in
// memory and in a Redis on loopback. Compare the pairs of one run.
func BenchmarkSharedState(b *testing.B) {
	r := testredis.Start(b)
	up, _ := stateUpstream(b)
	for _, backend := range []string{"memory", "redis"} {
		url := ""
		if backend == "redis" {
			url = r.URL()
		}
		a, err := Open(context.Background(), Source{YAML: stateConfig(up.URL, url)}, Options{Getenv: stateEnv})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { a.Close() })
		ctx := context.Background()
		b.Run("confirmed/"+backend, func(b *testing.B) {
			i := 0
			for b.Loop() {
				b.StopTimer()
				args := fmt.Sprintf(`{"id":"A-%d"}`, i)
				i++
				res, _ := a.Call(ctx, "shop_refund", []byte(args), nil)
				tok := res.StructuredContent.(map[string]any)["confirmation_token"].(string)
				b.StartTimer()
				res, err := a.Call(ctx, "shop_refund", []byte(args[:len(args)-1]+`,"confirmation_token":"`+tok+`"}`), nil)
				if err != nil || res.IsError {
					b.Fatalf("%+v %v", res, err)
				}
			}
		})
		b.Run("rate-limited/"+backend, func(b *testing.B) {
			cc := map[string]string{"call_id": "bench"}
			for b.Loop() {
				if res, err := a.Call(ctx, "shop_order", []byte(`{}`), cc); err != nil || res.IsError {
					b.Fatalf("%+v %v", res, err)
				}
			}
		})
	}
}
