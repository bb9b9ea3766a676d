package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"text/tabwriter"
	"time"
)

// A scenario is one block of the report: it starts what it needs (or uses the
// shared workload), measures, records metrics and prints its table. Adding a
// row to the report is adding a scenario function to this list (and, when it
// has one, a target to targets).
type scenario struct {
	name string
	run  func(h *harness) error
}

var scenarios = []scenario{
	{"sequential", sequential},
	{"load", load},
	{"stdio", stdioColdStart},
	{"memory", idleMemory},
	{"tools2000", manyTools},
	{"profile", profile},
}

// harness is what every scenario gets: options, binaries, a work directory,
// the processes it started (stopped at the end) and the report being built.
type harness struct {
	ctx            context.Context
	o              options
	stdout, stderr io.Writer
	dir            string
	bin            struct{ self, switchboard, peer string }
	procs          []*proc
	base           *base     // Vault and the upstream, started on first use
	wl             *workload // the gateways, started on first use
	rep            report
}

// report is the JSON file: metric keys are "<scenario>/<gateway>/<figure>_<unit>",
// stable across commits so that two files can be compared key by key.
type report struct {
	Time     string             `json:"time"`
	Commit   string             `json:"commit"`
	Dirty    bool               `json:"dirty"`
	Go       string             `json:"go"`
	OS       string             `json:"os"`
	CPUs     int                `json:"cpus"`
	Settings map[string]any     `json:"settings"`
	Metrics  map[string]float64 `json:"metrics"`
	Targets  []targetResult     `json:"targets"`
	Errors   []string           `json:"errors,omitempty"`
}

func newHarness(ctx context.Context, o options, stdout, stderr io.Writer) (*harness, error) {
	h := &harness{ctx: ctx, o: o, stdout: stdout, stderr: stderr}
	var err error
	if h.dir, err = os.MkdirTemp("", "switchboard-bench-"); err != nil {
		return nil, err
	}
	if h.bin.self, err = os.Executable(); err != nil {
		return nil, err
	}
	h.rep = report{
		Time: time.Now().UTC().Format(time.RFC3339), Go: runtime.Version(),
		OS: runtime.GOOS + "/" + runtime.GOARCH, CPUs: runtime.NumCPU(),
		Metrics: map[string]float64{},
		Settings: map[string]any{
			"short": o.short, "requests": o.requests, "duration": o.duration.String(),
			"rounds": o.rounds, "clients": o.clients, "sessions": o.sessions, "repeats": o.repeats,
		},
	}
	h.rep.Commit, h.rep.Dirty = gitCommit()
	if err := h.build(); err != nil {
		h.close()
		return nil, err
	}
	return h, nil
}

// build compiles switchboard (unless -switchboard names a binary) and the peers.
func (h *harness) build() error {
	start := time.Now()
	h.bin.peer = filepath.Join(h.dir, "peer")
	if err := goBuild(h.ctx, h.bin.peer, "./bench/peer"); err != nil {
		return err
	}
	if h.o.switchboard != "" {
		h.bin.switchboard = h.o.switchboard
	} else {
		h.bin.switchboard = filepath.Join(h.dir, "switchboard")
		var flags []string
		if h.profiling() {
			var err error
			if flags, err = h.overlayFlags(); err != nil {
				return err
			}
		}
		if err := goBuild(h.ctx, h.bin.switchboard, "./cmd/switchboard", flags...); err != nil {
			return err
		}
		if err := h.keepProfiledBinary(); err != nil {
			return err
		}
	}
	fmt.Fprintf(h.stderr, "bench: built in %s; work directory %s\n", time.Since(start).Round(time.Millisecond), h.dir)
	return nil
}

func goBuild(ctx context.Context, out, pkg string, flags ...string) error {
	cmd := exec.CommandContext(ctx, "go", append(append([]string{"build", "-o", out}, flags...), pkg)...)
	cmd.Dir = moduleRoot()
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go build %s: %w", pkg, err)
	}
	return nil
}

// moduleRoot is the directory of switchboard's go.mod (go run ./bench runs there,
// but the harness may be started from elsewhere with a built binary).
func moduleRoot() string {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if gomod := strings.TrimSpace(string(out)); err == nil && gomod != "" && gomod != os.DevNull {
		return filepath.Dir(gomod)
	}
	return "."
}

func gitCommit() (string, bool) {
	out, err := exec.Command("git", "-C", moduleRoot(), "rev-parse", "--short=12", "HEAD").Output()
	if err != nil {
		return "", false
	}
	st, _ := exec.Command("git", "-C", moduleRoot(), "status", "--porcelain", "--untracked-files=no").Output()
	return strings.TrimSpace(string(out)), len(strings.TrimSpace(string(st))) > 0
}

