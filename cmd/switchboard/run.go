package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/lmittmann/tint"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/switchboard-dev/switchboard/integrations"
	"github.com/switchboard-dev/switchboard/internal/app"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// usageError is a mistake on the command line (exit status 2).
type usageError struct{ msg string }

func (u usageError) Error() string { return u.msg }

func usagef(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

// errReported means the command already told the user what went wrong.
var errReported = errors.New("reported")

const usage = `switchboard serves integrations (REST APIs, other MCP servers) as MCP tools.

Usage:
  switchboard serve --config FILE [--transport stdio|http] [--listen ADDR]
  switchboard serve --dev [--transport stdio|http] [--listen ADDR]
  switchboard validate --config FILE
  switchboard tools --config FILE [--json]
  switchboard call --config FILE TOOL [--args JSON]
  switchboard import openapi SPEC [--name NAME] [--base-url URL] [--include GLOB]... [--exclude GLOB]... [--tag TAG]... [--out FILE]
  switchboard --version

Every command takes --log-format text|json and --log-level debug|info|warn|error.
tools and call also take --dev to use the bundled demo.
Environment: SWITCHBOARD_CONFIG, SWITCHBOARD_TRANSPORT, SWITCHBOARD_LISTEN.
`

// common holds the flags every command shares.
type common struct {
	config    string
	dev       bool
	logFormat string
	logLevel  string
}

func (c *common) register(fs *flag.FlagSet, getenv func(string) string) {
	fs.StringVar(&c.config, "config", getenv("SWITCHBOARD_CONFIG"), "configuration file")
	fs.BoolVar(&c.dev, "dev", false, "use the bundled demo integrations and sample API")
	fs.StringVar(&c.logFormat, "log-format", "text", "text or json")
	fs.StringVar(&c.logLevel, "log-level", "info", "debug, info, warn or error")
}

func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return usagef("no command given")
	}
	switch args[0] {
	case "--version", "-version", "version":
		fmt.Fprintln(stdout, "switchboard", version)
		return nil
	case "-h", "--help", "help":
		fmt.Fprint(stdout, usage)
		return nil
	case "serve":
		return cmdServe(ctx, args[1:], getenv, stdin, stdout, stderr)
	case "validate":
		return cmdValidate(ctx, args[1:], getenv, stdout, stderr)
	case "tools":
		return cmdTools(ctx, args[1:], getenv, stdout, stderr)
	case "call":
		return cmdCall(ctx, args[1:], getenv, stdout, stderr)
	case "import":
		return cmdImport(ctx, args[1:], stdout, stderr)
	}
	fmt.Fprint(stderr, usage)
	return usagef("unknown command %q", args[0])
}

// parse parses flags that may come before and after positional arguments.
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	fs.SetOutput(io.Discard)
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, usagef("%s: %v", fs.Name(), err)
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

func newLogger(c common, stderr io.Writer) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.logLevel)); err != nil {
		return nil, usagef("--log-level %q: want debug, info, warn or error", c.logLevel)
	}
	switch c.logFormat {
	case "text":
		return slog.New(tint.NewHandler(stderr, &tint.Options{Level: level, TimeFormat: time.TimeOnly, NoColor: !isTerminal(stderr)})), nil
	case "json":
		return slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: level})), nil
	}
	return nil, usagef("--log-format %q: want text or json", c.logFormat)
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// source is the config the flags name.
func (c common) source() (app.Source, error) {
	switch {
	case c.dev && c.config != "":
		return app.Source{}, usagef("--dev and --config cannot be used together")
	case c.dev:
		return app.Source{Dev: true}, nil
	case c.config == "":
		return app.Source{}, usagef("--config FILE is required (or SWITCHBOARD_CONFIG, or --dev for the demo)")
	}
	return app.Source{File: c.config}, nil
}

