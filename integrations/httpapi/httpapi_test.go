package httpapi_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/switchboard-dev/switchboard/configs"
	"github.com/switchboard-dev/switchboard/integrations"
	"github.com/switchboard-dev/switchboard/integrations/httpapi"
	"github.com/switchboard-dev/switchboard/internal/secrets"
)

// ---------------------------------------------------------------------------
// Harness: an upstream that records every request exactly as it arrived, and
// tools built through the real path (YAML → configs.Parse → httpapi.New).
// ---------------------------------------------------------------------------

// rec is one request the upstream received.
type rec struct {
	Method   string
	URI      string // the request target exactly as sent
	RawPath  string // the escaped path, exactly as sent
	RawQuery string // the query, exactly as sent
	Header   http.Header
	Body     []byte
}

// segments splits the escaped path on '/' (what a router sees).
func (r rec) segments() []string { return strings.Split(strings.TrimPrefix(r.RawPath, "/"), "/") }

type upstream struct {
	srv  *httptest.Server
	mu   sync.Mutex
	reqs []rec
}

// newUpstream starts a server that records each request and then lets h
// answer (h nil: 200 {"ok":true}).
func newUpstream(t testing.TB, h http.HandlerFunc) *upstream {
	t.Helper()
	u := &upstream{}
	u.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		p, q, _ := strings.Cut(r.RequestURI, "?")
		u.mu.Lock()
		u.reqs = append(u.reqs, rec{Method: r.Method, URI: r.RequestURI, RawPath: p, RawQuery: q, Header: r.Header.Clone(), Body: body})
		u.mu.Unlock()
		r.Body = io.NopCloser(bytes.NewReader(body))
		if h == nil {
			writeJSON(w, 200, map[string]any{"ok": true})
			return
		}
		h(w, r)
	}))
	t.Cleanup(u.srv.Close)
	return u
}

func (u *upstream) URL() string { return u.srv.URL }

func (u *upstream) requests() []rec {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]rec(nil), u.reqs...)
}

func (u *upstream) reset() {
	u.mu.Lock()
	u.reqs = nil
	u.mu.Unlock()
}

// only returns the one request received, failing when there were more or none.
func (u *upstream) only(t testing.TB) rec {
	t.Helper()
	reqs := u.requests()
	if len(reqs) != 1 {
		t.Fatalf("upstream received %d requests, want exactly 1: %+v", len(reqs), reqs)
	}
	return reqs[0]
}

// none fails when anything reached the upstream.
func (u *upstream) none(t testing.TB) {
	t.Helper()
	if reqs := u.requests(); len(reqs) != 0 {
		t.Fatalf("upstream received %d request(s), want none: first %s %s", len(reqs), reqs[0].Method, reqs[0].URI)
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

const (
	shopToken     = "tok-shop-3f9a1c7e5b"
	shopTenantKey = "tenant-key-88d2e0aa"
)

func shopSecrets() secrets.Memory {
	return secrets.Memory{
		"vault:secret/shop#token":      shopToken,
		"vault:secret/shop#tenant_key": shopTenantKey,
	}
}

func resolver(m secrets.Memory) *secrets.Resolver {
	return secrets.NewResolver(map[secrets.Scheme]secrets.Source{secrets.SchemeVault: m})
}

// build parses yml with ${BASE} set to base and builds every http tool.
func build(t testing.TB, base, yml string, mem secrets.Memory) map[string]*integrations.Tool {
	t.Helper()
	cfg, err := configs.Parse([]byte(yml), func(k string) string {
		if k == "BASE" {
			return base
		}
		return ""
	})
	if err != nil {
		t.Fatalf("configs.Parse: %v", err)
	}
	tools := map[string]*integrations.Tool{}
	for _, in := range cfg.Integrations {
		if in.Type != "http" {
			continue
		}
		ts, err := httpapi.New(in, httpapi.Deps{Secrets: resolver(mem)})
		if err != nil {
			t.Fatalf("httpapi.New(%s): %v", in.Name, err)
		}
		for _, tl := range ts {
			tools[tl.Name()] = tl
		}
	}
	return tools
}

func tool(t testing.TB, tools map[string]*integrations.Tool, name string) *integrations.Tool {
	t.Helper()
	tl, ok := tools[name]
	if !ok {
		t.Fatalf("no tool %s", name)
	}
	return tl
}

// callRaw calls the tool with arguments given as JSON text, decoded the way
// mcp-go decodes a tools/call from the wire.
func callRaw(ctx context.Context, t testing.TB, tl *integrations.Tool, argsJSON string) (*mcp.CallToolResult, error) {
	t.Helper()
	return tl.Handler.Call(ctx, newCall(t, tl, argsJSON))
}

// newCall decodes a tools/call the way the server's edge does.
func newCall(t testing.TB, tl *integrations.Tool, argsJSON string) *integrations.Call {
	t.Helper()
	name, _ := json.Marshal(tl.Name())
	var req mcp.CallToolRequest
	req.Method = string(mcp.MethodToolsCall)
	if err := json.Unmarshal([]byte(`{"name":`+string(name)+`,"arguments":`+argsJSON+`}`), &req.Params); err != nil {
		t.Fatalf("bad test arguments %s: %v", argsJSON, err)
	}
	return integrations.NewCall(tl, req.Params)
}

func call(t testing.TB, tl *integrations.Tool, args map[string]any) (*mcp.CallToolResult, error) {
	t.Helper()
	b, err := json.Marshal(args)
	if err != nil {
		t.Fatal(err)
	}
	return callRaw(context.Background(), t, tl, string(b))
}

func mustOK(t testing.TB, res *mcp.CallToolResult, err error) *mcp.CallToolResult {
	t.Helper()
	if err != nil {
		t.Fatalf("call failed: %v", err)
	}
	if res == nil {
		t.Fatal("nil result")
	}
	if res.IsError {
		t.Fatalf("isError result: %s", text(res))
	}
	return res
}

func mustErr(t testing.TB, res *mcp.CallToolResult, err error) *integrations.Error {
	t.Helper()
	if err == nil {
		t.Fatalf("call succeeded, want an error; result: %s", text(res))
	}
	var ie *integrations.Error
	if !errors.As(err, &ie) {
		t.Fatalf("error is %T (%v), want *integrations.Error", err, err)
	}
	return ie
}

func text(res *mcp.CallToolResult) string {
	if res == nil {
		return ""
	}
	var b strings.Builder
	for _, c := range res.Content {
		if tc, ok := mcp.AsTextContent(c); ok {
			b.WriteString(tc.Text)
		}
	}
	return b.String()
}

func decodeBody(t testing.TB, r rec) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatalf("upstream body %q is not a JSON object: %v", r.Body, err)
	}
	return m
}

func keys[M ~map[string]V, V any](m M) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// shopYAML is one integration with a tool for most features under test.
const shopYAML = `
integrations:
  - name: shop
    type: http
    description: Test shop
    base_url: ${BASE}/api
    headers:
      X-Static: static-value
      X-Tenant-Key: vault:secret/shop#tenant_key
    auth: {type: bearer, secret: "vault:secret/shop#token"}
    tools:
      - name: list_orders
        description: Lists a customer's orders.
        method: GET
        path: /customers/{customer_id}/orders
        params:
          - {name: customer_id, in: path, type: integer, required: true, description: Customer number}
          - {name: status, in: query, type: array, items: {type: string, enum: [open, closed, on hold]}}
          - {name: since_id, in: query, type: integer}
          - {name: min_total, in: query, type: number}
          - {name: include_archived, in: query, type: boolean}
          - {name: page_size, in: query, type: integer, default: 25}
          - {name: sort, in: query, type: string, enum: [newest, oldest], default: newest}
          - {name: format, in: query, value: compact}
          - {name: X-Request-Source, in: header, type: string}
      - name: create_order
        description: Creates an order.
        method: POST
        path: /orders
        params:
          - name: customer
            in: body
            type: object
            required: true
            properties:
              - {name: email, type: string, required: true, validate: email}
              - {name: name, type: string}
              - name: address
                type: object
                properties:
                  - {name: city, type: string, required: true}
                  - {name: zip, type: string}
          - name: lines
            in: body
            type: array
            items:
              type: object
              properties:
                - {name: sku, type: string, required: true}
                - {name: qty, type: integer}
          - {name: quantity, in: body, type: integer}
          - {name: gift, in: body, type: boolean, default: false}
          - {name: channel, in: body, value: phone}
      - name: update_order
        description: Updates an order.
        method: PUT
        path: /orders/{order_id}
        params:
          - {name: order_id, in: path, required: true}
          - {name: note, in: body}
      - name: cancel_order
        description: Cancels an order.
        method: DELETE
        path: /orders/{order_id}
        params:
          - {name: order_id, in: path, required: true}
      - name: refund
        description: Refunds an order.
        method: POST
        path: /refunds
        params:
          - {name: order_id, in: body, type: string, required: true}
          - {name: amount, in: body, type: number, required: true, validate: "gt=0,lte=500"}
        confirm:
          message: "Refund {{.amount}} euros of order {{.order_id}}?"
      - name: create_customer
        description: Creates a customer.
        method: POST
        path: /customers
        params:
          - {name: email, in: body, type: string, required: true, validate: email}
          - {name: amount, in: body, type: number, required: true, validate: "gt=0,lte=500"}
          - {name: tier, in: body, type: string, enum: [gold, silver]}
          - {name: age, in: body, type: integer}
          - {name: note, in: body, type: string}
          - {name: vip, in: body, type: boolean}
      - name: get_file
        description: Reads a file's metadata.
        method: GET
        path: /files/{name}/meta
        params:
          - {name: name, in: path, required: true}
          - {name: q, in: query}
          - {name: X-Trace, in: header}
      - name: post_note
        description: Posts a note.
        method: POST
        path: /notes
        params:
          - {name: text, in: body, required: true}
          - {name: role, in: body, value: user}
`

