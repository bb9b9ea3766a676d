package httpapi

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/santhosh-tekuri/jsonschema/v6"

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

// compileSchema compiles a generated schema for argument validation.
func compileSchema(name string, schema map[string]any) (*jsonschema.Schema, []byte, error) {
	raw, err := json.Marshal(schema)
	if err != nil {
		return nil, nil, err
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return nil, nil, err
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	url := "urn:switchboard:" + name
	if err := c.AddResource(url, doc); err != nil {
		return nil, nil, fmt.Errorf("schema of %s: %w", name, err)
	}
	sch, err := c.Compile(url)
	if err != nil {
		return nil, nil, fmt.Errorf("schema of %s: %w", name, err)
	}
	return sch, raw, nil
}
