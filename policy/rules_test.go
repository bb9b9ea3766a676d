package policy

import (
	"reflect"
	"sort"
	"testing"
	"text/template"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/switchboard-dev/switchboard/configs"
	"github.com/switchboard-dev/switchboard/integrations"
)

func ruleTool(name string, readOnly, confirm bool) *integrations.Tool {
	t := &integrations.Tool{Definition: mcp.NewTool(name), Integration: "pay", ReadOnly: readOnly, Handler: &spy{}}
	if confirm {
		t.Confirm = template.Must(configs.ParseConfirmTemplate("Sure?"))
	}
	return t
}

func TestRules(t *testing.T) {
	get := ruleTool("pay_get_order", true, false)
	post := ruleTool("pay_create_note", false, false)
	refund := ruleTool("pay_refund", false, true)
	del := ruleTool("pay_delete_customer", false, false)
	cases := []struct {
		name  string
		cfg   configs.Policy
		tools []*integrations.Tool
		want  []Action
	}{
		{"no rules: allow, and confirm where the tool says so",
			configs.Policy{}, []*integrations.Tool{get, post, refund}, []Action{Allow, Allow, Confirm}},
		{"a confirm rule adds confirmation",
			configs.Policy{Rules: []configs.Rule{{Tools: []string{"pay_create_*"}, Action: "confirm"}}},
			[]*integrations.Tool{post, get}, []Action{Confirm, Allow}},
		{"an allow rule never weakens a confirm: block",
			configs.Policy{Rules: []configs.Rule{{Tools: []string{"*"}, Action: "allow"}}},
			[]*integrations.Tool{refund}, []Action{Confirm}},
		{"deny beats a confirm: block",
			configs.Policy{Rules: []configs.Rule{{Tools: []string{"pay_refund"}, Action: "deny"}}},
			[]*integrations.Tool{refund}, []Action{Deny}},
		{"the first matching rule wins",
			configs.Policy{Rules: []configs.Rule{
				{Tools: []string{"pay_delete_*"}, Action: "allow"},
				{Tools: []string{"pay_*"}, Action: "deny"},
			}},
			[]*integrations.Tool{del, post}, []Action{Allow, Deny}},
		{"any glob of a rule matches",
			configs.Policy{Rules: []configs.Rule{{Tools: []string{"crm_*", "pay_delete_?ustomer"}, Action: "deny"}}},
			[]*integrations.Tool{del, get}, []Action{Deny, Allow}},
		{"read_only leaves only read-only tools",
			configs.Policy{ReadOnly: true, Rules: []configs.Rule{{Tools: []string{"*"}, Action: "allow"}}},
			[]*integrations.Tool{get, post, refund, del}, []Action{Allow, Deny, Deny, Deny}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := NewRules(tc.cfg)
			for i, tool := range tc.tools {
				if got := r.Action(tool); got != tc.want[i] {
					t.Errorf("%s: %s, want %s", tool.Name(), got, tc.want[i])
				}
			}
		})
	}
}

func TestExposeHidesDenied(t *testing.T) {
	tools := []*integrations.Tool{
		ruleTool("pay_get_order", true, false),
		ruleTool("pay_create_note", false, false),
		ruleTool("pay_refund", false, true),
		ruleTool("pay_delete_customer", false, false),
	}
	names := func(cfg configs.Policy) []string {
		p, err := New(cfg, Deps{})
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, e := range expose(p, tools) {
			out = append(out, e.Definition.Name)
			if e.Action == Confirm && (e.Definition.Annotations.DestructiveHint == nil || !*e.Definition.Annotations.DestructiveHint) {
				t.Errorf("%s needs confirmation but is not destructiveHint", e.Definition.Name)
			}
		}
		sort.Strings(out)
		return out
	}
	if got := names(configs.Policy{Rules: []configs.Rule{{Tools: []string{"pay_delete_*"}, Action: "deny"}}}); !reflect.DeepEqual(got,
		[]string{"pay_create_note", "pay_get_order", "pay_refund"}) {
		t.Errorf("deny: %v", got)
	}
	if got := names(configs.Policy{ReadOnly: true}); !reflect.DeepEqual(got, []string{"pay_get_order"}) {
		t.Errorf("read_only: %v", got)
	}
}

// An upstream MCP tool under a confirm: glob (ConfirmRequired) needs
// confirmation like a tool with its own confirm: block; deny still wins.
func TestRulesHonourConfirmRequired(t *testing.T) {
	tool := &integrations.Tool{Definition: mcp.NewTool("crm_delete_contact"), Integration: "crm", ConfirmRequired: true}
	if got := NewRules(configs.Policy{}).Action(tool); got != Confirm {
		t.Fatalf("action = %s, want confirm", got)
	}
	allow := configs.Policy{Rules: []configs.Rule{{Tools: []string{"crm_*"}, Action: "allow"}}}
	if got := NewRules(allow).Action(tool); got != Confirm {
		t.Fatalf("an allow rule weakened a confirm glob: %s", got)
	}
	deny := configs.Policy{Rules: []configs.Rule{{Tools: []string{"crm_*"}, Action: "deny"}}}
	if got := NewRules(deny).Action(tool); got != Deny {
		t.Fatalf("deny = %s", got)
	}
}
