package integrations

import (
	"context"

	"go.opentelemetry.io/otel/propagation"
)

// TraceMeta is the W3C trace context of ctx's span as _meta fields
// ({"traceparent": …, "tracestate": …}) for a request to an upstream MCP
// server, so the upstream continues switchboard's trace; nil when ctx has no
// sampled span (tracing off). It carries ids only, never a value of the call.
func TraceMeta(ctx context.Context) map[string]any {
	carrier := propagation.MapCarrier{}
	propagation.TraceContext{}.Inject(ctx, carrier)
	if carrier["traceparent"] == "" {
		return nil
	}
	out := make(map[string]any, len(carrier))
	for k, v := range carrier {
		out[k] = v
	}
	return out
}