// open builds the logger and the App the flags describe. offline: the
// command only lists tools, so Vault is not needed unless upstream MCP
// servers must be asked for theirs.
func open(ctx context.Context, c common, offline bool, getenv func(string) string, stderr io.Writer) (*app.App, *slog.Logger, error) {
	logger, err := newLogger(c, stderr)
	if err != nil {
		return nil, nil, err
	}
	src, err := c.source()
	if err != nil {
		return nil, nil, err
	}
	a, err := app.Open(ctx, src, app.Options{Version: version, Getenv: getenv, Logger: logger, Stderr: stderr, Offline: offline})
	if err != nil {
		return nil, nil, err
	}
	return a, logger, nil
}

// serveFlags are serve's flags, parsed.
type serveFlags struct {
	common
	transport string
	listen    string
}

// parseServe parses serve's flags (the docs/deploy/ examples are checked
// against it).
func parseServe(args []string, getenv func(string) string) (serveFlags, error) {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	var f serveFlags
	f.register(fs, getenv)
	fs.StringVar(&f.transport, "transport", getenv("SWITCHBOARD_TRANSPORT"), "stdio (default) or http; sse is a synonym of http")
	fs.StringVar(&f.listen, "listen", getenv("SWITCHBOARD_LISTEN"), "address for --transport http (default 127.0.0.1:8080)")
	pos, err := parse(fs, args)
	if err != nil {
		return f, err
	}
	if len(pos) > 0 {
		return f, usagef("serve takes no arguments, got %q", pos)
	}
	switch f.transport {
	case "", "stdio":
		f.transport = "stdio"
	case "http", "sse":
		f.transport = "http"
	default:
		return f, usagef("--transport %q: want stdio or http", f.transport)
	}
	return f, nil
}

func cmdServe(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	// SIGHUP reloads the config; it never stops the process (Go's default).
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	f, err := parseServe(args, getenv)
	if err != nil {
		return err
	}
	a, logger, err := open(ctx, f.common, false, getenv, stderr)
	if err != nil {
		return err
	}
	defer a.Close()
	if err := a.Ready(ctx); err != nil {
		// Vault may come back; calls say what is wrong meanwhile, and
		// /readyz reports it so an orchestrator holds traffic back.
		logger.Error("not ready; serving anyway", "error", err)
	}
	if err := a.Watch(ctx); err != nil {
		logger.Warn("config file changes will not be seen; reload with SIGHUP", "error", err)
	}
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				logger.Info("SIGHUP: reloading the config")
				_, _ = a.Reload(ctx)
			}
		}
	}()
	if f.transport == "stdio" {
		return a.ServeStdio(ctx, stdin, stdout)
	}
	ln, err := net.Listen("tcp", a.Listen(f.listen))
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	return a.ServeHTTP(ctx, ln)
}

func cmdValidate(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("validate", flag.ContinueOnError)
	var c common
	c.register(fs, getenv)
	if pos, err := parse(fs, args); err != nil {
		return err
	} else if len(pos) > 0 {
		return usagef("validate takes no arguments, got %q", pos)
	}
	logger, err := newLogger(c, stderr)
	if err != nil {
		return err
	}
	src, err := c.source()
	if err != nil {
		return err
	}
	cfg, err := app.Load(src, getenv)
	if err != nil {
		fmt.Fprintln(stdout, err)
		return errReported
	}
	n := 0
	var upstreams []string
	for _, in := range cfg.Integrations {
		n += len(in.Tools.List)
		if in.Type == "mcp" {
			upstreams = append(upstreams, in.Name)
		}
	}
	fmt.Fprintf(stdout, "ok: %d integration(s), %d declared tool(s)\n", len(cfg.Integrations), n)
	if len(upstreams) == 0 {
		return nil
	}
	// Test connections: connect to each type: mcp integration and say what
	// it would expose, or why it cannot be reached.
	a, err := app.New(ctx, cfg, app.Options{Version: version, Getenv: getenv, Logger: logger, Stderr: stderr})
	if err != nil {
		return err
	}
	defer a.Close()
	errs := waitUpstreams(ctx, a)
	for _, name := range upstreams {
		if errs[name] != nil {
			fmt.Fprintf(stdout, "%s: cannot connect: %v\n", name, errs[name])
			continue
		}
		var names []string
		for _, t := range a.Tools() {
			if t.Integration == name {
				names = append(names, t.Name())
			}
		}
		fmt.Fprintf(stdout, "%s: connected, %d tool(s): %s\n", name, len(names), strings.Join(names, ", "))
	}
	if len(errs) > 0 {
		return errReported
	}
	return nil
}

