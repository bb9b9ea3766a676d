// Package telemetry holds switchboard's traces (OpenTelemetry, OTLP over
// HTTP, configured by the standard OTEL_* variables) and the metrics that
// are not a tool call's own: upstream statuses, secret store reads, reloads,
// sessions, upstream MCP connection state.
package telemetry

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// Tracing is the tracer provider, or nothing when tracing is off.
type Tracing struct {
	tp *sdktrace.TracerProvider
}

// Tracer is switchboard's tracer; nil when tracing is off, so that callers
// skip tracing entirely (no span, no cost).
func (t *Tracing) Tracer() trace.Tracer {
	if t == nil || t.tp == nil {
		return nil
	}
	return t.tp.Tracer("github.com/switchboard-dev/switchboard")
}

// Shutdown sends the spans not yet exported and stops the exporter.
func (t *Tracing) Shutdown(ctx context.Context) error {
	if t == nil || t.tp == nil {
		return nil
	}
	return t.tp.Shutdown(ctx)
}

// ForceFlush exports the spans ended so far.
func (t *Tracing) ForceFlush(ctx context.Context) error {
	if t == nil || t.tp == nil {
		return nil
	}
	return t.tp.ForceFlush(ctx)
}

// Enabled reports whether the environment asks for traces: any
// OTEL_EXPORTER_OTLP_* variable or OTEL_SERVICE_NAME is set, and neither
// OTEL_SDK_DISABLED=true nor OTEL_TRACES_EXPORTER=none says otherwise.
func Enabled(getenv func(string) string) bool {
	if strings.EqualFold(getenv("OTEL_SDK_DISABLED"), "true") || strings.EqualFold(getenv("OTEL_TRACES_EXPORTER"), "none") {
		return false
	}
	for _, k := range []string{
		"OTEL_SERVICE_NAME", "OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
		"OTEL_EXPORTER_OTLP_HEADERS", "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
	} {
		if getenv(k) != "" {
			return true
		}
	}
	return false
}

// Setup builds the tracer provider from the OTEL_* variables read through
// getenv (never the process environment directly): endpoint, headers,
// timeout and compression of the OTLP HTTP exporter (the TRACES_ variants
// win), OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES, OTEL_TRACES_SAMPLER
// (+_ARG) and the batch processor's OTEL_BSP_SCHEDULE_DELAY. Off: a nil
// *Tracing, whose methods do nothing.
func Setup(ctx context.Context, getenv func(string) string, version string) (*Tracing, error) {
	if !Enabled(getenv) {
		return nil, nil
	}
	env := func(k string) string {
		if v := getenv("OTEL_EXPORTER_OTLP_TRACES_" + k); v != "" {
			return v
		}
		return getenv("OTEL_EXPORTER_OTLP_" + k)
	}
	var opts []otlptracehttp.Option
	endpoint := getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
	if endpoint == "" {
		base := getenv("OTEL_EXPORTER_OTLP_ENDPOINT")
		if base == "" {
			base = "http://localhost:4318"
		}
		endpoint = strings.TrimRight(base, "/") + "/v1/traces"
	}
	if _, err := url.Parse(endpoint); err != nil {
		return nil, fmt.Errorf("OTEL_EXPORTER_OTLP_ENDPOINT: %w", err)
	}
	opts = append(opts, otlptracehttp.WithEndpointURL(endpoint))
	if h := env("HEADERS"); h != "" {
		opts = append(opts, otlptracehttp.WithHeaders(parseList(h)))
	}
	if ms, err := strconv.Atoi(env("TIMEOUT")); err == nil && ms > 0 {
		opts = append(opts, otlptracehttp.WithTimeout(time.Duration(ms)*time.Millisecond))
	}
	if strings.EqualFold(env("COMPRESSION"), "gzip") {
		opts = append(opts, otlptracehttp.WithCompression(otlptracehttp.GzipCompression))
	}
	exp, err := otlptracehttp.New(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("OTLP exporter: %w", err)
	}
	name := getenv("OTEL_SERVICE_NAME")
	if name == "" {
		name = "switchboard"
	}
	attrs := []attribute.KeyValue{attribute.String("service.name", name), attribute.String("service.version", version)}
	for k, v := range parseList(getenv("OTEL_RESOURCE_ATTRIBUTES")) {
		if k != "service.name" {
			attrs = append(attrs, attribute.String(k, v))
		}
	}
	var bsp []sdktrace.BatchSpanProcessorOption
	if ms, err := strconv.Atoi(getenv("OTEL_BSP_SCHEDULE_DELAY")); err == nil && ms >= 0 {
		bsp = append(bsp, sdktrace.WithBatchTimeout(time.Duration(ms)*time.Millisecond))
	}
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(exp, bsp...),
		sdktrace.WithResource(resource.NewSchemaless(attrs...)),
		sdktrace.WithSampler(sampler(getenv)),
	)
	return &Tracing{tp: tp}, nil
}

// sampler reads OTEL_TRACES_SAMPLER; the default follows the caller's
// decision and samples every root.
func sampler(getenv func(string) string) sdktrace.Sampler {
	ratio := 1.0
	if f, err := strconv.ParseFloat(getenv("OTEL_TRACES_SAMPLER_ARG"), 64); err == nil && f >= 0 && f <= 1 {
		ratio = f
	}
	switch getenv("OTEL_TRACES_SAMPLER") {
	case "always_on":
		return sdktrace.AlwaysSample()
	case "always_off":
		return sdktrace.NeverSample()
	case "traceidratio":
		return sdktrace.TraceIDRatioBased(ratio)
	case "parentbased_always_off":
		return sdktrace.ParentBased(sdktrace.NeverSample())
	case "parentbased_traceidratio":
		return sdktrace.ParentBased(sdktrace.TraceIDRatioBased(ratio))
	}
	return sdktrace.ParentBased(sdktrace.AlwaysSample())
}

// parseList reads "k1=v1,k2=v2" (values URL-encoded, as the spec says).
func parseList(s string) map[string]string {
	out := map[string]string{}
	for _, kv := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			continue
		}
		if u, err := url.QueryUnescape(strings.TrimSpace(v)); err == nil {
			v = u
		}
		out[strings.TrimSpace(k)] = strings.TrimSpace(v)
	}
	return out
}
