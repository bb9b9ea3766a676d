package integrations

import (
	"encoding/json"
	"testing"

	"github.com/mark3labs/mcp-go/mcp"
)

func TestDecodeArgsKeepsEveryDigit(t *testing.T) {
	args, err := DecodeArgs(json.RawMessage(`{"id": 9007199254740993, "amount": 12.50, "nested": {"n": [1e400]}}`), nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(args)
	if got := string(b); got != `{"amount":12.50,"id":9007199254740993,"nested":{"n":[1e400]}}` {
		t.Fatalf("re-encoded %s", got)
	}
	for _, bad := range []string{`[1,2]`, `"x"`, `{"a":1} {"b":2}`, `{"a":`} {
		if _, err := DecodeArgs(json.RawMessage(bad), nil); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
	in, err := DecodeArgs(nil, map[string]any{"n": 12.5, "i": 3, "l": []any{float64(7)}})
	if err != nil {
		t.Fatal(err)
	}
	if in["n"] != json.Number("12.5") || in["i"] != json.Number("3") || in["l"].([]any)[0] != json.Number("7") {
		t.Fatalf("in-process numbers: %#v", in)
	}
}

// The confirmation token is taken out only for a tool that needs
// confirmation; for any other tool it is an unknown argument like any other.
func TestNewCallTakesTheTokenOnlyForConfirmedTools(t *testing.T) {
	p := mcp.CallToolParams{Name: "pay_refund", RawArguments: json.RawMessage(`{"amount":5,"confirmation_token":" tok "}`)}
	confirmed := &Tool{Definition: mcp.NewTool("pay_refund"), NeedsConfirmation: true}
	c := NewCall(confirmed, p)
	if _, ok := c.Args[TokenParam]; ok || c.Presented.Token != "tok" || !c.Presented.TokenSent {
		t.Fatalf("confirmed tool: args %v presented %+v", c.Args, c.Presented)
	}
	plain := NewCall(&Tool{Definition: mcp.NewTool("pay_refund")}, p)
	if _, ok := plain.Args[TokenParam]; !ok || plain.Presented.TokenSent {
		t.Fatalf("plain tool: args %v presented %+v", plain.Args, plain.Presented)
	}
	for _, empty := range []string{`null`, `""`, `"  "`} {
		c := NewCall(confirmed, mcp.CallToolParams{RawArguments: json.RawMessage(`{"confirmation_token":` + empty + `}`)})
		if c.Presented.TokenSent {
			t.Errorf("token %s counted as sent", empty)
		}
	}
}

func TestClipCutsOnRunes(t *testing.T) {
	s := Clip("  año   niño\n\tcañón  ", 9)
	if s != "año niñ…" {
		t.Fatalf("%q", s)
	}
	if Clip("short", 10) != "short" {
		t.Fatal("short text changed")
	}
}
