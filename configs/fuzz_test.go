package configs_test

import (
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/switchboard-dev/switchboard/configs"
)

// FuzzParse: configs.Parse never panics, and either returns a config or an
// *configs.Error listing at least one problem, each with a message.
func FuzzParse(f *testing.F) {
	spec, err := os.ReadFile("testdata/spec.yaml")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(spec)
	for _, name := range []string{"dev.yaml", "examples/helpdesk.yaml", "examples/payments.yaml"} {
		if b, err := os.ReadFile(name); err == nil {
			f.Add(b)
		}
	}
	for _, s := range []string{
		"",
		"---\n",
		"---\na: 1\n---\nb: 2\n",
		"0\n---",                  // found by fuzzing: an empty second document panicked
		"integrations: []\n---\n", // a trailing document separator
		"integrations: ! 0\n",     // found by fuzzing: the YAML decoder panics on an empty tag
		"server:\n  allowed_origins:\n    ! 0\n",
		"integrations: []\n",
		"integrations:\n  - name: h\n    type: http\n",
		"integrations:\n  - {name: h, type: http, base_url: 'https://x.example', tools: [{name: a, description: d, method: GET, path: '/a/{id}'}]}\n",
		"integrations:\n  - {name: h, type: mcp, url: 'https://x.example/mcp', tools: {include: ['[']}}\n",
		"integrations:\n  - {name: h, type: http, base_url: 'https://x.example', tools: {include: ['*']}}\n",
		"integrations:\n  - {name: h, type: mcp, command: [a], tools: [{name: a}]}\n",
		"integrations:\n  - name: h\n    type: http\n    base_url: https://x.example\n    tools:\n      - name: a\n        description: d\n        method: POST\n        path: /a\n        params: [{name: n, type: number, validate: 'gt=0,lte=', enum: [1, x], default: {a: 1}}]\n        response: {jq: '.[', max_bytes: -1, max_read: 8QiB}\n        confirm: {message: '{{.nope}}'}\n",
		"server: {listen: ':::', clients: [{id: 'a b', key: hunter2, integrations: [x]}]}\n",
		"vault: {address: '${VAULT_ADDR:-http://127.0.0.1:8200}', auth: {method: approle}, cache_ttl: -1s}\n",
		"policy: {confirmation: {mode: maybe, ttl: forever}, rules: [{tools: ['[a-'], action: explode}]}\n",
		"server: [1, 2]\n",
		"integrations: {a: 1}\n",
		"integrations:\n  - tools:\n      - params:\n          - properties:\n              - items: {name: x, in: body, properties: [{}]}\n",
		"a: &x [*x]\n",
		"a: *undefined\n",
		"? [a, b]\n: c\n",
		"integrations:\n  - !!binary aGVsbG8=\n",
		"\t- bad indent\n",
		"key: 'unterminated\n",
		"integrations:\n  - name: h\n    type: http\n    base_url: https://x.example\n    tools:\n      - {name: a, description: d, method: get, path: /a, timeout: 1h, params: [{name: x, items: {type: array, items: {type: object}}}]}\n",
		strings.Repeat("[", 200) + strings.Repeat("]", 200),
		"{" + strings.Repeat("a: {", 100) + strings.Repeat("}", 101),
	} {
		f.Add([]byte(s))
	}
	env := func(k string) string {
		if k == "VAULT_ADDR" {
			return "http://127.0.0.1:8200"
		}
		return ""
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var cfg *configs.Config
		var err error
		func() {
			defer func() {
				if r := recover(); r != nil {
					t.Fatalf("configs.Parse panicked on %q: %v", data, r)
				}
			}()
			cfg, err = configs.Parse(data, env)
		}()
		if err == nil {
			if cfg == nil {
				t.Fatal("nil config and nil error")
			}
			for i, in := range cfg.Integrations {
				if in.Timeout <= 0 {
					t.Fatalf("integrations[%d].timeout = %v after defaults", i, in.Timeout)
				}
				for j, tl := range in.Tools.List {
					if tl.Timeout <= 0 || tl.Response.MaxBytes <= 0 || tl.Response.MaxRead <= 0 {
						t.Fatalf("integrations[%d].tools[%d] defaults not applied: %+v", i, j, tl)
					}
					for k, p := range tl.Params {
						if p.In == "" || p.Type == "" {
							t.Fatalf("integrations[%d].tools[%d].params[%d] has no in/type after defaults: %+v", i, j, k, p)
						}
					}
				}
			}
			return
		}
		if cfg != nil {
			t.Fatalf("a config and an error together: %v", err)
		}
		var cerr *configs.Error
		if !errors.As(err, &cerr) {
			t.Fatalf("error is %T, want *configs.Error: %v", err, err)
		}
		if len(cerr.Problems) == 0 {
			t.Fatalf("*configs.Error without problems: %q", err.Error())
		}
		for _, p := range cerr.Problems {
			if strings.TrimSpace(p.Message) == "" {
				t.Fatalf("a problem without a message: %+v", p)
			}
		}
		_ = cerr.Error()
	})
}
