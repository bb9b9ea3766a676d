package httpapi_test

import (
	"context"
	"strings"
	"testing"

	"github.com/switchboard-dev/switchboard/integrations"
)

const callCtxYAML = `
integrations:
  - name: crm
    type: http
    base_url: ${BASE}
    tools:
      - name: lookup
        description: Find the caller.
        method: GET
        path: /lines/{line}/customers
        params:
          - {name: phone, in: query, value_from: call.caller_number, required: true, validate: e164}
          - {name: line, in: path, type: integer, value_from: call.line_id, required: true, validate: "gt=0"}
          - {name: lang, in: header, value_from: call.language, enum: [es, en], default: es}
          - {name: email, in: query, validate: email}
`

func callWith(t *testing.T, tl *integrations.Tool, args string, ctx map[string]string) (string, *integrations.Error) {
	t.Helper()
	c := newCall(t, tl, args)
	c.Context = ctx
	res, err := tl.Handler.Call(context.Background(), c)
	if err != nil {
		e, ok := err.(*integrations.Error)
		if !ok {
			t.Fatalf("error %v is not an *integrations.Error", err)
		}
		return "", e
	}
	return text(res), nil
}

func TestValueFromFillsFromTheCall(t *testing.T) {
	up := newUpstream(t, nil)
	tl := tool(t, build(t, up.URL(), callCtxYAML, nil), "crm_lookup")

	schema := listed(t, tl)
	props := obj(t, schema.InputSchema, "properties")
	for _, hidden := range []string{"phone", "line", "lang"} {
		if _, ok := props[hidden]; ok {
			t.Fatalf("value_from param %s is in the schema: %v", hidden, props)
		}
	}

	if _, err := callWith(t, tl, `{}`, map[string]string{"caller_number": "+34612345678", "line_id": "7", "language": "en"}); err != nil {
		t.Fatal(err)
	}
	r := up.only(t)
	if r.RawPath != "/lines/7/customers" || r.RawQuery != "phone=%2B34612345678" || r.Header.Get("lang") != "en" {
		t.Fatalf("request = %s ? %s, lang %q", r.RawPath, r.RawQuery, r.Header.Get("lang"))
	}
}

func TestValueFromRefusesTheModelsValue(t *testing.T) {
	up := newUpstream(t, nil)
	tl := tool(t, build(t, up.URL(), callCtxYAML, nil), "crm_lookup")
	_, err := callWith(t, tl, `{"phone": "+34699999999"}`, map[string]string{"caller_number": "+34612345678", "line_id": "7"})
	if err == nil || err.Kind != integrations.KindInvalid || !strings.Contains(err.Public, "unknown parameter") || !strings.Contains(err.Public, "phone") {
		t.Fatalf("a model-sent phone: %v", err)
	}
	up.none(t)
}

func TestValueFromMissingOrInvalidSendsNothing(t *testing.T) {
	up := newUpstream(t, nil)
	tl := tool(t, build(t, up.URL(), callCtxYAML, nil), "crm_lookup")
	cases := []struct {
		name string
		ctx  map[string]string
		want string
	}{
		{"nothing", nil, "this call did not provide caller_number and line_id"},
		{"no line", map[string]string{"caller_number": "+34612345678"}, "did not provide line_id"},
		{"empty number", map[string]string{"caller_number": "", "line_id": "7"}, "did not provide caller_number"},
		{"bad number", map[string]string{"caller_number": "call me maybe", "line_id": "7"}, "a caller_number that is not valid (must be a phone number in E.164 form"},
		{"line not an integer", map[string]string{"caller_number": "+34612345678", "line_id": "7a"}, "a line_id that is not valid (not a whole number)"},
		{"line not positive", map[string]string{"caller_number": "+34612345678", "line_id": "0"}, "a line_id that is not valid (must be greater than 0)"},
		{"language outside the enum", map[string]string{"caller_number": "+34612345678", "line_id": "7", "language": "fr"}, "a language that is not valid (not one of the accepted values)"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := callWith(t, tl, `{}`, c.ctx)
			if err == nil || err.Kind != integrations.KindInvalid || !strings.Contains(err.Public, c.want) {
				t.Fatalf("got %v, want %q", err, c.want)
			}
			if strings.Contains(err.Public, "call me maybe") || strings.Contains(err.Public, "7a") {
				t.Fatalf("the sentence repeats a context value: %s", err.Public)
			}
		})
	}
	up.none(t)
}

// A tool that needs confirmation is checked with its call context before
// the caller is asked.
func TestValidateArgsChecksTheCallContext(t *testing.T) {
	tl := tool(t, build(t, "http://127.0.0.1:1", callCtxYAML, nil), "crm_lookup")
	v, ok := tl.Handler.(integrations.ArgsValidator)
	if !ok {
		t.Fatal("no ArgsValidator")
	}
	c := newCall(t, tl, `{}`)
	if err := v.ValidateArgs(c); err == nil || !strings.Contains(err.Error(), "did not provide") {
		t.Fatalf("ValidateArgs without context = %v", err)
	}
	c.Context = map[string]string{"caller_number": "+34612345678", "line_id": "3"}
	if err := v.ValidateArgs(c); err != nil {
		t.Fatal(err)
	}
}
