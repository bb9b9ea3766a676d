package demoapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

var testKeys = Keys{HelpdeskToken: "hd-token", ShopKey: "shop-key"}

var fixedNow = time.Date(2026, 3, 10, 9, 30, 0, 0, time.UTC)

func newTestHandler() http.Handler {
	return newAPI(testKeys, func() time.Time { return fixedNow }).routes()
}

var (
	helpdeskAuth = map[string]string{"Authorization": "Bearer hd-token"}
	shopAuth     = map[string]string{"X-API-Key": "shop-key"}
)

// reply is one recorded answer, with its JSON body decoded.
type reply struct {
	status int
	header http.Header
	body   map[string]any
	raw    string
}

func do(t *testing.T, h http.Handler, method, path, body string, headers map[string]string) reply {
	t.Helper()
	var req *http.Request
	if body != "" {
		req = httptest.NewRequest(method, path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
	} else {
		req = httptest.NewRequest(method, path, nil)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	r := reply{status: rec.Code, header: rec.Header(), raw: rec.Body.String()}
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("%s %s: Content-Type %q, want JSON; body %s", method, path, ct, r.raw)
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &r.body); err != nil {
		t.Fatalf("%s %s: body is not a JSON object: %v: %s", method, path, err, r.raw)
	}
	return r
}

// get reads a dotted path ("ticket.status", "items.0.sku") out of a JSON body.
func get(v any, path string) any {
	for _, k := range strings.Split(path, ".") {
		switch x := v.(type) {
		case map[string]any:
			v = x[k]
		case []any:
			var i int
			if _, err := fmt.Sscanf(k, "%d", &i); err != nil || i >= len(x) {
				return nil
			}
			v = x[i]
		default:
			return nil
		}
	}
	return v
}

func merge(ms ...map[string]string) map[string]string {
	out := map[string]string{}
	for _, m := range ms {
		for k, v := range m {
			out[k] = v
		}
	}
	return out
}

func TestAuth(t *testing.T) {
	tests := []struct {
		name    string
		keys    Keys
		path    string
		headers map[string]string
		want    int
	}{
		{"helpdesk ok", testKeys, "/helpdesk/customers/cus_1001", helpdeskAuth, 200},
		{"helpdesk scheme case-insensitive", testKeys, "/helpdesk/customers/cus_1001", map[string]string{"Authorization": "bearer hd-token"}, 200},
		{"helpdesk no header", testKeys, "/helpdesk/customers/cus_1001", nil, 401},
		{"helpdesk wrong token", testKeys, "/helpdesk/customers/cus_1001", map[string]string{"Authorization": "Bearer nope"}, 401},
		{"helpdesk basic scheme", testKeys, "/helpdesk/customers/cus_1001", map[string]string{"Authorization": "Basic aGQtdG9rZW4="}, 401},
		{"helpdesk token without scheme", testKeys, "/helpdesk/customers/cus_1001", map[string]string{"Authorization": "hd-token"}, 401},
		{"helpdesk with the shop key", testKeys, "/helpdesk/customers/cus_1001", shopAuth, 401},
		{"helpdesk unknown path is 401 first", testKeys, "/helpdesk/nothing", nil, 401},
		{"shop ok", testKeys, "/shop/orders/100234", shopAuth, 200},
		{"shop no header", testKeys, "/shop/orders/100234", nil, 401},
		{"shop wrong key", testKeys, "/shop/orders/100234", map[string]string{"X-API-Key": "shop-key2"}, 401},
		{"shop with the helpdesk token", testKeys, "/shop/orders/100234", helpdeskAuth, 401},
		{"shop key as bearer", testKeys, "/shop/orders/100234", map[string]string{"Authorization": "Bearer shop-key"}, 401},
		{"empty helpdesk key accepts nothing", Keys{ShopKey: "k"}, "/helpdesk/customers/cus_1001", map[string]string{"Authorization": "Bearer "}, 401},
		{"empty shop key accepts nothing", Keys{HelpdeskToken: "t"}, "/shop/orders/100234", map[string]string{"X-API-Key": ""}, 401},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := do(t, New(tc.keys), "GET", tc.path, "", tc.headers)
			if r.status != tc.want {
				t.Fatalf("status %d, want %d: %s", r.status, tc.want, r.raw)
			}
			if tc.want == 401 {
				if r.body["error"] != "unauthorized" {
					t.Errorf("error = %v, want unauthorized", r.body["error"])
				}
				if strings.Contains(r.raw, "hd-token") || strings.Contains(r.raw, "shop-key") {
					t.Errorf("the reply leaks a key: %s", r.raw)
				}
			}
		})
	}
	r := do(t, New(testKeys), "GET", "/helpdesk/customers/cus_1001", "", nil)
	if got := r.header.Get("WWW-Authenticate"); !strings.HasPrefix(got, "Bearer") {
		t.Errorf("WWW-Authenticate = %q, want a Bearer challenge", got)
	}
}

