package policy

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"testing"
)

func digestOf(t *testing.T, args map[string]any) [32]byte {
	t.Helper()
	d, err := argsDigest(args)
	if err != nil {
		t.Fatalf("argsDigest(%v): %v", args, err)
	}
	return d
}

func decoded(t *testing.T, s string, useNumber bool) map[string]any {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(s))
	if useNumber {
		dec.UseNumber()
	}
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestCanonicalSameMeaningSameHash(t *testing.T) {
	groups := [][]map[string]any{
		{ // key order, at every level
			{"a": 1.0, "b": map[string]any{"x": "1", "y": []any{1.0, 2.0}}},
			{"b": map[string]any{"y": []any{1.0, 2.0}, "x": "1"}, "a": 1.0},
		},
		{ // 1, 1.0, 1e0, 10e-1, 0.1e1 as float64, json.Number and Go ints
			{"n": 1.0}, {"n": json.Number("1")}, {"n": json.Number("1.0")}, {"n": json.Number("1e0")},
			{"n": json.Number("10e-1")}, {"n": json.Number("0.1e1")}, {"n": json.Number("1.000E+0")},
			{"n": 1}, {"n": int64(1)}, {"n": uint8(1)}, {"n": float32(1)},
		},
		{ // a float64 is its shortest decimal
			{"n": 0.1}, {"n": json.Number("0.1")}, {"n": json.Number("0.10")}, {"n": json.Number("1e-1")},
		},
		{{"n": 12.5}, {"n": json.Number("12.50")}, {"n": json.Number("1.25e1")}, {"n": json.Number("125e-1")}},
		{{"n": 100.0}, {"n": json.Number("1e2")}, {"n": json.Number("100")}, {"n": 100}},
		{{"n": 0.0}, {"n": json.Number("-0")}, {"n": json.Number("0.000")}, {"n": json.Number("0e10")}, {"n": math.Copysign(0, -1)}},
		{{"n": -3.25}, {"n": json.Number("-3.250")}, {"n": json.Number("-325e-2")}},
		{{"n": 1e21}, {"n": json.Number("1000000000000000000000")}},
		{ // what the wire gives, whichever way it was decoded
			decoded(t, `{"amount": 12.50, "order_id": "A-1", "items": [{"sku": "X", "qty": 2}]}`, false),
			decoded(t, `{"items":[{"qty":2.0,"sku":"X"}],"order_id":"A-1","amount":1.25e1}`, true),
		},
		{{"s": []string{"a", "b"}}, {"s": []any{"a", "b"}}},
		{{"m": map[string]string{"k": "v"}}, {"m": map[string]any{"k": "v"}}},
		{{}, nil},
	}
	for i, g := range groups {
		want := digestOf(t, g[0])
		for j, args := range g[1:] {
			if got := digestOf(t, args); got != want {
				a, _ := canonicalJSON(g[0])
				b, _ := canonicalJSON(args)
				t.Errorf("group %d: %d differs from the first:\n%s\n%s", i, j+1, a, b)
			}
		}
	}
}

func TestCanonicalDifferentValuesDifferentHash(t *testing.T) {
	distinct := []map[string]any{
		{},
		{"n": 1.0},
		{"n": 2.0},
		{"n": -1.0},
		{"n": 10.0},
		{"n": 0.1},
		{"n": 0.01},
		{"n": json.Number("9007199254740993")}, // beyond float64: kept exact
		{"n": json.Number("9007199254740992")},
		{"n": "1"},
		{"n": true},
		{"n": "true"},
		{"n": nil},
		{"m": 1.0},
		{"n": 1.0, "m": 1.0},
		{"n": []any{1.0, 2.0}},
		{"n": []any{2.0, 1.0}},
		{"n": []any{1.0, []any{2.0}}},
		{"n": map[string]any{"a": 1.0}},
		{"n": map[string]any{"a": "1"}},
		{"n": ""},
		{"n": " "},
		{"a\",\"b": "c"},
		{"a": "\",\"b\":\"c"},
		{"n": "é"},
		{"n": "e\u0301"},
	}
	seen := map[[32]byte]int{}
	for i, args := range distinct {
		d := digestOf(t, args)
		if j, ok := seen[d]; ok {
			t.Errorf("%v and %v hash the same", distinct[j], args)
		}
		seen[d] = i
	}
}

