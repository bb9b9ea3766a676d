package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os/exec"
	"testing"

	mcpclient "github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	mcpgo "github.com/mark3labs/mcp-go/mcp"
	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
)

// client is the little the tests need from an MCP client, so that every
// test runs against each real client, transport and protocol revision.
type client interface {
	ListTools(ctx context.Context) ([]listedTool, error)
	Call(ctx context.Context, name string, args map[string]any) (callResult, error)
	Close()
}

type listedTool struct {
	Name        string
	Description string
	Schema      string // canonical JSON of the input schema
	Annotations map[string]any
}

type callResult struct {
	Text       string
	IsError    bool
	Structured map[string]any
}

// clientKind names one client × transport × revision of the matrix.
type clientKind struct {
	Name      string
	Transport string // streamable | sse | stdio
	Connect   func(t *testing.T, ctx context.Context, target target) client
}

// target is where a client connects: an HTTP base URL, or a command for stdio.
type target struct {
	BaseURL string
	Header  http.Header
	Command func() *exec.Cmd
}

func clientMatrix() []clientKind {
	return []clientKind{
		{"mcp-go/streamable/2026-07-28", "streamable", mcpgoConnect("streamable", mcpgo.ProtocolVersion20260728)},
		{"mcp-go/streamable/2025-06-18", "streamable", mcpgoConnect("streamable", "2025-06-18")},
		{"mcp-go/sse/2024-11-05", "sse", mcpgoConnect("sse", "2024-11-05")},
		{"mcp-go/stdio/2026-07-28", "stdio", mcpgoConnect("stdio", mcpgo.ProtocolVersion20260728)},
		{"mcp-go/stdio/2025-11-25", "stdio", mcpgoConnect("stdio", "2025-11-25")},
		{"go-sdk/streamable/2026-07-28", "streamable", sdkConnect("streamable", "2026-07-28")},
		{"go-sdk/streamable/2025-06-18", "streamable", sdkConnect("streamable", "2025-06-18")},
		{"go-sdk/streamable/2025-03-26", "streamable", sdkConnect("streamable", "2025-03-26")},
		{"go-sdk/sse/2024-11-05", "sse", sdkConnect("sse", "2024-11-05")},
		{"go-sdk/stdio/2026-07-28", "stdio", sdkConnect("stdio", "2026-07-28")},
		{"go-sdk/stdio/2025-06-18", "stdio", sdkConnect("stdio", "2025-06-18")},
	}
}

type headerRT struct {
	h  http.Header
	rt http.RoundTripper
}

func (h headerRT) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	for k, v := range h.h {
		r.Header[k] = v
	}
	return h.rt.RoundTrip(r)
}

func httpClientWith(h http.Header) *http.Client {
	return &http.Client{Transport: headerRT{h: h, rt: http.DefaultTransport}}
}

// ---- mcp-go ----

type mcpgoClient struct {
	c        *mcpclient.Client
	progress progressLog
}

func mcpgoConnect(kind, version string) func(t *testing.T, ctx context.Context, tg target) client {
	return func(t *testing.T, ctx context.Context, tg target) client {
		t.Helper()
		var tr transport.Interface
		var err error
		switch kind {
		case "streamable":
			tr, err = transport.NewStreamableHTTP(tg.BaseURL+"/mcp", transport.WithHTTPBasicClient(httpClientWith(tg.Header)))
		case "sse":
			tr, err = transport.NewSSE(tg.BaseURL+"/sse", transport.WithHTTPClient(httpClientWith(tg.Header)))
		case "stdio":
			cmd := tg.Command()
			tr = transport.NewStdio(cmd.Path, cmd.Env, cmd.Args[1:]...)
		}
		if err != nil {
			t.Fatalf("mcp-go %s transport: %v", kind, err)
		}
		c := mcpclient.NewClient(tr, mcpclient.WithProtocolVersion(version))
		if err := c.Start(ctx); err != nil {
			t.Fatalf("mcp-go start: %v", err)
		}
		var init mcpgo.InitializeRequest
		init.Params.ClientInfo = mcpgo.Implementation{Name: "e2e-mcp-go", Version: "1"}
		res, err := c.Initialize(ctx, init)
		if err != nil {
			c.Close()
			t.Fatalf("mcp-go initialize (%s %s): %v", kind, version, err)
		}
		if res.ProtocolVersion != version {
			c.Close()
			t.Fatalf("negotiated %s, want %s", res.ProtocolVersion, version)
		}
		mc := &mcpgoClient{c: c}
		c.OnNotification(func(n mcpgo.JSONRPCNotification) {
			if n.Method == string(mcpgo.MethodNotificationProgress) {
				mc.progress.add(n.Params.AdditionalFields)
			}
		})
		return mc
	}
}

