// Command bench measures what switchboard costs a tool call, against the
// thinnest gateways that do the same job, each run as its own process on this
// machine in this run:
//
//	go run ./bench                  the full run (a few minutes), table + JSON
//	go run ./bench -short           everything tiny, to prove the harness works (CI)
//	go run ./bench -run 'load|stdio' only the matching scenarios
//
// Only ratios between figures of one run mean anything on a shared machine; the
// targets of issue 13 are printed with their measured values (pass or miss) and
// never fail the run. See the README section "The benchmark harness".
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"syscall"
	"time"
)

// options are the harness's flags.
type options struct {
	short       bool
	requests    int           // sequential calls per gateway
	duration    time.Duration // load per gateway and concurrency level, all rounds together
	rounds      int           // load slices per gateway and level, interleaved
	clients     []int         // concurrency levels
	sessions    int           // idle sessions opened for the memory figure
	repeats     int           // process starts per start-up figure
	out         string        // the JSON report
	run         *regexp.Regexp
	switchboard string // a prebuilt binary instead of go build ./cmd/switchboard
	keep        bool   // keep the work directory (configs, logs)
	cpuprofile  string // directory for CPU profiles of switchboard under load
}

func main() {
	// Hidden roles: the harness re-executes itself as its own Vault.
	if len(os.Args) > 2 && os.Args[1] == "-role" {
		if err := runRole(os.Args[2], os.Args[3:]); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func runRole(role string, args []string) error {
	switch role {
	case "vault":
		if len(args) != 1 {
			return fmt.Errorf("-role vault TOKEN")
		}
		return runVault(args[0])
	}
	return fmt.Errorf("unknown role %q", role)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o options
	var clients, runRE string
	fs.BoolVar(&o.short, "short", false, "run everything tiny and fast, only to prove the harness works")
	fs.IntVar(&o.requests, "requests", 2000, "sequential calls per gateway")
	fs.DurationVar(&o.duration, "duration", 3*time.Second, "load per gateway and concurrency level")
	fs.IntVar(&o.rounds, "rounds", 3, "slices the load of each gateway and level is cut into, interleaved across gateways")
	fs.StringVar(&clients, "clients", "1,16,64,256", "concurrency levels")
	fs.IntVar(&o.sessions, "sessions", 1000, "idle sessions opened for the per-session memory figure")
	fs.IntVar(&o.repeats, "repeats", 5, "process starts per start-up figure (the median is reported)")
	fs.StringVar(&o.out, "out", "", "JSON report path (default: switchboard-bench-<time>.json in the OS temp dir)")
	fs.StringVar(&runRE, "run", "", "only the scenarios whose name matches this regexp")
	fs.StringVar(&o.switchboard, "switchboard", "", "a switchboard binary to measure instead of building ./cmd/switchboard")
	fs.StringVar(&o.cpuprofile, "cpuprofile", "", "write CPU profiles of the switchboard gateways under load to this directory")
	fs.BoolVar(&o.keep, "keep", false, "keep the work directory (configs and process logs)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	var err error
	if o.clients, err = parseInts(clients); err != nil {
		return fmt.Errorf("-clients: %w", err)
	}
	if o.run, err = regexp.Compile(runRE); err != nil {
		return fmt.Errorf("-run: %w", err)
	}
	if o.short {
		set := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
		shorten(&o, set)
	}
	if o.out == "" {
		o.out = filepath.Join(os.TempDir(), "switchboard-bench-"+time.Now().UTC().Format("20060102T150405Z")+".json")
	}

	h, err := newHarness(ctx, o, stdout, stderr)
	if err != nil {
		return err
	}
	defer h.close()
	return h.runAll(scenarios)
}

// shorten makes every figure tiny, except those given explicitly on the command line.
func shorten(o *options, set map[string]bool) {
	if !set["requests"] {
		o.requests = 20
	}
	if !set["duration"] {
		o.duration = 150 * time.Millisecond
	}
	if !set["rounds"] {
		o.rounds = 1
	}
	if !set["clients"] {
		o.clients = []int{1, 64} // 64: every target is computed
	}
	if !set["sessions"] {
		o.sessions = 50
	}
	if !set["repeats"] {
		o.repeats = 1
	}
}