func shop(t testing.TB, h http.HandlerFunc) (*upstream, map[string]*integrations.Tool) {
	t.Helper()
	up := newUpstream(t, h)
	return up, build(t, up.URL(), shopYAML, shopSecrets())
}

// ---------------------------------------------------------------------------
// 1. Schema and annotations
// ---------------------------------------------------------------------------

type wireTool struct {
	Name        string         `json:"name"`
	Description string         `json:"description"`
	InputSchema map[string]any `json:"inputSchema"`
	Annotations map[string]any `json:"annotations"`
}

func listed(t *testing.T, tl *integrations.Tool) wireTool {
	t.Helper()
	b, err := json.Marshal(tl.Definition)
	if err != nil {
		t.Fatal(err)
	}
	var w wireTool
	if err := json.Unmarshal(b, &w); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	return w
}

func obj(t *testing.T, v any, path string) map[string]any {
	t.Helper()
	m, ok := v.(map[string]any)
	if !ok {
		t.Fatalf("%s is %T (%v), want an object", path, v, v)
	}
	return m
}

func TestSchemaShowsModelParamsOnly(t *testing.T) {
	_, tools := shop(t, nil)
	w := listed(t, tool(t, tools, "shop_list_orders"))
	if w.Name != "shop_list_orders" || w.Description != "Lists a customer's orders." {
		t.Fatalf("name/description = %q/%q", w.Name, w.Description)
	}
	s := w.InputSchema
	if s["type"] != "object" || s["additionalProperties"] != false {
		t.Fatalf("top-level schema = %v", s)
	}
	props := obj(t, s["properties"], "properties")
	want := []string{"X-Request-Source", "customer_id", "include_archived", "min_total", "page_size", "since_id", "sort", "status"}
	if got := keys(props); !reflect.DeepEqual(got, want) {
		t.Fatalf("properties = %v, want %v (the fixed param format must be hidden)", got, want)
	}
	if !reflect.DeepEqual(s["required"], []any{"customer_id"}) {
		t.Fatalf("required = %v", s["required"])
	}
	cid := obj(t, props["customer_id"], "customer_id")
	if cid["type"] != "integer" || cid["description"] != "Customer number" {
		t.Fatalf("customer_id = %v", cid)
	}
	sortP := obj(t, props["sort"], "sort")
	if !reflect.DeepEqual(sortP["enum"], []any{"newest", "oldest"}) || sortP["default"] != "newest" {
		t.Fatalf("sort = %v", sortP)
	}
	if ps := obj(t, props["page_size"], "page_size"); ps["default"] != float64(25) || ps["type"] != "integer" {
		t.Fatalf("page_size = %v", ps)
	}
	status := obj(t, props["status"], "status")
	items := obj(t, status["items"], "status.items")
	if status["type"] != "array" || items["type"] != "string" || !reflect.DeepEqual(items["enum"], []any{"open", "closed", "on hold"}) {
		t.Fatalf("status = %v", status)
	}
	for _, typ := range []struct{ name, typ string }{{"include_archived", "boolean"}, {"min_total", "number"}, {"X-Request-Source", "string"}} {
		if got := obj(t, props[typ.name], typ.name)["type"]; got != typ.typ {
			t.Errorf("%s type = %v, want %s", typ.name, got, typ.typ)
		}
	}
	if strings.Contains(fmt.Sprint(s), "compact") {
		t.Errorf("the fixed value leaks into the schema: %v", s)
	}
}

func TestSchemaNestedObjectsAndArrays(t *testing.T) {
	_, tools := shop(t, nil)
	s := listed(t, tool(t, tools, "shop_create_order")).InputSchema
	props := obj(t, s["properties"], "properties")
	if got := keys(props); !reflect.DeepEqual(got, []string{"customer", "gift", "lines", "quantity"}) {
		t.Fatalf("properties = %v (channel is fixed and must be hidden)", got)
	}
	if !reflect.DeepEqual(s["required"], []any{"customer"}) {
		t.Fatalf("required = %v", s["required"])
	}
	cust := obj(t, props["customer"], "customer")
	if cust["type"] != "object" || cust["additionalProperties"] != false {
		t.Fatalf("customer = %v", cust)
	}
	if !reflect.DeepEqual(cust["required"], []any{"email"}) {
		t.Fatalf("customer.required = %v", cust["required"])
	}
	cprops := obj(t, cust["properties"], "customer.properties")
	if got := keys(cprops); !reflect.DeepEqual(got, []string{"address", "email", "name"}) {
		t.Fatalf("customer.properties = %v", got)
	}
	addr := obj(t, cprops["address"], "customer.address")
	if addr["type"] != "object" || addr["additionalProperties"] != false || !reflect.DeepEqual(addr["required"], []any{"city"}) {
		t.Fatalf("customer.address = %v", addr)
	}
	lines := obj(t, props["lines"], "lines")
	item := obj(t, lines["items"], "lines.items")
	if lines["type"] != "array" || item["type"] != "object" || item["additionalProperties"] != false || !reflect.DeepEqual(item["required"], []any{"sku"}) {
		t.Fatalf("lines = %v", lines)
	}
	if got := keys(obj(t, item["properties"], "lines.items.properties")); !reflect.DeepEqual(got, []string{"qty", "sku"}) {
		t.Fatalf("lines.items.properties = %v", got)
	}
	if g := obj(t, props["gift"], "gift"); g["default"] != false {
		t.Fatalf("gift = %v", g)
	}
}

func TestSchemaWithoutParams(t *testing.T) {
	up := newUpstream(t, nil)
	tools := build(t, up.URL(), `
integrations:
  - name: shop
    type: http
    base_url: ${BASE}
    tools:
      - {name: ping, description: Ping., method: GET, path: /ping}
`, nil)
	s := listed(t, tool(t, tools, "shop_ping")).InputSchema
	if s["type"] != "object" || s["additionalProperties"] != false {
		t.Fatalf("schema = %v", s)
	}
	if _, ok := s["required"]; ok {
		t.Fatalf("required must be absent, got %v", s["required"])
	}
	if p, ok := s["properties"].(map[string]any); !ok || len(p) != 0 {
		t.Fatalf("properties = %v, want {} (some clients reject a missing properties)", s["properties"])
	}
}

func TestAnnotations(t *testing.T) {
	_, tools := shop(t, nil)
	cases := []struct {
		tool                  string
		readOnly, destructive any // nil: absent
		integrationReadOnly   bool
	}{
		{"shop_list_orders", true, nil, true},
		{"shop_create_order", false, false, false},
		{"shop_update_order", false, false, false},
		{"shop_cancel_order", false, true, false},
		{"shop_refund", false, true, false},
	}
	for _, tc := range cases {
		t.Run(tc.tool, func(t *testing.T) {
			tl := tool(t, tools, tc.tool)
			a := listed(t, tl).Annotations
			if a["openWorldHint"] != true {
				t.Errorf("openWorldHint = %v, want true", a["openWorldHint"])
			}
			if a["readOnlyHint"] != tc.readOnly {
				t.Errorf("readOnlyHint = %v, want %v", a["readOnlyHint"], tc.readOnly)
			}
			got, present := a["destructiveHint"]
			switch {
			case tc.destructive == nil && present && got != false:
				t.Errorf("destructiveHint = %v on a read-only tool", got)
			case tc.destructive != nil && !present:
				t.Errorf("destructiveHint is absent; MCP reads that as true, want explicit %v", tc.destructive)
			case tc.destructive != nil && got != tc.destructive:
				t.Errorf("destructiveHint = %v, want %v", got, tc.destructive)
			}
			if tl.ReadOnly != tc.integrationReadOnly {
				t.Errorf("Tool.ReadOnly = %v", tl.ReadOnly)
			}
			if tl.Integration != "shop" {
				t.Errorf("Tool.Integration = %q", tl.Integration)
			}
		})
	}
	if tools["shop_refund"].Confirm == nil {
		t.Fatal("refund has a confirm: message but Tool.Confirm is nil")
	}
	var b strings.Builder
	if err := tools["shop_refund"].Confirm.Execute(&b, map[string]any{"amount": 12.5, "order_id": "A-1"}); err != nil || b.String() != "Refund 12.5 euros of order A-1?" {
		t.Fatalf("confirm message = %q, %v", b.String(), err)
	}
}

// ---------------------------------------------------------------------------
// 2. Argument validation: nothing leaves before the arguments are right
// ---------------------------------------------------------------------------

