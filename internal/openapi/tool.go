package openapi

import (
	"fmt"
	"mime"
	"regexp"
	"sort"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
)

var (
	headerToken = regexp.MustCompile("^[!#$%&'*+\\-.^_`|~0-9A-Za-z]+$")
	placeholder = regexp.MustCompile(`\{([^{}]*)\}`)
	identifier  = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
)

func (b *builder) drop(reason, tool, param string) {
	if b.dropped == nil {
		b.dropped = map[string][]string{}
	}
	b.dropped[reason] = append(b.dropped[reason], b.integ+"_"+tool+": "+param)
}

// tool turns one operation into a tool, or says why it cannot be one.
func (b *builder) tool(o *op) (*outTool, string) {
	if !strings.HasPrefix(o.path, "/") || strings.ContainsAny(placeholder.ReplaceAllString(o.path, ""), "{}?#") || !safeText(o.path) {
		return nil, "the path cannot be expressed (it needs to start with / and hold no ?, # or stray braces)"
	}
	t := &outTool{
		Name:    o.name,
		Method:  o.method,
		Path:    o.path,
		comment: o.label,
		op:      o.label,
	}
	t.Description = shortText(firstNonEmpty(o.o.Summary, o.o.Description), 200)
	if t.Description == "" {
		t.Description = o.method + " " + o.path
	}
	if o.o.Deprecated {
		t.Description = "(Deprecated) " + t.Description
	}
	f := newFlattener()
	names := map[string]*outParam{}
	var params []*outParam

	// Path-level parameters, then the operation's, which win on (in, name).
	type key struct{ in, name string }
	var order []key
	merged := map[key]*openapi3.Parameter{}
	for _, list := range []openapi3.Parameters{o.item.Parameters, o.o.Parameters} {
		for _, pr := range list {
			if pr == nil || pr.Value == nil {
				continue
			}
			k := key{pr.Value.In, pr.Value.Name}
			if _, ok := merged[k]; !ok {
				order = append(order, k)
			}
			merged[k] = pr.Value
		}
	}
	// Path parameters first, so they win any clash of names.
	var sorted []key
	for _, in := range []string{"path", "query", "header", "cookie"} {
		for _, k := range order {
			if k.in == in {
				sorted = append(sorted, k)
			}
		}
	}
	placeholders := map[string]bool{}
	for _, m := range placeholder.FindAllStringSubmatch(o.path, -1) {
		placeholders[m[1]] = true
	}
	for _, k := range sorted {
		p := merged[k]
		required := p.Required || p.In == "path"
		leave := func(why string) string {
			if required {
				return fmt.Sprintf("required %s parameter %s", why, quoteName(p.Name))
			}
			b.drop(why+" parameter", o.name, p.Name)
			return ""
		}
		switch {
		case p.In == "cookie":
			if r := leave("cookie"); r != "" {
				return nil, r
			}
			continue
		case p.In != "path" && p.In != "query" && p.In != "header":
			continue
		case p.Name == "" || !safeText(p.Name):
			if r := leave("unnamed or unwritable"); r != "" {
				return nil, r
			}
			continue
		case p.Name == "confirmation_token":
			if r := leave("confirmation_token (a name switchboard reserves)"); r != "" {
				return nil, r
			}
			continue
		case p.In == "path" && !placeholders[p.Name]:
			b.drop("path parameter not in the path", o.name, p.Name)
			continue
		case p.In == "header" && !headerToken.MatchString(p.Name):
			if r := leave("header (not a valid header name)"); r != "" {
				return nil, r
			}
			continue
		case p.In == "header" && b.authSets(p.Name):
			continue // the integration's auth sends it
		case p.In == "query" && b.auth != nil && b.auth.Type == "query" && p.Name == b.auth.Param:
			continue
		}
		if _, dup := names[p.Name]; dup {
			if r := leave(p.In + " (its name is taken by another parameter)"); r != "" {
				return nil, "name clash: " + r
			}
			continue
		}
		schema := p.Schema
		if schema == nil {
			for _, ct := range sortedKeys(p.Content) {
				if mt := p.Content[ct]; mt != nil && schema == nil {
					schema = mt.Schema
				}
			}
		}
		out := f.param(p.Name, schema, 1)
		out.In = p.In
		out.Required = required
		if d := shortText(p.Description, 160); d != "" {
			out.Description = d
		}
		if p.In != "path" && out.Type == "object" {
			if r := leave(p.In + " object (deepObject)"); r != "" {
				return nil, r
			}
			continue
		}
		if p.In == "path" && out.Type != "string" && out.Type != "integer" && out.Type != "number" {
			*out = outParam{Name: out.Name, In: "path", Type: "string", Description: out.Description, Required: true}
		}
		if p.In != "path" {
			if out.Type == "array" && out.Items != nil && (out.Items.Type == "object" || out.Items.Type == "array") {
				out.Items = &outParam{Type: "string"}
			}
		}
		names[p.Name] = out
		params = append(params, out)
	}
	// A placeholder the document forgot to declare is still a path parameter.
	for _, m := range placeholder.FindAllStringSubmatch(o.path, -1) {
		if p, ok := names[m[1]]; ok && p.In == "path" {
			continue
		}
		if _, ok := names[m[1]]; ok || m[1] == "" || m[1] == "confirmation_token" {
			return nil, "the path placeholder " + quoteName(m[1]) + " cannot be a parameter"
		}
		p := &outParam{Name: m[1], In: "path", Type: "string", Required: true}
		names[m[1]] = p
		params = append(params, p)
		b.drop("path placeholder not declared by the document (added as a string)", o.name, m[1])
	}

	if reason := b.body(o, f, names, &params); reason != "" {
		return nil, reason
	}
	t.Params = params
	if (o.o.Servers != nil && len(*o.o.Servers) > 0) || len(o.item.Servers) > 0 {
		b.ownServers++
	}
	if o.method == "DELETE" {
		t.Confirm = &outConfirm{Message: confirmMessage(b.lang, o.o.Summary, params)}
	}
	return t, ""
}

