package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"
	"sync"
	"time"
)

// The workload: one GET tool whose bearer token lives in Vault KV v2. Every
// gateway answers it with the upstream's small JSON object.
const (
	toolName  = "buscar_cliente"
	toolArgs  = `{"email":"maria@example.com"}`
	toolQuery = "/customers/search?email=maria%40example.com"
)

// base is what every gateway stands on: Vault and the upstream API.
type base struct {
	vault, upstream *proc
	vaultAddr       string
	vaultToken      string // may read secret/bench only
	upstreamURL     string
	token           string // the upstream's bearer token (also in Vault)
}

// gateway is one row of the sequential and load tables.
type gateway struct {
	name  string
	what  string
	proc  *proc // the gateway's own process; nil for direct
	ep    endpoint
	conns []caller // opened sessions, reused across scenarios
	pprof string   // base URL of its pprof listener, when profiling
}

// workload is the shared set of gateways, started once for all scenarios.
type workload struct {
	gateways []*gateway
	procs    []*proc // every server process, for CPU attribution
}

func (h *harness) getBase() (*base, error) {
	if h.base != nil {
		return h.base, nil
	}
	b := &base{token: "bench-" + randomHex(12)}
	var err error
	var f []string
	if b.vault, f, err = h.startPeer("vault", []string{h.bin.self, "-role", "vault", b.token}); err != nil {
		return nil, err
	}
	if len(f) != 2 {
		return nil, fmt.Errorf("vault: READY line %q", f)
	}
	b.vaultAddr, b.vaultToken = f[0], f[1]
	if b.upstream, f, err = h.startPeer("upstream", []string{h.bin.peer, "upstream", "-token", b.token}); err != nil {
		return nil, err
	}
	b.upstreamURL = f[0]
	h.base = b
	return b, nil
}

// switchboard configs of the workload.

func httpConfig(b *base, secret string) string {
	vault := ""
	if strings.HasPrefix(secret, "vault:") {
		vault = "vault:\n  address: " + b.vaultAddr + "\n  auth: {method: token}\n"
	}
	return `server:
  name: switchboard-bench
` + vault + `integrations:
  - name: helpdesk
    type: http
    base_url: ` + b.upstreamURL + `
    auth: {type: bearer, secret: "` + secret + `"}
    tools:
      - name: ` + toolName + `
        description: Busca un cliente por email.
        method: GET
        path: /customers/search
        params:
          - {name: email, in: query, type: string, required: true, description: Email del cliente}
`
}

func mcpConfig(bareURL string) string {
	return `server:
  name: switchboard-bench
integrations:
  - name: remote
    type: mcp
    url: ` + bareURL + `/mcp
`
}

func (b *base) vaultEnv() string { return "VAULT_TOKEN=" + b.vaultToken }