func TestValidationBeforeSending(t *testing.T) {
	up, tools := shop(t, nil)
	valid := `"email":"ana@example.com","amount":20`
	cases := []struct {
		name string
		tool string
		args string
		want []string // each must appear in the public sentence
	}{
		{"missing required", "shop_create_customer", `{"amount":20}`, []string{"email"}},
		{"no arguments at all", "shop_create_customer", `{}`, []string{"email", "amount"}},
		{"arguments null", "shop_create_customer", `null`, []string{"email", "amount"}},
		{"null for a required param", "shop_create_customer", `{"email":null,"amount":20}`, []string{"email"}},
		{"wrong type string for integer", "shop_create_customer", `{` + valid + `,"age":"ten"}`, []string{"age"}},
		{"fraction for integer", "shop_create_customer", `{` + valid + `,"age":1.5}`, []string{"age"}},
		{"wrong type number for string", "shop_create_customer", `{"email":42,"amount":20}`, []string{"email"}},
		{"wrong type string for number", "shop_create_customer", `{"email":"ana@example.com","amount":"20"}`, []string{"amount"}},
		{"wrong type string for boolean", "shop_create_customer", `{` + valid + `,"vip":"yes"}`, []string{"vip"}},
		{"enum violation", "shop_create_customer", `{` + valid + `,"tier":"bronze"}`, []string{"tier"}},
		{"email tag", "shop_create_customer", `{"email":"not-an-email","amount":20}`, []string{"email", "valid email"}},
		{"gt=0", "shop_create_customer", `{"email":"ana@example.com","amount":0}`, []string{"amount", "greater than 0"}},
		{"negative", "shop_create_customer", `{"email":"ana@example.com","amount":-3}`, []string{"amount", "greater than 0"}},
		{"lte=500", "shop_create_customer", `{"email":"ana@example.com","amount":500.01}`, []string{"amount", "at most 500"}},
		{"unknown extra param", "shop_create_customer", `{` + valid + `,"admin":true}`, []string{"admin"}},
		{"fixed param cannot be passed", "shop_post_note", `{"text":"hi","role":"admin"}`, []string{"role"}},
		{"undeclared query key", "shop_get_file", `{"name":"a","debug":"1"}`, []string{"debug"}},
		{"nested missing required", "shop_create_order", `{"customer":{"name":"Ana"}}`, []string{"email"}},
		{"nested unknown property", "shop_create_order", `{"customer":{"email":"a@b.co","role":"admin"}}`, []string{"role"}},
		{"nested tag", "shop_create_order", `{"customer":{"email":"nope"}}`, []string{"customer.email"}},
		{"deeply nested missing", "shop_create_order", `{"customer":{"email":"a@b.co","address":{"zip":"1"}}}`, []string{"city"}},
		{"array item wrong", "shop_create_order", `{"customer":{"email":"a@b.co"},"lines":[{"qty":1}]}`, []string{"sku"}},
		{"array item enum", "shop_list_orders", `{"customer_id":1,"status":["open","pending"]}`, []string{"status"}},
		{"array for scalar", "shop_list_orders", `{"customer_id":[1,2]}`, []string{"customer_id"}},
		// A wrong type on a param that also has a validate tag must be reported,
		// not crash the validator (go-playground panics on gt=0 for a bool).
		{"bool for a number with a tag", "shop_create_customer", `{"email":"ana@example.com","amount":true}`, []string{"amount"}},
		{"object for a number with a tag", "shop_create_customer", `{"email":"ana@example.com","amount":{"v":1}}`, []string{"amount"}},
		{"array for an email", "shop_create_customer", `{"email":["a@b.co"],"amount":1}`, []string{"email"}},
		{"several at once", "shop_create_customer", `{"email":"nope","amount":900,"tier":"bronze","age":"x","extra":1}`,
			[]string{"email", "amount", "tier", "age", "extra"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			up.reset()
			var res *mcp.CallToolResult
			var err error
			func() {
				defer func() {
					if r := recover(); r != nil {
						t.Fatalf("Call panicked: %v", r)
					}
				}()
				res, err = callRaw(context.Background(), t, tool(t, tools, tc.tool), tc.args)
			}()
			ie := mustErr(t, res, err)
			up.none(t)
			if ie.Kind != integrations.KindInvalid {
				t.Errorf("Kind = %s, want invalid", ie.Kind)
			}
			if !strings.HasPrefix(ie.Public, "Invalid arguments for "+tc.tool) {
				t.Errorf("Public = %q", ie.Public)
			}
			for _, w := range tc.want {
				if !strings.Contains(ie.Public, w) {
					t.Errorf("Public lacks %q: %s", w, ie.Public)
				}
			}
			if strings.Contains(ie.Public, "\n") || strings.Contains(ie.Public, "goroutine") || strings.Contains(ie.Public, "urn:switchboard") {
				t.Errorf("Public is not one clean sentence: %q", ie.Public)
			}
		})
	}
}

func TestNullOptionalIsAbsent(t *testing.T) {
	up, tools := shop(t, nil)
	res, err := callRaw(context.Background(), t, tool(t, tools, "shop_create_customer"),
		`{"email":"ana@example.com","amount":20,"tier":null,"age":null,"note":null}`)
	mustOK(t, res, err)
	body := decodeBody(t, up.only(t))
	if got := keys(body); !reflect.DeepEqual(got, []string{"amount", "email"}) {
		t.Fatalf("body keys = %v, want only amount and email: %s", got, up.only(t).Body)
	}
	// A null optional with a default gets the default.
	up.reset()
	res, err = callRaw(context.Background(), t, tool(t, tools, "shop_list_orders"), `{"customer_id":7,"sort":null,"page_size":null}`)
	mustOK(t, res, err)
	q, _ := url.ParseQuery(up.only(t).RawQuery)
	if q.Get("sort") != "newest" || q.Get("page_size") != "25" {
		t.Fatalf("query = %v, want defaults for the nulls", q)
	}
}

// ---------------------------------------------------------------------------
// 4. Request mapping
// ---------------------------------------------------------------------------

func TestRequestMappingGET(t *testing.T) {
	up, tools := shop(t, nil)
	res, err := call(t, tool(t, tools, "shop_list_orders"), map[string]any{
		"customer_id":      12345678,
		"status":           []any{"open", "on hold"},
		"since_id":         1e7,
		"min_total":        19.99,
		"include_archived": true,
		"X-Request-Source": "voice",
	})
	mustOK(t, res, err)
	r := up.only(t)
	if r.Method != "GET" {
		t.Errorf("method = %s", r.Method)
	}
	if r.RawPath != "/api/customers/12345678/orders" {
		t.Errorf("path = %s, want /api/customers/12345678/orders", r.RawPath)
	}
	q, err := url.ParseQuery(r.RawQuery)
	if err != nil {
		t.Fatal(err)
	}
	want := url.Values{
		"status":           {"open", "on hold"},
		"since_id":         {"10000000"},
		"min_total":        {"19.99"},
		"include_archived": {"true"},
		"page_size":        {"25"},
		"sort":             {"newest"},
		"format":           {"compact"},
	}
	if !reflect.DeepEqual(q, want) {
		t.Errorf("query = %v\nwant    %v (raw %s)", q, want, r.RawQuery)
	}
	if strings.Contains(r.RawQuery, "e+") || strings.Contains(r.RawQuery, "E+") {
		t.Errorf("a number was sent with an exponent: %s", r.RawQuery)
	}
	for h, v := range map[string]string{
		"Authorization":    "Bearer " + shopToken,
		"X-Static":         "static-value",
		"X-Tenant-Key":     shopTenantKey,
		"X-Request-Source": "voice",
		"Accept":           "application/json",
		"User-Agent":       "switchboard",
	} {
		if got := r.Header.Values(h); len(got) != 1 || got[0] != v {
			t.Errorf("header %s = %q, want %q", h, got, v)
		}
	}
	if len(r.Body) != 0 || r.Header.Get("Content-Type") != "" {
		t.Errorf("a GET carried a body %q / Content-Type %q", r.Body, r.Header.Get("Content-Type"))
	}
	if r.Header.Get("Idempotency-Key") != "" {
		t.Errorf("Idempotency-Key sent without a confirmation: %q", r.Header.Get("Idempotency-Key"))
	}
}

func TestIntegersNeverUseExponent(t *testing.T) {
	up, tools := shop(t, nil)
	for _, tc := range []struct{ raw, want string }{
		{"12345678", "12345678"},
		{"1e7", "10000000"},
		{"100000000000000000000", "100000000000000000000"},
		{"0", "0"},
		{"-42", "-42"},
		{"3.0", "3"},
	} {
		up.reset()
		res, err := callRaw(context.Background(), t, tool(t, tools, "shop_list_orders"), `{"customer_id":`+tc.raw+`,"since_id":`+tc.raw+`}`)
		mustOK(t, res, err)
		r := up.only(t)
		if r.RawPath != "/api/customers/"+tc.want+"/orders" {
			t.Errorf("%s: path = %s", tc.raw, r.RawPath)
		}
		if q, _ := url.ParseQuery(r.RawQuery); q.Get("since_id") != tc.want {
			t.Errorf("%s: since_id = %q, want %q", tc.raw, q.Get("since_id"), tc.want)
		}
	}
}

