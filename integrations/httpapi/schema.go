package httpapi

import (
	"bytes"
	"context"
	"fmt"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/switchboard-dev/switchboard/integrations"

	"github.com/switchboard-dev/switchboard/configs"
)

// inputSchema is the JSON Schema (2020-12) of the params the model provides;
// fixed value: params and those filled from the call context (value_from)
// are left out, and no other property is accepted, so a model cannot add a
// query key, a header or a body field of its own, nor send a value_from one.
func inputSchema(params []configs.Param) map[string]any {
	props := map[string]any{}
	required := []string{}
	for _, p := range params {
		if p.Value != nil || p.ValueFrom != "" {
			continue
		}
		props[p.Name] = paramSchema(p)
		if p.Required {
			required = append(required, p.Name)
		}
	}
	s := map[string]any{
		"type":                 "object",
		"properties":           props,
		"additionalProperties": false,
	}
	if len(required) > 0 {
		s["required"] = required
	}
	return s
}

func paramSchema(p configs.Param) map[string]any {
	s := map[string]any{"type": p.Type}
	if p.Description != "" {
		s["description"] = p.Description
	}
	if len(p.Enum) > 0 {
		s["enum"] = p.Enum
	}
	if p.Default != nil {
		s["default"] = p.Default
	}
	switch p.Type {
	case "object":
		if len(p.Properties) > 0 {
			sub := inputSchema(p.Properties)
			s["properties"] = sub["properties"]
			s["additionalProperties"] = false
			if r, ok := sub["required"]; ok {
				s["required"] = r
			}
		}
	case "array":
		if p.Items != nil {
			s["items"] = paramSchema(*p.Items)
		}
	}
	return s
}

// lazySchema is a tool's generated input schema, compiled for argument
// validation the first time it is needed: compiling (which includes checking
// the schema against the draft's metaschema) costs about 100 µs a tool,
// most of the start-up of a config with thousands of tools, and a tool that
// is never called never needs it. Warm compiles it ahead of the first call.
type lazySchema struct {
	name string
	raw  []byte
	once sync.Once
	sch  *jsonschema.Schema
	err  error
}

func (l *lazySchema) compiled() (*jsonschema.Schema, error) {
	l.once.Do(func() { l.sch, l.err = compileSchema(l.name, l.raw) })
	return l.sch, l.err
}

// Warm compiles the argument schemas of http tools, so that their first
// calls do not pay for it; the App runs it in the background after start,
// until ctx ends.
func Warm(ctx context.Context, tools []*integrations.Tool) {
	for _, t := range tools {
		if ctx.Err() != nil {
			return
		}
		if h, ok := t.Handler.(*tool); ok {
			_, _ = h.schema.compiled()
		}
	}
}

// compileSchema compiles a generated schema for argument validation.
func compileSchema(name string, raw []byte) (*jsonschema.Schema, error) {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return nil, err
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	url := "urn:switchboard:" + name
	if err := c.AddResource(url, doc); err != nil {
		return nil, fmt.Errorf("schema of %s: %w", name, err)
	}
	sch, err := c.Compile(url)
	if err != nil {
		return nil, fmt.Errorf("schema of %s: %w", name, err)
	}
	return sch, nil
}
