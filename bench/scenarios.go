package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"
)

// sequential: one client, the gateways interleaved call by call (one call of
// each in turn, the order rotating), so that drift of the machine hits them all.
func sequential(h *harness) error {
	w, err := h.getWorkload()
	if err != nil {
		return err
	}
	gs := w.gateways
	warm := min(50, h.o.requests)
	lat := make([][]time.Duration, len(gs))
	for i := range warm + h.o.requests {
		for k := range gs {
			j := (i + k) % len(gs)
			c := gs[j].conns[0]
			t0 := time.Now()
			if err := c.call(h.ctx); err != nil {
				return fmt.Errorf("%s: %w", gs[j].name, err)
			}
			if i >= warm {
				lat[j] = append(lat[j], time.Since(t0))
			}
		}
	}
	p50 := map[string]float64{}
	for j, g := range gs {
		sortDurations(lat[j])
		p50[g.name] = percentile(lat[j], 0.50)
		h.metric("sequential/"+g.name+"/p50_us", p50[g.name])
		h.metric("sequential/"+g.name+"/p99_us", percentile(lat[j], 0.99))
	}
	var rows [][]string
	for j, g := range gs {
		rows = append(rows, []string{g.name, num(p50[g.name], true, 0), num(percentile(lat[j], 0.99), true, 0),
			num(p50[g.name]-p50["direct"], true, 0), num(p50[g.name]-p50["ideal"], true, 0)})
	}
	var legend []string
	for _, g := range gs {
		legend = append(legend, fmt.Sprintf("%-18s %s", g.name, g.what))
	}
	h.table(fmt.Sprintf("Sequential calls (one client, gateways interleaved call by call, %d calls each), µs", h.o.requests),
		[]string{"gateway", "p50", "p99", "p50−direct", "p50−ideal"}, rows, legend...)
	return nil
}

// load: c clients in closed loops at each concurrency level. Each gateway's
// time at a level is cut into rounds, the gateways taking turns, so drift
// cancels out. CPU per call is utime+stime of every server process over the
// gateway's slices, divided by its calls.
func load(h *harness) error {
	w, err := h.getWorkload()
	if err != nil {
		return err
	}
	gs := w.gateways
	slice := h.o.duration / time.Duration(h.o.rounds)
	var rows [][]string
	var dead []string
	for _, c := range h.o.clients {
		type acc struct {
			lat        []time.Duration
			errs       int
			firstErr   error
			elapsed    time.Duration
			cpu        map[*proc]time.Duration
			callersSet []caller
		}
		accs := make([]acc, len(gs))
		for j, g := range gs {
			cs, err := g.sessions(h.ctx, c)
			if err != nil {
				return fmt.Errorf("%s: %w", g.name, err)
			}
			accs[j].callersSet = cs
			accs[j].cpu = map[*proc]time.Duration{}
			drive(h.ctx, cs, min(slice/5, 200*time.Millisecond)) // warm-up: connections, pools
		}
		for r := range h.o.rounds {
			for k := range gs {
				j := (r + k) % len(gs)
				a := &accs[j]
				before := cpuTimes(w.procs)
				s := drive(h.ctx, a.callersSet, slice)
				after := cpuTimes(w.procs)
				for p, t := range after {
					a.cpu[p] += t - before[p]
				}
				a.lat = append(a.lat, s.lat...)
				a.errs += s.errs
				a.elapsed += s.elapsed
				if a.firstErr == nil {
					a.firstErr = s.firstErr
				}
				if err := h.ctx.Err(); err != nil {
					return err
				}
			}
		}
		rps := map[string]float64{}
		for j, g := range gs {
			rps[g.name] = float64(len(accs[j].lat)) / accs[j].elapsed.Seconds()
		}
		for j, g := range gs {
			a := &accs[j]
			sortDurations(a.lat)
			key := fmt.Sprintf("load/%s/c%d/", g.name, c)
			n := float64(len(a.lat))
			h.metric(key+"rps", rps[g.name])
			h.metric(key+"p50_us", percentile(a.lat, 0.50))
			h.metric(key+"p99_us", percentile(a.lat, 0.99))
			h.metric(key+"errors", float64(a.errs))
			own, all := 0.0, 0.0
			for _, p := range w.procs {
				v := us(a.cpu[p]) / max(n, 1)
				all += v
				h.metric(key+"cpu/"+p.name+"_us_per_call", v)
			}
			mine := g.proc
			if mine == nil { // direct: the only server is the upstream
				mine = w.procs[1]
			}
			own = us(a.cpu[mine]) / max(n, 1)
			h.metric(key+"cpu_us_per_call", own)
			h.metric(key+"cpu_all_us_per_call", all)
			if n == 0 {
				dead = append(dead, fmt.Sprintf("%s at %d clients (%v)", g.name, c, a.firstErr))
			}
			errs := strconv.Itoa(a.errs)
			if a.firstErr != nil {
				errs += " (" + clip(a.firstErr.Error(), 40) + ")"
			}
			rows = append(rows, []string{g.name, strconv.Itoa(c), num(rps[g.name], true, 0), num(rps[g.name]/rps["ideal"], rps["ideal"] > 0, 2),
				num(percentile(a.lat, 0.50), n > 0, 0), num(percentile(a.lat, 0.99), n > 0, 0),
				num(own, n > 0, 0), num(all, n > 0, 0), errs})
		}
		rows = append(rows, make([]string, 9))
	}
	if len(rows) > 0 {
		rows = rows[:len(rows)-1]
	}
	h.table(fmt.Sprintf("Load (closed loop, %s per gateway and level in %d interleaved rounds); latency and CPU in µs", h.o.duration, h.o.rounds),
		[]string{"gateway", "clients", "calls/s", "×ideal", "p50", "p99", "cpu/call", "cpu/call all", "errors"}, rows,
		"cpu/call: the gateway's own process (utime+stime from /proc; direct: the upstream's); all: every server process (Vault, upstream, peers).")
	if len(dead) > 0 {
		// Errors under load are figures; a gateway that answered nothing is a broken harness.
		return fmt.Errorf("no successful call: %s", strings.Join(dead, ", "))
	}
	return nil
}