// Integer IDs above 2^53 (order numbers, snowflake IDs) must reach the
// upstream exactly as the client sent them; mcp-go keeps RawArguments for this.
func TestLargeIntegerIDsKeepTheirDigits(t *testing.T) {
	up, tools := shop(t, nil)
	const id = "1234567890123456789"
	res, err := callRaw(context.Background(), t, tool(t, tools, "shop_list_orders"), `{"customer_id":`+id+`}`)
	mustOK(t, res, err)
	if r := up.only(t); r.RawPath != "/api/customers/"+id+"/orders" {
		t.Fatalf("path = %s, want /api/customers/%s/orders (precision lost in a float64)", r.RawPath, id)
	}
	up.reset()
	res, err = callRaw(context.Background(), t, tool(t, tools, "shop_create_order"), `{"customer":{"email":"a@b.co"},"quantity":`+id+`}`)
	mustOK(t, res, err)
	if b := string(up.only(t).Body); !strings.Contains(b, `"quantity":`+id) {
		t.Fatalf("body = %s, want quantity %s", b, id)
	}
}

func TestRequestMappingPOSTBody(t *testing.T) {
	up, tools := shop(t, nil)
	res, err := callRaw(context.Background(), t, tool(t, tools, "shop_create_order"), `{
		"customer": {"email": "ana@example.com", "name": "Ana \"La\" García", "address": {"city": "Sevilla"}},
		"lines": [{"sku": "A-1", "qty": 2}, {"sku": "B-2"}],
		"quantity": 12345678
	}`)
	mustOK(t, res, err)
	r := up.only(t)
	if r.Method != "POST" || r.RawPath != "/api/orders" || r.RawQuery != "" {
		t.Fatalf("request = %s %s", r.Method, r.URI)
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q", ct)
	}
	if strings.Contains(string(r.Body), "e+") {
		t.Errorf("body has an exponent: %s", r.Body)
	}
	var got any
	if err := json.Unmarshal(r.Body, &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"customer": map[string]any{"email": "ana@example.com", "name": "Ana \"La\" García", "address": map[string]any{"city": "Sevilla"}},
		"lines":    []any{map[string]any{"sku": "A-1", "qty": float64(2)}, map[string]any{"sku": "B-2"}},
		"quantity": float64(12345678),
		"gift":     false,   // default
		"channel":  "phone", // fixed value
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("body = %s\nwant %v", r.Body, want)
	}
}

func TestRequestMappingPUTAndDELETE(t *testing.T) {
	up, tools := shop(t, nil)
	ok(t)(call(t, tool(t, tools, "shop_update_order"), map[string]any{"order_id": "A 1/2", "note": "deliver after 5"}))
	r := up.only(t)
	if r.Method != "PUT" || r.RawPath != "/api/orders/A%201%2F2" {
		t.Errorf("request = %s %s", r.Method, r.RawPath)
	}
	if b := decodeBody(t, r); !reflect.DeepEqual(b, map[string]any{"note": "deliver after 5"}) {
		t.Errorf("body = %s", r.Body)
	}
	up.reset()
	ok(t)(call(t, tool(t, tools, "shop_cancel_order"), map[string]any{"order_id": "A-1"}))
	r = up.only(t)
	if r.Method != "DELETE" || r.RawPath != "/api/orders/A-1" || len(r.Body) != 0 {
		t.Errorf("request = %s %s %q", r.Method, r.RawPath, r.Body)
	}
}

func TestIdempotencyKey(t *testing.T) {
	up, tools := shop(t, nil)
	tl := tool(t, tools, "shop_refund")
	c := newCall(t, tl, `{"order_id":"A-1","amount":20}`)
	c.IdempotencyKey = "confirm-7d1e"
	ok(t)(tl.Handler.Call(context.Background(), c))
	r := up.only(t)
	if got := r.Header.Values("Idempotency-Key"); len(got) != 1 || got[0] != "confirm-7d1e" {
		t.Fatalf("Idempotency-Key = %q", got)
	}
	if b := decodeBody(t, r); !reflect.DeepEqual(b, map[string]any{"order_id": "A-1", "amount": float64(20)}) {
		t.Fatalf("body = %s", r.Body)
	}
}

func TestBaseURLWithPathAndQuery(t *testing.T) {
	up := newUpstream(t, nil)
	tools := build(t, up.URL(), `
integrations:
  - name: shop
    type: http
    base_url: ${BASE}/v1/?tenant=acme
    tools:
      - name: get
        description: Get one.
        method: GET
        path: /things/{id}
        params:
          - {name: id, in: path, required: true}
          - {name: q, in: query}
`, nil)
	ok(t)(call(t, tool(t, tools, "shop_get"), map[string]any{"id": "x y", "q": "a"}))
	r := up.only(t)
	if r.RawPath != "/v1/things/x%20y" {
		t.Errorf("path = %s", r.RawPath)
	}
	if q, _ := url.ParseQuery(r.RawQuery); !reflect.DeepEqual(q, url.Values{"tenant": {"acme"}, "q": {"a"}}) {
		t.Errorf("query = %s", r.RawQuery)
	}
}

func TestAuthTypes(t *testing.T) {
	const secret = "s3cr3t-Value-0451"
	mem := secrets.Memory{"vault:secret/api#key": secret}
	cases := []struct {
		auth  string
		check func(t *testing.T, r rec)
	}{
		{`{type: bearer, secret: "vault:secret/api#key"}`, func(t *testing.T, r rec) {
			if got := r.Header.Values("Authorization"); len(got) != 1 || got[0] != "Bearer "+secret {
				t.Errorf("Authorization = %q", got)
			}
		}},
		{`{type: header, header: X-API-Key, secret: "vault:secret/api#key"}`, func(t *testing.T, r rec) {
			if got := r.Header.Values("X-Api-Key"); len(got) != 1 || got[0] != secret {
				t.Errorf("X-API-Key = %q", got)
			}
			if r.Header.Get("Authorization") != "" {
				t.Errorf("Authorization also sent: %q", r.Header.Get("Authorization"))
			}
		}},
		{`{type: query, param: api_key, secret: "vault:secret/api#key"}`, func(t *testing.T, r rec) {
			q, _ := url.ParseQuery(r.RawQuery)
			if !reflect.DeepEqual(q["api_key"], []string{secret}) || q.Get("q") != "x" {
				t.Errorf("query = %s", r.RawQuery)
			}
			if r.Header.Get("Authorization") != "" {
				t.Errorf("Authorization also sent")
			}
		}},
		{`{type: basic, username: svc-user, secret: "vault:secret/api#key"}`, func(t *testing.T, r rec) {
			want := "Basic " + base64.StdEncoding.EncodeToString([]byte("svc-user:"+secret))
			if got := r.Header.Values("Authorization"); len(got) != 1 || got[0] != want {
				t.Errorf("Authorization = %q, want %q", got, want)
			}
		}},
		{`{type: none}`, func(t *testing.T, r rec) {
			if r.Header.Get("Authorization") != "" || strings.Contains(r.URI, secret) {
				t.Errorf("credential sent with auth none: %+v", r)
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.auth, func(t *testing.T) {
			up := newUpstream(t, nil)
			tools := build(t, up.URL(), `
integrations:
  - name: api
    type: http
    base_url: ${BASE}
    auth: `+tc.auth+`
    tools:
      - name: get
        description: Get.
        method: GET
        path: /x
        params:
          - {name: q, in: query}
`, mem)
			ok(t)(call(t, tool(t, tools, "api_get"), map[string]any{"q": "x"}))
			tc.check(t, up.only(t))
		})
	}
}

// The model cannot replace the credential: a param named like the auth query
// param is overridden by the credential, never the other way round.
func TestCredentialWinsOverParams(t *testing.T) {
	up := newUpstream(t, nil)
	tools := build(t, up.URL(), `
integrations:
  - name: api
    type: http
    base_url: ${BASE}
    headers: {X-Tenant: acme}
    auth: {type: query, param: api_key, secret: "vault:secret/api#key"}
    tools:
      - name: get
        description: Get.
        method: GET
        path: /x
        params:
          - {name: api_key, in: query}
          - {name: X-Tenant, in: header}
`, secrets.Memory{"vault:secret/api#key": "real-key-123"})
	ok(t)(call(t, tool(t, tools, "api_get"), map[string]any{"api_key": "model-key", "X-Tenant": "evil"}))
	r := up.only(t)
	q, _ := url.ParseQuery(r.RawQuery)
	if !reflect.DeepEqual(q["api_key"], []string{"real-key-123"}) {
		t.Errorf("api_key = %q", q["api_key"])
	}
	if got := r.Header.Values("X-Tenant"); !reflect.DeepEqual(got, []string{"acme"}) {
		t.Errorf("X-Tenant = %q, the integration header must win", got)
	}
}

// A secret rotated in the store is used by the very next call.
func TestSecretReadAtCallTime(t *testing.T) {
	up := newUpstream(t, nil)
	mem := secrets.Memory{"vault:secret/api#key": "first-key-1"}
	tools := build(t, up.URL(), `
integrations:
  - name: api
    type: http
    base_url: ${BASE}
    auth: {type: bearer, secret: "vault:secret/api#key"}
    tools:
      - {name: get, description: Get., method: GET, path: /x}
`, mem)
	ok(t)(call(t, tool(t, tools, "api_get"), nil))
	mem["vault:secret/api#key"] = "second-key-2"
	ok(t)(call(t, tool(t, tools, "api_get"), nil))
	reqs := up.requests()
	if len(reqs) != 2 || reqs[0].Header.Get("Authorization") != "Bearer first-key-1" || reqs[1].Header.Get("Authorization") != "Bearer second-key-2" {
		t.Fatalf("Authorization headers = %q, %q", reqs[0].Header.Get("Authorization"), reqs[len(reqs)-1].Header.Get("Authorization"))
	}
}

// ---------------------------------------------------------------------------
// 5. Responses
// ---------------------------------------------------------------------------

// replyTool builds one GET tool "api_r" at /r whose response section is resp
// (YAML flow mapping, "" for none), answered by h.
func replyTool(t *testing.T, resp string, h http.HandlerFunc) (*upstream, *integrations.Tool) {
	t.Helper()
	up := newUpstream(t, h)
	r := ""
	if resp != "" {
		r = "\n        response: " + resp
	}
	tools := build(t, up.URL(), `
integrations:
  - name: api
    type: http
    base_url: ${BASE}
    tools:
      - name: r
        description: Read.
        method: GET
        path: /r`+r+`
`, nil)
	return up, tool(t, tools, "api_r")
}

func TestResponseJSONObject(t *testing.T) {
	_, tl := replyTool(t, "", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, map[string]any{"id": "c-1", "name": "Ana", "total": 12345678})
	})
	res := ok(t)(call(t, tl, nil))
	var fromText map[string]any
	if err := json.Unmarshal([]byte(text(res)), &fromText); err != nil {
		t.Fatalf("text %q is not the JSON object: %v", text(res), err)
	}
	want := map[string]any{"id": "c-1", "name": "Ana", "total": float64(12345678)}
	if !reflect.DeepEqual(fromText, want) {
		t.Errorf("text = %s", text(res))
	}
	if strings.Contains(text(res), "e+07") {
		t.Errorf("text has an exponent: %s", text(res))
	}
	if !reflect.DeepEqual(res.StructuredContent, want) {
		t.Errorf("StructuredContent = %#v", res.StructuredContent)
	}
}