func cmdTools(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("tools", flag.ContinueOnError)
	var c common
	c.register(fs, getenv)
	asJSON := fs.Bool("json", false, "print JSON")
	if pos, err := parse(fs, args); err != nil {
		return err
	} else if len(pos) > 0 {
		return usagef("tools takes no arguments, got %q", pos)
	}
	a, _, err := open(ctx, c, true, getenv, stderr)
	if err != nil {
		return err
	}
	defer a.Close()
	upErrs := waitUpstreams(ctx, a)
	list := a.ToolList()
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(list); err != nil {
			return err
		}
		return upstreamError(upErrs)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TOOL\tCONFIRM\tHINTS\tDESCRIPTION")
	for _, t := range list {
		fmt.Fprintf(tw, "%s\t%v\t%s\t%s\n", t.Name, t.ConfirmationRequired, hints(t.Annotations), firstLine(t.Description))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	return upstreamError(upErrs)
}

// waitUpstreams gives the upstream MCP servers a moment to connect, so that
// tools, call and validate see what they expose ("test connection").
func waitUpstreams(ctx context.Context, a *app.App) map[string]error {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	return a.WaitUpstreams(ctx)
}

func upstreamError(errs map[string]error) error {
	if len(errs) == 0 {
		return nil
	}
	var names []string
	for n := range errs {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	for _, n := range names {
		fmt.Fprintf(&b, "\n  integration %s: %v", n, errs[n])
	}
	return fmt.Errorf("cannot reach upstream MCP server(s):%s", b.String())
}

func hints(a mcp.ToolAnnotation) string {
	var h []string
	if a.ReadOnlyHint != nil && *a.ReadOnlyHint {
		h = append(h, "read-only")
	}
	if a.DestructiveHint != nil && *a.DestructiveHint {
		h = append(h, "destructive")
	}
	if a.OpenWorldHint != nil && *a.OpenWorldHint {
		h = append(h, "open-world")
	}
	return strings.Join(h, ",")
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return s
}

func cmdCall(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("call", flag.ContinueOnError)
	var c common
	c.register(fs, getenv)
	argJSON := fs.String("args", "{}", "the tool's arguments as a JSON object")
	asJSON := fs.Bool("json", false, "print the whole MCP result as JSON")
	callCtx := callFlag{}
	fs.Var(callCtx, "call", "a call context value, name=value (repeatable): --call caller_number=+34612345678 --call call_id=c-1")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("call needs exactly one TOOL name, got %d", len(pos))
	}
	if _, err := integrations.DecodeArgs(json.RawMessage(*argJSON), nil); err != nil {
		return usagef("--args: not a JSON object: %v", err)
	}
	a, _, err := open(ctx, c, false, getenv, stderr)
	if err != nil {
		return err
	}
	defer a.Close()
	// An upstream MCP server's tools exist once it has been asked for them.
	_ = waitUpstreams(ctx, a)
	res, err := a.Call(ctx, pos[0], []byte(*argJSON), callCtx.orNil())
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(res); err != nil {
			return err
		}
	} else {
		for _, content := range res.Content {
			if tc, ok := content.(mcp.TextContent); ok {
				fmt.Fprintln(stdout, tc.Text)
			}
		}
	}
	if res.IsError {
		return errReported
	}
	return nil
}
