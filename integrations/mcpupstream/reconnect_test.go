package mcpupstream

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-dev/switchboard/integrations"
)

// retryIns reads the retry_in of the first n records whose message is msg.
func retryIns(t *testing.T, logs *logRecorder, msg string, n int) []time.Duration {
	t.Helper()
	var out []time.Duration
	for _, e := range logs.wait(t, msg, n) {
		d, ok := e.Attrs["retry_in"].(time.Duration)
		if !ok {
			t.Fatalf("%q without a retry_in duration: %v", msg, e.Attrs)
		}
		out = append(out, d)
	}
	return out
}

func sameDurations(a, b []time.Duration) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// closedURL is an address nothing listens on.
func closedURL(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return "http://" + addr + "/mcp"
}

// An upstream that cannot be reached is retried after 250ms, then twice as
// long each time, up to MaxBackoff; without MaxBackoff the cap is 30s (the
// waits keep doubling past 500ms).
func TestRetryBackoffDoublesUpToTheCap(t *testing.T) {
	t.Parallel()
	const msg = "upstream MCP server unavailable; retrying"
	for _, tc := range []struct {
		name string
		max  time.Duration
		want []time.Duration
	}{
		{"MaxBackoff 500ms", 500 * time.Millisecond, []time.Duration{250 * time.Millisecond, 500 * time.Millisecond, 500 * time.Millisecond}},
		{"default", 0, []time.Duration{250 * time.Millisecond, 500 * time.Millisecond, time.Second}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			logs := &logRecorder{}
			u := mustNew(t, integration(t, plainYAML(closedURL(t))), Deps{MaxBackoff: tc.max, Logger: logs.logger()})
			run(t, u)
			if got := retryIns(t, logs, msg, len(tc.want)); !sameDurations(got, tc.want) {
				t.Fatalf("waits %v, want %v", got, tc.want)
			}
		})
	}
}

// pingFailing is a handshake-era upstream that answers everything but ping,
// so that each connection is lost at the first ping.
func pingFailing(t *testing.T) *fakeMCP {
	return newFakeMCP(t, func(w http.ResponseWriter, r *http.Request, method string, params json.RawMessage) (any, map[string]any, bool) {
		switch method {
		case "initialize":
			return legacyInit(w), nil, true
		case "notifications/initialized":
			return nil, nil, true
		case "tools/list":
			return map[string]any{"tools": []any{echoTool("echo")}}, nil, true
		case "ping":
			return nil, map[string]any{"code": -32603, "message": "no"}, true
		}
		return nil, nil, false
	})
}

// A connection that is lost soon after it was made does not reset the
// backoff: an upstream that drops every connection at once is reconnected
// to less and less often. One that stayed up for MaxBackoff starts again
// from 250ms.
func TestReconnectBackoffAfterALostConnection(t *testing.T) {
	t.Parallel()
	const msg = "reconnecting to upstream MCP server"
	for _, tc := range []struct {
		name      string
		ping, max time.Duration
		want      []time.Duration
	}{
		// Lost after ~20ms, well short of MaxBackoff: 250ms, then 500ms.
		{"lost at once", 20 * time.Millisecond, 5 * time.Second, []time.Duration{250 * time.Millisecond, 500 * time.Millisecond}},
		// Up for the ping interval (200ms), longer than MaxBackoff (150ms):
		// the wait starts again from 250ms, never 150ms.
		{"lost after MaxBackoff", 200 * time.Millisecond, 150 * time.Millisecond, []time.Duration{250 * time.Millisecond, 250 * time.Millisecond}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			up := pingFailing(t)
			logs := &logRecorder{}
			u := mustNew(t, integration(t, plainYAML(up.URL+"/mcp")), Deps{PingInterval: tc.ping, MaxBackoff: tc.max, Logger: logs.logger()})
			run(t, u)
			if got := retryIns(t, logs, msg, len(tc.want)); !sameDurations(got, tc.want) {
				t.Fatalf("waits %v, want %v", got, tc.want)
			}
			if w := logs.with("upstream stopped answering"); len(w) == 0 {
				t.Fatalf("a failed ping was not logged:\n%s", logs)
			}
		})
	}
}

// Run returns once its context ends, also while it waits to reconnect and
// after a connection was made, and leaves the upstream disconnected.
func TestRunStopsWithItsContext(t *testing.T) {
	t.Parallel()
	up := statelessEcho(t, []any{echoTool("echo")}, nil)
	u := mustNew(t, integration(t, plainYAML(up.URL+"/mcp")), Deps{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		u.Run(ctx)
	}()
	if err := u.WaitStarted(ctx); err != nil {
		t.Fatal(err)
	}
	cancel()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
	if s := u.State(); s.Status != "reconnecting" || s.Tools != 1 {
		t.Fatalf("state after Run returned: %+v", s)
	}
	_, err := call(t, u, "crm_echo", map[string]any{"text": "x"})
	if !strings.Contains(integrations.PublicMessage(err), "crm is unavailable right now (switchboard is reconnecting)") ||
		!strings.HasSuffix(err.Error(), ": connection lost") {
		t.Fatalf("call after Run returned: %v (want the reason the connection ended, for the log)", err)
	}
}
