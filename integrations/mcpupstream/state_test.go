package mcpupstream

import (
	"context"
	"strings"
	"testing"
	"time"
)

// State is what /readyz and the metrics report: connecting until the first
// attempt ends, failing (with the reason) while never reached, connected
// with its tool count.
func TestState(t *testing.T) {
	t.Parallel()
	down := mustNew(t, integration(t, plainYAML(closedURL(t))), Deps{MaxBackoff: time.Second})
	if s := down.State(); s != (State{Status: "connecting"}) {
		t.Fatalf("before the first attempt: %+v", s)
	}
	run(t, down)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	err := down.WaitStarted(ctx)
	if err == nil {
		t.Fatal("WaitStarted reported an unreachable upstream as started")
	}
	if s := down.State(); s.Status != "failing" || s.Tools != 0 || s.Reason == "" || !strings.Contains(s.Reason, "connect") {
		t.Fatalf("unreachable: %+v (WaitStarted: %v)", s, err)
	}

	up := statelessEcho(t, []any{echoTool("echo"), echoTool("find")}, nil)
	u := mustNew(t, integration(t, plainYAML(up.URL+"/mcp")), Deps{})
	started(t, u)
	if s := u.State(); s != (State{Status: "connected", Tools: 2}) {
		t.Fatalf("connected: %+v", s)
	}
}
