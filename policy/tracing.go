package policy

import (
	"context"

	"github.com/mark3labs/mcp-go/mcp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/switchboard-dev/switchboard/integrations"
)

// tracing makes one span per tool call, a child of the caller's trace when
// the request carried a W3C traceparent (in _meta or as an HTTP header). The
// credential read and the upstream request are its children (they start
// from the context it passes on). Attributes name the tool, integration,
// client, decision, outcome and call_id; never an argument value, a header
// value or a secret, and the status says only the kind of failure (the
// public sentence may quote the upstream, which may quote the arguments).
func tracing(tr trace.Tracer) integrations.Middleware {
	prop := propagation.TraceContext{}
	return func(t *integrations.Tool, next integrations.Handler) integrations.Handler {
		return integrations.HandlerFunc(func(ctx context.Context, c *integrations.Call) (*mcp.CallToolResult, error) {
			if c.TraceParent != "" {
				ctx = prop.Extract(ctx, propagation.MapCarrier{"traceparent": c.TraceParent, "tracestate": c.TraceState})
			}
			ctx, span := tr.Start(ctx, "tools/call "+t.Name(),
				trace.WithSpanKind(trace.SpanKindServer),
				trace.WithAttributes(
					attribute.String("mcp.method.name", "tools/call"),
					attribute.String("gen_ai.tool.name", t.Name()),
					attribute.String("switchboard.integration", t.Integration),
					attribute.String("switchboard.client_id", c.Caller.ClientID),
				))
			defer span.End()
			res, err := next.Call(ctx, c)
			attrs := []attribute.KeyValue{
				attribute.String("switchboard.outcome", outcome(res, err)),
				attribute.String("switchboard.decision", string(decisionOf(c))),
			}
			if c.Reason != "" {
				attrs = append(attrs, attribute.String("switchboard.reason", c.Reason))
			}
			if id := c.CallID(); id != "" {
				attrs = append(attrs, attribute.String("switchboard.call_id", id))
			}
			if s := integrations.StatusOf(err); s != 0 {
				attrs = append(attrs, attribute.Int("switchboard.upstream_status", s))
			}
			span.SetAttributes(attrs...)
			if err != nil || (res != nil && res.IsError) {
				span.SetStatus(codes.Error, string(integrations.KindOf(err)))
			}
			return res, err
		})
	}
}
