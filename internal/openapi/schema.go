package openapi

import (
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/switchboard-dev/switchboard/configs"
)

// maxDepth is how deep nested objects are spelled out; deeper ones (and every
// recursive one) become an open object the model fills freely.
const maxDepth = 4

// view is a schema with allOf merged and oneOf/anyOf reduced to the one
// shape a model can fill.
type view struct {
	typ       string
	format    string
	desc      string
	enum      []any
	def       any
	props     map[string]*openapi3.SchemaRef
	order     []string
	required  map[string]bool
	items     *openapi3.SchemaRef
	minLen    uint64
	maxLen    *uint64
	min, max  *float64
	exMin     bool
	exMax     bool
	readOnly  bool
	recursive bool // the schema contains itself here: cut off
}

// flattener walks schemas; stack holds the schemas on the current path, so a
// schema that contains itself is seen as recursive instead of looping.
type flattener struct {
	stack map[*openapi3.Schema]bool
	// path holds the schemas of the params being spelled out, so that a
	// property that contains its parent is cut off.
	path map[*openapi3.Schema]bool
	// refs holds the JSON pointers ($ref fragments) on that path: a schema in
	// another file that refers to itself is a second copy of the schema the
	// root document refers to, so pointers alone notice the loop a level late.
	refs map[string]bool
	// steps bounds the work on one operation: allOf chains that share parts
	// would otherwise be walked once per path through them.
	steps int
}

// maxSteps is the schemas one operation may visit before the rest are open objects.
const maxSteps = 100000

func newFlattener() *flattener {
	return &flattener{stack: map[*openapi3.Schema]bool{}, path: map[*openapi3.Schema]bool{}, refs: map[string]bool{}}
}

func firstType(t *openapi3.Types) string {
	if t == nil {
		return ""
	}
	for _, s := range t.Slice() {
		if s != "null" {
			return s
		}
	}
	return ""
}

func isNullOnly(sr *openapi3.SchemaRef) bool {
	return sr != nil && sr.Value != nil && sr.Value.Type != nil && len(sr.Value.Type.Slice()) == 1 && sr.Value.Type.Slice()[0] == "null"
}

func (f *flattener) flatten(sr *openapi3.SchemaRef) view {
	v := view{required: map[string]bool{}}
	if sr == nil || sr.Value == nil {
		return v
	}
	s := sr.Value
	f.steps++
	if f.stack[s] || f.steps > maxSteps {
		return view{typ: "object", recursive: true, required: map[string]bool{}}
	}
	f.stack[s] = true
	defer delete(f.stack, s)

	v.typ = firstType(s.Type)
	v.format = s.Format
	v.desc = s.Description
	if v.desc == "" {
		v.desc = s.Title
	}
	v.enum = s.Enum
	if s.Const != nil && len(v.enum) == 0 {
		v.enum = []any{s.Const}
	}
	v.def = s.Default
	v.items = s.Items
	v.minLen, v.maxLen = s.MinLength, s.MaxLength
	v.min, v.max = s.Min, s.Max
	if s.ExclusiveMin.Value != nil {
		v.min, v.exMin = s.ExclusiveMin.Value, true
	} else if s.ExclusiveMin.IsTrue() {
		v.exMin = true
	}
	if s.ExclusiveMax.Value != nil {
		v.max, v.exMax = s.ExclusiveMax.Value, true
	} else if s.ExclusiveMax.IsTrue() {
		v.exMax = true
	}
	v.readOnly = s.ReadOnly
	for _, r := range s.Required {
		v.required[r] = true
	}
	if len(s.Properties) > 0 {
		v.props = map[string]*openapi3.SchemaRef{}
		for _, name := range sortedNames(s.Properties) {
			v.addProp(name, s.Properties[name])
		}
	}
	// allOf: every part applies, so properties and required add up.
	for _, part := range s.AllOf {
		v.merge(f.flatten(part), true)
	}
	// oneOf/anyOf: objects become one object with every alternative's
	// properties, required only where every alternative requires them;
	// anything else takes the first alternative that is not null.
	alts := s.OneOf
	if len(alts) == 0 {
		alts = s.AnyOf
	}
	if len(alts) > 0 {
		var views []view
		for _, a := range alts {
			if isNullOnly(a) {
				continue
			}
			views = append(views, f.flatten(a))
		}
		allObjects := len(views) > 0
		for _, av := range views {
			if av.typ != "object" && len(av.props) == 0 {
				allObjects = false
			}
		}
		switch {
		case allObjects && (v.typ == "" || v.typ == "object"):
			var common map[string]bool
			for i, av := range views {
				if i == 0 {
					common = av.required
				} else {
					common = intersect(common, av.required)
				}
				av.required = map[string]bool{}
				v.merge(av, false)
			}
			for r := range common {
				v.required[r] = true
			}
			if v.typ == "" {
				v.typ = "object"
			}
		case len(views) > 0:
			v.merge(views[0], true)
		}
	}
	if v.typ == "" {
		switch {
		case len(v.props) > 0:
			v.typ = "object"
		case v.items != nil:
			v.typ = "array"
		case len(v.enum) > 0:
			v.typ = jsonType(v.enum[0])
		}
	}
	return v
}

