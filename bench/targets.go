package main

import (
	"fmt"
	"io"
	"math"
	"text/tabwriter"
)

// A target of issue 13, computed from the metrics of one run. The harness
// reports each with its measured value; a miss never fails the run.
type target struct {
	name string
	want string // the bound, as printed
	// value computes the figure from the metrics; ok is false when a metric
	// it needs was not measured in this run (a scenario was skipped or failed).
	value func(m metrics) (v float64, ok bool)
	pass  func(v float64) bool
	unit  string
}

type targetResult struct {
	Name     string   `json:"name"`
	Want     string   `json:"want"`
	Value    *float64 `json:"value"` // null when not measured
	Unit     string   `json:"unit"`
	Pass     bool     `json:"pass"`
	Measured bool     `json:"measured"`
}

type metrics map[string]float64

// get returns the metric and whether all asked ones exist.
func (m metrics) get(keys ...string) ([]float64, bool) {
	out := make([]float64, len(keys))
	for i, k := range keys {
		v, ok := m[k]
		if !ok {
			return nil, false
		}
		out[i] = v
	}
	return out, true
}

func diff(a, b string) func(m metrics) (float64, bool) {
	return func(m metrics) (float64, bool) {
		v, ok := m.get(a, b)
		if !ok {
			return 0, false
		}
		return v[0] - v[1], true
	}
}

func ratio(a, b string) func(m metrics) (float64, bool) {
	return func(m metrics) (float64, bool) {
		v, ok := m.get(a, b)
		if !ok || v[1] == 0 {
			return 0, false
		}
		return v[0] / v[1], true
	}
}

func one(a string) func(m metrics) (float64, bool) {
	return func(m metrics) (float64, bool) {
		v, ok := m[a]
		return v, ok
	}
}

func atMost(x float64) func(float64) bool  { return func(v float64) bool { return v <= x } }
func atLeast(x float64) func(float64) bool { return func(v float64) bool { return v >= x } }

// targets are issue 13's, all measured against figures of the same run.
var targets = []target{
	{"added p50 vs ideal (switchboard-vault − ideal, sequential)", "≤ 60 µs",
		diff("sequential/switchboard-vault/p50_us", "sequential/ideal/p50_us"), atMost(60), "µs"},
	{"throughput at 64 clients, switchboard-vault ÷ ideal", "≥ 1.5×",
		ratio("load/switchboard-vault/c64/rps", "load/ideal/c64/rps"), atLeast(1.5), "×"},
	{"CPU per call at 64 clients, switchboard-vault ÷ ideal", "≤ 1.0×",
		ratio("load/switchboard-vault/c64/cpu_us_per_call", "load/ideal/c64/cpu_us_per_call"), atMost(1.0), "×"},
	{"federation throughput at 64 clients, switchboard-mcp ÷ bare (direct)", "≥ 0.4×",
		ratio("load/switchboard-mcp/c64/rps", "load/bare/c64/rps"), atLeast(0.4), "×"},
	{"2000-tool start-up (process start → /readyz 200)", "≤ 250 ms",
		one("tools2000/switchboard/startup_ms"), atMost(250), "ms"},
	{"tools/list of 2000 tools, switchboard ÷ bare", "≤ 1.3×",
		ratio("tools2000/switchboard/tools_list_ms", "tools2000/bare/tools_list_ms"), atMost(1.3), "×"},
	{"memory per idle session (switchboard-vault)", "≤ 50 KB",
		one("memory/switchboard-vault/per_session_kb"), atMost(50), "KB"},
}

func evalTargets(m metrics) []targetResult {
	var out []targetResult
	for _, t := range targets {
		r := targetResult{Name: t.name, Want: t.want, Unit: t.unit}
		if v, ok := t.value(m); ok && !math.IsNaN(v) && !math.IsInf(v, 0) {
			r.Value, r.Measured, r.Pass = &v, true, t.pass(v)
		}
		out = append(out, r)
	}
	return out
}

func printTargets(w io.Writer, rs []targetResult) {
	fmt.Fprintln(w, "\nTargets (issue 13; reported, never enforced)")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "target\twant\tmeasured\t")
	for _, r := range rs {
		got, verdict := "-", "not measured"
		if r.Measured {
			prec := 2
			if r.Unit != "×" {
				prec = 1
			}
			got = fmt.Sprintf("%.*f %s", prec, *r.Value, r.Unit)
			verdict = "MISS"
			if r.Pass {
				verdict = "pass"
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", r.Name, r.Want, got, verdict)
	}
	tw.Flush()
}
