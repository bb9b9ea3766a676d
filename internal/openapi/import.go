// Package openapi turns an OpenAPI 3.0/3.1 or Swagger 2.0 document into a
// switchboard config with one type: http integration (switchboard import
// openapi). Documents are read with github.com/getkin/kin-openapi, which
// resolves every $ref (other files included) and converts 2.0 to 3.
package openapi

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/switchboard-dev/switchboard/configs"
)

// Options select and name what is imported.
type Options struct {
	Name    string   // integration name; default from info.title
	BaseURL string   // default servers[0] (or host/basePath)
	Include []string // globs over tool names; empty: all
	Exclude []string
	Tags    []string // operations with any of these tags; empty: all
	// Source names the document in the generated file's header and in
	// messages; default the spec as given.
	Source  string
	Client  *http.Client  // for http(s) documents and references
	Timeout time.Duration // whole fetch of a URL document; default DefaultTimeout
}

// Result is one import: the config text and what happened to each operation.
type Result struct {
	YAML        []byte
	Name        string // the integration's name
	Version     string // the document's OpenAPI/Swagger version
	Found       int
	Imported    int
	NotSelected int
	// LeftOut maps a reason to the operations left out for it.
	LeftOut map[string][]string
	// Dropped maps a reason to the parameters left out of imported tools.
	Dropped map[string][]string
	// Shortened lists exposed names that had to change: [wanted, given].
	Shortened [][2]string
	// Notes are things the user should review (base URL, auth).
	Notes []string
}

var integrationName = regexp.MustCompile(`^[a-z0-9_]+$`)

// Import reads spec (a file path or an http(s) URL) and builds the config.
func Import(ctx context.Context, spec string, opt Options) (res *Result, err error) {
	if err := opt.Check(); err != nil {
		return nil, err
	}
	defer func() {
		if r := recover(); r != nil {
			res, err = nil, fmt.Errorf("%s: the import failed unexpectedly (%v); please report this document", spec, r)
		}
	}()
	if opt.Client == nil {
		opt.Client = &http.Client{}
	}
	if opt.Timeout <= 0 {
		opt.Timeout = DefaultTimeout
	}
	lctx, cancel := context.WithTimeout(ctx, opt.Timeout)
	defer cancel()
	l, err := load(lctx, spec, opt.Client)
	if err != nil {
		return nil, err
	}
	if opt.Source == "" {
		opt.Source = spec
	}
	return build(l, opt)
}

// ImportData builds the config from a document given as bytes; external
// references are refused. name names the document in messages.
func ImportData(ctx context.Context, data []byte, name string, opt Options) (*Result, error) {
	if err := opt.Check(); err != nil {
		return nil, err
	}
	l, err := parseData(ctx, data, name)
	if err != nil {
		return nil, err
	}
	if opt.Source == "" {
		opt.Source = name
	}
	return build(l, opt)
}

// Check reports a bad --name, --base-url or glob (a usage mistake).
func (o Options) Check() error {
	if o.Name != "" && !integrationName.MatchString(o.Name) {
		return errorf("--name %q must match [a-z0-9_]+", o.Name)
	}
	if len(o.Name) > 40 {
		return errorf("--name %q is longer than 40 characters: it would leave too little of the 64 for tool names", o.Name)
	}
	if o.BaseURL != "" {
		if u, err := url.Parse(o.BaseURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return errorf("--base-url %q is not an http(s) URL", o.BaseURL)
		}
	}
	for _, g := range append(append([]string{}, o.Include...), o.Exclude...) {
		if _, err := path.Match(g, ""); err != nil {
			return errorf("bad glob %q: %v", g, err)
		}
	}
	return nil
}

// methods are the operations switchboard can call, in the order OpenAPI lists them.
var methods = []string{"GET", "PUT", "POST", "DELETE", "PATCH"}

// unsupported methods are counted and reported, not imported.
var unsupported = []string{"HEAD", "OPTIONS", "TRACE", "CONNECT"}

