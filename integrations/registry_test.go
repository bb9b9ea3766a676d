package integrations

import (
	"context"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/mark3labs/mcp-go/mcp"
)

type logCount struct{ warns atomic.Int32 }

func (l *logCount) Enabled(context.Context, slog.Level) bool { return true }
func (l *logCount) Handle(_ context.Context, r slog.Record) error {
	if r.Level == slog.LevelWarn {
		l.warns.Add(1)
	}
	return nil
}
func (l *logCount) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *logCount) WithGroup(string) slog.Handler      { return l }

func tool(integration, name string) *Tool {
	return &Tool{Definition: mcp.NewTool(integration + "_" + name), Integration: integration}
}

func names(ts []*Tool) string {
	var out []string
	for _, t := range ts {
		out = append(out, t.Name())
	}
	return strings.Join(out, ",")
}

// Discovered tools obey the rules declared ones do: a name over 64
// characters, a name with other characters, a name another integration
// already has and a name listed twice are left out, logged once each, and
// the rest are exposed.
func TestRegistryNameRules(t *testing.T) {
	logs := &logCount{}
	r := NewRegistry([]string{"a", "a_b", "remoto"}, nil, slog.New(logs))
	r.Set("a", []*Tool{tool("a", "b_c")})
	long := tool("remoto", strings.Repeat("x", 70))
	discovered := []*Tool{tool("remoto", "ok"), long, tool("remoto", "bad name!"), tool("remoto", "ok")}
	r.Set("remoto", discovered)
	r.Set("a_b", []*Tool{tool("a_b", "c"), tool("a_b", "d")})
	if got := names(r.All()); got != "a_b_c,a_b_d,remoto_ok" {
		t.Fatalf("exposed %s", got)
	}
	if n := logs.warns.Load(); n != 4 {
		t.Fatalf("%d warnings, want 4 (long, bad characters, listed twice, collision)", n)
	}
	r.Set("remoto", discovered) // rediscovery: nothing new to say
	if n := logs.warns.Load(); n != 4 {
		t.Fatalf("%d warnings after the same tools were discovered again, want still 4", n)
	}
	if _, ok := r.Lookup(long.Name()); ok {
		t.Fatal("a 77-character name can be called")
	}
}

func TestRegistryOrderVisibilityAndWatch(t *testing.T) {
	hidden := map[string]bool{"crm_delete": true}
	r := NewRegistry([]string{"helpdesk", "crm"}, func(t *Tool) *Tool {
		if hidden[t.Name()] {
			return nil
		}
		return t
	}, nil)
	changes := 0
	r.Watch(func() { changes++ })
	r.Set("crm", []*Tool{tool("crm", "find"), tool("crm", "delete")})
	r.Set("helpdesk", []*Tool{tool("helpdesk", "ticket")})
	if got := names(r.All()); got != "helpdesk_ticket,crm_find" {
		t.Fatalf("order %s, want config order", got)
	}
	if got := names(r.Visible(Caller{Integrations: map[string]bool{"crm": true}})); got != "crm_find" {
		t.Fatalf("visible to a crm-only client: %s", got)
	}
	if got := names(r.Visible(Caller{})); got != "helpdesk_ticket,crm_find" {
		t.Fatalf("visible to an unrestricted client: %s", got)
	}
	r.Set("crm", nil)
	if _, ok := r.Lookup("crm_find"); ok || changes != 3 {
		t.Fatalf("after the upstream dropped its tools: lookup=%v changes=%d", ok, changes)
	}
}
