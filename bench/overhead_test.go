package main_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	mcpclient "github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/switchboard-dev/switchboard/integrations/httpapi"
	"github.com/switchboard-dev/switchboard/internal/app"
)

const reply = `{"customers":[{"id":"cus_1001","name":"María García","email":"maria@example.com","tier":"gold","phone":"+34612345678"}],"found":1}`

func upstream(b *testing.B) *httptest.Server {
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer bench-token" {
			w.WriteHeader(401)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, reply)
	}))
	b.Cleanup(s.Close)
	return s
}

func benchApp(b *testing.B, url string) *app.App {
	yaml := `
integrations:
  - name: helpdesk
    type: http
    base_url: ` + url + `
    auth: {type: bearer, secret: "env:BENCH_TOKEN"}
    tools:
      - name: buscar_cliente
        description: Busca un cliente.
        method: GET
        path: /customers/search
        params:
          - {name: email, type: string, validate: email, required: true}
        response: {jq: '.customers[0] | {id, name, tier}'}
`
	getenv := func(k string) string {
		if k == "BENCH_TOKEN" {
			return "bench-token"
		}
		return ""
	}
	a, err := app.Open(context.Background(), app.Source{YAML: []byte(yaml)}, app.Options{Getenv: getenv, Logger: slog.New(slog.DiscardHandler), Stderr: io.Discard})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { a.Close() })
	return a
}

// BenchmarkDirect is the baseline: the same GET straight to the upstream.
func BenchmarkDirect(b *testing.B) {
	up := upstream(b)
	client := httpapi.NewClient()
	b.ReportAllocs()
	for b.Loop() {
		req, _ := http.NewRequest("GET", up.URL+"/customers/search?email=maria%40example.com", nil)
		req.Header.Set("Authorization", "Bearer bench-token")
		resp, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
}

// BenchmarkHandler is a tool call from the edge (the arguments decoded as
// `switchboard call` decodes them) through policy, argument checks, the
// credential lookup, the request and jq shaping, without a transport.
func BenchmarkHandler(b *testing.B) {
	a := benchApp(b, upstream(b).URL)
	args := []byte(`{"email":"maria@example.com"}`)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		res, err := a.Call(ctx, "helpdesk_buscar_cliente", args, nil)
		if err != nil || res.IsError {
			b.Fatalf("%v %+v", err, res)
		}
	}
}

// BenchmarkMCPStreamable is the whole call as a voice agent makes it: an
// MCP client over streamable HTTP to switchboard, then to the upstream.
func BenchmarkMCPStreamable(b *testing.B) {
	for _, version := range []string{"2025-06-18", mcp.ProtocolVersion20260728} {
		b.Run(version, func(b *testing.B) {
			a := benchApp(b, upstream(b).URL)
			h, err := a.HTTP(context.Background())
			if err != nil {
				b.Fatal(err)
			}
			ts := httptest.NewServer(h)
			defer ts.Close()
			tr, err := transport.NewStreamableHTTP(ts.URL + "/mcp")
			if err != nil {
				b.Fatal(err)
			}
			c := mcpclient.NewClient(tr, mcpclient.WithProtocolVersion(version))
			defer c.Close()
			ctx := context.Background()
			if err := c.Start(ctx); err != nil {
				b.Fatal(err)
			}
			if _, err := c.Initialize(ctx, mcp.InitializeRequest{}); err != nil {
				b.Fatal(err)
			}
			var req mcp.CallToolRequest
			req.Params.Name = "helpdesk_buscar_cliente"
			req.Params.Arguments = map[string]any{"email": "maria@example.com"}
			b.ReportAllocs()
			for b.Loop() {
				res, err := c.CallTool(ctx, req)
				if err != nil || res.IsError {
					b.Fatalf("%v %+v", err, res)
				}
			}
		})
	}
}