func quoteName(s string) string { return fmt.Sprintf("%q", s) }

// authSets reports whether the integration's auth sends this header itself.
func (b *builder) authSets(name string) bool {
	if b.auth == nil {
		return false
	}
	switch b.auth.Type {
	case "bearer", "basic":
		return strings.EqualFold(name, "Authorization")
	case "header":
		return strings.EqualFold(name, b.auth.Header)
	}
	return false
}

// body adds the JSON request body's top-level properties as in: body params.
func (b *builder) body(o *op, f *flattener, names map[string]*outParam, params *[]*outParam) string {
	rb := o.o.RequestBody
	if rb == nil || rb.Value == nil || len(rb.Value.Content) == 0 {
		return ""
	}
	required := rb.Value.Required
	var schema *openapi3.SchemaRef
	var types []string
	for ct := range rb.Value.Content {
		types = append(types, ct)
	}
	sort.Strings(types)
	chosen := ""
	for _, pass := range []func(string) bool{
		func(t string) bool { return t == "application/json" },
		func(t string) bool { return strings.HasSuffix(t, "+json") || strings.HasSuffix(t, "/json") },
		func(t string) bool { return t == "*/*" || t == "application/*" },
	} {
		for _, ct := range types {
			if pass(mediaType(ct)) && chosen == "" {
				chosen = ct
			}
		}
	}
	// A body switchboard cannot send leaves the operation out even when the
	// document calls it optional (most never say required): an upload
	// without its file is not the operation.
	if chosen == "" {
		return bodyReason(mediaType(types[0]))
	}
	if mt := rb.Value.Content[chosen]; mt != nil {
		schema = mt.Schema
	}
	v := f.flatten(schema)
	if v.typ == "string" && (v.format == "binary" || v.format == "byte") {
		return "binary body (a JSON string of format " + v.format + ")"
	}
	if v.typ != "object" && v.typ != "" {
		return "JSON body that is not an object (" + v.typ + ")"
	}
	if len(v.props) == 0 {
		if required && (v.typ != "" || schema != nil && schema.Value != nil && schema.Value.AdditionalProperties.Has != nil) {
			return "JSON body without declared properties"
		}
		return ""
	}
	if schema != nil && schema.Value != nil {
		defer f.enter(schema)()
	}
	var reqOrder []string
	if schema != nil && schema.Value != nil {
		reqOrder = schema.Value.Required
	}
	for _, name := range v.propOrder(reqOrder) {
		sub := v.props[name]
		if sub == nil || sub.Value == nil || f.flatten(sub).readOnly {
			continue
		}
		req := required && v.required[name]
		why := ""
		switch {
		case name == "" || !safeText(name):
			why = "unwritable name"
		case name == "confirmation_token":
			why = "confirmation_token (a name switchboard reserves)"
		case names[name] != nil:
			why = "name taken by a " + names[name].In + " parameter"
		}
		if why != "" {
			if req {
				return fmt.Sprintf("name clash: required body property %q (%s)", name, why)
			}
			b.drop("body property, "+why, o.name, name)
			continue
		}
		p := f.param(name, sub, 1)
		p.In = "body"
		p.Required = req
		names[name] = p
		*params = append(*params, p)
	}
	return ""
}

func mediaType(ct string) string {
	if mt, _, err := mime.ParseMediaType(ct); err == nil {
		return strings.ToLower(mt)
	}
	return strings.ToLower(strings.TrimSpace(strings.SplitN(ct, ";", 2)[0]))
}

func bodyReason(mt string) string {
	switch {
	case mt == "multipart/form-data" || strings.HasPrefix(mt, "multipart/"):
		return "multipart body (" + mt + ")"
	case mt == "application/x-www-form-urlencoded":
		return "form-encoded body (application/x-www-form-urlencoded)"
	case mt == "application/octet-stream" || strings.HasPrefix(mt, "image/") || strings.HasPrefix(mt, "audio/") || strings.HasPrefix(mt, "video/") || mt == "application/pdf" || mt == "application/zip":
		return "binary body (" + mt + ")"
	}
	return "non-JSON body (" + mt + ")"
}