func (m *mcpgoClient) ListTools(ctx context.Context) ([]listedTool, error) {
	res, err := m.c.ListTools(ctx, mcpgo.ListToolsRequest{})
	if err != nil {
		return nil, err
	}
	var out []listedTool
	for _, t := range res.Tools {
		b, _ := json.Marshal(t)
		var wire struct {
			InputSchema json.RawMessage `json:"inputSchema"`
			Annotations map[string]any  `json:"annotations"`
		}
		_ = json.Unmarshal(b, &wire)
		out = append(out, listedTool{Name: t.Name, Description: t.Description, Schema: canonical(wire.InputSchema), Annotations: annotations(wire.Annotations)})
	}
	return out, nil
}

func (m *mcpgoClient) Call(ctx context.Context, name string, args map[string]any) (callResult, error) {
	var req mcpgo.CallToolRequest
	req.Params.Name = name
	req.Params.Arguments = args
	res, err := m.c.CallTool(ctx, req)
	if err != nil {
		return callResult{}, err
	}
	out := callResult{IsError: res.IsError}
	for _, c := range res.Content {
		if tc, ok := c.(mcpgo.TextContent); ok {
			out.Text += tc.Text
		}
	}
	out.Structured = asObject(res.StructuredContent)
	return out, nil
}

func (m *mcpgoClient) Close() { m.c.Close() }

// ---- go-sdk ----

type sdkClient struct {
	s        *sdk.ClientSession
	progress progressLog
}

func sdkConnect(kind, version string) func(t *testing.T, ctx context.Context, tg target) client {
	return func(t *testing.T, ctx context.Context, tg target) client {
		t.Helper()
		var tr sdk.Transport
		switch kind {
		case "streamable":
			tr = &sdk.StreamableClientTransport{Endpoint: tg.BaseURL + "/mcp", HTTPClient: httpClientWith(tg.Header), MaxRetries: -1}
		case "sse":
			tr = &sdk.SSEClientTransport{Endpoint: tg.BaseURL + "/sse", HTTPClient: httpClientWith(tg.Header)}
		case "stdio":
			tr = &sdk.CommandTransport{Command: tg.Command()}
		}
		sc := &sdkClient{}
		c := sdk.NewClient(&sdk.Implementation{Name: "e2e-go-sdk", Version: "1"}, &sdk.ClientOptions{
			ProgressNotificationHandler: func(_ context.Context, r *sdk.ProgressNotificationClientRequest) {
				sc.progress.add(map[string]any{"progressToken": r.Params.ProgressToken, "message": r.Params.Message, "progress": r.Params.Progress})
			},
		})
		// go-sdk ties the SSE stream to this context: it must live as long
		// as the session, so it is the test's context, not a short one.
		s, err := c.Connect(ctx, tr, &sdk.ClientSessionOptions{ProtocolVersion: version})
		if err != nil {
			t.Fatalf("go-sdk connect (%s %s): %v", kind, version, err)
		}
		sc.s = s
		return sc
	}
}

func (g *sdkClient) ListTools(ctx context.Context) ([]listedTool, error) {
	res, err := g.s.ListTools(ctx, &sdk.ListToolsParams{})
	if err != nil {
		return nil, err
	}
	var out []listedTool
	for _, t := range res.Tools {
		b, _ := json.Marshal(t)
		var wire struct {
			InputSchema json.RawMessage `json:"inputSchema"`
			Annotations map[string]any  `json:"annotations"`
		}
		_ = json.Unmarshal(b, &wire)
		out = append(out, listedTool{Name: t.Name, Description: t.Description, Schema: canonical(wire.InputSchema), Annotations: annotations(wire.Annotations)})
	}
	return out, nil
}

func (g *sdkClient) Call(ctx context.Context, name string, args map[string]any) (callResult, error) {
	res, err := g.s.CallTool(ctx, &sdk.CallToolParams{Name: name, Arguments: args})
	if err != nil {
		return callResult{}, err
	}
	out := callResult{IsError: res.IsError}
	for _, c := range res.Content {
		if tc, ok := c.(*sdk.TextContent); ok {
			out.Text += tc.Text
		}
	}
	out.Structured = asObject(res.StructuredContent)
	return out, nil
}

func (g *sdkClient) Close() { _ = g.s.Close() }

func asObject(v any) map[string]any {
	if v == nil {
		return nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil
	}
	var m map[string]any
	if json.Unmarshal(b, &m) != nil {
		return nil
	}
	return m
}

// canonical renders a schema for comparison. The clients decode into their
// own types: mcp-go's adds an empty "required", so that is dropped.
func canonical(raw json.RawMessage) string {
	var v map[string]any
	if err := json.Unmarshal(raw, &v); err != nil {
		return fmt.Sprintf("invalid: %s", raw)
	}
	if r, ok := v["required"].([]any); ok && len(r) == 0 {
		delete(v, "required")
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// annotations drops what go-sdk's decoder adds: a non-pointer
// idempotentHint that is false whether or not the server sent it.
func annotations(a map[string]any) map[string]any {
	if a["idempotentHint"] == false {
		delete(a, "idempotentHint")
	}
	return a
}
