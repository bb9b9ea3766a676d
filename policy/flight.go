package policy

import (
	"context"
	"fmt"
	"maps"
	"runtime/debug"
	"sync"

	"github.com/mark3labs/mcp-go/mcp"
)

// flights runs one function per key at a time and gives its result to every
// caller that asked for that key while it ran: singleflight's semantics,
// plus cancellation. The shared run has a context of its own, detached from
// the first caller's, so one caller hanging up does not fail the others; it
// is cancelled when every caller waiting for it has gone, unless finish is
// set: then it runs to its end (within the tool's own timeout) whoever waits,
// so that a repeat that comes later still joins it.
type flights[T any] struct {
	finish bool

	mu sync.Mutex
	m  map[string]*flight[T]
}

type flight[T any] struct {
	done    chan struct{}
	val     T
	err     error
	waiting int // callers still waiting
	joined  int // callers that joined after the first
	cancel  context.CancelFunc
}

// do runs fn for key, or waits for the run already in flight. joined says
// this caller did not start the run; shared says the run had more than one
// caller. A caller whose ctx ends stops waiting and gets ctx's error.
func (g *flights[T]) do(ctx context.Context, key string, fn func(context.Context) (T, error)) (val T, err error, joined, shared bool) {
	g.mu.Lock()
	if g.m == nil {
		g.m = map[string]*flight[T]{}
	}
	f, ok := g.m[key]
	if ok {
		f.waiting++
		f.joined++
	} else {
		fctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		f = &flight[T]{done: make(chan struct{}), waiting: 1, cancel: cancel}
		g.m[key] = f
		go g.run(fctx, key, f, fn)
	}
	g.mu.Unlock()

	select {
	case <-f.done:
		g.mu.Lock()
		f.waiting--
		shared = f.joined > 0
		g.mu.Unlock()
		return f.val, f.err, ok, shared
	case <-ctx.Done():
		g.mu.Lock()
		f.waiting--
		if f.waiting == 0 && !g.finish {
			f.cancel()
			g.forget(key, f)
		}
		shared = f.joined > 0
		g.mu.Unlock()
		var zero T
		return zero, ctx.Err(), ok, shared
	}
}

func (g *flights[T]) run(ctx context.Context, key string, f *flight[T], fn func(context.Context) (T, error)) {
	defer func() {
		if r := recover(); r != nil {
			f.err = fmt.Errorf("panic in shared call: %v\n%s", r, debug.Stack())
		}
		g.mu.Lock()
		g.forget(key, f)
		g.mu.Unlock()
		f.cancel()
		close(f.done)
	}()
	f.val, f.err = fn(ctx)
}

// forget removes f (under g.mu), so that the next call for key starts anew.
func (g *flights[T]) forget(key string, f *flight[T]) {
	if g.m[key] == f {
		delete(g.m, key)
	}
}

// ownCopy is a result of a shared run for one of its callers: mcp-go
// decorates the result it sends (resultType, _meta.serverInfo), and
// middleware outside may too, so callers sharing one value would write it
// at once (a concurrent map write stops the process).
func ownCopy(res *mcp.CallToolResult) *mcp.CallToolResult {
	if res == nil {
		return nil
	}
	cp := *res
	cp.Content = append([]mcp.Content(nil), res.Content...)
	if m := res.Meta; m != nil {
		cp.Meta = &mcp.Meta{ProgressToken: m.ProgressToken, AdditionalFields: maps.Clone(m.AdditionalFields)}
	}
	return &cp
}