func TestSearchCustomers(t *testing.T) {
	tests := []struct {
		name      string
		query     string
		want      int
		wantIDs   []string
		wantField string // for 422
	}{
		{"by email", "email=maria.garcia@example.com", 200, []string{"cus_1001"}, ""},
		{"email is case-insensitive", "email=John.Smith@Example.com", 200, []string{"cus_1002"}, ""},
		{"by E.164 phone", "phone=%2B34612345678", 200, []string{"cus_1001"}, ""},
		{"phone with spaces", "phone=%2B34+612+345+678", 200, []string{"cus_1001"}, ""},
		{"phone with 00 prefix", "phone=0034612345678", 200, []string{"cus_1001"}, ""},
		{"national phone", "phone=612345678", 200, []string{"cus_1001"}, ""},
		{"UK phone", "phone=%2B447700900123", 200, []string{"cus_1005"}, ""},
		{"email and phone both match", "email=lucia.fernandez@example.es&phone=698765432", 200, []string{"cus_1003"}, ""},
		{"email and phone of different customers", "email=lucia.fernandez@example.es&phone=612345678", 200, []string{}, ""},
		{"unknown email gives an empty list", "email=nadie@example.com", 200, []string{}, ""},
		{"a few digits match nothing", "phone=345678", 200, []string{}, ""},
		{"no filter", "", 422, nil, "email"},
		{"blank filters", "email=+&phone=", 422, nil, "email"},
		{"invalid email", "email=maria.garcia", 422, nil, "email"},
		{"too short phone", "phone=12345", 422, nil, "phone"},
	}
	h := newTestHandler()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := do(t, h, "GET", "/helpdesk/customers/search?"+tc.query, "", helpdeskAuth)
			if r.status != tc.want {
				t.Fatalf("status %d, want %d: %s", r.status, tc.want, r.raw)
			}
			if tc.want == 422 {
				if r.body["error"] != "validation_failed" || r.body["field"] != tc.wantField {
					t.Fatalf("got %s, want validation_failed on %s", r.raw, tc.wantField)
				}
				return
			}
			list, ok := r.body["customers"].([]any)
			if !ok {
				t.Fatalf("customers is not a list: %s", r.raw)
			}
			var ids []string
			for _, c := range list {
				ids = append(ids, get(c, "id").(string))
				for _, k := range []string{"id", "name", "email", "phone", "tier"} {
					if _, ok := c.(map[string]any)[k]; !ok {
						t.Errorf("customer lacks %q: %v", k, c)
					}
				}
			}
			if strings.Join(ids, ",") != strings.Join(tc.wantIDs, ",") {
				t.Errorf("ids %v, want %v", ids, tc.wantIDs)
			}
		})
	}
}

