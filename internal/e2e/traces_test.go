package e2e

import (
	"context"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	mcpgo "github.com/mark3labs/mcp-go/mcp"
	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
	collectortrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"
)

// otlpReceiver is an OTLP/HTTP traces endpoint that keeps what it decodes.
type otlpReceiver struct {
	*httptest.Server
	mu    sync.Mutex
	spans []*tracepb.Span
	attrs []string // every attribute value of every span and resource
}

func newOTLPReceiver(t *testing.T) *otlpReceiver {
	r := &otlpReceiver{}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.URL.Path != "/v1/traces" || req.Header.Get("Content-Type") != "application/x-protobuf" {
			http.Error(w, "unexpected", 400)
			return
		}
		b, _ := io.ReadAll(req.Body)
		var msg collectortrace.ExportTraceServiceRequest
		if err := proto.Unmarshal(b, &msg); err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		r.mu.Lock()
		for _, rs := range msg.ResourceSpans {
			for _, a := range rs.GetResource().GetAttributes() {
				r.attrs = append(r.attrs, a.Key+"="+a.GetValue().String())
			}
			for _, ss := range rs.ScopeSpans {
				for _, s := range ss.Spans {
					r.spans = append(r.spans, s)
					r.attrs = append(r.attrs, s.Name, s.GetStatus().GetMessage())
					for _, a := range s.Attributes {
						r.attrs = append(r.attrs, a.Key+"="+a.GetValue().String())
					}
				}
			}
		}
		r.mu.Unlock()
		out, _ := proto.Marshal(&collectortrace.ExportTraceServiceResponse{})
		w.Header().Set("Content-Type", "application/x-protobuf")
		w.Write(out)
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *otlpReceiver) find(name string, traceID []byte) *tracepb.Span {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, s := range r.spans {
		if s.Name == name && (traceID == nil || string(s.TraceId) == string(traceID)) {
			return s
		}
	}
	return nil
}

func (r *otlpReceiver) waitSpan(t *testing.T, name string, traceID []byte) *tracepb.Span {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if s := r.find(name, traceID); s != nil {
			return s
		}
		if time.Now().After(deadline) {
			r.mu.Lock()
			var names []string
			for _, s := range r.spans {
				names = append(names, s.Name)
			}
			r.mu.Unlock()
			t.Fatalf("no span %q in trace %x; got %v", name, traceID, names)
		}
	}
}

func attr(s *tracepb.Span, key string) string {
	for _, a := range s.Attributes {
		if a.Key == key {
			return a.GetValue().GetStringValue()
		}
	}
	return ""
}

