package telemetry

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/switchboard-dev/switchboard/internal/secrets"
)

// Metrics are the series of the shared server besides the tool calls'
// own (those are policy's). Every label is bounded by the config: no
// argument value, no call id, no key.
type Metrics struct {
	upstream     *prometheus.CounterVec
	secretReads  *prometheus.HistogramVec
	secretErrors *prometheus.CounterVec
	reloads      *prometheus.CounterVec
	configInfo   *prometheus.GaugeVec
	reloadTime   prometheus.Gauge
	keyReads     *prometheus.CounterVec
}

// NewMetrics registers the series on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		upstream: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "switchboard_upstream_responses_total",
			Help: "HTTP responses from upstreams (type http APIs and HTTP MCP servers) by integration and status code; code is \"error\" when no response came.",
		}, []string{"integration", "code"}),
		secretReads: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "switchboard_secret_read_duration_seconds",
			Help:    "Reads from a secret store (vault, env, file) by store, cache included.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"store"}),
		secretErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "switchboard_secret_read_errors_total",
			Help: "Failed secret reads by store and reason (unavailable, denied, not_found, timeout, other).",
		}, []string{"store", "reason"}),
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "switchboard_config_reloads_total",
			Help: "Config reloads by result (ok, unchanged, invalid, failed).",
		}, []string{"result"}),
		configInfo: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "switchboard_config_info",
			Help: "1 for the config version (SHA-256 prefix of the file) that is live.",
		}, []string{"version"}),
		reloadTime: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "switchboard_config_last_reload_success_timestamp_seconds",
			Help: "When the live config was loaded (Unix time).",
		}),
		keyReads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "switchboard_client_key_reads_total",
			Help: "Reads of the client keys by result (ok, error).",
		}, []string{"result"}),
	}
	reg.MustRegister(m.upstream, m.secretReads, m.secretErrors, m.reloads, m.configInfo, m.reloadTime, m.keyReads)
	return m
}

// Reload counts one reload attempt.
func (m *Metrics) Reload(result string) { m.reloads.WithLabelValues(result).Inc() }

// Live says which config version is live.
func (m *Metrics) Live(version string) {
	m.configInfo.Reset()
	m.configInfo.WithLabelValues(version).Set(1)
	m.reloadTime.SetToCurrentTime()
}

// KeyRead counts one read of the client keys.
func (m *Metrics) KeyRead(err error) {
	if err != nil {
		m.keyReads.WithLabelValues("error").Inc()
		return
	}
	m.keyReads.WithLabelValues("ok").Inc()
}

// Secrets wraps a secret store so that every read is timed, its failures
// counted, and traced as a child span of the call (attributes: the store
// only; never the reference's path or the value).
func (m *Metrics) Secrets(store secrets.Scheme, src secrets.Source, tr trace.Tracer) secrets.Source {
	return secrets.SourceFunc(func(ctx context.Context, ref secrets.Ref) (string, error) {
		var span trace.Span
		if tr != nil {
			ctx, span = tr.Start(ctx, "secret read", trace.WithSpanKind(trace.SpanKindClient),
				trace.WithAttributes(attribute.String("switchboard.secret.store", string(store))))
		}
		start := time.Now()
		v, err := src.Get(ctx, ref)
		m.secretReads.WithLabelValues(string(store)).Observe(time.Since(start).Seconds())
		if err != nil {
			reason := secretReason(err)
			m.secretErrors.WithLabelValues(string(store), reason).Inc()
			if span != nil {
				span.SetStatus(codes.Error, reason)
			}
		}
		if span != nil {
			span.End()
		}
		return v, err
	})
}

func secretReason(err error) string {
	switch {
	case errors.Is(err, secrets.ErrDenied):
		return "denied"
	case errors.Is(err, secrets.ErrNotFound):
		return "not_found"
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	case errors.Is(err, secrets.ErrUnavailable):
		return "unavailable"
	}
	return "other"
}

// Transport wraps the round trips of one integration: the response status is
// counted, and with a tracer each request is a client span (method, host,
// port, status: never the URL, whose query may hold arguments or a key) and
// carries the W3C traceparent upstream.
func (m *Metrics) Transport(integration string, base http.RoundTripper, tr trace.Tracer) http.RoundTripper {
	return &transport{base: base, integration: integration, m: m, tr: tr}
}

type transport struct {
	base        http.RoundTripper
	integration string
	m           *Metrics
	tr          trace.Tracer
}

var propagator = propagation.TraceContext{}

func (t *transport) RoundTrip(r *http.Request) (*http.Response, error) {
	var span trace.Span
	if t.tr != nil {
		host, port, _ := net.SplitHostPort(r.URL.Host)
		if host == "" {
			host = r.URL.Hostname()
		}
		attrs := []attribute.KeyValue{
			attribute.String("http.request.method", r.Method),
			attribute.String("server.address", host),
			attribute.String("switchboard.integration", t.integration),
		}
		if p, err := strconv.Atoi(port); err == nil {
			attrs = append(attrs, attribute.Int("server.port", p))
		}
		var ctx context.Context
		ctx, span = t.tr.Start(r.Context(), r.Method, trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(attrs...))
		r = r.Clone(ctx)
		propagator.Inject(ctx, propagation.HeaderCarrier(r.Header))
	}
	resp, err := t.base.RoundTrip(r)
	code := "error"
	if err == nil {
		code = strconv.Itoa(resp.StatusCode)
	}
	t.m.upstream.WithLabelValues(t.integration, code).Inc()
	if span != nil {
		if err != nil {
			span.SetStatus(codes.Error, "no response")
		} else {
			span.SetAttributes(attribute.Int("http.response.status_code", resp.StatusCode))
			if resp.StatusCode >= 500 {
				span.SetStatus(codes.Error, "")
			}
		}
		span.End()
	}
	return resp, err
}