func TestGetCustomerAndTicket(t *testing.T) {
	tests := []struct {
		name  string
		path  string
		want  int
		check map[string]any
	}{
		{"customer", "/helpdesk/customers/cus_1001", 200, map[string]any{
			"customer.name": "María García López", "customer.tier": "gold", "customer.language": "es",
			"customer.order_ids.1": "100234", "customer.open_tickets": 1.0}},
		{"english customer", "/helpdesk/customers/cus_1002", 200, map[string]any{
			"customer.name": "John Smith", "customer.language": "en", "customer.open_tickets": 0.0}},
		{"unknown customer", "/helpdesk/customers/cus_9999", 404, map[string]any{
			"error": "not_found", "message": "customer cus_9999 not found"}},
		{"ticket", "/helpdesk/tickets/1002", 200, map[string]any{
			"ticket.id": 1002.0, "ticket.customer_id": "cus_1005", "ticket.status": "open", "ticket.priority": "high"}},
		{"ticket read with a hash", "/helpdesk/tickets/%231001", 200, map[string]any{"ticket.id": 1001.0}},
		{"unknown ticket", "/helpdesk/tickets/9999", 404, map[string]any{"error": "not_found"}},
		{"non-numeric ticket", "/helpdesk/tickets/abc", 404, map[string]any{"error": "not_found"}},
	}
	h := newTestHandler()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := do(t, h, "GET", tc.path, "", helpdeskAuth)
			if r.status != tc.want {
				t.Fatalf("status %d, want %d: %s", r.status, tc.want, r.raw)
			}
			for path, want := range tc.check {
				if got := get(r.body, path); got != want {
					t.Errorf("%s = %#v, want %#v", path, got, want)
				}
			}
		})
	}
}

func TestCreateTicket(t *testing.T) {
	tests := []struct {
		name      string
		body      string
		want      int
		wantError string
		wantField string
		check     map[string]any
	}{
		{"created", `{"customer_id":"cus_1001","subject":"Cafetera no llega","description":"El pedido 100234 no ha llegado.","priority":"high"}`,
			201, "", "", map[string]any{"ticket.id": 1004.0, "ticket.status": "open", "ticket.priority": "high",
				"ticket.customer_id": "cus_1001", "ticket.channel": "phone", "ticket.created_at": "2026-03-10T09:30:00Z"}},
		{"priority defaults to normal", `{"customer_id":"cus_1002","subject":"Invoice","description":"Needs an invoice for order 100240."}`,
			201, "", "", map[string]any{"ticket.priority": "normal", "ticket.status": "open"}},
		{"bad priority", `{"customer_id":"cus_1001","subject":"s","description":"d","priority":"critical"}`,
			422, "validation_failed", "priority", nil},
		{"missing customer_id", `{"subject":"s","description":"d"}`, 422, "validation_failed", "customer_id", nil},
		{"blank subject", `{"customer_id":"cus_1001","subject":"  ","description":"d"}`, 422, "validation_failed", "subject", nil},
		{"long subject", `{"customer_id":"cus_1001","subject":"` + strings.Repeat("x", 151) + `","description":"d"}`,
			422, "validation_failed", "subject", nil},
		{"missing description", `{"customer_id":"cus_1001","subject":"s"}`, 422, "validation_failed", "description", nil},
		{"wrong type", `{"customer_id":1001,"subject":"s","description":"d"}`, 422, "validation_failed", "customer_id", nil},
		{"unknown field", `{"customer_id":"cus_1001","subject":"s","description":"d","confirmation_token":"x"}`,
			422, "validation_failed", "confirmation_token", nil},
		{"unknown customer", `{"customer_id":"cus_9999","subject":"s","description":"d"}`, 404, "not_found", "", nil},
		{"not JSON", `subject=s`, 400, "invalid_json", "", nil},
		{"array body", `[1]`, 400, "invalid_json", "", nil},
		{"two objects", `{"customer_id":"cus_1001","subject":"s","description":"d"}{}`, 400, "invalid_json", "", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newTestHandler()
			r := do(t, h, "POST", "/helpdesk/tickets", tc.body, helpdeskAuth)
			if r.status != tc.want {
				t.Fatalf("status %d, want %d: %s", r.status, tc.want, r.raw)
			}
			if tc.wantError != "" && r.body["error"] != tc.wantError {
				t.Errorf("error = %v, want %s", r.body["error"], tc.wantError)
			}
			if tc.wantField != "" && r.body["field"] != tc.wantField {
				t.Errorf("field = %v, want %s (%s)", r.body["field"], tc.wantField, r.raw)
			}
			for path, want := range tc.check {
				if got := get(r.body, path); got != want {
					t.Errorf("%s = %#v, want %#v", path, got, want)
				}
			}
			if tc.want == 201 {
				id := get(r.body, "ticket.id").(float64)
				loc := fmt.Sprintf("/helpdesk/tickets/%d", int(id))
				if r.header.Get("Location") != loc {
					t.Errorf("Location = %q, want %q", r.header.Get("Location"), loc)
				}
				back := do(t, h, "GET", loc, "", helpdeskAuth)
				if back.status != 200 || get(back.body, "ticket.subject") != get(r.body, "ticket.subject") {
					t.Errorf("reading the new ticket back: %d %s", back.status, back.raw)
				}
			}
		})
	}
}

