package policy

import (
	"bytes"
	"context"
	"encoding/json"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/switchboard-dev/switchboard/configs"
	"github.com/switchboard-dev/switchboard/integrations"
)

// counting is a tool handler that counts the calls that reached it; gate,
// when set, holds each call until it is closed; fail makes the next calls
// fail until it is cleared.
type counting struct {
	n    atomic.Int32
	gate chan struct{}
	fail atomic.Bool
	// started gets a value as each call starts; ended, when set, as each
	// returns.
	started, ended chan struct{}
}

func (h *counting) Call(ctx context.Context, c *integrations.Call) (*mcp.CallToolResult, error) {
	n := h.n.Add(1)
	if h.ended != nil {
		defer func() { h.ended <- struct{}{} }()
	}
	if h.started != nil {
		h.started <- struct{}{}
	}
	if h.gate != nil {
		select {
		case <-h.gate:
		case <-ctx.Done():
			return nil, integrations.Cancelled("helpdesk", ctx.Err())
		}
	}
	if h.fail.Load() {
		return nil, integrations.UpstreamStatus("helpdesk", 503, "", nil)
	}
	return mcp.NewToolResultStructured(map[string]any{"ticket": n}, "ticket "+string(rune('0'+n))), nil
}

// phoneTool is a tool as httpapi builds it, exposed through a policy.
type phoneFixture struct {
	p     *Policy
	tool  *integrations.Tool
	audit *bytes.Buffer
	mu    sync.Mutex
}

func newPhoneFixture(t *testing.T, tool *integrations.Tool, deps Deps) *phoneFixture {
	t.Helper()
	f := &phoneFixture{audit: &bytes.Buffer{}}
	deps.Audit = NewAudit(&lockedWriter{w: f.audit, mu: &f.mu}, nil)
	p, err := New(configs.Policy{Confirmation: configs.Confirmation{Mode: "token", TTL: time.Minute}}, deps)
	if err != nil {
		t.Fatal(err)
	}
	if tool.Definition.Name == "" {
		tool.Definition = mcp.NewToolWithRawSchema("helpdesk_tool", "A tool.", json.RawMessage(`{"type":"object"}`))
	}
	if tool.Integration == "" {
		tool.Integration = "helpdesk"
	}
	f.p, f.tool = p, p.Expose(tool)
	return f
}

type lockedWriter struct {
	w  *bytes.Buffer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

func (f *phoneFixture) lines(t *testing.T) []map[string]any {
	f.mu.Lock()
	defer f.mu.Unlock()
	return auditLines(t, f.audit.Bytes())
}

// call makes a call as the edge builds it.
func (f *phoneFixture) call(ctx context.Context, args map[string]any, callCtx map[string]string, mod ...func(*integrations.Call)) (*mcp.CallToolResult, *integrations.Call) {
	b, _ := json.Marshal(args)
	c := integrations.NewCall(f.tool, mcp.CallToolParams{Name: f.tool.Name(), RawArguments: b})
	c.Caller = integrations.Caller{ClientID: "voice"}
	c.Context = callCtx
	for _, m := range mod {
		m(c)
	}
	res, _ := f.tool.Handler.Call(ctx, c)
	return res, c
}