func cpuTimes(ps []*proc) map[*proc]time.Duration {
	m := make(map[*proc]time.Duration, len(ps))
	for _, p := range ps {
		if t, err := p.cpuTime(); err == nil {
			m[p] = t
		}
	}
	return m
}

// stdioColdStart: process start to the answer of tools/list, after
// initialize, over stdio: what a desktop client waits for.
func stdioColdStart(h *harness) error {
	b, err := h.getBase()
	if err != nil {
		return err
	}
	file := h.dir + "/stdio-vault.yaml"
	if err := writeFile(file, httpConfig(b, "vault:"+vaultRef)); err != nil {
		return err
	}
	servers := []struct {
		name string
		argv []string
		env  []string
	}{
		{"switchboard-vault", []string{h.bin.switchboard, "serve", "--config", file}, []string{b.vaultEnv()}},
		{"bare", []string{h.bin.peer, "bare", "-stdio", "-upstream", b.upstreamURL, "-token", b.token}, nil},
	}
	var rows [][]string
	for _, s := range servers {
		var took []time.Duration
		for i := range h.o.repeats {
			d, err := h.stdioOnce(fmt.Sprintf("stdio-%s-%d", s.name, i), s.argv, s.env)
			if err != nil {
				return fmt.Errorf("%s: %w", s.name, err)
			}
			took = append(took, d)
		}
		m := median(took)
		sortDurations(took)
		h.metric("stdio/"+s.name+"/cold_start_ms", ms(m))
		rows = append(rows, []string{s.name, num(ms(m), true, 1), num(ms(took[0]), true, 1), strconv.Itoa(len(took))})
	}
	h.table("Stdio cold start (process start → initialize + tools/list answered), ms",
		[]string{"server", "median", "min", "starts"}, rows)
	return nil
}

