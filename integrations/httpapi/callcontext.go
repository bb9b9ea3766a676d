package httpapi

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/switchboard-dev/switchboard/configs"
	"github.com/switchboard-dev/switchboard/integrations"
)

// fromCall fills the params marked value_from: call.<name> from the call
// context, after the model's arguments were checked (the schema has no such
// property, so a model that sends one is refused as sending an unknown
// argument, and its value is never used). A context value is a string; it
// is converted to the param's type (an integer param takes "123", a number
// "19.9", a boolean "true" or "false") and then checked like an argument:
// enum, the validate tag, and the path, query and header rules. A required
// value that the call did not provide, or one that fails a check, means
// nothing is sent; the sentence names the context names, never the values.
func (t *tool) fromCall(args map[string]any, callCtx map[string]string) (map[string]any, error) {
	var missing, bad []string
	filled := map[string]any{}
	var checked []configs.Param
	for _, p := range t.params {
		if p.ValueFrom == "" {
			continue
		}
		name, _ := configs.ContextName(p.ValueFrom)
		raw, ok := callCtx[name]
		if !ok || raw == "" {
			if p.Required && p.Default == nil {
				missing = append(missing, name)
			}
			continue
		}
		v, err := contextValue(raw, p.Type)
		if err != nil {
			bad = append(bad, fmt.Sprintf("a %s that is not valid (%s)", name, err))
			continue
		}
		if len(p.Enum) > 0 && !enumHas(p.Enum, v) {
			bad = append(bad, fmt.Sprintf("a %s that is not valid (not one of the accepted values)", name))
			continue
		}
		filled[p.Name] = v
		checked = append(checked, p)
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		return nil, integrations.CallContextMissing(t.name, missing)
	}
	for _, problem := range t.tagProblems("", checked, filled) {
		// "phone: must be ..." names the param; say the context name instead.
		param, why, _ := strings.Cut(problem, ": ")
		for _, p := range checked {
			if p.Name == param {
				name, _ := configs.ContextName(p.ValueFrom)
				param = name
			}
		}
		bad = append(bad, fmt.Sprintf("a %s that is not valid (%s)", param, why))
	}
	if len(bad) > 0 {
		sort.Strings(bad)
		return nil, integrations.CallContextInvalid(t.name, bad)
	}
	if len(filled) == 0 {
		return args, nil
	}
	out := make(map[string]any, len(args)+len(filled))
	for k, v := range args {
		out[k] = v
	}
	for k, v := range filled {
		out[k] = v
	}
	return out, nil
}

// contextValue converts a call context string to a param type, as
// exactNumbers gives the model's numbers: int64 for integers, float64 for
// other numbers.
func contextValue(s, typ string) (any, error) {
	switch typ {
	case "integer":
		i, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
		if err != nil {
			return nil, errors.New("not a whole number")
		}
		return i, nil
	case "number":
		f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, errors.New("not a number")
		}
		return f, nil
	case "boolean":
		switch s {
		case "true":
			return true, nil
		case "false":
			return false, nil
		}
		return nil, errors.New("not true or false")
	}
	return s, nil
}

func enumHas(enum []any, v any) bool {
	for _, e := range enum {
		if fmt.Sprint(e) == fmt.Sprint(v) {
			return true
		}
	}
	return false
}