func TestResponseJSONArray(t *testing.T) {
	_, tl := replyTool(t, "", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, []any{map[string]any{"id": 1}, map[string]any{"id": 2}})
	})
	res := ok(t)(call(t, tl, nil))
	if text(res) != `[{"id":1},{"id":2}]` {
		t.Errorf("text = %q", text(res))
	}
	if res.StructuredContent != nil {
		t.Errorf("an array must not be structuredContent: %v", res.StructuredContent)
	}
}

func TestResponseJQ(t *testing.T) {
	reply := func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, map[string]any{"customers": []any{
			map[string]any{"id": "c-1", "name": "Ana", "email": "ana@example.com", "internal": "x"},
			map[string]any{"id": "c-2", "name": "Luis", "email": "luis@example.com", "internal": "y"},
		}})
	}
	t.Run("object", func(t *testing.T) {
		_, tl := replyTool(t, `{jq: '.customers[0] | {id, name, email}'}`, reply)
		res := ok(t)(call(t, tl, nil))
		want := map[string]any{"id": "c-1", "name": "Ana", "email": "ana@example.com"}
		if !reflect.DeepEqual(res.StructuredContent, want) {
			t.Errorf("StructuredContent = %v", res.StructuredContent)
		}
		if strings.Contains(text(res), "internal") || strings.Contains(text(res), "Luis") {
			t.Errorf("text not shaped: %s", text(res))
		}
	})
	t.Run("several outputs", func(t *testing.T) {
		_, tl := replyTool(t, `{jq: '.customers[] | .name'}`, reply)
		res := ok(t)(call(t, tl, nil))
		if text(res) != `["Ana","Luis"]` {
			t.Errorf("text = %q, want the outputs as one JSON array", text(res))
		}
		if res.StructuredContent != nil {
			t.Errorf("StructuredContent = %v", res.StructuredContent)
		}
	})
	t.Run("string output", func(t *testing.T) {
		_, tl := replyTool(t, `{jq: '.customers[1].name'}`, reply)
		res := ok(t)(call(t, tl, nil))
		if text(res) != "Luis" {
			t.Errorf("text = %q", text(res))
		}
	})
	t.Run("jq runtime error", func(t *testing.T) {
		_, tl := replyTool(t, `{jq: '.customers[0].name + 1'}`, reply)
		ie := fails(t)(call(t, tl, nil))
		if !strings.Contains(ie.Public, "api") || !strings.Contains(ie.Public, "shaped") {
			t.Errorf("Public = %q", ie.Public)
		}
	})
	t.Run("non-JSON reply", func(t *testing.T) {
		_, tl := replyTool(t, `{jq: '.a'}`, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			io.WriteString(w, "<html>maintenance</html>")
		})
		ie := fails(t)(call(t, tl, nil))
		if ie.Kind != integrations.KindUpstream || !strings.Contains(ie.Public, "JSON") {
			t.Errorf("Kind %s, Public %q", ie.Kind, ie.Public)
		}
	})
}

func TestResponseText(t *testing.T) {
	_, tl := replyTool(t, "", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, "Order A-1 shipped.\nTracking: ZX9")
	})
	res := ok(t)(call(t, tl, nil))
	if text(res) != "Order A-1 shipped.\nTracking: ZX9" || res.StructuredContent != nil {
		t.Errorf("text = %q, structured = %v", text(res), res.StructuredContent)
	}
}

func TestResponseEmpty(t *testing.T) {
	_, tl := replyTool(t, "", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) })
	res := ok(t)(call(t, tl, nil))
	if !strings.Contains(text(res), "204") || res.StructuredContent != nil {
		t.Errorf("text = %q", text(res))
	}
}

func TestResponseTruncation(t *testing.T) {
	t.Run("text", func(t *testing.T) {
		_, tl := replyTool(t, `{max_bytes: 10}`, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			io.WriteString(w, "aéééééé") // 13 bytes; byte 10 is inside the 5th é
		})
		res := ok(t)(call(t, tl, nil))
		got := text(res)
		if !utf8.ValidString(got) {
			t.Fatalf("truncated text is not valid UTF-8: %q", got)
		}
		if !strings.HasPrefix(got, "aéééé\n") || !strings.Contains(got, "truncated") || !strings.Contains(got, "10 bytes") {
			t.Errorf("text = %q, want %q plus the note", got, "aéééé")
		}
	})
	t.Run("cut on a rune boundary", func(t *testing.T) {
		_, tl := replyTool(t, `{max_bytes: 9}`, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			io.WriteString(w, "aéééééé")
		})
		got := text(ok(t)(call(t, tl, nil)))
		if !strings.HasPrefix(got, "aéééé\n") || !strings.Contains(got, "truncated") {
			t.Errorf("text = %q", got)
		}
	})
	t.Run("json object over max_bytes", func(t *testing.T) {
		_, tl := replyTool(t, `{max_bytes: 64}`, func(w http.ResponseWriter, r *http.Request) {
			writeJSON(w, 200, map[string]any{"notes": strings.Repeat("ñ", 100)})
		})
		res := ok(t)(call(t, tl, nil))
		got := text(res)
		if !utf8.ValidString(got) || !strings.Contains(got, "truncated") || res.StructuredContent != nil {
			t.Errorf("text = %q, structured = %v", got, res.StructuredContent)
		}
		if body, _, _ := strings.Cut(got, "\n[truncated"); len(body) > 64 {
			t.Errorf("kept %d bytes, more than max_bytes 64", len(body))
		}
	})
	t.Run("jq output over max_bytes", func(t *testing.T) {
		_, tl := replyTool(t, `{jq: '.notes', max_bytes: 11}`, func(w http.ResponseWriter, r *http.Request) {
			writeJSON(w, 200, map[string]any{"notes": strings.Repeat("€", 10)}) // 3 bytes each
		})
		got := text(ok(t)(call(t, tl, nil)))
		if !strings.HasPrefix(got, "€€€\n") || !strings.Contains(got, "truncated") {
			t.Errorf("text = %q", got)
		}
	})
	t.Run("exactly max_bytes is not truncated", func(t *testing.T) {
		_, tl := replyTool(t, `{max_bytes: 5}`, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			io.WriteString(w, "abcde")
		})
		if got := text(ok(t)(call(t, tl, nil))); got != "abcde" {
			t.Errorf("text = %q", got)
		}
	})
}

// repeatReader yields an endless run of one byte without allocating it.
type repeatReader byte

func (r repeatReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(r)
	}
	return len(p), nil
}

// hugeHandler streams n bytes of JSON-ish text and counts what it wrote.
func hugeHandler(n int64, written *atomic.Int64, ctype string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", ctype)
		w.Header().Set("Content-Length", fmt.Sprint(n))
		var body io.Reader = io.LimitReader(repeatReader('a'), n)
		if ctype == "application/json" {
			body = io.MultiReader(strings.NewReader(`{"data":"`), io.LimitReader(repeatReader('a'), n-11), strings.NewReader(`"}`))
		}
		buf := make([]byte, 32<<10)
		for {
			k, err := body.Read(buf)
			if k > 0 {
				m, werr := w.Write(buf[:k])
				written.Add(int64(m))
				if werr != nil {
					return
				}
			}
			if err != nil {
				return
			}
		}
	}
}

