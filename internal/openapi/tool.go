package openapi

import (
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

// skip says why an operation is left out; detail (a parameter's name, say)
// is listed with the operation.
type skip struct{ reason, detail string }

func skipped(reason string) *skip { return &skip{reason: reason} }

// tool turns one operation into a tool, or says why it cannot be one.
func (b *builder) tool(o *op) (*outTool, *skip) {
	if !strings.HasPrefix(o.path, "/") || strings.ContainsAny(placeholder.ReplaceAllString(o.path, ""), "{}?#") || !safeText(o.path) {
		return nil, skipped("path switchboard cannot express (with ?, # or stray braces)")
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
		// leave drops an optional parameter (noted) and leaves the
		// operation out for a required one.
		leave := func(what string) *skip {
			if required {
				return &skip{reason: "required " + what, detail: p.Name}
			}
			b.drop(what, o.name, p.Name)
			return nil
		}
		var why string
		switch {
		case p.In == "cookie":
			why = "cookie parameter"
		case p.In != "path" && p.In != "query" && p.In != "header":
			continue
		case p.Name == "" || !safeText(p.Name):
			why = "parameter without a usable name"
		case p.Name == "confirmation_token":
			why = "parameter named confirmation_token (reserved by switchboard)"
		case p.In == "path" && !placeholders[p.Name]:
			b.drop("path parameter not in the path", o.name, p.Name)
			continue
		case p.In == "header" && !headerToken.MatchString(p.Name):
			why = "header parameter whose name is not a header name"
		case p.In == "header" && b.authSets(p.Name):
			continue // the integration's auth sends it
		case p.In == "query" && b.auth != nil && b.auth.Type == "query" && p.Name == b.auth.Param:
			continue
		case names[p.Name] != nil:
			why = p.In + " parameter whose name a " + names[p.Name].In + " parameter has"
		}
		if why != "" {
			if sk := leave(why); sk != nil {
				return nil, sk
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
			if sk := leave(p.In + " parameter that is an object (deepObject)"); sk != nil {
				return nil, sk
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
			return nil, &skip{reason: "path placeholder that cannot be a parameter", detail: m[1]}
		}
		p := &outParam{Name: m[1], In: "path", Type: "string", Required: true}
		names[m[1]] = p
		params = append(params, p)
		b.drop("path placeholder not declared by the document (added as a string)", o.name, m[1])
	}

	if sk := b.body(o, f, names, &params); sk != nil {
		return nil, sk
	}
	t.Params = params
	if (o.o.Servers != nil && len(*o.o.Servers) > 0) || len(o.item.Servers) > 0 {
		b.ownServers++
	}
	if o.method == "DELETE" {
		t.Confirm = &outConfirm{Message: confirmMessage(b.lang, o.o.Summary, params)}
	}
	return t, nil
}

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
func (b *builder) body(o *op, f *flattener, names map[string]*outParam, params *[]*outParam) *skip {
	rb := o.o.RequestBody
	if rb == nil || rb.Value == nil || len(rb.Value.Content) == 0 {
		return nil
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
		// A form body that declares no fields sends nothing (Stripe's GET
		// operations have one): the operation needs no body.
		if mt := rb.Value.Content[types[0]]; mt != nil && mt.Schema != nil && isForm(mediaType(types[0])) {
			if v := f.flatten(mt.Schema); len(v.props) == 0 && (v.typ == "" || v.typ == "object") {
				return nil
			}
		}
		return skipped(bodyReason(mediaType(types[0])))
	}
	if mt := rb.Value.Content[chosen]; mt != nil {
		schema = mt.Schema
	}
	v := f.flatten(schema)
	if v.typ == "string" && (v.format == "binary" || v.format == "byte") {
		return skipped("binary body (a JSON string of format " + v.format + ")")
	}
	if v.typ != "object" && v.typ != "" {
		return skipped("JSON body that is not an object (" + v.typ + ")")
	}
	if len(v.props) == 0 {
		if required && (v.typ != "" || schema != nil && schema.Value != nil && schema.Value.AdditionalProperties.Has != nil) {
			return skipped("JSON body without declared properties")
		}
		return nil
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
			why = "without a usable name"
		case name == "confirmation_token":
			why = "named confirmation_token (reserved by switchboard)"
		case names[name] != nil:
			why = "whose name a " + names[name].In + " parameter has"
		}
		if why != "" {
			if req {
				return &skip{reason: "required body property " + why, detail: name}
			}
			b.drop("body property "+why, o.name, name)
			continue
		}
		p := f.param(name, sub, 1)
		p.In = "body"
		p.Required = req
		names[name] = p
		*params = append(*params, p)
	}
	return nil
}

func mediaType(ct string) string {
	if mt, _, err := mime.ParseMediaType(ct); err == nil {
		return strings.ToLower(mt)
	}
	return strings.ToLower(strings.TrimSpace(strings.SplitN(ct, ";", 2)[0]))
}

func isForm(mt string) bool {
	return mt == "application/x-www-form-urlencoded" || mt == "multipart/form-data"
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
