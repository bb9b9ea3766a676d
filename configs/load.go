package configs

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Problem is one thing wrong with a configuration file.
type Problem struct {
	Path    string // YAML path, e.g. integrations[0].tools[2].method
	Line    int    // 0 when unknown
	Message string
}

func (p Problem) String() string {
	switch {
	case p.Path != "" && p.Line > 0:
		return fmt.Sprintf("line %d: %s: %s", p.Line, p.Path, p.Message)
	case p.Path != "":
		return fmt.Sprintf("%s: %s", p.Path, p.Message)
	case p.Line > 0:
		return fmt.Sprintf("line %d: %s", p.Line, p.Message)
	}
	return p.Message
}

// Error lists every problem found in a configuration file.
type Error struct {
	File     string
	Problems []Problem
}

func (e *Error) Error() string {
	var b strings.Builder
	name := e.File
	if name == "" {
		name = "config"
	}
	fmt.Fprintf(&b, "%s: %d problem(s)", name, len(e.Problems))
	for _, p := range e.Problems {
		b.WriteString("\n  ")
		b.WriteString(p.String())
	}
	return b.String()
}

// LoadFile reads and validates the configuration file at path; getenv
// expands ${VAR} references.
func LoadFile(path string, getenv func(string) string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	cfg, err := Parse(data, getenv)
	var cerr *Error
	if errors.As(err, &cerr) {
		cerr.File = path
	}
	return cfg, err
}

var envRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)(:-([^}]*))?\}`)

// expandEnv replaces ${VAR} and ${VAR:-default}. Only the braced form is
// expanded, so jq programs ($var) and literal dollars are left alone.
func expandEnv(data []byte, getenv func(string) string) []byte {
	return envRef.ReplaceAllFunc(data, func(m []byte) []byte {
		sub := envRef.FindSubmatch(m)
		v := getenv(string(sub[1]))
		if v == "" && len(sub[2]) > 0 {
			v = string(sub[3])
		}
		return []byte(v)
	})
}

// Parse decodes and validates a configuration. Every problem is reported in
// one *Error: unknown keys, every value of the wrong type (each with its
// path and line, decoding goes on past it), and every invalid value.
func Parse(data []byte, getenv func(string) string) (cfg *Config, err error) {
	defer func() {
		if r := recover(); r != nil { // the YAML library must never take the process down
			cfg, err = nil, &Error{Problems: []Problem{{Message: fmt.Sprintf("the YAML could not be decoded: %v", r)}}}
		}
	}()
	data = expandEnv(data, getenv)
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, &Error{Problems: []Problem{{Message: "the file is empty"}}}
		}
		return nil, &Error{Problems: []Problem{yamlProblem(err)}}
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		line := extra.Line
		if err != nil {
			return nil, &Error{Problems: []Problem{yamlProblem(err)}}
		}
		return nil, &Error{Problems: []Problem{{Line: line, Message: "only one YAML document is allowed"}}}
	}
	body := &doc
	if body.Kind == yaml.DocumentNode && len(body.Content) > 0 {
		body = body.Content[0]
	}
	if body.Kind == 0 || body.Kind == yaml.DocumentNode || (body.Kind == yaml.ScalarNode && body.Tag == "!!null") {
		return nil, &Error{Problems: []Problem{{Message: "the file is empty"}}}
	}
	var c Config
	idx := newLineIndex()
	var problems []Problem
	// Unknown keys first: they explain most type errors that follow.
	checkKeys(body, reflect.TypeOf(c), "", idx, &problems)
	if err := body.Decode(&c); err != nil {
		problems = append(problems, decodeProblems(err, idx)...)
	}
	// Validate what did decode, so one run shows every problem; a value that
	// is unknown or did not decode is not reported a second time as missing
	// or invalid.
	applyDefaults(&c)
	for _, p := range validate(&c, idx) {
		if !underAny(p.Path, problems) {
			problems = append(problems, p)
		}
	}
	if len(problems) > 0 {
		sort.SliceStable(problems, func(i, j int) bool { return problems[i].Line < problems[j].Line })
		return nil, &Error{Problems: problems}
	}
	return &c, nil
}

// underAny reports whether path is at or below the path of a problem.
func underAny(path string, problems []Problem) bool {
	for _, q := range problems {
		if q.Path != "" && (path == q.Path || strings.HasPrefix(path, q.Path+".") || strings.HasPrefix(path, q.Path+"[")) {
			return true
		}
	}
	return false
}

var (
	yamlLine      = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)
	notADuration  = regexp.MustCompile("^cannot unmarshal !!\\w+ `(.*)` into time.Duration$")
	cannotDecode  = regexp.MustCompile("^cannot unmarshal !!(\\w+) `(.*)` into (.*)$")
	quoted        = regexp.MustCompile(`^"((?:[^"\\]|\\.)*)"`)
	yamlTypeNames = map[string]string{"str": "text", "int": "a number", "float": "a number", "bool": "true or false", "map": "a mapping", "seq": "a list", "null": "empty"}
	goTypeNames   = map[string]string{"string": "text", "int": "a whole number", "int64": "a whole number", "bool": "true or false",
		"[]string": "a list", "map[string]string": "a mapping", "float64": "a number"}
)

