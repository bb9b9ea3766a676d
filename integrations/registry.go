package integrations

import (
	"fmt"
	"log/slog"
	"sync"

	"github.com/switchboard-dev/switchboard/configs"
)

// Registry holds every exposed tool: the declared tools of http integrations
// and the tools discovered from upstream MCP servers, under one set of rules
// (the name pattern, one tool per name) and one visibility decision (policy's
// expose hook, then the caller's allowlist). Server and the command line ask
// it which tools exist; nothing else keeps a list.
type Registry struct {
	expose func(*Tool) *Tool
	log    *slog.Logger

	mu       sync.RWMutex
	order    map[string]int     // integration → its position in the config
	sets     map[string][]*Tool // exposed tools per integration
	byName   map[string]*Tool
	all      []*Tool
	rejected map[string]string // integration/tool → why it was left out (logged once)
	watchers []func()
}

// NewRegistry returns an empty registry for the integrations named in order
// (the config's order, which is the order of tools/list). expose is policy:
// it returns the tool as clients see it (handler wrapped, annotations
// tightened) or nil to hide it.
func NewRegistry(order []string, expose func(*Tool) *Tool, log *slog.Logger) *Registry {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if expose == nil {
		expose = func(t *Tool) *Tool { return t }
	}
	r := &Registry{expose: expose, log: log, order: map[string]int{}, sets: map[string][]*Tool{},
		byName: map[string]*Tool{}, rejected: map[string]string{}}
	for i, n := range order {
		r.order[n] = i
	}
	return r
}

// Watch registers f to run after every change of the tool set.
func (r *Registry) Watch(f func()) {
	r.mu.Lock()
	r.watchers = append(r.watchers, f)
	r.mu.Unlock()
}

// Set replaces the tools of one integration. A tool whose exposed name
// breaks the name rule, or is already taken by another tool, is left out and
// logged once with the reason; the others are exposed.
func (r *Registry) Set(integration string, tools []*Tool) {
	exposed := make([]*Tool, 0, len(tools))
	for _, t := range tools {
		if e := r.expose(t); e != nil {
			exposed = append(exposed, e)
		}
	}
	r.mu.Lock()
	if _, ok := r.order[integration]; !ok {
		r.order[integration] = len(r.order)
	}
	taken := make(map[string]bool, len(exposed))
	kept := exposed[:0]
	for _, t := range exposed {
		name := t.Name()
		why := ""
		switch {
		case !configs.ExposedName.MatchString(name):
			why = fmt.Sprintf("its exposed name %q does not match ^[a-zA-Z0-9_-]{1,64}$", name)
		case taken[name]:
			why = fmt.Sprintf("the upstream lists %q twice", name)
		default:
			if other, ok := r.byName[name]; ok && other.Integration != integration {
				why = fmt.Sprintf("%q is already the name of a tool of integration %s", name, other.Integration)
			}
		}
		if why != "" {
			r.reject(integration, name, why)
			continue
		}
		taken[name] = true
		kept = append(kept, t)
	}
	r.sets[integration] = kept
	r.rebuild()
	watchers := r.watchers
	r.mu.Unlock()
	for _, f := range watchers {
		f()
	}
}

// reject logs a left-out tool the first time it is seen (under r.mu).
func (r *Registry) reject(integration, name, why string) {
	key := integration + "/" + name
	if r.rejected[key] == why {
		return
	}
	r.rejected[key] = why
	r.log.Warn("tool left out", "integration", integration, "tool", name, "reason", why)
}

func (r *Registry) rebuild() {
	names := make([]string, len(r.order))
	for n, i := range r.order {
		names[i] = n
	}
	r.byName = make(map[string]*Tool, len(r.byName))
	r.all = r.all[:0:0]
	for _, n := range names {
		for _, t := range r.sets[n] {
			r.byName[t.Name()] = t
			r.all = append(r.all, t)
		}
	}
}

// Lookup returns the exposed tool called name.
func (r *Registry) Lookup(name string) (*Tool, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	t, ok := r.byName[name]
	return t, ok
}

// All returns every exposed tool in config order. The slice is shared:
// callers must not modify it.
func (r *Registry) All() []*Tool {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.all
}

// Visible returns the tools caller may see and call.
func (r *Registry) Visible(c Caller) []*Tool {
	all := r.All()
	if c.Integrations == nil {
		return all
	}
	out := make([]*Tool, 0, len(all))
	for _, t := range all {
		if c.Allows(t.Integration) {
			out = append(out, t)
		}
	}
	return out
}
