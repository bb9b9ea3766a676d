package policy

import (
	"context"
	"sync"
	"time"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/switchboard-dev/switchboard/integrations"
)

// speech fills the silence of a slow call: when a tool with speech.slow has
// run longer than slow.after, and the client asked for progress (a
// progressToken), the client gets notifications/progress with message set to
// slow.say, and again every slow.after while the call runs. A quick call
// gets nothing. When the tool's own upstream (an MCP server) reports
// progress, that passes as always and the slow sentence is left out of every
// interval in which the upstream spoke. It runs inside confirm, so the time a
// caller takes to answer a confirmation question is not "slow".
func speech(t *integrations.Tool, next integrations.Handler) integrations.Handler {
	s := t.Speech
	if s == nil || s.SlowAfter <= 0 || s.SlowSay == "" {
		return next
	}
	return keepValidator(next, integrations.HandlerFunc(func(ctx context.Context, c *integrations.Call) (*mcp.CallToolResult, error) {
		if c.ProgressToken == nil || c.Notify == nil {
			return next.Call(ctx, c)
		}
		sp := &speaker{notify: c.Notify}
		c.Notify = sp.relay
		token := c.ProgressToken
		stop := sp.every(s.SlowAfter, func(n int) {
			sp.notify(string(mcp.MethodNotificationProgress), map[string]any{"progressToken": token, "progress": n, "message": s.SlowSay})
		})
		defer stop()
		return next.Call(ctx, c)
	}))
}

// speaker relays a call's notifications and notes when the upstream reported
// progress of its own.
type speaker struct {
	notify func(string, map[string]any)

	mu    sync.Mutex // held while a notification is sent, so they never interleave
	spoke bool       // upstream progress since the last tick
}

func (sp *speaker) relay(method string, params map[string]any) {
	sp.mu.Lock()
	defer sp.mu.Unlock()
	if method == string(mcp.MethodNotificationProgress) {
		sp.spoke = true
	}
	sp.notify(method, params)
}

// every calls say (under sp.mu) each interval until stop, unless the
// upstream spoke in that interval. stop returns once no say can run any
// more, so nothing is said after the result.
func (sp *speaker) every(interval time.Duration, say func(n int)) (stop func()) {
	tick := time.NewTicker(interval)
	quit := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		n := 0
		for {
			select {
			case <-quit:
				return
			case <-tick.C:
			}
			sp.mu.Lock()
			if !sp.spoke {
				n++
				say(n)
			}
			sp.spoke = false
			sp.mu.Unlock()
		}
	}()
	return func() {
		tick.Stop()
		close(quit)
		<-done
	}
}

// withSpeechMeta shows a tool's speech in tools/list, as
// _meta["io.switchboard/speech"].
func withSpeechMeta(def mcp.Tool, s *integrations.Speech) mcp.Tool {
	m := s.Meta()
	if len(m) == 0 {
		return def
	}
	meta := &mcp.Meta{AdditionalFields: map[string]any{}}
	if def.Meta != nil {
		meta.ProgressToken = def.Meta.ProgressToken
		for k, v := range def.Meta.AdditionalFields {
			meta.AdditionalFields[k] = v
		}
	}
	meta.AdditionalFields[integrations.SpeechMetaKey] = m
	def.Meta = meta
	return def
}