func TestCanonicalForm(t *testing.T) {
	cases := map[string]string{
		`{"b":1,"a":[1.0,"x",null,true]}`: `{"a":[1e0,"x",null,true],"b":1e0}`,
		`{"n":-0.0050}`:                   `{"n":-5e-3}`,
		`{"n":1200}`:                      `{"n":12e2}`,
		`{"s":"<a&b>\u00e9"}`:             `{"s":"\u003ca\u0026b\u003eé"}`,
	}
	for in, want := range cases {
		got, err := canonicalJSON(decoded(t, in, true))
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != want {
			t.Errorf("%s: got %s, want %s", in, got, want)
		}
		if !json.Valid(got) {
			t.Errorf("%s: canonical form %s is not JSON", in, got)
		}
	}
}

func TestCanonicalRejects(t *testing.T) {
	bad := []map[string]any{
		{"n": json.Number("1x")},
		{"n": json.Number("01")},
		{"n": json.Number(".5")},
		{"n": json.Number("1.")},
		{"n": json.Number("1e")},
		{"n": json.Number("1e+-2")},
		{"n": json.Number("1e99999999999999999999")},
		{"n": json.Number("")},
		{"n": math.NaN()},
		{"n": math.Inf(1)},
		{"s": "\xff"},
	}
	for _, args := range bad {
		if _, err := argsDigest(args); err == nil {
			t.Errorf("%#v: accepted", args)
		}
	}
	deep := map[string]any{}
	cur := deep
	for range maxDepth + 5 {
		next := map[string]any{}
		cur["x"] = next
		cur = next
	}
	if _, err := argsDigest(deep); err == nil {
		t.Error("nesting deeper than maxDepth accepted")
	}
}

func TestAuditHashHidesSensitiveValues(t *testing.T) {
	a := auditHash(map[string]any{"order_id": "A-1", "pin": "1234"}, []string{"pin"})
	b := auditHash(map[string]any{"order_id": "A-1", "pin": "9999"}, []string{"pin"})
	c := auditHash(map[string]any{"order_id": "A-2", "pin": "1234"}, []string{"pin"})
	if a == "" || a != b {
		t.Errorf("a sensitive value changed the audit hash: %q %q", a, b)
	}
	if a == c {
		t.Error("a different order id gave the same audit hash")
	}
	if a == auditHash(map[string]any{"order_id": "A-1", "pin": "1234"}, nil) {
		t.Error("the sensitive value was hashed")
	}
}

// Nesting is bounded, in objects and in arrays alike, at exactly maxDepth;
// exponents at exactly ±maxExponent.
func TestCanonicalBounds(t *testing.T) {
	nest := func(n int, obj bool) any {
		var v any = "leaf"
		for range n {
			if obj {
				v = map[string]any{"k": v}
			} else {
				v = []any{v}
			}
		}
		return v
	}
	for _, obj := range []bool{false, true} {
		if _, err := canonicalJSON(nest(maxDepth, obj)); err != nil {
			t.Errorf("nested %d deep (object %v): %v", maxDepth, obj, err)
		}
		if _, err := canonicalJSON(nest(maxDepth+1, obj)); err == nil {
			t.Errorf("nested %d deep (object %v) was accepted", maxDepth+1, obj)
		}
	}
	for _, ok := range []string{fmt.Sprintf("1e%d", maxExponent), fmt.Sprintf("1e-%d", maxExponent)} {
		if _, err := appendNumber(nil, ok); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
	for _, bad := range []string{fmt.Sprintf("1e%d", maxExponent+1), fmt.Sprintf("1e-%d", maxExponent+1)} {
		if _, err := appendNumber(nil, bad); err == nil {
			t.Errorf("%s was accepted", bad)
		}
	}
}