func TestTicketIDsIncrease(t *testing.T) {
	h := newTestHandler()
	body := `{"customer_id":"cus_1003","subject":"s","description":"d"}`
	first := do(t, h, "POST", "/helpdesk/tickets", body, helpdeskAuth)
	second := do(t, h, "POST", "/helpdesk/tickets", body, helpdeskAuth)
	if get(first.body, "ticket.id") != 1004.0 || get(second.body, "ticket.id") != 1005.0 {
		t.Fatalf("ids %v, %v; want 1004, 1005", get(first.body, "ticket.id"), get(second.body, "ticket.id"))
	}
	c := do(t, h, "GET", "/helpdesk/customers/cus_1003", "", helpdeskAuth)
	if get(c.body, "customer.open_tickets") != 2.0 {
		t.Errorf("open_tickets = %v, want 2", get(c.body, "customer.open_tickets"))
	}
}

func TestOrdersAndInventory(t *testing.T) {
	tests := []struct {
		name  string
		path  string
		want  int
		check map[string]any
	}{
		{"order", "/shop/orders/100231", 200, map[string]any{
			"id": "100231", "customer_id": "cus_1001", "status": "delivered", "payment_status": "paid",
			"total": 99.8, "refunded_amount": 0.0, "currency": "EUR",
			"items.0.sku": "AUR-200", "items.0.unit_price": 79.9, "items.1.quantity": 2.0, "items.1.subtotal": 19.9,
			"shipping.carrier": "Correos Express", "shipping.delivered_at": "2026-02-01"}},
		{"shipped order has an estimated delivery", "/shop/orders/100234", 200, map[string]any{
			"status": "shipped", "total": 189.0, "shipping.estimated_delivery": "2026-03-12"}},
		{"order not shipped yet", "/shop/orders/100240", 200, map[string]any{"status": "processing", "shipping": nil}},
		{"order read with a hash", "/shop/orders/%23100252", 200, map[string]any{"id": "100252", "total": 1199.0}},
		{"unknown order", "/shop/orders/999999", 404, map[string]any{
			"error": "not_found", "message": "order 999999 not found"}},
		{"stock", "/shop/inventory/AUR-200", 200, map[string]any{
			"sku": "AUR-200", "available": 42.0, "in_stock": true, "restock_date": nil, "price": 79.9}},
		{"sku is case-insensitive", "/shop/inventory/rel-500", 200, map[string]any{"sku": "REL-500", "available": 5.0}},
		{"out of stock has a restock date", "/shop/inventory/CAF-350", 200, map[string]any{
			"available": 0.0, "in_stock": false, "restock_date": "2026-03-22"}},
		{"unknown sku", "/shop/inventory/NOPE-1", 404, map[string]any{"error": "not_found"}},
	}
	h := newTestHandler()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := do(t, h, "GET", tc.path, "", shopAuth)
			if r.status != tc.want {
				t.Fatalf("status %d, want %d: %s", r.status, tc.want, r.raw)
			}
			for path, want := range tc.check {
				if got := get(r.body, path); got != want {
					t.Errorf("%s = %#v, want %#v", path, got, want)
				}
			}
		})
	}
}

