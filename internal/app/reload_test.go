package app

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/switchboard-dev/switchboard/integrations"
)

func upstream(t testing.TB) string {
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"ok":true}`)
	}))
	t.Cleanup(s.Close)
	return s.URL
}

// config has integrations × tools http tools against url; extra is appended
// to every description (so a reload can change them all).
func config(url string, integrationsN, toolsN int, extra string) string {
	var b strings.Builder
	b.WriteString("integrations:\n")
	for i := range integrationsN {
		fmt.Fprintf(&b, "  - name: api%d\n    type: http\n    base_url: %s\n    tools:\n", i, url)
		for j := range toolsN {
			fmt.Fprintf(&b, "      - {name: t%d, description: \"Tool %d%s\", method: GET, path: \"/t/{id}\", params: [{name: id, in: path, required: true}]}\n", j, j, extra)
		}
	}
	return b.String()
}

func openFile(t testing.TB, yaml string) (*App, string) {
	t.Helper()
	file := filepath.Join(t.TempDir(), "switchboard.yaml")
	if err := os.WriteFile(file, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	a, err := Open(context.Background(), Source{File: file}, Options{Stderr: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	return a, file
}

func callTool(a *App, name string) (*mcp.CallToolResult, error) {
	t, ok := a.Tool(name)
	if !ok {
		return nil, fmt.Errorf("no tool %s", name)
	}
	c := integrations.NewCall(t, mcp.CallToolParams{Name: name, Arguments: map[string]any{"id": "1"}})
	return t.Handler.Call(context.Background(), c)
}

func TestReload(t *testing.T) {
	url := upstream(t)
	a, file := openFile(t, config(url, 1, 1, ""))
	v0 := a.Version()
	if res, err := a.Reload(context.Background()); res != ReloadUnchanged || err != nil {
		t.Fatalf("unchanged file: %s %v", res, err)
	}
	os.WriteFile(file, []byte(config(url, 2, 2, "")), 0o600)
	if res, err := a.Reload(context.Background()); res != ReloadOK || err != nil {
		t.Fatalf("valid file: %s %v", res, err)
	}
	if _, ok := a.Tool("api1_t1"); !ok || a.Version() == v0 {
		t.Fatal("the new config is not live")
	}
	os.WriteFile(file, []byte("integrations:\n  - name: Bad Name\n    type: soap\n"), 0o600)
	res, err := a.Reload(context.Background())
	if res != ReloadInvalid || err == nil || !strings.Contains(err.Error(), "line ") {
		t.Fatalf("invalid file: %s %v", res, err)
	}
	if _, ok := a.Tool("api1_t1"); !ok {
		t.Fatal("an invalid file replaced the config")
	}
	if res, err := callTool(a, "api1_t1"); err != nil || res.IsError {
		t.Fatalf("call after the refused reload: %+v %v", res, err)
	}
}

// Calls run while reloads swap generations (run with -race).
func TestCallsDuringReloads(t *testing.T) {
	url := upstream(t)
	a, file := openFile(t, config(url, 1, 3, ""))
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				res, err := callTool(a, "api0_t1")
				if err != nil || res.IsError {
					t.Errorf("call during reload: %+v %v", res, err)
					return
				}
			}
		}()
	}
	for i := range 20 {
		os.WriteFile(file, []byte(config(url, 1, 3, fmt.Sprint(" v", i))), 0o600)
		if res, err := a.Reload(context.Background()); res != ReloadOK {
			t.Fatalf("reload %d: %s %v", i, res, err)
		}
	}
	close(stop)
	wg.Wait()
}

// BenchmarkReload2000Tools swaps in a config of 2000 http tools (20
// integrations of 100) whose every description changed.
func BenchmarkReload2000Tools(b *testing.B) {
	url := upstream(b)
	a, file := openFile(b, config(url, 20, 100, ""))
	i := 0
	for b.Loop() {
		b.StopTimer()
		i++
		os.WriteFile(file, []byte(config(url, 20, 100, fmt.Sprint(" v", i))), 0o600)
		b.StartTimer()
		if res, err := a.Reload(context.Background()); res != ReloadOK {
			b.Fatalf("reload: %s %v", res, err)
		}
	}
	if n := len(a.Tools()); n != 2000 {
		b.Fatalf("%d tools", n)
	}
}

// BenchmarkReload2000ToolsOneChanged is the usual reload: one integration
// of twenty changed, the other 1900 tools are kept as built.
func BenchmarkReload2000ToolsOneChanged(b *testing.B) {
	url := upstream(b)
	a, file := openFile(b, config(url, 20, 100, ""))
	i := 0
	for b.Loop() {
		b.StopTimer()
		i++
		yaml := strings.Replace(config(url, 20, 100, ""), `description: "Tool 0"`, fmt.Sprintf(`description: "Tool 0 v%d"`, i), 1)
		os.WriteFile(file, []byte(yaml), 0o600)
		b.StartTimer()
		if res, err := a.Reload(context.Background()); res != ReloadOK {
			b.Fatalf("reload: %s %v", res, err)
		}
	}
}

// An edit of the file is reloaded without a signal; an editor's temp file in
// the same directory is not a reason to reload.
func TestWatch(t *testing.T) {
	url := upstream(t)
	a, file := openFile(t, config(url, 1, 1, ""))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := a.Watch(ctx); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(filepath.Dir(file), "4913"), []byte("x"), 0o600)
	tmp := file + ".tmp"
	os.WriteFile(tmp, []byte(config(url, 1, 2, "")), 0o600)
	os.Rename(tmp, file)
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, ok := a.Tool("api0_t1"); ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the edit was not reloaded")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