// runAll runs the selected scenarios (a failed one is reported and the others
// still run), then the targets, prints them and writes the JSON report. It
// fails only when a scenario could not be measured, never on a missed target.
func (h *harness) runAll(list []scenario) error {
	dirty := ""
	if h.rep.Dirty {
		dirty = " (dirty)"
	}
	fmt.Fprintf(h.stdout, "switchboard bench · commit %s%s · %s · %s · %d CPUs · %s\n",
		h.rep.Commit, dirty, h.rep.Go, h.rep.OS, h.rep.CPUs, h.rep.Time)
	if h.o.short {
		fmt.Fprintln(h.stdout, "SHORT MODE: the figures only prove the harness works; do not read them.")
	}
	for _, s := range list {
		if !h.o.run.MatchString(s.name) {
			continue
		}
		if err := h.ctx.Err(); err != nil {
			return err
		}
		start := time.Now()
		fmt.Fprintf(h.stderr, "bench: %s …\n", s.name)
		if err := s.run(h); err != nil {
			h.rep.Errors = append(h.rep.Errors, s.name+": "+err.Error())
			fmt.Fprintf(h.stdout, "\n%s: FAILED: %v\n", s.name, err)
			continue
		}
		fmt.Fprintf(h.stderr, "bench: %s done in %s\n", s.name, time.Since(start).Round(time.Millisecond))
	}
	h.rep.Targets = evalTargets(h.rep.Metrics)
	printTargets(h.stdout, h.rep.Targets)
	if err := h.writeReport(); err != nil {
		return err
	}
	if len(h.rep.Errors) > 0 {
		h.o.keep = true
		return fmt.Errorf("%d scenario(s) failed (logs kept in %s): %s", len(h.rep.Errors), h.dir, strings.Join(h.rep.Errors, "; "))
	}
	return nil
}

func (h *harness) writeReport() error {
	b, err := json.MarshalIndent(h.rep, "", "  ")
	if err != nil {
		return err
	}
	if dir := filepath.Dir(h.o.out); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
	}
	if err := os.WriteFile(h.o.out, append(b, '\n'), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(h.stdout, "\nJSON report: %s\n", h.o.out)
	return nil
}

// close stops every process the harness started and removes the work directory.
func (h *harness) close() {
	for i := len(h.procs) - 1; i >= 0; i-- {
		h.procs[i].stop()
	}
	if h.o.keep {
		fmt.Fprintf(h.stderr, "bench: work directory kept: %s\n", h.dir)
		return
	}
	os.RemoveAll(h.dir)
}

// metric records one figure of the report.
func (h *harness) metric(key string, v float64) { h.rep.Metrics[key] = v }

// table prints one block of the report.
func (h *harness) table(title string, header []string, rows [][]string, notes ...string) {
	fmt.Fprintf(h.stdout, "\n%s\n", title)
	tw := tabwriter.NewWriter(h.stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, strings.Join(header, "\t")+"\t")
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(r, "\t")+"\t")
	}
	tw.Flush()
	for _, n := range notes {
		fmt.Fprintf(h.stdout, "  %s\n", n)
	}
}

// percentile of sorted durations, in microseconds.
func percentile(sorted []time.Duration, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(p*float64(len(sorted)) + 0.5)
	if i >= len(sorted) {
		i = len(sorted) - 1
	}
	return us(sorted[i])
}

func us(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }
func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func sortDurations(d []time.Duration) { sort.Slice(d, func(i, j int) bool { return d[i] < d[j] }) }

func median(d []time.Duration) time.Duration {
	c := append([]time.Duration(nil), d...)
	sortDurations(c)
	if len(c) == 0 {
		return 0
	}
	return c[len(c)/2]
}

// f formats a figure for a table: "-" when it was not measured.
func num(v float64, ok bool, prec int) string {
	if !ok {
		return "-"
	}
	return fmt.Sprintf("%.*f", prec, v)
}

func parseInts(s string) ([]int, error) {
	var out []int
	for _, part := range strings.Split(s, ",") {
		var n int
		if _, err := fmt.Sscan(strings.TrimSpace(part), &n); err != nil || n <= 0 {
			return nil, fmt.Errorf("%q is not a positive integer", part)
		}
		out = append(out, n)
	}
	if len(out) == 0 {
		return nil, errors.New("empty")
	}
	return out, nil
}