func allocatedDuring(f func()) uint64 {
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

func TestHugeReplyWithoutJQ(t *testing.T) {
	const size = 100 << 20
	var written atomic.Int64
	_, tl := replyTool(t, `{max_bytes: 4096}`, hugeHandler(size, &written, "text/plain"))
	var res *mcp.CallToolResult
	var err error
	start := time.Now()
	alloc := allocatedDuring(func() { res, err = call(t, tl, nil) })
	elapsed := time.Since(start)
	res = mustOK(t, res, err)
	got := text(res)
	if !strings.HasPrefix(got, strings.Repeat("a", 4096)+"\n") || !strings.Contains(got, "truncated") {
		t.Errorf("text = %.80q... (%d bytes)", got, len(got))
	}
	if elapsed > 3*time.Second {
		t.Errorf("took %v for a reply that should be cut after 4 KiB", elapsed)
	}
	if alloc > 16<<20 {
		t.Errorf("allocated %d MiB while reading a 100 MiB reply capped at 4 KiB", alloc>>20)
	}
	t.Logf("elapsed %v, allocated %.1f MiB (server side included), upstream wrote %.1f MiB before the cut", elapsed, float64(alloc)/(1<<20), float64(written.Load())/(1<<20))
}

func TestHugeReplyWithJQ(t *testing.T) {
	t.Run("max_read small", func(t *testing.T) {
		var written atomic.Int64
		_, tl := replyTool(t, `{jq: '.data | length', max_read: 1KiB}`, hugeHandler(10<<10, &written, "application/json"))
		ie := fails(t)(call(t, tl, nil))
		if ie.Kind != integrations.KindUpstream || !strings.Contains(ie.Public, "api") || !strings.Contains(ie.Public, "1024 bytes") {
			t.Errorf("Kind %s, Public %q", ie.Kind, ie.Public)
		}
	})
	t.Run("100 MiB with the default max_read", func(t *testing.T) {
		var written atomic.Int64
		_, tl := replyTool(t, `{jq: '.data | length'}`, hugeHandler(100<<20, &written, "application/json"))
		var err error
		var res *mcp.CallToolResult
		alloc := allocatedDuring(func() { res, err = call(t, tl, nil) })
		ie := mustErr(t, res, err)
		if !strings.Contains(ie.Public, "larger than") {
			t.Errorf("Public = %q", ie.Public)
		}
		if alloc > 48<<20 {
			t.Errorf("allocated %d MiB for a reply capped at max_read 8 MiB", alloc>>20)
		}
		t.Logf("allocated %.1f MiB", float64(alloc)/(1<<20))
	})
	t.Run("within max_read", func(t *testing.T) {
		var written atomic.Int64
		_, tl := replyTool(t, `{jq: '.data | length', max_read: 1MiB}`, hugeHandler(512<<10, &written, "application/json"))
		if got := text(ok(t)(call(t, tl, nil))); got != fmt.Sprint(512<<10-11) {
			t.Errorf("text = %q", got)
		}
	})
}

func TestResponseBinary(t *testing.T) {
	bin := []byte{0x89, 'P', 'N', 'G', 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0xff, 0xfe, 0xfd}
	t.Run("small", func(t *testing.T) {
		_, tl := replyTool(t, "", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "image/png")
			w.Write(bin)
		})
		got := text(ok(t)(call(t, tl, nil)))
		if !strings.Contains(got, "binary") || !strings.Contains(got, "image/png") || !utf8.ValidString(got) {
			t.Errorf("text = %q", got)
		}
	})
	t.Run("larger than max_bytes", func(t *testing.T) {
		_, tl := replyTool(t, `{max_bytes: 64}`, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/octet-stream")
			for range 100 {
				w.Write(bin)
			}
		})
		got := text(ok(t)(call(t, tl, nil)))
		if !utf8.ValidString(got) || !strings.Contains(got, "binary") {
			t.Errorf("a large binary reply reaches the model as raw bytes: %q", got)
		}
	})
}

// ---------------------------------------------------------------------------
// 6. Failures
// ---------------------------------------------------------------------------

func TestUpstreamStatuses(t *testing.T) {
	const upstreamMsg = "Customer 42 has no email on file"
	cases := []struct {
		status      int
		wantMessage bool
		words       []string
	}{
		{401, false, []string{"credentials"}},
		{403, false, []string{"credentials"}},
		{404, true, []string{"found nothing"}},
		{409, true, []string{"rejected"}},
		{422, true, []string{"rejected"}},
		{429, true, []string{"busy"}},
		{500, false, []string{"problem on its side"}},
		{503, false, []string{"problem on its side"}},
	}
	for _, tc := range cases {
		t.Run(fmt.Sprint(tc.status), func(t *testing.T) {
			_, tools := shop(t, func(w http.ResponseWriter, r *http.Request) {
				writeJSON(w, tc.status, map[string]any{"message": upstreamMsg, "trace": "at db.go:12"})
			})
			ie := fails(t)(call(t, tool(t, tools, "shop_cancel_order"), map[string]any{"order_id": "42"}))
			if ie.Kind != integrations.KindUpstream || ie.Status != tc.status {
				t.Errorf("Kind %s Status %d", ie.Kind, ie.Status)
			}
			if integrations.StatusOf(ie) != tc.status || integrations.KindOf(ie) != integrations.KindUpstream {
				t.Errorf("StatusOf/KindOf = %d/%s", integrations.StatusOf(ie), integrations.KindOf(ie))
			}
			if !strings.Contains(ie.Public, "shop") || !strings.Contains(ie.Public, fmt.Sprint(tc.status)) {
				t.Errorf("Public does not name the integration and status: %q", ie.Public)
			}
			for _, w := range tc.words {
				if !strings.Contains(ie.Public, w) {
					t.Errorf("Public lacks %q: %q", w, ie.Public)
				}
			}
			if has := strings.Contains(ie.Public, upstreamMsg); tc.wantMessage && !has {
				t.Errorf("Public lacks the upstream's message: %q", ie.Public)
			} else if (tc.status == 401 || tc.status == 403) && has {
				t.Errorf("Public repeats a %d message: %q", tc.status, ie.Public)
			}
			if strings.Contains(ie.Public, "db.go") || strings.Contains(ie.Public, "\n") || len(ie.Public) > 400 {
				t.Errorf("Public is not one short sentence: %q", ie.Public)
			}
			if integrations.PublicMessage(ie) != ie.Public {
				t.Errorf("PublicMessage = %q", integrations.PublicMessage(ie))
			}
		})
	}
	t.Run("non-JSON error body", func(t *testing.T) {
		_, tools := shop(t, func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "<html><body>Bad Gateway</body></html>\n"+strings.Repeat("x", 10000), 502)
		})
		ie := fails(t)(call(t, tool(t, tools, "shop_cancel_order"), map[string]any{"order_id": "42"}))
		if ie.Status != 502 || strings.Contains(ie.Public, "<html>") || len(ie.Public) > 400 {
			t.Errorf("Status %d Public %q", ie.Status, ie.Public)
		}
	})
	t.Run("long message clipped", func(t *testing.T) {
		_, tools := shop(t, func(w http.ResponseWriter, r *http.Request) {
			writeJSON(w, 422, map[string]any{"error": map[string]any{"message": strings.Repeat("ñ", 1000)}})
		})
		ie := fails(t)(call(t, tool(t, tools, "shop_cancel_order"), map[string]any{"order_id": "42"}))
		if len(ie.Public) > 400 || !utf8.ValidString(ie.Public) || !strings.Contains(ie.Public, "ññ") {
			t.Errorf("Public (%d bytes) = %q", len(ie.Public), ie.Public)
		}
	})
}

func TestTimeout(t *testing.T) {
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	})
	tools := build(t, up.URL(), `
integrations:
  - name: slowapi
    type: http
    base_url: ${BASE}
    timeout: 5s
    tools:
      - {name: get, description: Get., method: GET, path: /slow, timeout: 100ms}
`, nil)
	start := time.Now()
	ie := fails(t)(call(t, tool(t, tools, "slowapi_get"), nil))
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("took %v with a 100ms tool timeout", d)
	}
	if ie.Kind != integrations.KindUnavailable || !strings.Contains(ie.Public, "slowapi did not answer within 100ms") {
		t.Errorf("Kind %s Public %q", ie.Kind, ie.Public)
	}
}

