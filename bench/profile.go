package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// CPU profiles of switchboard under load, with -cpuprofile DIR. switchboard
// has no profiling flag, so the harness builds its own switchboard binary with
// one extra file laid over cmd/switchboard (go build -overlay): it serves
// net/http/pprof on the address in $BENCH_PPROF_ADDR, on a listener of its own,
// and with $BENCH_START_CPUPROFILE=FILE profiles the process's first seconds
// from the init of package main (the start-up of the 2000-tool config). Nothing in the repository changes; the shipped binary never has it.
const (
	pprofEnv        = "BENCH_PPROF_ADDR"
	startProfileEnv = "BENCH_START_CPUPROFILE" // FILE: profile the first startProfileFor of the process
	startProfileFor = 2 * time.Second
)

// pprofOverlay is the laid-over file; the names in capitals are replaced.
const pprofOverlay = `package main

import (
	"net"
	"net/http"
	_ "net/http/pprof"
	"os"
	"runtime"
	"runtime/pprof"
	"time"
)

// Laid over cmd/switchboard by the benchmark harness (go build -overlay) only.
func init() {
	if file := os.Getenv("START_PROFILE_ENV"); file != "" {
		runtime.SetCPUProfileRate(500) // a start-up is short: 5× the default rate (Go warns once on stderr)
		if f, err := os.Create(file); err == nil && pprof.StartCPUProfile(f) == nil {
			time.AfterFunc(START_PROFILE_NS, func() { pprof.StopCPUProfile(); f.Close() })
		}
	}
	addr := os.Getenv("PPROF_ENV")
	if addr == "" {
		return
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		os.Stderr.WriteString("bench pprof: " + err.Error() + "\n")
		return
	}
	go http.Serve(ln, http.DefaultServeMux)
}
`

// overlayFlags writes the overlay and returns the go build flags that use it.
func (h *harness) overlayFlags() ([]string, error) {
	src := filepath.Join(h.dir, "bench_pprof.go")
	code := strings.NewReplacer("START_PROFILE_ENV", startProfileEnv, "START_PROFILE_NS", strconv.FormatInt(int64(startProfileFor), 10),
		"PPROF_ENV", pprofEnv).Replace(pprofOverlay)
	if err := os.WriteFile(src, []byte(code), 0o644); err != nil {
		return nil, err
	}
	dst := filepath.Join(moduleRoot(), "cmd", "switchboard", "zz_bench_pprof.go")
	b, err := json.Marshal(map[string]any{"Replace": map[string]string{dst: src}})
	if err != nil {
		return nil, err
	}
	ov := filepath.Join(h.dir, "overlay.json")
	if err := os.WriteFile(ov, b, 0o644); err != nil {
		return nil, err
	}
	return []string{"-overlay", ov}, nil
}

// pprofEnvFor gives a switchboard gateway a pprof address when profiling.
func (h *harness) pprofEnvFor(g *gateway) ([]string, error) {
	if !h.profiling() {
		return nil, nil
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	g.pprof = "http://127.0.0.1:" + strconv.Itoa(port)
	return []string{pprofEnv + "=127.0.0.1:" + strconv.Itoa(port)}, nil
}

func (h *harness) profiling() bool { return h.o.cpuprofile != "" && h.o.switchboard == "" }

// profile: each switchboard gateway at 64 clients (or the highest level below)
// while its CPU profile is taken; the profiles go to -cpuprofile DIR.
func profile(h *harness) error {
	if h.o.cpuprofile == "" {
		return nil
	}
	if !h.profiling() {
		fmt.Fprintln(h.stdout, "\nCPU profiles: not taken (-cpuprofile needs the harness's own build, not -switchboard)")
		return nil
	}
	w, err := h.getWorkload()
	if err != nil {
		return err
	}
	clients := 0
	for _, c := range h.o.clients {
		if c <= 64 && c > clients {
			clients = c
		}
	}
	secs := max(1, int(h.o.duration.Seconds()+0.5))
	if err := os.MkdirAll(h.o.cpuprofile, 0o755); err != nil {
		return err
	}
	var rows [][]string
	for _, g := range w.gateways {
		if g.pprof == "" {
			continue
		}
		cs, err := g.sessions(h.ctx, clients)
		if err != nil {
			return fmt.Errorf("%s: %w", g.name, err)
		}
		file := filepath.Join(h.o.cpuprofile, g.name+".pprof")
		got := make(chan error, 1)
		go func() { got <- fetch(h.ctx, fmt.Sprintf("%s/debug/pprof/profile?seconds=%d", g.pprof, secs), file) }()
		s := drive(h.ctx, cs, time.Duration(secs)*time.Second+300*time.Millisecond)
		if err := <-got; err != nil {
			return fmt.Errorf("%s: profile: %w", g.name, err)
		}
		rows = append(rows, []string{g.name, strconv.Itoa(clients), strconv.Itoa(s.calls), file})
	}
	// The start-up of the 2000-tool config, from process start.
	b, err := h.getBase()
	if err != nil {
		return err
	}
	file := filepath.Join(h.o.cpuprofile, "tools2000-startup.pprof")
	p, _, took, err := h.startSwitchboard("profile-tools2000", manyConfig(b, 40, 50), b.vaultEnv(), startProfileEnv+"="+file)
	if err != nil {
		return err
	}
	time.Sleep(startProfileFor - took + 300*time.Millisecond) // the profile stops itself
	p.stop()
	rows = append(rows, []string{"tools2000 start-up", "-", "-", file})
	h.table(fmt.Sprintf("CPU profiles (%ds under load; start-up: the first %s); read with: go tool pprof -top %s FILE", secs, startProfileFor, h.profiledBinary()),
		[]string{"gateway", "clients", "calls", "profile"}, rows)
	return nil
}

// profiledBinary is kept beside the profiles, so that they stay readable.
func (h *harness) profiledBinary() string {
	return filepath.Join(h.o.cpuprofile, "switchboard")
}

func (h *harness) keepProfiledBinary() error {
	if !h.profiling() {
		return nil
	}
	if err := os.MkdirAll(h.o.cpuprofile, 0o755); err != nil {
		return err
	}
	return exec.Command("cp", h.bin.switchboard, h.profiledBinary()).Run()
}

func fetch(ctx context.Context, url, file string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := (&http.Client{Timeout: 2 * time.Minute}).Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 300))
		return fmt.Errorf("HTTP %d: %s", resp.StatusCode, strings.TrimSpace(string(b)))
	}
	out, err := os.Create(file)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, resp.Body); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