func TestRefunds(t *testing.T) {
	tests := []struct {
		name      string
		body      string
		want      int
		wantError string
		wantField string
		order     string // checked after the call
		wantPaid  string // the order's payment_status after the call
		wantLeft  float64
	}{
		{"partial refund", `{"order_id":"100231","amount":19.9,"reason":"Falta una funda"}`,
			201, "", "", "100231", "partially_refunded", 19.9},
		{"full refund", `{"order_id":"100234","amount":189,"reason":"Llegó rota"}`,
			201, "", "", "100234", "refunded", 189},
		{"order id with a hash", `{"order_id":"#100234","amount":10.5,"reason":"Retraso"}`,
			201, "", "", "100234", "partially_refunded", 10.5},
		{"zero amount", `{"order_id":"100231","amount":0,"reason":"x"}`, 422, "validation_failed", "amount", "100231", "paid", 0},
		{"negative amount", `{"order_id":"100231","amount":-5,"reason":"x"}`, 422, "validation_failed", "amount", "100231", "paid", 0},
		{"more than the total", `{"order_id":"100231","amount":99.81,"reason":"x"}`, 422, "validation_failed", "amount", "100231", "paid", 0},
		{"three decimals", `{"order_id":"100231","amount":1.005,"reason":"x"}`, 422, "validation_failed", "amount", "100231", "paid", 0},
		{"amount as a string", `{"order_id":"100231","amount":"10","reason":"x"}`, 422, "validation_failed", "amount", "100231", "paid", 0},
		{"missing amount", `{"order_id":"100231","reason":"x"}`, 422, "validation_failed", "amount", "100231", "paid", 0},
		{"missing order_id", `{"amount":5,"reason":"x"}`, 422, "validation_failed", "order_id", "", "", 0},
		{"missing reason", `{"order_id":"100231","amount":5}`, 422, "validation_failed", "reason", "100231", "paid", 0},
		{"unknown field", `{"order_id":"100231","amount":5,"reason":"x","currency":"EUR"}`, 422, "validation_failed", "currency", "100231", "paid", 0},
		{"unknown order", `{"order_id":"999999","amount":5,"reason":"x"}`, 404, "not_found", "", "", "", 0},
		{"unpaid order", `{"order_id":"100250","amount":5,"reason":"x"}`, 422, "validation_failed", "order_id", "100250", "pending", 0},
		{"already refunded", `{"order_id":"100245","amount":1,"reason":"x"}`, 422, "validation_failed", "order_id", "100245", "refunded", 9.95},
		{"not JSON", `order_id=100231`, 400, "invalid_json", "", "100231", "paid", 0},
		{"empty body", ``, 400, "invalid_json", "", "100231", "paid", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newTestHandler()
			r := do(t, h, "POST", "/shop/refunds", tc.body, shopAuth)
			if r.status != tc.want {
				t.Fatalf("status %d, want %d: %s", r.status, tc.want, r.raw)
			}
			if tc.wantError != "" && r.body["error"] != tc.wantError {
				t.Errorf("error = %v, want %s", r.body["error"], tc.wantError)
			}
			if tc.wantField != "" && r.body["field"] != tc.wantField {
				t.Errorf("field = %v, want %s (%s)", r.body["field"], tc.wantField, r.raw)
			}
			if tc.want == 201 {
				for path, want := range map[string]any{"id": "re_5001", "status": "succeeded", "currency": "EUR",
					"order_id": tc.order, "amount": tc.wantLeft, "created_at": "2026-03-10T09:30:00Z"} {
					if got := get(r.body, path); got != want {
						t.Errorf("%s = %#v, want %#v", path, got, want)
					}
				}
			}
			if tc.order != "" {
				o := do(t, h, "GET", "/shop/orders/"+tc.order, "", shopAuth)
				if o.body["payment_status"] != tc.wantPaid || o.body["refunded_amount"] != tc.wantLeft {
					t.Errorf("order after the call: payment_status %v refunded_amount %v, want %s %v",
						o.body["payment_status"], o.body["refunded_amount"], tc.wantPaid, tc.wantLeft)
				}
			}
		})
	}
}

