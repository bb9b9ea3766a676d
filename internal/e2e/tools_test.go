package e2e

import (
	"context"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"
)

// TestEveryClientSeesAndCallsTheSameTools drives the server through each real
// client, transport and protocol revision: same tools, same results, clean
// errors, and the server keeps serving after each failure.
func TestEveryClientSeesAndCallsTheSameTools(t *testing.T) {
	up := newUpstream(t)
	srv := serve(t, testConfig(up.URL))
	var reference []listedTool
	for _, kind := range clientMatrix() {
		t.Run(kind.Name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			c := kind.Connect(t, ctx, srv.target)
			defer c.Close()

			tools, err := c.ListTools(ctx)
			if err != nil {
				t.Fatalf("tools/list: %v", err)
			}
			sort.Slice(tools, func(i, j int) bool { return tools[i].Name < tools[j].Name })
			var names []string
			for _, tl := range tools {
				names = append(names, tl.Name)
			}
			want := []string{"helpdesk_broken", "helpdesk_create_ticket", "helpdesk_get_customer", "helpdesk_search", "helpdesk_slow"}
			if !reflect.DeepEqual(names, want) {
				t.Fatalf("tools = %v, want %v", names, want)
			}
			if reference == nil {
				reference = tools
			} else if !reflect.DeepEqual(tools, reference) {
				t.Fatalf("tools differ from the first client's:\n got %+v\nwant %+v", tools, reference)
			}
			for _, tl := range tools {
				if strings.Contains(tl.Schema, "channel") {
					t.Errorf("%s: fixed param leaked into schema: %s", tl.Name, tl.Schema)
				}
			}

			res, err := c.Call(ctx, "helpdesk_get_customer", map[string]any{"id": "c-1"})
			if err != nil {
				t.Fatalf("call: %v", err)
			}
			if res.IsError || !strings.Contains(res.Text, "Ana García") || res.Structured["tier"] != "gold" {
				t.Fatalf("get_customer = %+v", res)
			}

			res, err = c.Call(ctx, "helpdesk_get_customer", map[string]any{})
			if err != nil {
				t.Fatalf("call without id: %v", err)
			}
			if !res.IsError || !strings.Contains(res.Text, "id") {
				t.Fatalf("missing id should be an isError naming id, got %+v", res)
			}

			res, err = c.Call(ctx, "helpdesk_search", map[string]any{"email": "not-an-email"})
			if err != nil {
				t.Fatal(err)
			}
			if !res.IsError || !strings.Contains(res.Text, "email: must be a valid email address") {
				t.Fatalf("bad email = %+v", res)
			}

			res, err = c.Call(ctx, "helpdesk_broken", nil)
			if err != nil {
				t.Fatal(err)
			}
			if !res.IsError || !strings.Contains(res.Text, "500") || !strings.Contains(res.Text, "database down") {
				t.Fatalf("upstream 500 = %+v", res)
			}

			res, err = c.Call(ctx, "helpdesk_get_customer", map[string]any{"id": "nope"})
			if err != nil {
				t.Fatal(err)
			}
			if !res.IsError || !strings.Contains(res.Text, "404") {
				t.Fatalf("upstream 404 = %+v", res)
			}

			res, err = c.Call(ctx, "helpdesk_create_ticket", map[string]any{"subject": "No llega el pedido"})
			if err != nil {
				t.Fatal(err)
			}
			if res.IsError || !strings.Contains(res.Text, `"channel":"phone"`) || !strings.Contains(res.Text, `"priority":"normal"`) {
				t.Fatalf("create_ticket = %+v", res)
			}

			// Still serving after every failure above.
			res, err = c.Call(ctx, "helpdesk_get_customer", map[string]any{"id": "c-1"})
			if err != nil || res.IsError {
				t.Fatalf("after failures: %+v, %v", res, err)
			}
		})
	}
	for _, r := range up.requests() {
		if r.Path == "/api/search" && strings.Contains(r.RawQuery, "not-an-email") {
			t.Fatalf("invalid arguments reached the upstream: %+v", r)
		}
	}
}