// One span per tool call continues the caller's trace (traceparent in _meta
// or in the HTTP header), with the credential read and the upstream request
// as children; the traceparent goes on upstream; no argument value and no
// secret is in any attribute.
func TestTraces(t *testing.T) {
	rcv := newOTLPReceiver(t)
	up := newUpstream(t)
	crmSrv, crmMeta := tracedCRM(t)
	cfg := testConfig(up.URL) + `
  - name: crm
    type: mcp
    url: ` + crmSrv.URL + `/mcp
    auth: {type: bearer, secret: "env:E2E_HELPDESK_TOKEN"}
    tools: {exclude: ["admin_*"]}
`
	getenv := func(k string) string {
		switch k {
		case "OTEL_EXPORTER_OTLP_ENDPOINT":
			return rcv.URL
		case "OTEL_SERVICE_NAME":
			return "switchboard-e2e"
		case "OTEL_BSP_SCHEDULE_DELAY":
			return "20"
		}
		return testEnv(k)
	}
	a, _, base, _ := serveFile(t, cfg, getenv)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if errs := a.WaitUpstreams(ctx); len(errs) > 0 {
		t.Fatal(errs)
	}
	traceID, _ := hex.DecodeString("4bf92f3577b34da6a3ce929d0e0e4736")
	parentID, _ := hex.DecodeString("00f067aa0ba902b7")
	traceparent := "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

	// traceparent in _meta, over streamable HTTP (stateless core).
	c := mcpgoConnect("streamable", mcpgo.ProtocolVersion20260728)(t, ctx, target{BaseURL: base})
	defer c.Close()
	m := c.(*mcpgoClient)
	var req mcpgo.CallToolRequest
	req.Params.Name = "helpdesk_search"
	req.Params.Arguments = map[string]any{"email": "ana.secret-arg@example.com"}
	req.Params.Meta = &mcpgo.Meta{AdditionalFields: map[string]any{"traceparent": traceparent}}
	if res, err := m.c.CallTool(ctx, req); err != nil || res.IsError {
		t.Fatalf("search: %+v %v", res, err)
	}
	tool := rcv.waitSpan(t, "tools/call helpdesk_search", traceID)
	if string(tool.ParentSpanId) != string(parentID) {
		t.Fatalf("tool span's parent = %x, want the caller's %x", tool.ParentSpanId, parentID)
	}
	for k, want := range map[string]string{"gen_ai.tool.name": "helpdesk_search", "switchboard.integration": "helpdesk",
		"switchboard.outcome": "ok", "switchboard.decision": "allowed"} {
		if got := attr(tool, k); got != want {
			t.Errorf("tool span %s = %q, want %q", k, got, want)
		}
	}
	secret := rcv.waitSpan(t, "secret read", traceID)
	get := rcv.waitSpan(t, "GET", traceID)
	for _, child := range []*tracepb.Span{secret, get} {
		if string(child.ParentSpanId) != string(tool.SpanId) {
			t.Fatalf("span %s is not a child of the tool span", child.Name)
		}
	}
	var sent string
	for _, r := range up.requests() {
		if r.Path == "/api/search" {
			sent = r.Header.Get("traceparent")
		}
	}
	if want := "00-" + hex.EncodeToString(traceID) + "-" + hex.EncodeToString(get.SpanId) + "-01"; sent != want {
		t.Fatalf("upstream got traceparent %q, want %q", sent, want)
	}

	// traceparent as an HTTP header, over the handshake era; an MCP
	// upstream's call is a child span, its HTTP requests below it.
	trace2 := "11111111111111111111111111111111"
	hc := mcpgoConnect("streamable", "2025-06-18")(t, ctx, target{BaseURL: base, Header: http.Header{"Traceparent": {"00-" + trace2 + "-2222222222222222-01"}}})
	defer hc.Close()
	if res, err := hc.Call(ctx, "crm_find_contact", map[string]any{"name": "Zoe Secretarg"}); err != nil || res.IsError {
		t.Fatalf("crm: %+v %v", res, err)
	}
	id2, _ := hex.DecodeString(trace2)
	crmTool := rcv.waitSpan(t, "tools/call crm_find_contact", id2)
	fwd := rcv.waitSpan(t, "mcp tools/call", id2)
	if string(fwd.ParentSpanId) != string(crmTool.SpanId) {
		t.Fatal("the forwarded MCP call is not a child of the tool span")
	}
	post := rcv.waitSpan(t, "POST", id2)
	if string(post.ParentSpanId) != string(fwd.SpanId) {
		t.Fatal("the upstream HTTP request is not a child of the forwarded call")
	}
	// The MCP upstream continues the trace from its request's _meta too.
	select {
	case tp := <-crmMeta:
		if !strings.HasPrefix(tp, "00-"+trace2+"-") || !strings.Contains(tp, hex.EncodeToString(fwd.SpanId)) {
			t.Fatalf("_meta.traceparent upstream = %q, want trace %s and the forwarded call's span %x", tp, trace2, fwd.SpanId)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the upstream's tools/call had no _meta.traceparent")
	}

	rcv.mu.Lock()
	defer rcv.mu.Unlock()
	for _, v := range rcv.attrs {
		for _, bad := range []string{"ana.secret-arg", "Secretarg", upstreamToken, "Bearer"} {
			if strings.Contains(v, bad) {
				t.Errorf("a span carries %q: %s", bad, v)
			}
		}
	}
}

// tracedCRM is the crm upstream (a go-sdk server) reporting the traceparent
// in the _meta of each find_contact call it gets.
func tracedCRM(t *testing.T) (*httptest.Server, <-chan string) {
	seen := make(chan string, 16)
	s := sdk.NewServer(&sdk.Implementation{Name: "crm", Version: "1"}, nil)
	sdk.AddTool(s, &sdk.Tool{Name: "find_contact", Description: "Finds a contact by name.", Annotations: &sdk.ToolAnnotations{ReadOnlyHint: true}},
		func(ctx context.Context, req *sdk.CallToolRequest, in contactArgs) (*sdk.CallToolResult, any, error) {
			tp, _ := req.Params.Meta["traceparent"].(string)
			select {
			case seen <- tp:
			default:
			}
			return &sdk.CallToolResult{Content: []sdk.Content{&sdk.TextContent{Text: "found " + in.Name}}}, nil, nil
		})
	h := sdk.NewStreamableHTTPHandler(func(*http.Request) *sdk.Server { return s }, nil)
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+upstreamToken {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(ts.Close)
	return ts, seen
}
