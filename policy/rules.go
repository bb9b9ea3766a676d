package policy

import (
	"path"

	"github.com/switchboard-dev/switchboard/configs"
	"github.com/switchboard-dev/switchboard/integrations"
)

// Action is what policy does with a call.
type Action string

const (
	Allow   Action = "allow"
	Confirm Action = "confirm"
	Deny    Action = "deny"
)

// Rules decide allow, confirm or deny for each exposed tool.
type Rules struct {
	rules    []configs.Rule
	readOnly bool
}

// NewRules builds the rule set of a policy block.
func NewRules(cfg configs.Policy) *Rules {
	return &Rules{rules: cfg.Rules, readOnly: cfg.ReadOnly}
}

// Action decides for tool t. The first rule whose glob matches wins. A tool's
// own confirm: block is never weakened by an allow rule: the operator wrote
// it on the tool on purpose; only deny overrides it. With read_only, every
// tool that is not read-only is denied.
func (r *Rules) Action(t *integrations.Tool) Action {
	if r.readOnly && !t.ReadOnly {
		return Deny
	}
	act := Allow
	if t.Confirm != nil || t.ConfirmRequired {
		act = Confirm
	}
	for _, rule := range r.rules {
		if matchAny(rule.Tools, t.Name()) {
			switch Action(rule.Action) {
			case Deny:
				return Deny
			case Confirm:
				return Confirm
			}
			return act
		}
	}
	return act
}

func matchAny(globs []string, name string) bool {
	for _, g := range globs {
		if ok, _ := path.Match(g, name); ok {
			return true
		}
	}
	return false
}
