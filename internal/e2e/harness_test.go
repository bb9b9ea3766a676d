package e2e

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/switchboard-dev/switchboard/internal/app"
)

// binary is switchboard built once for the stdio tests.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "switchboard-e2e")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "switchboard")
	if runtime.GOOS == "windows" {
		binary += ".exe"
	}
	build := exec.Command("go", "build", "-o", binary, "../../cmd/switchboard")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		panic("build switchboard: " + err.Error())
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

const upstreamToken = "tok-e2e-7f3a9c"

// recorded is one request the upstream received.
type recorded struct {
	Method, Path, RawQuery string
	Header                 http.Header
	Body                   string
}

// upstream is a small helpdesk API that records what it receives.
type upstream struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []recorded
	// block, when set, holds /api/slow until it is closed.
	block chan struct{}
}

func newUpstream(t *testing.T) *upstream {
	u := &upstream{}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/customers/{id}", func(w http.ResponseWriter, r *http.Request) {
		if r.PathValue("id") != "c-1" {
			writeJSON(w, 404, map[string]any{"error": "not_found", "message": "customer " + r.PathValue("id") + " not found"})
			return
		}
		writeJSON(w, 200, map[string]any{"id": "c-1", "name": "Ana García", "email": "ana@example.com", "tier": "gold"})
	})
	mux.HandleFunc("GET /api/search", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, map[string]any{"customers": []any{map[string]any{"id": "c-1", "email": r.URL.Query().Get("email")}}})
	})
	mux.HandleFunc("GET /api/broken", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 500, map[string]any{"message": "database down"})
	})
	mux.HandleFunc("GET /api/slow", func(w http.ResponseWriter, r *http.Request) {
		if u.block != nil {
			<-u.block
		}
		writeJSON(w, 200, map[string]any{"done": true})
	})
	mux.HandleFunc("POST /api/tickets", func(w http.ResponseWriter, r *http.Request) {
		var body map[string]any
		_ = json.NewDecoder(r.Body).Decode(&body)
		body["id"] = "t-42"
		writeJSON(w, 201, map[string]any{"ticket": body})
	})
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		u.mu.Lock()
		u.reqs = append(u.reqs, recorded{r.Method, r.URL.EscapedPath(), r.URL.RawQuery, r.Header.Clone(), string(b)})
		u.mu.Unlock()
		r.Body = io.NopCloser(strings.NewReader(string(b)))
		if r.Header.Get("Authorization") != "Bearer "+upstreamToken {
			writeJSON(w, 401, map[string]any{"error": "unauthorized"})
			return
		}
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(u.Close)
	return u
}

func (u *upstream) requests() []recorded {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]recorded(nil), u.reqs...)
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// testConfig is a helpdesk integration against the upstream at url.
func testConfig(url string) string {
	return `
server:
  name: switchboard-e2e
integrations:
  - name: helpdesk
    type: http
    description: Test helpdesk
    base_url: ` + url + `/api
    timeout: 5s
    auth: {type: bearer, secret: "env:E2E_HELPDESK_TOKEN"}
    tools:
      - name: get_customer
        description: Get one customer by id.
        method: GET
        path: /customers/{id}
        params:
          - {name: id, in: path, type: string, required: true, description: Customer id}
      - name: search
        description: Search customers by email.
        method: GET
        path: /search
        params:
          - {name: email, type: string, validate: email, required: true}
      - name: broken
        description: Always fails upstream.
        method: GET
        path: /broken
      - name: slow
        description: Answers when the test lets it.
        method: GET
        path: /slow
      - name: create_ticket
        description: Open a ticket.
        method: POST
        path: /tickets
        params:
          - {name: subject, type: string, required: true}
          - {name: priority, type: string, enum: [low, normal, high], default: normal}
          - {name: channel, type: string, value: phone}
`
}

func testEnv(k string) string {
	switch k {
	case "E2E_HELPDESK_TOKEN":
		return upstreamToken
	case "E2E_KEY_VOICE":
		return "key-voice-123"
	case "E2E_KEY_OPS":
		return "key-ops-456"
	case "VAULT_TOKEN":
		return "e2e-unused-token"
	}
	return ""
}

// served is a switchboard serving a config over HTTP and, for stdio
// clients, the same config as a file for the built binary.
type served struct {
	target
	app *app.App
}

// serve builds switchboard from cfgYAML exactly as `switchboard serve` does
// (app.Open, the App's own HTTP surface) and serves it on a test listener.
func serve(t *testing.T, cfgYAML string) *served {
	t.Helper()
	return serveWith(t, cfgYAML, testEnv, slog.New(slog.NewTextHandler(io.Discard, nil)))
}

// serveWith is serve with the environment getenv and the log going to logger.
func serveWith(t *testing.T, cfgYAML string, getenv func(string) string, logger *slog.Logger) *served {
	t.Helper()
	a, err := app.Open(context.Background(), app.Source{YAML: []byte(cfgYAML)},
		app.Options{Version: "test", Getenv: getenv, Logger: logger, Stderr: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	h, err := a.HTTP(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(h)
	t.Cleanup(ts.Close)
	file := filepath.Join(t.TempDir(), "switchboard.yaml")
	if err := os.WriteFile(file, []byte(cfgYAML), 0o600); err != nil {
		t.Fatal(err)
	}
	return &served{
		app: a,
		target: target{
			BaseURL: ts.URL,
			Command: func() *exec.Cmd {
				cmd := exec.Command(binary, "serve", "--config", file, "--log-level", "warn")
				cmd.Env = append(os.Environ(), "E2E_HELPDESK_TOKEN="+upstreamToken)
				return cmd
			},
		},
	}
}

// withServer adds lines (already indented by two spaces) to the server:
// block of a config made by testConfig.
func withServer(cfg string, lines ...string) string {
	return strings.Replace(cfg, "  name: switchboard-e2e\n", "  name: switchboard-e2e\n"+strings.Join(lines, "\n")+"\n", 1)
}