// op is one operation on its way to becoming a tool.
type op struct {
	method, path string
	item         *openapi3.PathItem
	o            *openapi3.Operation
	label        string // METHOD path (operationId)
	name         string // tool name
}

type builder struct {
	opt     Options
	doc     *openapi3.T
	integ   string
	res     *Result
	auth    *outAuth
	lang    string
	dropped map[string][]string
	// ownServers counts imported operations that name servers of their own.
	ownServers int
}

func build(l *loaded, opt Options) (*Result, error) {
	b := &builder{opt: opt, doc: l.doc, res: &Result{Version: l.version, LeftOut: map[string][]string{}, Dropped: map[string][]string{}}}
	b.integ = opt.Name
	if b.integ == "" {
		b.integ = defaultName(l.doc)
	}
	b.res.Name = b.integ
	in := &outIntegration{Name: b.integ, Headers: map[string]string{"Accept": "application/json"}}
	if l.doc.Info != nil {
		in.Description = shortText(firstNonEmpty(l.doc.Info.Title, l.doc.Info.Description), 160)
	}
	in.BaseURL, in.BaseComment = b.baseURL(l)
	in.Auth, in.AuthComment = b.pickAuth()
	b.auth = in.Auth
	b.lang = detectLanguage(l.doc)

	ops := b.operations(l.paths)
	b.assignNames(ops)
	var tools []*outTool
	considered := 0
	for _, o := range ops {
		if !b.selected(o) {
			b.res.NotSelected++
			continue
		}
		considered++
		t, sk := b.tool(o)
		if sk != nil {
			item := o.label
			if sk.detail != "" {
				item += ": " + sk.detail
			}
			b.res.LeftOut[sk.reason] = append(b.res.LeftOut[sk.reason], item)
			continue
		}
		tools = append(tools, t)
	}
	header := []string{
		fmt.Sprintf("Generated by switchboard import openapi from %s (%s %s).", opt.Source, specKind(l.version), l.version),
		"Review before use: the secret references are placeholders, and every tool calls the real API.",
		"Check it with: switchboard validate --config FILE; list the tools with: switchboard tools --config FILE",
	}
	// The generated file must load as it is. A tool the checker still
	// refuses (an input this importer did not foresee) is left out with the
	// checker's reason rather than breaking the whole file.
	for range 5 {
		if len(tools) == 0 {
			break
		}
		in.Tools = tools
		out, err := render(header, in)
		if err != nil {
			return nil, fmt.Errorf("%s: cannot write the config: %v", opt.Source, err)
		}
		bad, err := check(out)
		if err != nil {
			return nil, fmt.Errorf("%s: the generated config does not load: %v", opt.Source, err)
		}
		if len(bad) == 0 {
			b.res.YAML = out
			break
		}
		var keep []*outTool
		for i, t := range tools {
			if msg, ok := bad[i]; ok {
				r := "the generated tool does not pass validate: " + msg
				b.res.LeftOut[r] = append(b.res.LeftOut[r], t.op)
				continue
			}
			keep = append(keep, t)
		}
		tools = keep
	}
	b.res.Imported = len(tools)
	b.res.Dropped = b.dropped
	if b.ownServers > 0 {
		b.res.Notes = append(b.res.Notes, fmt.Sprintf("%d operation(s) name servers of their own; switchboard calls them at the integration's base_url", b.ownServers))
	}
	if len(tools) > 100 {
		b.res.Notes = append(b.res.Notes, fmt.Sprintf("%d tools are more than most models choose well from: consider --tag, --include or --exclude", len(tools)))
	}
	if b.res.YAML == nil {
		if b.res.Found == 0 {
			return b.res, errorf("%s has no operations to import", opt.Source)
		}
		if considered == 0 && b.res.NotSelected > 0 {
			return b.res, errorf("%s: none of its %d operations matches --include, --exclude and --tag", opt.Source, b.res.Found)
		}
		return b.res, errorf("%s: none of its %d operations could be imported (see the reasons above)", opt.Source, b.res.Found)
	}
	return b.res, nil
}