func TestTimeoutWhileReadingBody(t *testing.T) {
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"partial":`)
		w.(http.Flusher).Flush()
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	})
	tools := build(t, up.URL(), `
integrations:
  - name: slowapi
    type: http
    base_url: ${BASE}
    tools:
      - {name: get, description: Get., method: GET, path: /slow, timeout: 100ms}
`, nil)
	ie := fails(t)(call(t, tool(t, tools, "slowapi_get"), nil))
	if ie.Kind != integrations.KindUnavailable || !strings.Contains(ie.Public, "did not answer within 100ms") {
		t.Errorf("Kind %s Public %q", ie.Kind, ie.Public)
	}
}

func TestCallerCancellation(t *testing.T) {
	started := make(chan struct{})
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		close(started)
		<-r.Context().Done()
	})
	tools := build(t, up.URL(), `
integrations:
  - name: api
    type: http
    base_url: ${BASE}
    tools:
      - {name: get, description: Get., method: GET, path: /x}
`, nil)
	ctx, cancel := context.WithCancel(context.Background())
	go func() { <-started; cancel() }()
	ie := fails(t)(callRaw(ctx, t, tool(t, tools, "api_get"), `{}`))
	if ie.Kind != integrations.KindCancelled || !strings.Contains(ie.Public, "cancelled") {
		t.Errorf("Kind %s Public %q", ie.Kind, ie.Public)
	}
}

func TestUnreachable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	tools := build(t, "http://"+addr, `
integrations:
  - name: gone
    type: http
    base_url: ${BASE}/api
    auth: {type: query, param: key, secret: "vault:secret/gone#key"}
    tools:
      - {name: get, description: Get., method: GET, path: /x}
`, secrets.Memory{"vault:secret/gone#key": "query-secret-991"})
	start := time.Now()
	ie := fails(t)(call(t, tool(t, tools, "gone_get"), nil))
	if time.Since(start) > 3*time.Second {
		t.Errorf("took %v to notice a closed port", time.Since(start))
	}
	if ie.Kind != integrations.KindUnavailable || !strings.Contains(ie.Public, "gone cannot be reached") {
		t.Errorf("Kind %s Public %q", ie.Kind, ie.Public)
	}
	if strings.Contains(ie.Error(), "query-secret-991") {
		t.Errorf("the error (log detail) carries the query credential: %s", ie.Error())
	}
}

func TestSecretStoreFailures(t *testing.T) {
	for _, tc := range []struct {
		name  string
		src   secrets.Source
		words string
	}{
		{"missing ref", secrets.Memory{}, "missing"},
		{"denied", secrets.SourceFunc(func(context.Context, secrets.Ref) (string, error) {
			return "", fmt.Errorf("vault said 403: %w", secrets.ErrDenied)
		}), "denied"},
		{"unreachable", secrets.SourceFunc(func(context.Context, secrets.Ref) (string, error) {
			return "", fmt.Errorf("dial tcp: %w", secrets.ErrUnavailable)
		}), "unreachable"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			up := newUpstream(t, nil)
			cfg, err := configs.Parse([]byte(`
integrations:
  - name: crm
    type: http
    base_url: `+up.URL()+`
    auth: {type: bearer, secret: "vault:kv-prod/teams/crm-credentials#api_token"}
    tools:
      - {name: get, description: Get., method: GET, path: /x}
`), func(string) string { return "" })
			if err != nil {
				t.Fatal(err)
			}
			ts, err := httpapi.New(cfg.Integrations[0], httpapi.Deps{
				Secrets: secrets.NewResolver(map[secrets.Scheme]secrets.Source{secrets.SchemeVault: tc.src}),
			})
			if err != nil {
				t.Fatal(err)
			}
			ie := fails(t)(call(t, ts[0], nil))
			up.none(t)
			if ie.Kind != integrations.KindUnavailable {
				t.Errorf("Kind = %s", ie.Kind)
			}
			if !strings.Contains(ie.Public, "crm") || !strings.Contains(ie.Public, tc.words) {
				t.Errorf("Public = %q", ie.Public)
			}
			for _, leak := range []string{"kv-prod", "crm-credentials", "api_token", "vault:"} {
				if strings.Contains(ie.Public, leak) {
					t.Errorf("Public reveals the reference (%q): %q", leak, ie.Public)
				}
			}
		})
	}
	t.Run("no store configured", func(t *testing.T) {
		up := newUpstream(t, nil)
		cfg, err := configs.Parse([]byte("integrations:\n  - name: crm\n    type: http\n    base_url: "+up.URL()+
			"\n    headers: {X-Key: 'vault:secret/crm#k'}\n    tools:\n      - {name: get, description: Get., method: GET, path: /x}\n"), func(string) string { return "" })
		if err != nil {
			t.Fatal(err)
		}
		ts, err := httpapi.New(cfg.Integrations[0], httpapi.Deps{})
		if err != nil {
			t.Fatal(err)
		}
		ie := fails(t)(call(t, ts[0], nil))
		up.none(t)
		if ie.Kind != integrations.KindUnavailable || strings.Contains(ie.Public, "secret/crm") {
			t.Errorf("Kind %s Public %q", ie.Kind, ie.Public)
		}
	})
}

func TestRedirectNotFollowed(t *testing.T) {
	elsewhere := newUpstream(t, nil)
	for _, code := range []int{301, 302, 307, 308} {
		t.Run(fmt.Sprint(code), func(t *testing.T) {
			elsewhere.reset()
			up := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, elsewhere.URL()+"/steal", code)
			})
			tools := build(t, up.URL(), `
integrations:
  - name: api
    type: http
    base_url: ${BASE}
    auth: {type: bearer, secret: "vault:secret/api#key"}
    tools:
      - {name: post, description: Post., method: POST, path: /x, params: [{name: a, in: body}]}
`, secrets.Memory{"vault:secret/api#key": "redirect-secret-77"})
			ie := fails(t)(call(t, tool(t, tools, "api_post"), map[string]any{"a": "b"}))
			up.only(t)
			elsewhere.none(t)
			if ie.Status != code || ie.Kind != integrations.KindUpstream {
				t.Errorf("Status %d Kind %s Public %q", ie.Status, ie.Kind, ie.Public)
			}
			if strings.Contains(ie.Public, "steal") {
				t.Errorf("Public = %q", ie.Public)
			}
		})
	}
}

// ---------------------------------------------------------------------------
// 7. Secrets never leak
// ---------------------------------------------------------------------------

// echoHandler repeats the credential-bearing parts of the request everywhere
// it can: the reply body (as JSON fields and inside a message), or an error
// message, or plain text.
func echoHandler(w http.ResponseWriter, r *http.Request) {
	auth := r.Header.Get("Authorization")
	key := r.Header.Get("X-Api-Key")
	q := r.URL.Query().Get("api_key")
	all := fmt.Sprintf("auth=%s key=%s raw_query=%s api_key=%s tenant=%s", auth, key, r.URL.RawQuery, q, r.Header.Get("X-Tenant-Key"))
	switch {
	case strings.HasSuffix(r.URL.Path, "/fail"):
		writeJSON(w, 400, map[string]any{"message": "bad credentials " + all})
	case strings.HasSuffix(r.URL.Path, "/fail500"):
		writeJSON(w, 500, map[string]any{"message": all})
	case strings.HasSuffix(r.URL.Path, "/text"):
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, all)
	default:
		writeJSON(w, 200, map[string]any{
			"message":       all,
			"authorization": auth,
			"x_api_key":     key,
			"raw_query":     r.URL.RawQuery,
			"api_key":       q,
			"tenant":        r.Header.Get("X-Tenant-Key"),
			"nested":        map[string]any{"headers": r.Header},
		})
	}
}

// secretForms are the ways a credential can be spelled in what comes back.
func secretForms(secret, user string) map[string]string {
	forms := map[string]string{
		"raw":           secret,
		"query-escaped": url.QueryEscape(secret),
		"path-escaped":  url.PathEscape(secret),
	}
	b, _ := json.Marshal(secret)
	forms["json-escaped"] = strings.Trim(string(b), `"`)
	if user != "" {
		forms["basic base64"] = base64.StdEncoding.EncodeToString([]byte(user + ":" + secret))
	}
	return forms
}

func TestSecretsNeverLeak(t *testing.T) {
	plain := "tok-Leak-Canary-5e2f9a"
	special := `p&ss<w>rd+/=%"x 9!`
	type variant struct {
		name, auth, user, secret string
	}
	var variants []variant
	for _, s := range []struct{ n, v string }{{"plain", plain}, {"special", special}} {
		variants = append(variants,
			variant{"bearer/" + s.n, `{type: bearer, secret: "vault:secret/api#key"}`, "", s.v},
			variant{"header/" + s.n, `{type: header, header: X-API-Key, secret: "vault:secret/api#key"}`, "", s.v},
			variant{"query/" + s.n, `{type: query, param: api_key, secret: "vault:secret/api#key"}`, "", s.v},
			variant{"basic/" + s.n, `{type: basic, username: svc, secret: "vault:secret/api#key"}`, "svc", s.v},
		)
	}
	const tenant = "tenant-Canary-77aa01"
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			up := newUpstream(t, echoHandler)
			tools := build(t, up.URL(), `
integrations:
  - name: api
    type: http
    base_url: ${BASE}
    headers: {X-Tenant-Key: "vault:secret/api#tenant"}
    auth: `+v.auth+`
    tools:
      - {name: ok, description: OK., method: GET, path: /echo, params: [{name: q, in: query}]}
      - {name: shaped, description: Shaped., method: GET, path: /echo, response: {jq: '{message, authorization, api_key, x_api_key}'}}
      - {name: cut, description: Cut., method: GET, path: /echo, response: {max_bytes: 100000}}
      - {name: txt, description: Text., method: GET, path: /echo/text}
      - {name: fail, description: Fail., method: GET, path: /echo/fail}
      - {name: fail500, description: Fail., method: GET, path: /echo/fail500}
`, secrets.Memory{"vault:secret/api#key": v.secret, "vault:secret/api#tenant": tenant})
			forms := secretForms(v.secret, v.user)
			for k, f := range secretForms(tenant, "") {
				forms["tenant "+k] = f
			}
			check := func(where, s string) {
				t.Helper()
				for name, f := range forms {
					if strings.Contains(s, f) {
						t.Errorf("%s contains the secret (%s form %q): %.300s", where, name, f, s)
					}
				}
			}
			for _, name := range []string{"api_ok", "api_shaped", "api_cut", "api_txt"} {
				res, err := call(t, tool(t, tools, name), map[string]any{})
				if name == "api_ok" {
					res, err = call(t, tool(t, tools, name), map[string]any{"q": "x"})
				}
				res = mustOK(t, res, err)
				check(name+" text", text(res))
				if res.StructuredContent != nil {
					sc, _ := json.Marshal(res.StructuredContent)
					check(name+" structuredContent (JSON)", string(sc))
					check(name+" structuredContent (values)", fmt.Sprintf("%v", res.StructuredContent))
				}
			}
			for _, name := range []string{"api_fail", "api_fail500"} {
				ie := fails(t)(call(t, tool(t, tools, name), map[string]any{}))
				check(name+" Public", ie.Public)
				check(name+" Error()", ie.Error())
			}
			if len(up.requests()) == 0 {
				t.Fatal("upstream saw nothing")
			}
		})
	}
}

