package configs

import (
	"errors"
	"fmt"
	"os"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
	"github.com/goccy/go-yaml/token"
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
// one *Error.
func Parse(data []byte, getenv func(string) string) (*Config, error) {
	data = expandEnv(data, getenv)
	file, err := parser.ParseBytes(data, 0)
	if err != nil {
		return nil, &Error{Problems: []Problem{yamlProblem(err)}}
	}
	var cfg Config
	if len(file.Docs) == 0 || file.Docs[0].Body == nil {
		return nil, &Error{Problems: []Problem{{Message: "the file is empty"}}}
	}
	if len(file.Docs) > 1 {
		line := 0
		if d := file.Docs[1]; d.Start != nil {
			line = d.Start.Position.Line
		} else if d.Body != nil {
			line = d.Body.GetToken().Position.Line
		}
		return nil, &Error{Problems: []Problem{{Line: line, Message: "only one YAML document is allowed"}}}
	}
	body := file.Docs[0].Body
	idx := lineIndex{}
	var problems []Problem
	// Unknown keys first: they explain most type errors that follow.
	checkKeys(body, reflect.TypeOf(cfg), "", idx, &problems)
	if err := nodeToValue(body, &cfg); err != nil {
		problems = append(problems, yamlProblem(err))
	}
	if len(problems) == 0 {
		applyDefaults(&cfg)
		problems = append(problems, validate(&cfg, idx)...)
	}
	if len(problems) > 0 {
		sort.SliceStable(problems, func(i, j int) bool { return problems[i].Line < problems[j].Line })
		return nil, &Error{Problems: problems}
	}
	return &cfg, nil
}

// nodeToValue decodes body into v; the YAML library panics on some malformed
// input (e.g. an empty "!" tag where a list belongs), which is a problem in
// the file, not a crash.
func nodeToValue(body ast.Node, v any) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("the YAML could not be decoded: %v", r)
		}
	}()
	return yaml.NodeToValue(body, v)
}

type tokenError interface {
	GetToken() *token.Token
	GetMessage() string
}

func yamlProblem(err error) Problem {
	var te tokenError
	if errors.As(err, &te) && te.GetToken() != nil {
		return Problem{Line: te.GetToken().Position.Line, Message: te.GetMessage()}
	}
	return Problem{Message: err.Error()}
}

// lineIndex maps a YAML path to the line it starts on.
type lineIndex map[string]int

// line returns the line of path, or of its nearest ancestor present in the file.
func (idx lineIndex) line(path string) int {
	for path != "" {
		if l, ok := idx[path]; ok {
			return l
		}
		i := strings.LastIndexAny(path, ".[")
		if i < 0 {
			break
		}
		path = path[:i]
	}
	return idx[""]
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
func checkKeys(node ast.Node, t reflect.Type, path string, idx lineIndex, problems *[]Problem) {
	if node == nil {
		return
	}
	if _, ok := idx[path]; !ok {
		idx[path] = node.GetToken().Position.Line
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == toolsType {
		switch node.(type) {
		case *ast.SequenceNode:
			t = reflect.TypeOf([]Tool{})
		case *ast.MappingNode, *ast.MappingValueNode:
			t = reflect.TypeOf(ToolFilter{})
		}
	}
	switch n := node.(type) {
	case *ast.MappingNode:
		for _, mv := range n.Values {
			checkMappingValue(mv, t, path, idx, problems)
		}
	case *ast.MappingValueNode:
		checkMappingValue(n, t, path, idx, problems)
	case *ast.SequenceNode:
		if t.Kind() != reflect.Slice {
			return
		}
		for i, v := range n.Values {
			checkKeys(v, t.Elem(), path+"["+strconv.Itoa(i)+"]", idx, problems)
		}
	}
}

func checkMappingValue(mv *ast.MappingValueNode, t reflect.Type, path string, idx lineIndex, problems *[]Problem) {
	key := mv.Key.GetToken().Value
	switch t.Kind() {
	case reflect.Map:
		p := joinPath(path, key)
		idx[p] = mv.Key.GetToken().Position.Line
		checkKeys(mv.Value, t.Elem(), p, idx, problems)
	case reflect.Struct:
		p := joinPath(path, key)
		idx[p] = mv.Key.GetToken().Position.Line
		f, ok := fieldByYAMLName(t, key)
		if !ok {
			msg := fmt.Sprintf("unknown key %q", key)
			if hint := closestKey(t, key); hint != "" {
				msg += fmt.Sprintf(" (did you mean %q?)", hint)
			}
			*problems = append(*problems, Problem{Path: p, Line: idx[p], Message: msg})
			return
		}
		checkKeys(mv.Value, f.Type, p, idx, problems)
	}
}

func yamlName(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
	return name
}

func fieldByYAMLName(t reflect.Type, key string) (reflect.StructField, bool) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if n := yamlName(f); n != "" && n != "-" && n == key {
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
func (t *Tools) UnmarshalYAML(node ast.Node) error {
	switch node.(type) {
	case *ast.SequenceNode:
		return yaml.NodeToValue(node, &t.List)
	case *ast.NullNode:
		return nil
	default:
		t.Filter = &ToolFilter{}
		return yaml.NodeToValue(node, t.Filter)
	}
}