func (h *harness) stdioOnce(name string, argv, env []string) (time.Duration, error) {
	p, err := h.start(name, argv, startOpts{env: env, pipeStdout: true})
	if err != nil {
		return 0, err
	}
	defer p.stop()
	type reply struct {
		line string
		err  error
	}
	lines := make(chan reply, 4)
	go func() {
		for {
			s, err := p.stdout.ReadString('\n')
			lines <- reply{s, err}
			if err != nil {
				return
			}
		}
	}()
	wait := func(id string) error {
		for {
			select {
			case r := <-lines:
				if r.err != nil {
					return fmt.Errorf("stdout closed: %v (see %s)", r.err, p.log)
				}
				if strings.Contains(r.line, `"id":`+id) && (strings.Contains(r.line, `"result"`) || strings.Contains(r.line, `"error"`)) {
					if strings.Contains(r.line, `"error"`) && !strings.Contains(r.line, `"result"`) {
						return fmt.Errorf("error reply: %s", clip(r.line, 200))
					}
					return nil
				}
			case <-time.After(30 * time.Second):
				return fmt.Errorf("no reply to request %s within 30s (see %s)", id, p.log)
			}
		}
	}
	io.WriteString(p.stdin, `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"`+protocolVersion+
		`","capabilities":{},"clientInfo":{"name":"switchboard-bench","version":"1.0.0"}}}`+"\n")
	if err := wait("1"); err != nil {
		return 0, fmt.Errorf("initialize: %w", err)
	}
	io.WriteString(p.stdin, `{"jsonrpc":"2.0","method":"notifications/initialized"}`+"\n"+
		`{"jsonrpc":"2.0","id":2,"method":"tools/list","params":{}}`+"\n")
	if err := wait("2"); err != nil {
		return 0, fmt.Errorf("tools/list: %w", err)
	}
	return time.Since(p.started), nil
}

// idleMemory: RSS of a fresh server after one call, then after opening n
// handshake-era sessions that stay idle; the difference per session.
func idleMemory(h *harness) error {
	b, err := h.getBase()
	if err != nil {
		return err
	}
	type server struct {
		name string
		p    *proc
		ep   endpoint
	}
	var servers []server
	p, url, _, err := h.startSwitchboard("mem-switchboard-vault", httpConfig(b, "vault:"+vaultRef), b.vaultEnv())
	if err != nil {
		return err
	}
	servers = append(servers, server{"switchboard-vault", p, mcpEndpoint{url + "/mcp", "helpdesk_" + toolName, toolArgs}})
	bare, f, err := h.startPeer("mem-bare", []string{h.bin.peer, "bare", "-upstream", b.upstreamURL, "-token", b.token})
	if err != nil {
		return err
	}
	servers = append(servers, server{"bare", bare, mcpEndpoint{f[0] + "/mcp", toolName, toolArgs}})

	var rows [][]string
	for _, s := range servers {
		g := &gateway{name: s.name, ep: s.ep}
		cs, err := g.sessions(h.ctx, 1)
		if err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
		if err := cs[0].call(h.ctx); err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
		time.Sleep(300 * time.Millisecond)
		idle, err := s.p.rss()
		if err != nil {
			return err
		}
		if _, err := g.sessions(h.ctx, 1+h.o.sessions); err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
		time.Sleep(300 * time.Millisecond)
		after, err := s.p.rss()
		if err != nil {
			return err
		}
		per := float64(after-idle) / float64(h.o.sessions) / 1024
		h.metric("memory/"+s.name+"/rss_idle_kb", float64(idle)/1024)
		h.metric("memory/"+s.name+"/rss_sessions_kb", float64(after)/1024)
		h.metric("memory/"+s.name+"/per_session_kb", per)
		rows = append(rows, []string{s.name, num(float64(idle)/(1<<20), true, 1), num(float64(after)/(1<<20), true, 1), num(per, true, 1)})
		s.p.stop()
	}
	h.table(fmt.Sprintf("Memory (fresh process, one call, then %d idle handshake-era sessions)", h.o.sessions),
		[]string{"server", "RSS idle MB", "RSS with sessions MB", "KB/session"}, rows)
	return nil
}

