package configs

import (
	"errors"
	"strings"
	"testing"
	"time"
)

const phoneHead = `server:
  call_headers: {caller_number: X-Caller-Number, call_id: X-Call-Id}
integrations:
  - name: helpdesk
    type: http
    base_url: https://api.example.com
    tools:
      - name: find
        description: d
        method: GET
        path: /customers/{phone}
        params:
`

func problemsOf(t *testing.T, src string) string {
	t.Helper()
	_, err := Parse([]byte(src), noenv)
	var cerr *Error
	if !errors.As(err, &cerr) {
		t.Fatalf("want config problems, got %v", err)
	}
	return cerr.Error()
}

func TestPhoneConfigLoads(t *testing.T) {
	cfg, err := Parse([]byte(phoneHead+`          - {name: phone, in: path, type: string, required: true, value_from: call.caller_number, validate: e164}
        speech: {start: "Un momento.", slow: {after: 2s, say: "Sigue tardando."}}
      - name: ticket
        description: d
        method: POST
        path: /tickets
        dedupe: 0s
        params:
          - {name: call, type: string}
      - name: note
        description: d
        method: POST
        path: /notes
        confirm: {message: "¿Anoto la llamada {{.call.call_id}} del {{.call.caller_number}}?"}
        params:
          - {name: text, type: string}
    dedupe: 30s
    speech: {start: "Vale."}
`), noenv)
	if err != nil {
		t.Fatal(err)
	}
	in := cfg.Integrations[0]
	find, ticket, note := &in.Tools.List[0], &in.Tools.List[1], &in.Tools.List[2]
	if cfg.Server.CallHeaders["caller_number"] != "X-Caller-Number" || find.Params[0].ValueFrom != "call.caller_number" {
		t.Fatalf("call context config = %+v / %+v", cfg.Server.CallHeaders, find.Params[0])
	}
	if s := ToolSpeech(in, find); s.Slow.After != 2*time.Second || s.Start != "Un momento." {
		t.Fatalf("tool speech = %+v", s)
	}
	if s := ToolSpeech(in, ticket); s.Start != "Vale." {
		t.Fatalf("integration speech is not the default: %+v", s)
	}
	if ToolDedupe(in, ticket) != 0 || ToolDedupe(in, note) != 30*time.Second {
		t.Fatalf("dedupe: ticket %s (tool's 0s wins), note %s (the integration's)", ToolDedupe(in, ticket), ToolDedupe(in, note))
	}
}

func TestPhoneConfigErrors(t *testing.T) {
	cases := []struct {
		name, yaml string
		want       []string
	}{
		{"unknown value_from source", phoneHead + "          - {name: phone, in: path, required: true, value_from: session.caller_number}\n",
			[]string{`line 13: integrations[0].tools[0].params[0].value_from: unknown source "session"`}},
		{"value_from without call.", phoneHead + "          - {name: phone, in: path, required: true, value_from: caller_number}\n",
			[]string{`value_from: unknown source "caller_number"`}},
		{"bad context name", phoneHead + "          - {name: phone, in: path, required: true, value_from: call.Caller-Number}\n",
			[]string{`line 13: integrations[0].tools[0].params[0].value_from: call context name "Caller-Number" must match [a-z0-9_]+`}},
		{"value_from with value", phoneHead + "          - {name: phone, in: path, required: true, value: x, value_from: call.caller_number}\n",
			[]string{`line 13: integrations[0].tools[0].params[0].value_from: a param takes value or value_from, not both`}},
		{"optional value_from in path", phoneHead + "          - {name: phone, in: path, value_from: call.caller_number}\n",
			[]string{`line 13: integrations[0].tools[0].params[0].required: a value_from param in the path must be required`}},
		{"value_from object", phoneHead + "          - {name: phone, in: path, required: true}\n          - {name: who, in: body, type: object, value_from: call.caller_number}\n",
			[]string{`params[1].type: a value_from param is a string, integer, number or boolean`}},
		{"value_from in a property", phoneHead + "          - {name: phone, in: path, required: true}\n          - name: who\n            in: body\n            properties:\n              - {name: n, value_from: call.caller_number}\n",
			[]string{`params[1].properties[0].value_from: value_from is for a tool's own params`}},
		{"bad header name", strings.Replace(phoneHead, "X-Call-Id", `"X Call"`, 1) + "          - {name: phone, in: path, required: true}\n",
			[]string{`line 2: server.call_headers.call_id: "X Call" is not a valid header name`}},
		{"bad context name in headers", strings.Replace(phoneHead, "call_id:", "Call-Id:", 1) + "          - {name: phone, in: path, required: true}\n",
			[]string{`server.call_headers.Call-Id: call context name "Call-Id" must match [a-z0-9_]+`}},
		{"authorization as call header", strings.Replace(phoneHead, "X-Call-Id", "Authorization", 1) + "          - {name: phone, in: path, required: true}\n",
			[]string{`server.call_headers.call_id: Authorization is not a call context header`}},
		{"speech too long", phoneHead + "          - {name: phone, in: path, required: true}\n        speech: {start: " + strings.Repeat("a", 301) + "}\n",
			[]string{`line 14: integrations[0].tools[0].speech.start: is 301 characters; a sentence to speak must be at most 300`}},
		{"slow too soon", phoneHead + "          - {name: phone, in: path, required: true}\n        speech: {slow: {after: 50ms, say: Sigue.}}\n",
			[]string{`integrations[0].tools[0].speech.slow.after: must be at least 100ms (got 50ms)`}},
		{"slow without say", phoneHead + "          - {name: phone, in: path, required: true}\n        speech: {slow: {after: 2s}}\n",
			[]string{`integrations[0].tools[0].speech.slow.say: is required`}},
		{"integration speech too long", phoneHead + "          - {name: phone, in: path, required: true}\n    speech: {slow: {after: 1s, say: " + strings.Repeat("é", 301) + "}}\n",
			[]string{`integrations[0].speech.slow.say: is 301 characters`}},
		{"dedupe on a GET", phoneHead + "          - {name: phone, in: path, required: true}\n        dedupe: 30s\n",
			[]string{`integrations[0].tools[0].dedupe: dedupe is for tools that change something`}},
		{"negative dedupe", phoneHead + "          - {name: phone, in: path, required: true}\n    dedupe: -1s\n",
			[]string{`integrations[0].dedupe: must not be negative`}},
		{"template reads a value_from param", strings.Replace(phoneHead, "method: GET", "method: POST\n        confirm: {message: \"¿Seguro, {{.phone}}?\"}", 1) + "          - {name: phone, in: path, required: true, value_from: call.caller_number}\n",
			[]string{`confirm.message: the message uses {{.phone}}, which is filled from the call: write {{.call.caller_number}}`}},
		{"template reads the whole call", strings.Replace(phoneHead, "method: GET", "method: POST\n        confirm: {message: \"¿Seguro, {{.call}}?\"}", 1) + "          - {name: phone, in: path, required: true}\n",
			[]string{`confirm.message: the message uses {{.call}}: the call context is read as {{.call.<name>}}`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := problemsOf(t, c.yaml)
			for _, w := range c.want {
				if !strings.Contains(got, w) {
					t.Errorf("problems:\n%s\nwant: %s", got, w)
				}
			}
		})
	}
}
