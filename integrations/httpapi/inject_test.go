package httpapi_test

import (
	"context"
	"net/url"
	"reflect"
	"strings"
	"testing"

	"github.com/switchboard-dev/switchboard/integrations"
)

// Each hostile argument either stops at validation (nothing sent) or reaches
// the upstream as exactly one value in exactly its place.

func TestInjectionPath(t *testing.T) {
	up, tools := shop(t, nil)
	tl := tool(t, tools, "shop_get_file")
	cases := []struct {
		value   string
		wantRaw string // the exact escaped path; "" = must be refused
	}{
		{"../admin", "/api/files/..%2Fadmin/meta"},
		{"..", ""},
		{".", ""},
		{"", ""},
		{"a/b", "/api/files/a%2Fb/meta"},
		{"%2e%2e", "/api/files/%252e%252e/meta"},
		{"%2e%2e%2fadmin", "/api/files/%252e%252e%252fadmin/meta"},
		{"..%2f..%2fadmin", "/api/files/..%252f..%252fadmin/meta"},
		{"../../../etc/passwd", "/api/files/..%2F..%2F..%2Fetc%2Fpasswd/meta"},
		{"..\\admin", "/api/files/..%5Cadmin/meta"},
		{"a?admin=1", "/api/files/a%3Fadmin=1/meta"},
		{"a#frag", "/api/files/a%23frag/meta"},
		{"a b", "/api/files/a%20b/meta"},
		{"a;jsessionid=1", "/api/files/a%3Bjsessionid=1/meta"},
		{"é", "/api/files/%C3%A9/meta"},
		{"a\r\nHost: evil", ""},
		{"a\x00b", ""},
		{"...", "/api/files/.../meta"},
		{"./a", "/api/files/.%2Fa/meta"},
	}
	for _, tc := range cases {
		t.Run(tc.value, func(t *testing.T) {
			up.reset()
			res, err := call(t, tl, map[string]any{"name": tc.value})
			if tc.wantRaw == "" {
				ie := mustErr(t, res, err)
				up.none(t)
				if ie.Kind != integrations.KindInvalid || !strings.Contains(ie.Public, "name") {
					t.Errorf("Kind %s Public %q", ie.Kind, ie.Public)
				}
				return
			}
			mustOK(t, res, err)
			r := up.only(t)
			if r.RawPath != tc.wantRaw {
				t.Errorf("path = %s, want %s", r.RawPath, tc.wantRaw)
			}
			seg := r.segments()
			if len(seg) != 4 || seg[0] != "api" || seg[1] != "files" || seg[3] != "meta" {
				t.Fatalf("segments = %q", seg)
			}
			if got, err := url.PathUnescape(seg[2]); err != nil || got != tc.value {
				t.Errorf("segment decodes to %q (%v), want %q", got, err, tc.value)
			}
			if r.RawQuery != "" {
				t.Errorf("a query appeared: %q", r.RawQuery)
			}
		})
	}
}

func TestInjectionQuery(t *testing.T) {
	up, tools := shop(t, nil)
	tl := tool(t, tools, "shop_get_file")
	for _, v := range []string{
		"a&admin=true",
		"a=b",
		"x#frag",
		"?admin=1",
		"a+b c",
		"%26admin%3Dtrue",
		"&&==",
		"ñ€😀",
		";admin=1",
		"",
	} {
		t.Run(v, func(t *testing.T) {
			up.reset()
			ok(t)(call(t, tl, map[string]any{"name": "f", "q": v}))
			r := up.only(t)
			if want := "q=" + url.QueryEscape(v); r.RawQuery != want {
				t.Errorf("RawQuery = %q, want %q", r.RawQuery, want)
			}
			q, err := url.ParseQuery(r.RawQuery)
			if err != nil || !reflect.DeepEqual(q, url.Values{"q": {v}}) {
				t.Errorf("query = %v (%v), want exactly q=%q", q, err, v)
			}
			if r.RawPath != "/api/files/f/meta" {
				t.Errorf("path = %s", r.RawPath)
			}
		})
	}
	for _, v := range []string{"a\r\nb", "a\nb", "a\x00"} {
		t.Run("refused "+v, func(t *testing.T) {
			up.reset()
			ie := fails(t)(call(t, tl, map[string]any{"name": "f", "q": v}))
			up.none(t)
			if ie.Kind != integrations.KindInvalid || !strings.Contains(ie.Public, "q") {
				t.Errorf("Kind %s Public %q", ie.Kind, ie.Public)
			}
		})
	}
	t.Run("array items stay single values", func(t *testing.T) {
		up.reset()
		ok(t)(call(t, tool(t, tools, "shop_list_orders"), map[string]any{"customer_id": 1, "status": []any{"open", "closed"}}))
		q, _ := url.ParseQuery(up.only(t).RawQuery)
		if !reflect.DeepEqual(q["status"], []string{"open", "closed"}) || len(q) != 4 {
			t.Errorf("query = %v", q)
		}
	})
}