// merge adds o's properties and fills what v lacks; withRequired also adds
// o's required names.
func (v *view) merge(o view, withRequired bool) {
	if v.typ == "" {
		v.typ = o.typ
	}
	if o.recursive && len(v.props) == 0 && len(o.props) == 0 {
		v.recursive = true
	}
	if v.format == "" {
		v.format = o.format
	}
	if v.desc == "" {
		v.desc = o.desc
	}
	if len(v.enum) == 0 {
		v.enum = o.enum
	}
	if v.def == nil {
		v.def = o.def
	}
	if v.items == nil {
		v.items = o.items
	}
	if v.minLen == 0 {
		v.minLen = o.minLen
	}
	if v.maxLen == nil {
		v.maxLen = o.maxLen
	}
	if v.min == nil {
		v.min, v.exMin = o.min, o.exMin
	}
	if v.max == nil {
		v.max, v.exMax = o.max, o.exMax
	}
	v.readOnly = v.readOnly || o.readOnly
	for _, name := range o.order {
		if _, ok := v.props[name]; !ok {
			v.addProp(name, o.props[name])
		}
	}
	if withRequired {
		for r := range o.required {
			v.required[r] = true
		}
	}
}

func (v *view) addProp(name string, sr *openapi3.SchemaRef) {
	if v.props == nil {
		v.props = map[string]*openapi3.SchemaRef{}
	}
	if _, ok := v.props[name]; !ok {
		v.order = append(v.order, name)
	}
	v.props[name] = sr
}

func intersect(a, b map[string]bool) map[string]bool {
	out := map[string]bool{}
	for k := range a {
		if b[k] {
			out[k] = true
		}
	}
	return out
}

func sortedNames(m openapi3.Schemas) []string {
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}

// propOrder lists required properties first (in the order the document
// requires them), then the others alphabetically.
func (v view) propOrder(requiredOrder []string) []string {
	var out []string
	seen := map[string]bool{}
	for _, r := range requiredOrder {
		if _, ok := v.props[r]; ok && !seen[r] {
			out = append(out, r)
			seen[r] = true
		}
	}
	rest := []string{}
	for _, n := range v.order {
		if !seen[n] {
			if v.required[n] {
				out = append(out, n)
			} else {
				rest = append(rest, n)
			}
			seen[n] = true
		}
	}
	sort.Strings(rest)
	return append(out, rest...)
}

func jsonType(v any) string {
	switch x := v.(type) {
	case string:
		return "string"
	case bool:
		return "boolean"
	case float64:
		if x == math.Trunc(x) {
			return "integer"
		}
		return "number"
	case int, int64, uint64:
		return "integer"
	case map[string]any:
		return "object"
	case []any:
		return "array"
	}
	return ""
}

var paramTypes = map[string]bool{"string": true, "integer": true, "number": true, "boolean": true, "object": true, "array": true}

// param turns a schema into a param (or property, or items) at depth.
func (f *flattener) param(name string, sr *openapi3.SchemaRef, depth int) *outParam {
	v := f.flatten(sr)
	if sr != nil && sr.Value != nil {
		if f.path[sr.Value] || f.refs[fragment(sr.Ref)] {
			v = view{typ: "object", recursive: true, desc: v.desc}
		} else {
			defer f.enter(sr)()
		}
	}
	p := &outParam{Name: name, Type: v.typ}
	if !paramTypes[p.Type] {
		p.Type = "string" // no type (any value) or an unknown one: the model sends text
	}
	p.Description = shortText(v.desc, 160)
	switch p.Type {
	case "object":
		if v.recursive || depth >= maxDepth {
			break
		}
		var reqOrder []string
		if sr != nil && sr.Value != nil {
			reqOrder = sr.Value.Required
		}
		for _, pn := range v.propOrder(reqOrder) {
			if !safeText(pn) || pn == "" {
				continue
			}
			sub := v.props[pn]
			if sub == nil || sub.Value == nil || f.flatten(sub).readOnly {
				continue
			}
			c := f.param(pn, sub, depth+1)
			c.Required = v.required[pn]
			p.Properties = append(p.Properties, c)
		}
	case "array":
		if v.items != nil && depth < maxDepth+1 {
			it := f.param("", v.items, depth+1)
			it.Description = ""
			it.Default = nil
			p.Items = it
		}
	}
	p.Enum = cleanEnum(v.enum, p.Type)
	if v.def != nil && fits(v.def, p.Type) && (len(p.Enum) == 0 || enumHas(p.Enum, v.def)) && p.Type != "object" && p.Type != "array" {
		p.Default = normalize(v.def, p.Type)
	}
	p.Validate = validateTag(v, p.Type)
	return p
}

