package policy

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/switchboard-dev/switchboard/configs"
	"github.com/switchboard-dev/switchboard/integrations"
)

type failing struct{}

func (failing) Allow(context.Context, string, Rate) (bool, time.Duration, error) {
	return false, 0, errors.New("store down")
}

func limitedTool(t *testing.T, cfg *configs.Config, l *Limits, block chan struct{}) *integrations.Tool {
	t.Helper()
	tool := &integrations.Tool{Definition: mcp.Tool{Name: "crm_find"}, Integration: "crm",
		Handler: integrations.HandlerFunc(func(ctx context.Context, c *integrations.Call) (*mcp.CallToolResult, error) {
			if block != nil {
				<-block
			}
			return mcp.NewToolResultText("ok"), nil
		})}
	p, err := New(configs.Policy{}, Deps{Limits: l.For(cfg)})
	if err != nil {
		t.Fatal(err)
	}
	return p.Expose(tool)
}

func call(t *testing.T, tool *integrations.Tool, client string) (*mcp.CallToolResult, *integrations.Call) {
	c := &integrations.Call{Tool: tool.Name(), Args: map[string]any{}, Caller: integrations.Caller{ClientID: client}}
	res, err := tool.Handler.Call(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	return res, c
}

func TestClientRateLimit(t *testing.T) {
	cfg := &configs.Config{Server: configs.Server{Clients: []configs.Client{{ID: "voice", RateLimit: &configs.RateLimit{PerSecond: 0.01, Burst: 2}}}}}
	reg := prometheus.NewRegistry()
	l := NewLimits(nil, reg)
	tool := limitedTool(t, cfg, l, nil)
	for range 2 {
		if res, _ := call(t, tool, "voice"); res.IsError {
			t.Fatal(text(res))
		}
	}
	res, c := call(t, tool, "voice")
	if !res.IsError || !strings.Contains(text(res), "Too many tool calls from this agent") || c.Decision != "limited" || c.Reason != LimitClientRate {
		t.Fatalf("over the rate: %q %s %s", text(res), c.Decision, c.Reason)
	}
	if res, _ := call(t, tool, "ops"); res.IsError {
		t.Fatal("another client was limited")
	}
	// A limiter whose store fails lets calls through.
	l2 := NewLimits(failing{}, nil)
	if res, _ := call(t, limitedTool(t, cfg, l2, nil), "voice"); res.IsError {
		t.Fatal("a failing limiter refused the call")
	}
}

func TestConcurrencyLimits(t *testing.T) {
	cfg := &configs.Config{
		Server:       configs.Server{Clients: []configs.Client{{ID: "voice", MaxConcurrent: 1}}},
		Integrations: []configs.Integration{{Name: "crm", MaxConcurrent: 2}},
	}
	l := NewLimits(nil, nil)
	block := make(chan struct{})
	tool := limitedTool(t, cfg, l, block)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); call(t, tool, "voice") }()
	go func() { defer wg.Done(); call(t, tool, "ops") }()
	deadline := time.Now().Add(2 * time.Second)
	for {
		l.mu.Lock()
		n := l.flight["integration:crm"]
		l.mu.Unlock()
		if n == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("calls did not start")
		}
		time.Sleep(time.Millisecond)
	}
	if res, c := call(t, tool, "voice"); !strings.Contains(text(res), "already has too many tool calls running") || c.Reason != LimitClientConcurrency {
		t.Fatalf("client: %q", text(res))
	}
	if res, c := call(t, tool, "other"); !strings.Contains(text(res), "crm is handling too many calls") || c.Reason != LimitIntegrationConc {
		t.Fatalf("integration: %q", text(res))
	}
	close(block)
	wg.Wait()
	if res, _ := call(t, tool, "voice"); res.IsError {
		t.Fatal("slots were not given back")
	}
}

// server.call_rate_limit counts each phone call (call_id) on its own; a
// call without one is not counted, and without the setting nothing is.
func TestCallRateLimit(t *testing.T) {
	callWith := func(tool *integrations.Tool, id string) *mcp.CallToolResult {
		c := &integrations.Call{Tool: tool.Name(), Args: map[string]any{}, Caller: integrations.Caller{ClientID: "voice"}}
		if id != "" {
			c.Context = map[string]string{"call_id": id}
		}
		res, err := tool.Handler.Call(context.Background(), c)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	cfg := &configs.Config{Server: configs.Server{CallRateLimit: &configs.RateLimit{PerSecond: 0.001, Burst: 1}}}
	tool := limitedTool(t, cfg, NewLimits(nil, nil), nil)
	if res := callWith(tool, "c-1"); res.IsError {
		t.Fatal(text(res))
	}
	if res := callWith(tool, "c-1"); !res.IsError || !strings.Contains(text(res), "during this phone call") {
		t.Fatalf("second call of c-1: %q", text(res))
	}
	if res := callWith(tool, "c-2"); res.IsError {
		t.Fatalf("another phone call was limited: %q", text(res))
	}
	for range 3 {
		if res := callWith(tool, ""); res.IsError {
			t.Fatalf("a call without call_id was counted: %q", text(res))
		}
	}
	unlimited := limitedTool(t, &configs.Config{}, NewLimits(nil, nil), nil)
	for range 3 {
		if res := callWith(unlimited, "c-1"); res.IsError {
			t.Fatalf("without call_rate_limit a call was limited: %q", text(res))
		}
	}
}

// A slot given back can be taken again, and nothing is kept for a key with
// no call in flight.
func TestConcurrencySlotsAreGivenBack(t *testing.T) {
	l := NewLimits(nil, nil)
	for range 3 {
		release, ok := l.acquire("client:voice", 1)
		if !ok {
			t.Fatal("the only slot was not free again")
		}
		if _, ok := l.acquire("client:voice", 1); ok {
			t.Fatal("a second slot of one was given")
		}
		release()
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.flight) != 0 {
		t.Fatalf("keys kept with no call in flight: %v", l.flight)
	}
}