func TestRefundsAddUpToTheTotal(t *testing.T) {
	h := newTestHandler()
	steps := []struct {
		amount string
		want   int
		paid   string
	}{
		{"50", 201, "partially_refunded"},
		{"49.81", 422, "partially_refunded"}, // 0.01 more than what is left
		{"49.80", 201, "refunded"},
		{"0.01", 422, "refunded"},
	}
	for i, s := range steps {
		r := do(t, h, "POST", "/shop/refunds", `{"order_id":"100231","amount":`+s.amount+`,"reason":"r"}`, shopAuth)
		if r.status != s.want {
			t.Fatalf("step %d: status %d, want %d: %s", i, r.status, s.want, r.raw)
		}
		o := do(t, h, "GET", "/shop/orders/100231", "", shopAuth)
		if o.body["payment_status"] != s.paid {
			t.Fatalf("step %d: payment_status %v, want %s", i, o.body["payment_status"], s.paid)
		}
	}
}

func TestRefundIdempotency(t *testing.T) {
	body := `{"order_id":"100231","amount":10,"reason":"Falta una funda"}`
	other := `{"order_id":"100231","amount":12,"reason":"Falta una funda"}`
	bad := `{"order_id":"100231","amount":0,"reason":"Falta una funda"}`
	type step struct {
		body, key    string
		want         int
		wantID       string
		wantReplayed bool
	}
	tests := []struct {
		name         string
		steps        []step
		wantRefunded float64
	}{
		{"same key replays the refund", []step{
			{body, "k1", 201, "re_5001", false},
			{body, "k1", 200, "re_5001", true},
			{body, "k1", 200, "re_5001", true},
		}, 10},
		{"another key refunds again", []step{
			{body, "k1", 201, "re_5001", false},
			{body, "k2", 201, "re_5002", false},
		}, 20},
		{"no key refunds every time", []step{
			{body, "", 201, "re_5001", false},
			{body, "", 201, "re_5002", false},
		}, 20},
		{"same key with other parameters", []step{
			{body, "k1", 201, "re_5001", false},
			{other, "k1", 422, "", false},
		}, 10},
		{"a failed request is not remembered", []step{
			{bad, "k1", 422, "", false},
			{body, "k1", 201, "re_5001", false},
			{body, "k1", 200, "re_5001", true},
		}, 10},
		{"too long a key", []step{
			{body, strings.Repeat("k", 256), 422, "", false},
		}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newTestHandler()
			for i, s := range tc.steps {
				var hdr map[string]string
				if s.key != "" {
					hdr = map[string]string{"Idempotency-Key": s.key}
				}
				r := do(t, h, "POST", "/shop/refunds", s.body, merge(shopAuth, hdr))
				if r.status != s.want {
					t.Fatalf("step %d: status %d, want %d: %s", i, r.status, s.want, r.raw)
				}
				if s.wantID != "" && r.body["id"] != s.wantID {
					t.Errorf("step %d: id %v, want %s", i, r.body["id"], s.wantID)
				}
				if replayed := r.header.Get("Idempotent-Replayed") == "true"; replayed != s.wantReplayed {
					t.Errorf("step %d: Idempotent-Replayed %v, want %v", i, replayed, s.wantReplayed)
				}
			}
			o := do(t, h, "GET", "/shop/orders/100231", "", shopAuth)
			if o.body["refunded_amount"] != tc.wantRefunded {
				t.Errorf("refunded_amount %v, want %v", o.body["refunded_amount"], tc.wantRefunded)
			}
		})
	}
}

