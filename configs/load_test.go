package configs

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func noenv(string) string { return "" }

func TestSpecExampleLoads(t *testing.T) {
	cfg, err := LoadFile("testdata/spec.yaml", func(k string) string {
		if k == "VAULT_ADDR" {
			return "http://127.0.0.1:8200"
		}
		return ""
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := len(cfg.Integrations); got != 2 {
		t.Fatalf("integrations = %d", got)
	}
	h := cfg.Integrations[0]
	if h.Timeout != 5*time.Second || len(h.Tools.List) != 2 || h.Tools.List[0].Response.MaxBytes != 4096 {
		t.Fatalf("helpdesk = %+v", h)
	}
	if h.Tools.List[1].Params[1].Validate != "gt=0,lte=500" {
		t.Fatalf("validate tag = %q", h.Tools.List[1].Params[1].Validate)
	}
	crm := cfg.Integrations[1]
	if crm.Tools.Filter == nil || crm.Tools.Filter.Exclude[0] != "admin_*" {
		t.Fatalf("crm tools = %+v", crm.Tools)
	}
	if cfg.Policy.Rules[0].Action != "confirm" {
		t.Fatalf("rules = %+v", cfg.Policy.Rules)
	}
}

const okHead = `
integrations:
  - name: helpdesk
    type: http
    base_url: https://api.example.com
    tools:
`

func TestConfigErrors(t *testing.T) {
	cases := []struct {
		name string
		yaml string
		want []string // each must appear in the error, with its line
	}{
		{"unknown top key", "integratons: []\n", []string{`line 1: integratons: unknown key "integratons" (did you mean "integrations"?)`}},
		{"unknown tool key", okHead + "      - name: a\n        description: d\n        method: GET\n        path: /a\n        pth: /b\n",
			[]string{`line 11: integrations[0].tools[0].pth: unknown key "pth"`}},
		{"bad method", okHead + "      - name: a\n        description: d\n        method: FETCH\n        path: /a\n",
			[]string{`line 9: integrations[0].tools[0].method: FETCH is not one of: GET, POST, PUT, PATCH, DELETE`}},
		{"missing base_url", "integrations:\n  - name: h\n    type: http\n    tools:\n      - {name: a, description: d, method: GET, path: /a}\n",
			[]string{`integrations[0].base_url: is required for an http integration`}},
		{"duplicate integration", okHead + "      - {name: a, description: d, method: GET, path: /a}\n  - name: helpdesk\n    type: http\n    base_url: https://x.example\n    tools:\n      - {name: b, description: d, method: GET, path: /b}\n",
			[]string{`line 8: integrations[1].name: integration "helpdesk" is already defined`}},
		{"duplicate tool", okHead + "      - {name: a, description: d, method: GET, path: /a}\n      - {name: a, description: d, method: GET, path: /b}\n",
			[]string{`line 8: integrations[0].tools[1].name: tool "a" is defined twice`}},
		{"exposed name too long", okHead + "      - {name: " + strings.Repeat("x", 60) + ", description: d, method: GET, path: /a}\n",
			[]string{`must match ^[a-zA-Z0-9_-]{1,64}$`}},
		{"bad integration name", "integrations:\n  - name: Help-Desk\n    type: http\n    base_url: https://a.example\n    tools:\n      - {name: a, description: d, method: GET, path: /a}\n",
			[]string{`line 2: integrations[0].name: "Help-Desk" must match [a-z0-9_]+`}},
		{"exposed name clash", "integrations:\n  - name: a\n    type: http\n    base_url: https://a.example\n    tools:\n      - {name: b_c, description: d, method: GET, path: /a}\n  - name: a_b\n    type: http\n    base_url: https://a.example\n    tools:\n      - {name: c, description: d, method: GET, path: /a}\n",
			[]string{`exposed name "a_b_c" is also the name of integrations[0].tools[0]`}},
		{"placeholder without param", okHead + "      - {name: a, description: d, method: GET, path: '/a/{id}'}\n",
			[]string{`line 7: integrations[0].tools[0].path: placeholder {id} has no parameter with in: path`}},
		{"literal secret", okHead + "      - {name: a, description: d, method: GET, path: /a}\n    auth: {type: bearer, secret: sk_live_123}\n",
			[]string{`integrations[0].auth.secret: must be a secret reference`}},
		{"malformed vault ref", okHead + "      - {name: a, description: d, method: GET, path: /a}\n    auth: {type: bearer, secret: 'vault:secret/helpdesk'}\n",
			[]string{`needs #<field> after the path`}},
		{"bad validate tag", okHead + "      - name: a\n        description: d\n        method: GET\n        path: /a\n        params:\n          - {name: q, validate: 'nosuchtag=3'}\n",
			[]string{`line 12: integrations[0].tools[0].params[0].validate: bad validate tag`}},
		{"bad jq", okHead + "      - name: a\n        description: d\n        method: GET\n        path: /a\n        response: {jq: '.a | '}\n",
			[]string{`line 11: integrations[0].tools[0].response.jq: jq:`}},
		{"confirm template unknown key", okHead + "      - name: a\n        description: d\n        method: POST\n        path: /a\n        params: [{name: amount, type: number, required: true}]\n        confirm: {message: 'Refund {{.amont}}?'}\n",
			[]string{`confirm.message: the message uses {{.amont}} but the tool has no parameter "amont"`}},
		{"type error", "server:\n  max_body_bytes: lots\n", []string{`line 2:`}},
		{"enum type", okHead + "      - name: a\n        description: d\n        method: GET\n        path: /a\n        params: [{name: n, type: integer, enum: [1, two]}]\n",
			[]string{`params[0].enum[1]: two is not of type integer`}},
		{"many at once", "server:\n  nmae: x\nintegrations:\n  - name: h\n    type: soap\n", []string{`line 2: server.nmae: unknown key`}},
		{"mcp needs url or command", "integrations:\n  - name: crm\n    type: mcp\n", []string{`an mcp integration needs exactly one of url or command`}},
		{"client key literal", "server:\n  clients:\n    - {id: a, key: hunter2}\n", []string{`line 3: server.clients[0].key: must be a secret reference`}},
		{"empty", "", []string{`the file is empty`}},
		{"redis without url", "state: {backend: redis}\npolicy: {confirmation: {key: 'env:K'}}\n", []string{`line 1: state.redis.url: is required with backend: redis`}},
		{"redis without a shared key", "state: {backend: redis, redis: {url: 'redis://127.0.0.1:6379/0'}}\n", []string{`state.backend: backend: redis needs policy.confirmation.key`}},
		{"redis literal password", "state:\n  backend: redis\n  redis: {url: 'redis://h:6379', password: hunter2}\npolicy: {confirmation: {key: 'env:K'}}\n", []string{`line 3: state.redis.password: must be a secret reference`}},
		{"redis bad url", "state:\n  backend: redis\n  redis:\n    url: 'http://:s3cret@h:6379'\npolicy: {confirmation: {key: 'env:K'}}\n", []string{`line 4: state.redis.url: "http://:xxxxx@h:6379" is not a redis:// or rediss:// URL`}},
		{"redis block with memory", "state:\n  redis: {url: 'redis://h:6379'}\n", []string{`state.redis: is used only with backend: redis`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.yaml), noenv)
			var cerr *Error
			if !errors.As(err, &cerr) {
				t.Fatalf("want *Error, got %v", err)
			}
			msg := err.Error()
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error lacks %q:\n%s", w, msg)
				}
			}
		})
	}
}

func TestEnvExpansion(t *testing.T) {
	src := okHead + "      - name: a\n        description: d\n        method: GET\n        path: /a\n        response: {jq: '$ENV | length'}\n"
	src = strings.Replace(src, "https://api.example.com", "${BASE:-https://fallback.example}", 1)
	cfg, err := Parse([]byte(src), noenv)
	if err != nil {
		t.Fatal(err)
	}
	in := cfg.Integrations[0]
	if in.BaseURL != "https://fallback.example" {
		t.Fatalf("base_url = %q", in.BaseURL)
	}
	if in.Tools.List[0].Response.JQ != "$ENV | length" {
		t.Fatalf("jq mangled: %q", in.Tools.List[0].Response.JQ)
	}
}
