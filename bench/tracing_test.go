package main_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/switchboard-dev/switchboard/internal/app"
)

// BenchmarkTracing is BenchmarkHandler with tracing off (no OTEL_* set: no
// tracing middleware, no spans) and on (spans for the call, the credential
// read and the upstream request, batched to an OTLP/HTTP receiver that
// discards them, every call sampled).
func BenchmarkTracing(b *testing.B) {
	collector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/x-protobuf")
	}))
	b.Cleanup(collector.Close)
	for _, tc := range []struct {
		name string
		env  map[string]string
	}{
		{"off", nil},
		{"on", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": collector.URL, "OTEL_SERVICE_NAME": "bench"}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			up := upstream(b)
			getenv := func(k string) string {
				if k == "BENCH_TOKEN" {
					return "bench-token"
				}
				return tc.env[k]
			}
			yaml := `
integrations:
  - name: helpdesk
    type: http
    base_url: ` + up.URL + `
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
			a, err := app.Open(context.Background(), app.Source{YAML: []byte(yaml)}, app.Options{Getenv: getenv, Logger: slog.New(slog.DiscardHandler), Stderr: io.Discard})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { a.Close() })
			args := []byte(`{"email":"maria@example.com"}`)
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				res, err := a.Call(ctx, "helpdesk_buscar_cliente", args, nil)
				if err != nil || res.IsError {
					b.Fatalf("%v %+v", err, res)
				}
			}
		})
	}
}