func TestConcurrentRefunds(t *testing.T) {
	const n = 40
	run := func(h http.Handler, body func(i int) string, key func(i int) string) []reply {
		out := make([]reply, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				out[i] = do(t, h, "POST", "/shop/refunds", body(i), merge(shopAuth, map[string]string{"Idempotency-Key": key(i)}))
			}()
		}
		wg.Wait()
		return out
	}
	count := func(rs []reply, status int) int {
		c := 0
		for _, r := range rs {
			if r.status == status {
				c++
			}
		}
		return c
	}

	t.Run("one key, one refund", func(t *testing.T) {
		h := newTestHandler()
		rs := run(h, func(int) string { return `{"order_id":"100231","amount":10,"reason":"r"}` },
			func(int) string { return "same" })
		if count(rs, 201) != 1 || count(rs, 200) != n-1 {
			t.Fatalf("%d created and %d replayed, want 1 and %d", count(rs, 201), count(rs, 200), n-1)
		}
		for _, r := range rs {
			if r.body["id"] != "re_5001" {
				t.Fatalf("refund %v, want re_5001 every time", r.body["id"])
			}
		}
	})

	t.Run("many keys never refund more than the total", func(t *testing.T) {
		h := newTestHandler()
		// 99.80 in total: nine refunds of 10 fit, the rest must be refused.
		rs := run(h, func(int) string { return `{"order_id":"100231","amount":10,"reason":"r"}` },
			func(i int) string { return fmt.Sprint("key-", i) })
		if count(rs, 201) != 9 || count(rs, 422) != n-9 {
			t.Fatalf("%d created and %d refused, want 9 and %d", count(rs, 201), count(rs, 422), n-9)
		}
		o := do(t, h, "GET", "/shop/orders/100231", "", shopAuth)
		if o.body["refunded_amount"] != 90.0 {
			t.Errorf("refunded_amount %v, want 90", o.body["refunded_amount"])
		}
	})

	t.Run("reads alongside writes", func(t *testing.T) {
		h := newTestHandler()
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(2)
			go func() {
				defer wg.Done()
				do(t, h, "POST", "/helpdesk/tickets", `{"customer_id":"cus_1001","subject":"s","description":"d"}`, helpdeskAuth)
			}()
			go func() {
				defer wg.Done()
				do(t, h, "GET", fmt.Sprintf("/helpdesk/customers/search?phone=612345678&n=%d", i), "", helpdeskAuth)
				do(t, h, "GET", "/helpdesk/customers/cus_1001", "", helpdeskAuth)
			}()
		}
		wg.Wait()
		r := do(t, h, "GET", fmt.Sprintf("/helpdesk/tickets/%d", 1004+n-1), "", helpdeskAuth)
		if r.status != 200 {
			t.Errorf("the last of %d new tickets is missing: %s", n, r.raw)
		}
	})
}