func fits(v any, typ string) bool {
	if s, ok := v.(string); ok && !safeText(s) {
		return false
	}
	return configs.MatchesType(v, typ)
}

func cleanEnum(enum []any, typ string) []any {
	if typ == "object" || typ == "array" {
		return nil
	}
	var out []any
	for _, e := range enum {
		if e == nil {
			continue // a nullable enum's null: leaving the value out says it
		}
		if !fits(e, typ) {
			return nil // values of another type: an enum would reject valid input
		}
		out = append(out, normalize(e, typ))
	}
	return out
}

// normalize writes an integer as one (JSON decodes every number as float64).
func normalize(v any, typ string) any {
	if f, ok := v.(float64); ok && typ == "integer" && f == math.Trunc(f) && math.Abs(f) < 1<<53 {
		return int64(f)
	}
	return v
}

func enumHas(enum []any, v any) bool {
	for _, e := range enum {
		if e == normalize(v, jsonType(e)) || e == v {
			return true
		}
	}
	return false
}

// formatTags maps OpenAPI string formats to go-playground/validator tags.
var formatTags = map[string]string{
	"email":     "email",
	"uuid":      "uuid",
	"uri":       "uri",
	"url":       "url",
	"hostname":  "hostname_rfc1123",
	"ipv4":      "ipv4",
	"ipv6":      "ipv6",
	"date-time": "datetime=2006-01-02T15:04:05Z07:00",
	"date":      "datetime=2006-01-02",
	"byte":      "base64",
}

// validateTag spells formats and bounds as a validate tag. pattern has no
// counterpart: go-playground/validator has no regular-expression tag.
func validateTag(v view, typ string) string {
	var tags []string
	switch typ {
	case "string":
		if t, ok := formatTags[strings.ToLower(v.format)]; ok {
			tags = append(tags, t)
		}
		if v.minLen > 0 {
			tags = append(tags, "min="+strconv.FormatUint(v.minLen, 10))
		}
		if v.maxLen != nil {
			tags = append(tags, "max="+strconv.FormatUint(*v.maxLen, 10))
		}
	case "integer", "number":
		if t := bound(v.min, v.exMin, typ, true); t != "" {
			tags = append(tags, t)
		}
		if t := bound(v.max, v.exMax, typ, false); t != "" {
			tags = append(tags, t)
		}
	}
	return strings.Join(tags, ",")
}

func num(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

// bound spells a minimum (lower) or maximum as gte/gt or lte/lt. The
// validator parses an integer's bound as an integer, so a fractional bound
// of an integer is rounded inwards (minimum 1.5 → gte=2); one beyond 2^53
// is dropped.
func bound(b *float64, exclusive bool, typ string, lower bool) string {
	if b == nil || math.IsInf(*b, 0) || math.IsNaN(*b) {
		return ""
	}
	f := *b
	if math.Abs(f) >= 1<<53 {
		return ""
	}
	if typ == "number" && f != math.Trunc(f) {
		// httpapi hands the validator an integral argument as an int64,
		// and the validator parses the bound of an int64 as an integer: a
		// fractional bound would fail the call. Left out.
		return ""
	}
	if typ == "integer" {
		if f != math.Trunc(f) {
			if lower {
				f = math.Ceil(f)
			} else {
				f = math.Floor(f)
			}
			exclusive = false
		}
	}
	op := map[[2]bool]string{{true, false}: "gte=", {true, true}: "gt=", {false, false}: "lte=", {false, true}: "lt="}[[2]bool{lower, exclusive}]
	return op + num(f)
}

// fragment is the JSON pointer of a $ref ("" for none).
func fragment(ref string) string {
	if i := strings.IndexByte(ref, '#'); i >= 0 && i < len(ref)-1 {
		return ref[i:]
	}
	return ""
}

// enter puts sr on the path of params being spelled out; the func returned
// takes it off.
func (f *flattener) enter(sr *openapi3.SchemaRef) func() {
	f.path[sr.Value] = true
	frag := fragment(sr.Ref)
	if frag != "" {
		f.refs[frag] = true
	}
	return func() {
		delete(f.path, sr.Value)
		if frag != "" {
			delete(f.refs, frag)
		}
	}
}
