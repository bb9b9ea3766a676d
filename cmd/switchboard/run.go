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
	"net/http"
	"os"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/lmittmann/tint"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/switchboard-dev/switchboard/configs"
	"github.com/switchboard-dev/switchboard/internal/app"
	"github.com/switchboard-dev/switchboard/internal/demoapi"
	"github.com/switchboard-dev/switchboard/internal/secrets"
	"github.com/switchboard-dev/switchboard/policy"
	"github.com/switchboard-dev/switchboard/server"
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
	needSecrets bool // the command calls tools, so it needs the credential stores
	config      string
	dev         bool
	logFormat   string
	logLevel    string
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

// loaded is a config with what it needs at run time.
type loaded struct {
	cfg     *configs.Config
	stderr  io.Writer // the audit log when audit.path is unset
	vault   secrets.Source
	check   func(context.Context) error
	cleanup func()
}

// load reads the config named by the flags: --dev starts the bundled sample
// API on loopback and serves vault: references from an in-memory store.
func load(ctx context.Context, c common, getenv func(string) string, logger *slog.Logger, stderr io.Writer) (l *loaded, err error) {
	defer func() {
		if l != nil {
			l.stderr = stderr
		}
	}()
	if c.dev && c.config != "" {
		return nil, usagef("--dev and --config cannot be used together")
	}
	if c.dev {
		return loadDev(logger, getenv)
	}
	if c.config == "" {
		return nil, usagef("--config FILE is required (or SWITCHBOARD_CONFIG, or --dev for the demo)")
	}
	cfg, err := configs.LoadFile(c.config, getenv)
	if err != nil {
		return nil, err
	}
	l = &loaded{cfg: cfg, cleanup: func() {}}
	// Listing http tools needs no secret, so `tools` works without Vault;
	// anything that connects or calls does.
	if c.needSecrets || hasMCP(cfg) {
		if err := openVault(ctx, l, getenv, logger); err != nil {
			return nil, err
		}
	}
	return l, nil
}

func loadDev(logger *slog.Logger, getenv func(string) string) (*loaded, error) {
	keys, err := demoapi.GenerateKeys()
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("start demo API: %w", err)
	}
	srv := &http.Server{Handler: demoapi.New(keys), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	demoURL := "http://" + ln.Addr().String()
	logger.Info("demo API listening", "url", demoURL)
	cfg, err := configs.LoadBundled("dev.yaml", func(k string) string {
		if k == "SWITCHBOARD_DEMO_URL" {
			return demoURL
		}
		return getenv(k)
	})
	if err != nil {
		srv.Close()
		return nil, fmt.Errorf("bundled dev config: %w", err)
	}
	return &loaded{cfg: cfg, vault: devSecrets(keys), cleanup: func() { srv.Close() }}, nil
}

// build makes the logger and the App the flags describe; done releases both
// the App and what loading started (the demo API, the Vault client).
func build(ctx context.Context, c common, getenv func(string) string, stderr io.Writer) (*app.App, *slog.Logger, func(), error) {
	logger, err := newLogger(c, stderr)
	if err != nil {
		return nil, nil, nil, err
	}
	l, err := load(ctx, c, getenv, logger, stderr)
	if err != nil {
		return nil, nil, nil, err
	}
	a, err := l.app(ctx, logger, getenv)
	if err != nil {
		l.cleanup()
		return nil, nil, nil, err
	}
	return a, logger, func() { a.Close(); l.cleanup() }, nil
}

func (l *loaded) app(ctx context.Context, logger *slog.Logger, getenv func(string) string) (*app.App, error) {
	return app.New(ctx, l.cfg, app.Options{
		Version:    version,
		Getenv:     getenv,
		Logger:     logger,
		Vault:      l.vault,
		VaultCheck: l.check,
		Stderr:     l.stderr,
	})
}