func TestRoutingErrors(t *testing.T) {
	tests := []struct {
		name      string
		method    string
		path      string
		headers   map[string]string
		want      int
		wantError string
		wantAllow string
	}{
		{"unknown helpdesk path", "GET", "/helpdesk/nothing", helpdeskAuth, 404, "not_found", ""},
		{"unknown shop path", "GET", "/shop/customers/1", shopAuth, 404, "not_found", ""},
		{"unknown top-level path", "GET", "/crm/contacts", nil, 404, "not_found", ""},
		{"wrong method", "DELETE", "/shop/orders/100231", shopAuth, 405, "method_not_allowed", "GET, HEAD"},
		{"GET on a POST-only path", "GET", "/shop/refunds", shopAuth, 405, "method_not_allowed", "POST"},
		{"index", "GET", "/", nil, 200, "", ""},
	}
	h := newTestHandler()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := do(t, h, tc.method, tc.path, "", tc.headers)
			if r.status != tc.want {
				t.Fatalf("status %d, want %d: %s", r.status, tc.want, r.raw)
			}
			if tc.wantError != "" && r.body["error"] != tc.wantError {
				t.Errorf("error = %v, want %s", r.body["error"], tc.wantError)
			}
			if tc.wantAllow != "" && r.header.Get("Allow") != tc.wantAllow {
				t.Errorf("Allow = %q, want %q", r.header.Get("Allow"), tc.wantAllow)
			}
		})
	}
}

func TestHandlersShareNothing(t *testing.T) {
	a, b := New(testKeys), New(testKeys)
	r := do(t, a, "POST", "/shop/refunds", `{"order_id":"100234","amount":189,"reason":"r"}`, shopAuth)
	if r.status != 201 {
		t.Fatalf("refund: %d %s", r.status, r.raw)
	}
	if o := do(t, b, "GET", "/shop/orders/100234", "", shopAuth); o.body["payment_status"] != "paid" {
		t.Errorf("a refund in one handler changed another: %s", o.raw)
	}
}

func TestGenerateKeys(t *testing.T) {
	k1, err := GenerateKeys()
	if err != nil {
		t.Fatal(err)
	}
	k2, _ := GenerateKeys()
	if k1.HelpdeskToken == "" || k1.ShopKey == "" || k1.HelpdeskToken == k1.ShopKey || k1 == k2 {
		t.Fatalf("keys are not fresh and distinct: %+v %+v", k1, k2)
	}
	h := New(k1)
	if r := do(t, h, "GET", "/helpdesk/customers/cus_1001", "", map[string]string{"Authorization": "Bearer " + k1.HelpdeskToken}); r.status != 200 {
		t.Errorf("generated helpdesk token refused: %d", r.status)
	}
	if r := do(t, h, "GET", "/shop/inventory/AUR-200", "", map[string]string{"X-API-Key": k1.ShopKey}); r.status != 200 {
		t.Errorf("generated shop key refused: %d", r.status)
	}
}

func TestMoneyJSON(t *testing.T) {
	for _, tc := range []struct {
		m    money
		want string
	}{{0, "0.00"}, {5, "0.05"}, {1990, "19.90"}, {119900, "1199.00"}, {-250, "-2.50"}} {
		b, _ := json.Marshal(tc.m)
		if string(b) != tc.want {
			t.Errorf("money(%d) = %s, want %s", tc.m, b, tc.want)
		}
	}
}

// TestDevConfigUsesTheseSecrets keeps configs/dev.yaml and Keys.Secrets in
// step: every reference the dev config authenticates with is one the dev
// store will hold.
func TestDevConfigUsesTheseSecrets(t *testing.T) {
	data, err := os.ReadFile("../../configs/dev.yaml")
	if err != nil {
		t.Fatal(err)
	}
	secrets := testKeys.Secrets()
	for ref, val := range secrets {
		if !strings.Contains(string(data), "secret: "+ref+"\n") {
			t.Errorf("configs/dev.yaml does not use %s", ref)
		}
		if val == "" {
			t.Errorf("%s maps to an empty key", ref)
		}
	}
	for _, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if ref, ok := strings.CutPrefix(line, "secret: "); ok {
			if _, known := secrets[ref]; !known {
				t.Errorf("configs/dev.yaml uses %s, which the dev store does not hold", ref)
			}
		}
	}
	if secrets[HelpdeskTokenRef] != testKeys.HelpdeskToken || secrets[ShopKeyRef] != testKeys.ShopKey {
		t.Errorf("Secrets() = %v, want each reference mapped to its key", secrets)
	}
}