func TestInjectionHeader(t *testing.T) {
	up, tools := shop(t, nil)
	tl := tool(t, tools, "shop_get_file")
	refused := []string{
		"a\r\nX-Evil: 1",
		"a\nX-Evil: 1",
		"a\rX-Evil: 1",
		"\r\n\r\nGET /admin HTTP/1.1",
		"a\x00b",
		"a\x01b", // other control characters are not valid in a header either
		"a\x7fb",
		"a\x1b[31m",
	}
	for _, v := range refused {
		t.Run("refused "+v, func(t *testing.T) {
			up.reset()
			ie := fails(t)(call(t, tl, map[string]any{"name": "f", "X-Trace": v}))
			up.none(t)
			if ie.Kind != integrations.KindInvalid || !strings.Contains(ie.Public, "X-Trace") {
				t.Errorf("Kind %s Public %q (want a validation error naming X-Trace)", ie.Kind, ie.Public)
			}
		})
	}
	for _, v := range []string{"plain", "a: b", "tab\tinside", "quote\"s", "ñandú", "Bearer other-token"} {
		t.Run("sent "+v, func(t *testing.T) {
			up.reset()
			ok(t)(call(t, tl, map[string]any{"name": "f", "X-Trace": v}))
			r := up.only(t)
			if got := r.Header.Values("X-Trace"); !reflect.DeepEqual(got, []string{v}) {
				t.Errorf("X-Trace = %q, want %q", got, v)
			}
			if r.Header.Get("X-Evil") != "" || r.Header.Get("Authorization") != "Bearer "+shopToken {
				t.Errorf("headers = %v", r.Header)
			}
		})
	}
}

func TestInjectionBody(t *testing.T) {
	up, tools := shop(t, nil)
	tl := tool(t, tools, "shop_post_note")
	for _, v := range []string{
		`", "role": "admin", "x": "`,
		`"}, "role": "admin"`,
		`{"role":"admin"}`,
		`\", \"role\": \"admin`,
		"}}}]]]",
		"\u0000\u2028\u2029<script>&amp;",
		`{{.order_id}} ${VAR} $(rm -rf /)`,
	} {
		t.Run(v, func(t *testing.T) {
			up.reset()
			ok(t)(call(t, tl, map[string]any{"text": v}))
			r := up.only(t)
			body := decodeBody(t, r)
			if !reflect.DeepEqual(body, map[string]any{"text": v, "role": "user"}) {
				t.Errorf("body = %s, want text %q and the fixed role", r.Body, v)
			}
		})
	}
	for _, args := range []string{
		`{"text":"hi","role":"admin"}`,
		`{"text":"hi","is_admin":true}`,
		`{"text":{"role":"admin"}}`,
		`{"text":["a","b"]}`,
	} {
		t.Run("refused "+args, func(t *testing.T) {
			up.reset()
			ie := fails(t)(callRaw(context.Background(), t, tl, args))
			up.none(t)
			if ie.Kind != integrations.KindInvalid {
				t.Errorf("Kind %s Public %q", ie.Kind, ie.Public)
			}
		})
	}
	t.Run("nested object keeps to its properties", func(t *testing.T) {
		up.reset()
		ie := fails(t)(callRaw(context.Background(), t, tool(t, tools, "shop_create_order"),
			`{"customer":{"email":"a@b.co","address":{"city":"X","admin":true}}}`))
		up.none(t)
		if !strings.Contains(ie.Public, "admin") {
			t.Errorf("Public = %q", ie.Public)
		}
	})
}

// A model cannot add a query key, a header or a path to a tool that takes none.
func TestUndeclaredPlacesRefused(t *testing.T) {
	up, tools := shop(t, nil)
	for _, args := range []string{
		`{"name":"f","admin":"1"}`,
		`{"name":"f","Authorization":"Bearer x"}`,
		`{"name":"f","X-Evil":"1"}`,
		`{"name":"f","path":"/admin"}`,
		`{"name":"f","format":"full"}`,
	} {
		up.reset()
		ie := fails(t)(callRaw(context.Background(), t, tool(t, tools, "shop_get_file"), args))
		up.none(t)
		if ie.Kind != integrations.KindInvalid {
			t.Errorf("%s: Kind %s", args, ie.Kind)
		}
	}
}