func typeWord(t string, names map[string]string) string {
	if w, ok := names[t]; ok {
		return w
	}
	switch {
	case strings.HasPrefix(t, "[]"):
		return "a list"
	case strings.HasPrefix(t, "map["), strings.HasPrefix(t, "configs."):
		return "a mapping"
	}
	return t
}

// yamlProblem is a syntax error; the library puts the line in the text.
func yamlProblem(err error) Problem {
	if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
		line, _ := strconv.Atoi(m[1])
		return Problem{Line: line, Message: m[2]}
	}
	return Problem{Message: strings.TrimPrefix(err.Error(), "yaml: ")}
}

// decodeProblems turns the library's type errors (all of them: it decodes
// on past each) into problems with the path found on their line.
func decodeProblems(err error, idx lineIndex) []Problem {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		return []Problem{yamlProblem(err)}
	}
	var out []Problem
	for _, e := range te.Errors {
		p := Problem{Message: e}
		value := ""
		if m := yamlLine.FindStringSubmatch(e); m != nil {
			p.Line, _ = strconv.Atoi(m[1])
			p.Message = m[2]
		}
		switch m := cannotDecode.FindStringSubmatch(p.Message); {
		case notADuration.MatchString(p.Message):
			value = notADuration.FindStringSubmatch(p.Message)[1]
			p.Message = fmt.Sprintf("%q is not a duration (write it like 250ms, 5s or 2m)", value)
		case m != nil:
			value = m[2]
			p.Message = fmt.Sprintf("%q is %s, want %s", value, typeWord(m[1], yamlTypeNames), typeWord(m[3], goTypeNames))
		default:
			if q := quoted.FindStringSubmatch(p.Message); q != nil {
				value = q[1]
			}
		}
		if p.Line > 0 {
			p.Path = idx.pathAt(p.Line, value)
		}
		out = append(out, p)
	}
	return out
}

// lineIndex maps a YAML path to the line it starts on, and a line to the
// first path that starts on it (where a type error on that line points).
type lineIndex struct {
	lines   map[string]int
	scalars map[int][]scalarAt // the scalar values on each line, in order
}

type scalarAt struct{ path, value string }

func newLineIndex() lineIndex {
	return lineIndex{lines: map[string]int{}, scalars: map[int][]scalarAt{}}
}

// add records that path starts on line; the first record of each wins.
func (idx lineIndex) add(path string, line int) {
	if _, ok := idx.lines[path]; !ok {
		idx.lines[path] = line
	}
}

// addScalar records the scalar value found at path.
func (idx lineIndex) addScalar(path string, n *yaml.Node) {
	idx.scalars[n.Line] = append(idx.scalars[n.Line], scalarAt{path, n.Value})
}