func (h *harness) getWorkload() (*workload, error) {
	if h.wl != nil {
		return h.wl, nil
	}
	b, err := h.getBase()
	if err != nil {
		return nil, err
	}
	w := &workload{procs: []*proc{b.vault, b.upstream}}
	add := func(g *gateway) {
		w.gateways = append(w.gateways, g)
		if g.proc != nil {
			w.procs = append(w.procs, g.proc)
		}
	}
	add(&gateway{name: "direct", what: "net/http straight to the upstream", ep: directEndpoint{b.upstreamURL + toolQuery, "Bearer " + b.token}})

	bare, f, err := h.startPeer("bare", []string{h.bin.peer, "bare", "-upstream", b.upstreamURL, "-token", b.token})
	if err != nil {
		return nil, err
	}
	bareURL := f[0]
	add(&gateway{name: "bare", what: "mcp-go, one hand-written tool, known token", proc: bare, ep: mcpEndpoint{bareURL + "/mcp", toolName, toolArgs}})

	ideal, f, err := h.startPeer("ideal", []string{h.bin.peer, "ideal", "-upstream", b.upstreamURL,
		"-vault", b.vaultAddr, "-vault-token", b.vaultToken, "-secret", vaultRef})
	if err != nil {
		return nil, err
	}
	add(&gateway{name: "ideal", what: "the same, token read from Vault on every call", proc: ideal, ep: mcpEndpoint{f[0] + "/mcp", toolName, toolArgs}})

	for _, sb := range []struct {
		name, what, config string
		env                []string
	}{
		{"switchboard-vault", "switchboard, vault: token, cache_ttl 0 (defaults)", httpConfig(b, "vault:"+vaultRef), []string{b.vaultEnv()}},
		{"switchboard-env", "switchboard, env: token", httpConfig(b, "env:BENCH_TOKEN"), []string{"BENCH_TOKEN=" + b.token}},
	} {
		if err := h.addSwitchboard(add, &gateway{name: sb.name, what: sb.what}, sb.config, "helpdesk_"+toolName, sb.env); err != nil {
			return nil, err
		}
	}
	if err := h.addSwitchboard(add, &gateway{name: "switchboard-mcp", what: "federation: bare as a type: mcp upstream of switchboard"},
		mcpConfig(bareURL), "remote_"+toolName, nil); err != nil {
		return nil, err
	}

	// Every gateway must answer the workload before anything is measured.
	for _, g := range w.gateways {
		if _, err := g.sessions(h.ctx, 1); err != nil {
			return nil, fmt.Errorf("%s: %w", g.name, err)
		}
		if err := g.conns[0].call(h.ctx); err != nil {
			return nil, fmt.Errorf("%s: first call: %w", g.name, err)
		}
	}
	h.wl = w
	return w, nil
}

func (h *harness) addSwitchboard(add func(*gateway), g *gateway, config, tool string, env []string) error {
	penv, err := h.pprofEnvFor(g)
	if err != nil {
		return err
	}
	p, url, _, err := h.startSwitchboard(g.name, config, append(env, penv...)...)
	if err != nil {
		return err
	}
	g.proc, g.ep = p, mcpEndpoint{url + "/mcp", tool, toolArgs}
	add(g)
	return nil
}

// sessions returns n callers of g, opening the missing ones (8 at a time).
func (g *gateway) sessions(ctx context.Context, n int) ([]caller, error) {
	for len(g.conns) < n {
		k := min(n-len(g.conns), 8)
		got := make([]caller, k)
		errs := make([]error, k)
		var wg sync.WaitGroup
		for i := range k {
			wg.Go(func() { got[i], errs[i] = g.ep.open(ctx) })
		}
		wg.Wait()
		for i := range k {
			if errs[i] != nil {
				return nil, fmt.Errorf("open session: %w", errs[i])
			}
		}
		g.conns = append(g.conns, got...)
	}
	return g.conns[:n], nil
}

// sample is what a closed-loop run of some callers measured.
type sample struct {
	lat      []time.Duration
	calls    int
	errs     int
	firstErr error
	elapsed  time.Duration
}

// drive runs each caller in a closed loop (call, wait for the answer, call
// again) for d and returns every latency.
func drive(ctx context.Context, callers []caller, d time.Duration) sample {
	type result struct {
		lat  []time.Duration
		errs int
		err  error
	}
	res := make([]result, len(callers))
	start := time.Now()
	deadline := start.Add(d)
	var wg sync.WaitGroup
	for i, c := range callers {
		wg.Go(func() {
			r := &res[i]
			r.lat = make([]time.Duration, 0, 1024)
			for ctx.Err() == nil {
				t0 := time.Now()
				if t0.After(deadline) {
					return
				}
				if err := c.call(ctx); err != nil {
					r.errs++
					if r.err == nil {
						r.err = err
					}
					continue
				}
				r.lat = append(r.lat, time.Since(t0))
			}
		})
	}
	wg.Wait()
	s := sample{elapsed: time.Since(start)}
	for _, r := range res {
		s.lat = append(s.lat, r.lat...)
		s.errs += r.errs
		if s.firstErr == nil {
			s.firstErr = r.err
		}
	}
	s.calls = len(s.lat)
	return s
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