// The upstream's JSON encoder escapes characters such as & < > " in an echoed
// credential; the structuredContent (decoded) must still never carry it.
func TestSecretNotInStructuredContent(t *testing.T) {
	const secret = `pa&ss<wo>rd"42`
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, map[string]any{"id": "c-1", "echo": r.Header.Get("Authorization")})
	})
	tools := build(t, up.URL(), `
integrations:
  - name: api
    type: http
    base_url: ${BASE}
    auth: {type: bearer, secret: "vault:secret/api#key"}
    tools:
      - {name: get, description: Get., method: GET, path: /x}
`, secrets.Memory{"vault:secret/api#key": secret})
	res := ok(t)(call(t, tool(t, tools, "api_get"), nil))
	if s := fmt.Sprintf("%v", res.StructuredContent); strings.Contains(s, secret) {
		t.Errorf("structuredContent carries the secret: %s", s)
	}
	for name, f := range secretForms(secret, "") {
		if strings.Contains(text(res), f) {
			t.Errorf("text carries the secret (%s form): %s", name, text(res))
		}
	}
}

// A secret that straddles the max_bytes cut must not leave its first bytes
// in the text either.
func TestSecretStraddlingTheCut(t *testing.T) {
	const secret = "tok-Straddle-0123456789abcdef"
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, strings.Repeat("x", 80)+r.Header.Get("Authorization")+strings.Repeat("y", 100))
	})
	tools := build(t, up.URL(), `
integrations:
  - name: api
    type: http
    base_url: ${BASE}
    auth: {type: bearer, secret: "vault:secret/api#key"}
    tools:
      - {name: get, description: Get., method: GET, path: /x, response: {max_bytes: 100}}
`, secrets.Memory{"vault:secret/api#key": secret})
	got := text(ok(t)(call(t, tool(t, tools, "api_get"), nil)))
	// "Bearer " is 7 bytes, so the cut at 100 falls 13 bytes into the secret.
	if strings.Contains(got, secret[:10]) {
		t.Errorf("text holds the first bytes of the secret: %q", got)
	}
}

// ok and fails are mustOK and mustErr taking a call's two results directly.
func ok(t testing.TB) func(*mcp.CallToolResult, error) *mcp.CallToolResult {
	return func(res *mcp.CallToolResult, err error) *mcp.CallToolResult {
		t.Helper()
		return mustOK(t, res, err)
	}
}

func fails(t testing.TB) func(*mcp.CallToolResult, error) *integrations.Error {
	return func(res *mcp.CallToolResult, err error) *integrations.Error {
		t.Helper()
		return mustErr(t, res, err)
	}
}

// A path that configs.Parse accepts must build a sane request: no panic, the
// value in its placeholder, and a literal '?' or '#' either refused by the
// config check or kept as a query, never sent as part of the path.
func TestOddConfiguredPaths(t *testing.T) {
	cases := []struct {
		path, params, args string
		wantPath, wantQ    string
	}{
		{"/a/{x", "", `{}`, "", ""},
		{"/a/{{id}}", "[{name: id, in: path, required: true}]", `{"id":"7"}`, "/a/7", ""},
		{"/a/{id}}", "[{name: id, in: path, required: true}]", `{"id":"7"}`, "/a/7", ""},
		{"/a?x=1", "", `{}`, "/a", "x=1"},
		{"/a#frag", "", `{}`, "/a", ""},
	}
	for _, tc := range cases {
		t.Run(tc.path, func(t *testing.T) {
			up := newUpstream(t, nil)
			yml := "integrations:\n  - name: api\n    type: http\n    base_url: " + up.URL() +
				"\n    tools:\n      - name: g\n        description: d\n        method: GET\n        path: '" + tc.path + "'\n"
			if tc.params != "" {
				yml += "        params: " + tc.params + "\n"
			}
			cfg, err := configs.Parse([]byte(yml), func(string) string { return "" })
			if err != nil {
				return // refused by the config check: fine
			}
			ts, err := httpapi.New(cfg.Integrations[0], httpapi.Deps{})
			if err != nil {
				return
			}
			defer func() {
				if r := recover(); r != nil {
					t.Fatalf("configs.Parse accepted path %q but every call panics: %v", tc.path, r)
				}
			}()
			res, err := callRaw(context.Background(), t, ts[0], tc.args)
			if err != nil {
				t.Fatalf("configs.Parse accepted path %q but the call fails: %v", tc.path, err)
			}
			_ = res
			r := up.only(t)
			if r.RawPath != tc.wantPath || r.RawQuery != tc.wantQ {
				t.Errorf("configs.Parse accepted path %q; the upstream got %s (want path %s, query %q)", tc.path, r.URI, tc.wantPath, tc.wantQ)
			}
		})
	}
}

// Models send order_id: 100234 for a string id; the API gets the digits,
// every one of them. A fraction or an exponent is not an id, and a string is
// never turned into a number.
func TestIntegerForStringParam(t *testing.T) {
	up := newUpstream(t, nil)
	tools := build(t, up.URL(), `
integrations:
  - name: shop
    type: http
    base_url: ${BASE}
    tools:
      - name: order
        description: Get an order.
        method: GET
        path: /orders/{order_id}
        params:
          - {name: order_id, in: path, type: string, required: true}
          - {name: ref, type: string}
          - {name: tags, type: array, items: {type: string}}
          - {name: qty, type: integer}
      - name: note
        description: Add a note.
        method: POST
        path: /notes
        params:
          - {name: order_id, type: string, required: true}
          - {name: meta, type: object, properties: [{name: ticket, type: string}]}
`, nil)
	ok(t)(callRaw(context.Background(), t, tool(t, tools, "shop_order"), `{"order_id": 9007199254740993, "ref": -42, "tags": [7, "x"], "qty": 3}`))
	r := up.only(t)
	if r.RawPath != "/orders/9007199254740993" || r.RawQuery != "qty=3&ref=-42&tags=7&tags=x" {
		t.Fatalf("request %s?%s", r.RawPath, r.RawQuery)
	}
	ok(t)(callRaw(context.Background(), t, tool(t, tools, "shop_note"), `{"order_id": 100234, "meta": {"ticket": 55}}`))
	if b := string(up.requests()[1].Body); b != `{"meta":{"ticket":"55"},"order_id":"100234"}` {
		t.Fatalf("body %s", b)
	}
	for _, bad := range []string{`{"order_id": 12.5}`, `{"order_id": 1e3}`, `{"order_id": "A-1", "qty": "3"}`} {
		ie := fails(t)(callRaw(context.Background(), t, tool(t, tools, "shop_order"), bad))
		if ie.Kind != integrations.KindInvalid {
			t.Errorf("%s: %v", bad, ie)
		}
	}
}

// A whole number for a number param with a fractional bound is checked as
// a number, not refused as a crash.
func TestFractionalBoundOnWholeNumber(t *testing.T) {
	up := newUpstream(t, nil)
	tools := build(t, up.URL(), `
integrations:
  - name: shop
    type: http
    base_url: ${BASE}
    tools:
      - name: tip
        description: Leave a tip.
        method: POST
        path: /tips
        params:
          - {name: amount, type: number, required: true, validate: "gte=0.5,lte=99.5"}
`, nil)
	ok(t)(callRaw(context.Background(), t, tool(t, tools, "shop_tip"), `{"amount": 3}`))
	for _, bad := range []string{`{"amount": 0}`, `{"amount": 100}`, `{"amount": 0.25}`} {
		ie := fails(t)(callRaw(context.Background(), t, tool(t, tools, "shop_tip"), bad))
		if ie.Kind != integrations.KindInvalid || !strings.Contains(ie.Public, "amount: must be") {
			t.Errorf("%s: %v", bad, ie)
		}
	}
}