func cmdServe(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	c := common{needSecrets: true}
	c.register(fs, getenv)
	transport := fs.String("transport", getenv("SWITCHBOARD_TRANSPORT"), "stdio (default) or http; sse is a synonym of http")
	listen := fs.String("listen", getenv("SWITCHBOARD_LISTEN"), "address for --transport http (default 127.0.0.1:8080)")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("serve takes no arguments, got %q", pos)
	}
	switch *transport {
	case "", "stdio":
		*transport = "stdio"
	case "http", "sse":
		*transport = "http"
	default:
		return usagef("--transport %q: want stdio or http", *transport)
	}
	a, logger, done, err := build(ctx, c, getenv, stderr)
	if err != nil {
		return err
	}
	defer done()
	if err := a.Ready(ctx); err != nil {
		// Vault may come back; calls say what is wrong meanwhile, and
		// /readyz reports it so an orchestrator holds traffic back.
		logger.Error("not ready; serving anyway", "error", err)
	}
	if *transport == "stdio" {
		logger.Info("serving over stdio", "tools", len(a.Tools()))
		return server.ServeStdio(ctx, a.MCP, stdin, stdout, logger)
	}
	addr := *listen
	if addr == "" {
		addr = a.Config.Server.Listen
	}
	clients, err := a.Clients(ctx)
	if err != nil {
		return err
	}
	h := server.NewHTTP(a.MCP, server.HTTPOptions{
		Clients:        clients,
		AllowedOrigins: a.Config.Server.AllowedOrigins,
		MaxBodyBytes:   a.Config.Server.MaxBodyBytes,
		Ready:          a.Ready,
		Metrics:        a.Metrics(),
		Logger:         logger,
		Inflight:       a.Inflight,
	})
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	logger.Info("serving over HTTP", "mcp", "http://"+ln.Addr().String()+"/mcp", "sse", "http://"+ln.Addr().String()+"/sse", "tools", len(a.Tools()))
	return h.Serve(ctx, ln, 30*time.Second, logger)
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
	if c.config == "" && !c.dev {
		return usagef("--config FILE is required")
	}
	var cfg *configs.Config
	var err error
	if c.dev {
		cfg, err = configs.LoadBundled("dev.yaml", func(k string) string {
			if k == "SWITCHBOARD_DEMO_URL" {
				return "http://127.0.0.1:1"
			}
			return getenv(k)
		})
	} else {
		cfg, err = configs.LoadFile(c.config, getenv)
	}
	if err != nil {
		fmt.Fprintln(stdout, err)
		return errReported
	}
	n := 0
	for _, in := range cfg.Integrations {
		n += len(in.Tools.List)
	}
	fmt.Fprintf(stdout, "ok: %d integration(s), %d declared tool(s)\n", len(cfg.Integrations), n)
	return testConnections(ctx, c, cfg, getenv, stdout, stderr)
}

// testConnections connects to each type: mcp integration and says what it
// would expose, or why it cannot be reached.
func testConnections(ctx context.Context, c common, cfg *configs.Config, getenv func(string) string, stdout, stderr io.Writer) error {
	var upstreams []string
	for _, in := range cfg.Integrations {
		if in.Type == "mcp" {
			upstreams = append(upstreams, in.Name)
		}
	}
	if len(upstreams) == 0 || c.dev {
		return nil
	}
	a, _, done, err := build(ctx, c, getenv, stderr)
	if err != nil {
		return err
	}
	defer done()
	errs := waitUpstreams(ctx, a)
	for _, name := range upstreams {
		if errs[name] != nil {
			fmt.Fprintf(stdout, "%s: cannot connect: %v\n", name, errs[name])
			continue
		}
		var names []string
		for _, t := range a.Tools() {
			if t.Tool.Integration == name {
				names = append(names, t.Definition.Name)
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
	a, _, done, err := build(ctx, c, getenv, stderr)
	if err != nil {
		return err
	}
	defer done()
	upErrs := waitUpstreams(ctx, a)
	list := ToolList(a.Tools())
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

func hasMCP(cfg *configs.Config) bool {
	for _, in := range cfg.Integrations {
		if in.Type == "mcp" {
			return true
		}
	}
	return false
}

// waitUpstreams gives the upstream MCP servers a moment to connect, so that
// tools and validate show what they expose ("test connection").
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

// ListedTool is one line of `switchboard tools --json`: the tool exactly as
// tools/list shows it, plus whether it needs confirmation.
type ListedTool struct {
	Name                 string             `json:"name"`
	Description          string             `json:"description"`
	InputSchema          json.RawMessage    `json:"inputSchema"`
	Annotations          mcp.ToolAnnotation `json:"annotations"`
	ConfirmationRequired bool               `json:"confirmationRequired"`
}

// ToolList renders exposed tools as clients see them, sorted by name.
func ToolList(tools []*policy.Exposed) []ListedTool {
	out := make([]ListedTool, 0, len(tools))
	for _, t := range tools {
		b, _ := json.Marshal(t.Definition)
		var wire struct {
			InputSchema json.RawMessage `json:"inputSchema"`
		}
		_ = json.Unmarshal(b, &wire)
		out = append(out, ListedTool{
			Name:                 t.Definition.Name,
			Description:          t.Definition.Description,
			InputSchema:          wire.InputSchema,
			Annotations:          t.Definition.Annotations,
			ConfirmationRequired: t.Action == policy.Confirm,
		})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
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
	c := common{needSecrets: true}
	c.register(fs, getenv)
	argJSON := fs.String("args", "{}", "the tool's arguments as a JSON object")
	asJSON := fs.Bool("json", false, "print the whole MCP result as JSON")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("call needs exactly one TOOL name, got %d", len(pos))
	}
	var toolArgs map[string]any
	dec := json.NewDecoder(strings.NewReader(*argJSON))
	dec.UseNumber()
	if err := dec.Decode(&toolArgs); err != nil {
		return usagef("--args: not a JSON object: %v", err)
	}
	a, _, done, err := build(ctx, c, getenv, stderr)
	if err != nil {
		return err
	}
	defer done()
	t, ok := a.Tool(pos[0])
	if !ok {
		return fmt.Errorf("no tool named %q (see switchboard tools)", pos[0])
	}
	var req mcp.CallToolRequest
	req.Params.Name = pos[0]
	req.Params.Arguments = toolArgs
	res, err := t.Handler.Call(policy.WithCaller(ctx, policy.Caller{ClientID: "cli"}), req)
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