// manyTools: a config of 40 integrations × 50 tools: process start to
// GET /readyz 200, and tools/list, against a bare mcp-go server with 2000 tools.
func manyTools(h *harness) error {
	b, err := h.getBase()
	if err != nil {
		return err
	}
	const integrations, perIntegration = 40, 50
	config := manyConfig(b, integrations, perIntegration)
	lists := 20
	if h.o.short {
		lists = 3
	}
	type result struct {
		start    []time.Duration
		list     []time.Duration
		tools    int
		bytes    int
		firstErr error
	}
	measure := func(name string, startOne func(i int) (*proc, string, time.Duration, error)) (result, error) {
		var r result
		for i := range h.o.repeats {
			p, url, took, err := startOne(i)
			if err != nil {
				return r, err
			}
			r.start = append(r.start, took)
			if i == 0 {
				s, err := openSession(h.ctx, url+"/mcp")
				if err != nil {
					p.stop()
					return r, err
				}
				for range lists + 1 { // the first one warms up
					t0 := time.Now()
					n, size, err := listTools(h.ctx, s)
					if err != nil {
						p.stop()
						return r, err
					}
					r.list = append(r.list, time.Since(t0))
					r.tools, r.bytes = n, size
				}
				r.list = r.list[1:]
			}
			p.stop()
		}
		if r.tools != integrations*perIntegration {
			return r, fmt.Errorf("%s lists %d tools, want %d", name, r.tools, integrations*perIntegration)
		}
		return r, nil
	}
	sb, err := measure("switchboard", func(i int) (*proc, string, time.Duration, error) {
		return h.startSwitchboard(fmt.Sprintf("tools2000-switchboard-%d", i), config, b.vaultEnv())
	})
	if err != nil {
		return fmt.Errorf("switchboard: %w", err)
	}
	bare, err := measure("bare", func(i int) (*proc, string, time.Duration, error) {
		p, f, err := h.startPeer(fmt.Sprintf("tools2000-bare-%d", i), []string{h.bin.peer, "many", "-tools", strconv.Itoa(integrations * perIntegration)})
		if err != nil {
			return nil, "", 0, err
		}
		took, err := p.waitReady(h.ctx, f[0]+"/readyz", 30*time.Second)
		return p, f[0], took, err
	})
	if err != nil {
		return fmt.Errorf("bare: %w", err)
	}
	var rows [][]string
	for _, x := range []struct {
		name string
		r    result
	}{{"switchboard", sb}, {"bare", bare}} {
		st, ls := median(x.r.start), median(x.r.list)
		h.metric("tools2000/"+x.name+"/startup_ms", ms(st))
		h.metric("tools2000/"+x.name+"/tools_list_ms", ms(ls))
		h.metric("tools2000/"+x.name+"/tools_list_bytes", float64(x.r.bytes))
		rows = append(rows, []string{x.name, num(ms(st), true, 1), num(ms(ls), true, 2), strconv.Itoa(x.r.tools), strconv.Itoa(x.r.bytes / 1024)})
	}
	h.table(fmt.Sprintf("2000 tools (40 integrations × 50): start-up median of %d, tools/list median of %d, ms", h.o.repeats, lists),
		[]string{"server", "start → /readyz", "tools/list", "tools", "list KB"}, rows,
		"start-up: process start to GET /readyz 200 (switchboard with vault: credentials, so Vault is reached; bare: listening).")
	return nil
}

// manyConfig is n integrations of m GET tools each, every one with a vault: token.
func manyConfig(b *base, n, m int) string {
	var sb strings.Builder
	sb.WriteString("server:\n  name: switchboard-bench\nvault:\n  address: " + b.vaultAddr + "\n  auth: {method: token}\nintegrations:\n")
	for i := range n {
		fmt.Fprintf(&sb, "  - name: int%02d\n    type: http\n    base_url: %s\n    auth: {type: bearer, secret: \"vault:%s\"}\n    tools:\n", i, b.upstreamURL, vaultRef)
		for j := range m {
			fmt.Fprintf(&sb, "      - name: tool%02d\n        description: Lee el cliente %d de la integración %d.\n        method: GET\n        path: /customers/{id}\n        params:\n          - {name: id, in: path, type: string, required: true, description: Id del cliente}\n", j, j, i)
		}
	}
	return sb.String()
}

// listTools pages through tools/list; it returns the tool count and the bytes of the results.
func listTools(ctx context.Context, s *session) (int, int, error) {
	n, size := 0, 0
	cursor := ""
	for {
		params := map[string]any{}
		if cursor != "" {
			params["cursor"] = cursor
		}
		res, err := s.request(ctx, "tools/list", params)
		if err != nil {
			return 0, 0, err
		}
		var r struct {
			Tools      []json.RawMessage `json:"tools"`
			NextCursor string            `json:"nextCursor"`
		}
		if err := json.Unmarshal(res, &r); err != nil {
			return 0, 0, err
		}
		n += len(r.Tools)
		size += len(res)
		if r.NextCursor == "" {
			return n, size, nil
		}
		cursor = r.NextCursor
	}
}

func clip(s string, n int) string {
	s = strings.TrimSpace(s)
	if r := []rune(s); len(r) > n {
		return string(r[:n]) + "…"
	}
	return s
}

func writeFile(path, content string) error { return os.WriteFile(path, []byte(content), 0o600) }