var toolIndex = regexp.MustCompile(`^integrations\[0\]\.tools\[(\d+)\]`)

// check loads the generated file as switchboard validate does and maps each
// problem to the tool it is in. A problem outside every tool is an error.
func check(out []byte) (map[int]string, error) {
	_, err := configs.Parse(out, func(string) string { return "" })
	if err == nil {
		return nil, nil
	}
	var cerr *configs.Error
	if !errors.As(err, &cerr) {
		return nil, err
	}
	bad := map[int]string{}
	for _, p := range cerr.Problems {
		m := toolIndex.FindStringSubmatch(p.Path)
		if m == nil {
			return nil, err
		}
		i, _ := strconv.Atoi(m[1])
		if _, ok := bad[i]; !ok {
			bad[i] = p.Message
		}
	}
	return bad, nil
}

func specKind(version string) string {
	if version == "2.0" {
		return "Swagger"
	}
	return "OpenAPI"
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if strings.TrimSpace(s) != "" {
			return s
		}
	}
	return ""
}

// defaultName derives the integration name from info.title.
func defaultName(doc *openapi3.T) string {
	name := ""
	if doc.Info != nil {
		name = snake(strings.ReplaceAll(doc.Info.Title, "'", ""))
	}
	if len(name) > 24 {
		cut := strings.LastIndexByte(name[:25], '_')
		if cut < 8 {
			cut = 24
		}
		name = strings.TrimRight(name[:cut], "_")
	}
	if name == "" {
		name = "api"
	}
	return name
}

// operations lists the document's operations in the document's path order.
func (b *builder) operations(order []string) []*op {
	var out []*op
	if b.doc.Paths == nil {
		return nil
	}
	rest := b.doc.Paths.InMatchingOrder()
	sort.Strings(rest)
	seen := map[string]bool{}
	var keys []string
	for _, p := range append(order, rest...) {
		if !seen[p] && b.doc.Paths.Value(p) != nil {
			seen[p] = true
			keys = append(keys, p)
		}
	}
	for _, p := range keys {
		item := b.doc.Paths.Value(p)
		if item == nil {
			continue
		}
		for _, m := range unsupported {
			if o := item.GetOperation(m); o != nil {
				b.res.Found++
				r := "method " + m + " is not supported"
				b.res.LeftOut[r] = append(b.res.LeftOut[r], quoteOp(m, p, o.OperationID))
			}
		}
		for _, m := range methods {
			o := item.GetOperation(m)
			if o == nil {
				continue
			}
			b.res.Found++
			out = append(out, &op{method: m, path: p, item: item, o: o, label: quoteOp(m, p, o.OperationID)})
		}
	}
	return out
}

func (b *builder) selected(o *op) bool {
	if len(b.opt.Tags) > 0 {
		ok := false
		for _, want := range b.opt.Tags {
			for _, have := range o.o.Tags {
				if strings.EqualFold(want, have) {
					ok = true
				}
			}
		}
		if !ok {
			return false
		}
	}
	full := b.integ + "_" + o.name
	match := func(globs []string) bool {
		for _, g := range globs {
			if m, _ := path.Match(g, o.name); m {
				return true
			}
			if m, _ := path.Match(g, full); m {
				return true
			}
		}
		return false
	}
	if len(b.opt.Include) > 0 && !match(b.opt.Include) {
		return false
	}
	return !match(b.opt.Exclude)
}

// assignNames gives every operation a unique tool name whose exposed name
// fits the 64-character rule. Names are assigned over all operations, before
// selection, so a tool's name does not depend on which others are selected.
func (b *builder) assignNames(ops []*op) {
	limit := 64 - len(b.integ) - 1
	used := map[string]bool{}
	for _, o := range ops {
		want := snake(o.o.OperationID)
		if want == "" {
			want = snake(strings.ToLower(o.method) + "_" + o.path)
		}
		if want == "" {
			want = strings.ToLower(o.method)
		}
		name := want
		if len(name) > limit {
			name = withHash(want, want, limit)
		}
		if used[name] {
			name = withHash(want, o.method+" "+o.path, limit)
			for i := 2; used[name]; i++ {
				name = withHash(want, fmt.Sprintf("%s %s %d", o.method, o.path, i), limit)
			}
		}
		used[name] = true
		o.name = name
		if name != want {
			b.res.Shortened = append(b.res.Shortened, [2]string{b.integ + "_" + want, b.integ + "_" + name})
		}
	}
}

