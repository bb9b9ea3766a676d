package httpapi

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/go-playground/validator/v10"
	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/switchboard-dev/switchboard/configs"
)

// checkArgs validates the model's arguments against the schema and the
// validate tags, and returns them with defaults and fixed values applied.
// Every problem is named, so the model can correct all of them at once.
func (t *tool) checkArgs(args map[string]any) (map[string]any, []string) {
	// A null is how many models say "not given" for an optional param.
	given := make(map[string]any, len(args))
	for k, v := range args {
		if v != nil {
			given[k] = v
		}
	}
	args = given
	var problems []string
	sch, err := t.schema.compiled()
	if err != nil {
		return nil, []string{err.Error()}
	}
	if err := sch.Validate(any(args)); err != nil {
		problems = append(problems, schemaProblems(err)...)
	}
	problems = append(problems, t.tagProblems("", t.params, args)...)
	if len(problems) > 0 {
		sort.Strings(problems)
		return nil, problems
	}
	return withDefaults(t.params, args), nil
}

func schemaProblems(err error) []string {
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return []string{err.Error()}
	}
	var out []string
	for _, u := range ve.BasicOutput().Errors {
		if u.Error == nil {
			continue
		}
		msg := u.Error.String()
		if strings.HasPrefix(msg, "validation failed") || strings.HasPrefix(msg, "allOf failed") {
			continue
		}
		loc := strings.ReplaceAll(strings.TrimPrefix(u.InstanceLocation, "/"), "/", ".")
		switch {
		case strings.HasPrefix(msg, "additional properties"):
			msg = strings.Replace(msg, "additional properties", "unknown parameter(s)", 1) + " not allowed"
			msg = strings.TrimSuffix(msg, " not allowed not allowed") + " not allowed"
		}
		if loc == "" {
			out = append(out, msg)
		} else {
			out = append(out, loc+": "+msg)
		}
	}
	if len(out) == 0 {
		out = append(out, ve.Error())
	}
	return out
}

// tagProblems applies each param's validate tag to the value given.
func (t *tool) tagProblems(prefix string, params []configs.Param, args map[string]any) []string {
	var out []string
	for _, p := range params {
		v, ok := args[p.Name]
		if !ok || v == nil || p.Value != nil || !configs.MatchesType(v, p.Type) { // a wrong type is a schema problem; validator panics on some
			continue
		}
		name := prefix + p.Name
		if p.Validate != "" {
			checked := v
			if i, ok := v.(int64); ok && p.Type == "number" {
				// A whole number sent for a number param is checked as one:
				// the validator panics comparing an int64 with gte=0.5.
				checked = float64(i)
			}
			if err := t.validate.Var(checked, p.Validate); err != nil {
				out = append(out, name+": "+tagMessage(err, p.Validate))
			}
		}
		if sub, ok := v.(map[string]any); ok && len(p.Properties) > 0 {
			out = append(out, t.tagProblems(name+".", p.Properties, sub)...)
		}
		if p.In == "header" {
			if s, ok := v.(string); ok && strings.ContainsFunc(s, func(r rune) bool { return (r < ' ' && r != '\t') || r == 0x7f }) {
				out = append(out, name+": must not contain control characters")
				continue
			}
		}
		if p.In == "header" || p.In == "path" || p.In == "query" {
			if s, ok := v.(string); ok && strings.ContainsAny(s, "\r\n\x00") {
				out = append(out, name+": must not contain line breaks or NUL characters")
			}
		}
		if p.In == "path" {
			if s := fmt.Sprint(v); s == "" || s == "." || s == ".." {
				out = append(out, name+": must not be empty, '.' or '..'")
			}
		}
	}
	return out
}

// tagMessage says in words why a validate tag failed.
func tagMessage(err error, tag string) string {
	var verrs validator.ValidationErrors
	if !errors.As(err, &verrs) || len(verrs) == 0 {
		return fmt.Sprintf("fails the check %q", tag)
	}
	fe := verrs[0]
	switch fe.Tag() {
	case "email":
		return "must be a valid email address"
	case "url", "uri", "http_url":
		return "must be a valid URL"
	case "uuid", "uuid4":
		return "must be a UUID"
	case "e164":
		return "must be a phone number in E.164 form, like +34600123456"
	case "gt":
		return "must be greater than " + fe.Param()
	case "gte":
		return "must be at least " + fe.Param()
	case "lt":
		return "must be less than " + fe.Param()
	case "lte":
		return "must be at most " + fe.Param()
	case "min":
		return "must be at least " + fe.Param() + " (value or length)"
	case "max":
		return "must be at most " + fe.Param() + " (value or length)"
	case "len":
		return "must have length " + fe.Param()
	case "oneof":
		return "must be one of: " + strings.ReplaceAll(fe.Param(), " ", ", ")
	case "numeric", "number":
		return "must contain only digits"
	case "alphanum":
		return "must contain only letters and digits"
	}
	if fe.Param() != "" {
		return fmt.Sprintf("fails the check %s=%s", fe.Tag(), fe.Param())
	}
	return fmt.Sprintf("fails the check %s", fe.Tag())
}

// withDefaults returns a copy of args with defaults for missing params and
// fixed values set (a fixed value always wins).
func withDefaults(params []configs.Param, args map[string]any) map[string]any {
	out := make(map[string]any, len(params))
	for k, v := range args {
		out[k] = v
	}
	for _, p := range params {
		switch {
		case p.Value != nil:
			out[p.Name] = p.Value
		case out[p.Name] == nil && p.Default != nil:
			out[p.Name] = p.Default
		}
		if sub, ok := out[p.Name].(map[string]any); ok && len(p.Properties) > 0 {
			out[p.Name] = withDefaults(p.Properties, sub)
		}
	}
	return out
}
