package app

import (
	"context"
	"fmt"
	"strings"
	"testing"
)

// bigConfig is 40 http integrations of 50 tools each: the size of config a
// platform team serves from one process.
func bigConfig() []byte {
	var b strings.Builder
	b.WriteString("server:\n  name: big\nintegrations:\n")
	for i := range 40 {
		fmt.Fprintf(&b, "  - name: api%d\n    type: http\n    base_url: http://127.0.0.1:9/v1\n"+
			"    auth: {type: bearer, secret: \"env:TOKEN\"}\n    headers: {X-Tenant: acme}\n    tools:\n", i)
		for j := range 50 {
			method := "GET"
			if j%2 == 1 {
				method = "POST"
			}
			fmt.Fprintf(&b, `      - name: op%d
        description: Operation %d of api %d, finds things by id and email.
        method: %s
        path: /things/{id}/items
        params:
          - {name: id, in: path, type: string, required: true, description: The thing id}
          - {name: email, type: string, validate: email, description: Email}
          - {name: limit, type: integer, default: 10, validate: "gte=1,lte=100"}
          - {name: status, type: string, enum: [open, closed]}
        response: {jq: '.items[0] | {id, name}', max_bytes: 4096}
`, j, j, i, method)
		}
	}
	return []byte(b.String())
}

func getenv(k string) string {
	if k == "TOKEN" {
		return "t"
	}
	return ""
}

// BenchmarkOpen2000Tools is start-up (and therefore reload) of a 2000-tool
// config: parse, validate, compile every schema, jq program and path, build
// the registry and register every tool on the MCP server.
func BenchmarkOpen2000Tools(b *testing.B) {
	cfg := bigConfig()
	for b.Loop() {
		a, err := Open(context.Background(), Source{YAML: cfg}, Options{Getenv: getenv})
		if err != nil {
			b.Fatal(err)
		}
		if n := len(a.Tools()); n != 2000 {
			b.Fatalf("%d tools", n)
		}
		a.Close()
	}
}

func TestOpenBigConfig(t *testing.T) {
	a, err := Open(context.Background(), Source{YAML: bigConfig()}, Options{Getenv: getenv})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if n := len(a.Tools()); n != 2000 {
		t.Fatalf("%d tools, want 2000", n)
	}
}

// validate builds an App from the config it already parsed, to test the
// connections of upstream MCP servers; closing it must work too.
func TestNewFromParsedConfig(t *testing.T) {
	cfg, err := Load(Source{YAML: bigConfig()}, getenv)
	if err != nil {
		t.Fatal(err)
	}
	a, err := New(context.Background(), cfg, Options{Getenv: getenv, Offline: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
}