// withHash cuts name to fit limit with a short hash of key appended.
func withHash(name, key string, limit int) string {
	sum := sha256.Sum256([]byte(key))
	h := hex.EncodeToString(sum[:])[:8]
	keep := limit - len(h) - 1
	if keep < 1 {
		return h[:max(1, min(len(h), limit))]
	}
	if len(name) > keep {
		name = strings.TrimRight(name[:keep], "_")
	}
	return name + "_" + h
}

// snake turns an operationId (getPetById, issues/get, Get-Pet) or a
// method and path into snake_case of [a-z0-9_].
func snake(s string) string {
	var b strings.Builder
	rs := []rune(s)
	sep := false
	for i, r := range rs {
		isUpper := r >= 'A' && r <= 'Z'
		isLower := r >= 'a' && r <= 'z'
		isDigit := r >= '0' && r <= '9'
		if !isUpper && !isLower && !isDigit {
			sep = true
			continue
		}
		if isUpper && i > 0 {
			prev := rs[i-1]
			prevLower := (prev >= 'a' && prev <= 'z') || (prev >= '0' && prev <= '9')
			nextLower := i+1 < len(rs) && rs[i+1] >= 'a' && rs[i+1] <= 'z'
			prevUpper := prev >= 'A' && prev <= 'Z'
			if prevLower || (prevUpper && nextLower) {
				sep = true
			}
		}
		if sep && b.Len() > 0 {
			b.WriteByte('_')
		}
		sep = false
		if isUpper {
			r += 'a' - 'A'
		}
		b.WriteRune(r)
	}
	return b.String()
}

// Summary writes what happened, for stderr.
func (r *Result) Summary(w io.Writer) {
	fmt.Fprintf(w, "%d operation(s) found, %d imported as integration %q", r.Found, r.Imported, r.Name)
	if r.NotSelected > 0 {
		fmt.Fprintf(w, ", %d not selected by --include/--exclude/--tag", r.NotSelected)
	}
	left := 0
	for _, ops := range r.LeftOut {
		left += len(ops)
	}
	if left > 0 {
		fmt.Fprintf(w, ", %d left out", left)
	}
	fmt.Fprintln(w, ".")
	listGroups(w, "left out", r.LeftOut)
	listGroups(w, "parameters left out", r.Dropped)
	if len(r.Shortened) > 0 {
		fmt.Fprintf(w, "%d name(s) shortened or made unique:\n", len(r.Shortened))
		for _, s := range r.Shortened {
			fmt.Fprintf(w, "  %s -> %s\n", s[0], s[1])
		}
	}
	for _, n := range r.Notes {
		fmt.Fprintln(w, "note:", n)
	}
}

func listGroups(w io.Writer, title string, groups map[string][]string) {
	reasons := make([]string, 0, len(groups))
	for k := range groups {
		reasons = append(reasons, k)
	}
	sort.Slice(reasons, func(i, j int) bool {
		if len(groups[reasons[i]]) != len(groups[reasons[j]]) {
			return len(groups[reasons[i]]) > len(groups[reasons[j]])
		}
		return reasons[i] < reasons[j]
	})
	for _, k := range reasons {
		items := groups[k]
		fmt.Fprintf(w, "%s, %s (%d):\n", title, k, len(items))
		for i, it := range items {
			if i == 10 {
				fmt.Fprintf(w, "  … and %d more\n", len(items)-10)
				break
			}
			fmt.Fprintf(w, "  %s\n", it)
		}
	}
}