// pathAt is the path of the scalar value on line (a type error names the
// line and the value, not the key), or the deepest path on it.
func (idx lineIndex) pathAt(line int, value string) string {
	best := ""
	for _, s := range idx.scalars[line] {
		if s.value == value {
			return s.path
		}
		if strings.Count(s.path, ".")+strings.Count(s.path, "[") > strings.Count(best, ".")+strings.Count(best, "[") {
			best = s.path
		}
	}
	return best
}

// line returns the line of path, or of its nearest ancestor present in the file.
func (idx lineIndex) line(path string) int {
	for path != "" {
		if l, ok := idx.lines[path]; ok {
			return l
		}
		i := strings.LastIndexAny(path, ".[")
		if i < 0 {
			break
		}
		path = path[:i]
	}
	return idx.lines[""]
}

func joinPath(parent, key string) string {
	if parent == "" {
		return key
	}
	return parent + "." + key
}

var toolsType = reflect.TypeOf(Tools{})

// checkKeys walks node against t, recording every path's line and reporting
// every mapping key that t does not declare.
func checkKeys(node *yaml.Node, t reflect.Type, path string, idx lineIndex, problems *[]Problem) {
	if node == nil {
		return
	}
	for node.Kind == yaml.AliasNode && node.Alias != nil {
		node = node.Alias
	}
	idx.add(path, node.Line)
	if node.Kind == yaml.ScalarNode {
		idx.addScalar(path, node)
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == toolsType {
		switch node.Kind {
		case yaml.SequenceNode:
			t = reflect.TypeOf([]Tool{})
		case yaml.MappingNode:
			t = reflect.TypeOf(ToolFilter{})
		}
	}
	switch node.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(node.Content); i += 2 {
			checkMappingValue(node.Content[i], node.Content[i+1], t, path, idx, problems)
		}
	case yaml.SequenceNode:
		if t.Kind() != reflect.Slice {
			return
		}
		for i, v := range node.Content {
			checkKeys(v, t.Elem(), path+"["+strconv.Itoa(i)+"]", idx, problems)
		}
	}
}

func checkMappingValue(k, v *yaml.Node, t reflect.Type, path string, idx lineIndex, problems *[]Problem) {
	key := k.Value
	switch t.Kind() {
	case reflect.Map:
		p := joinPath(path, key)
		idx.add(p, k.Line)
		checkKeys(v, t.Elem(), p, idx, problems)
	case reflect.Struct:
		p := joinPath(path, key)
		idx.add(p, k.Line)
		f, ok := fieldByYAMLName(t, key)
		if !ok {
			msg := fmt.Sprintf("unknown key %q", key)
			if hint := closestKey(t, key); hint != "" {
				msg += fmt.Sprintf(" (did you mean %q?)", hint)
			}
			*problems = append(*problems, Problem{Path: p, Line: k.Line, Message: msg})
			return
		}
		checkKeys(v, f.Type, p, idx, problems)
	}
}

func yamlName(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
	return name
}

func fieldByYAMLName(t reflect.Type, key string) (reflect.StructField, bool) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if f.Tag.Get("yaml") == "" {
			continue
		}
		if n := yamlName(f); n != "-" && n == key {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

// closestKey suggests a declared key within edit distance 2 of key.
func closestKey(t reflect.Type, key string) string {
	best, bestD := "", 3
	for i := 0; i < t.NumField(); i++ {
		n := yamlName(t.Field(i))
		if n == "" || n == "-" {
			continue
		}
		if d := editDistance(key, n); d < bestD {
			best, bestD = n, d
		}
	}
	return best
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// UnmarshalYAML decodes a list of tools (type http) or an
// include/exclude/confirm filter (type mcp).
func (t *Tools) UnmarshalYAML(node *yaml.Node) error {
	switch {
	case node.Kind == yaml.SequenceNode:
		return node.Decode(&t.List)
	case node.Kind == yaml.ScalarNode && node.Tag == "!!null":
		return nil
	}
	t.Filter = &ToolFilter{}
	return node.Decode(t.Filter)
}
