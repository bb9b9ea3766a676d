package policy

import "github.com/switchboard-dev/switchboard/integrations"

// keepValidator returns h, still offering next's argument check (confirm
// asks the innermost handler to check arguments before it asks the caller).
func keepValidator(next, h integrations.Handler) integrations.Handler {
	if v, ok := next.(integrations.ArgsValidator); ok {
		return validating{Handler: h, v: v}
	}
	return h
}

type validating struct {
	integrations.Handler
	v integrations.ArgsValidator
}

func (v validating) ValidateArgs(c *integrations.Call) error { return v.v.ValidateArgs(c) }
