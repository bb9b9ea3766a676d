package openapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/getkin/kin-openapi/openapi2"
	"github.com/getkin/kin-openapi/openapi2conv"
	"github.com/getkin/kin-openapi/openapi3"
	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/token"
)

// maxDocBytes caps one document or referenced file read from disk or the network.
const maxDocBytes = 128 << 20

// DefaultTimeout bounds the whole fetch of a document given as a URL,
// external references included.
const DefaultTimeout = 30 * time.Second

// loaded is a document turned into the OpenAPI 3 model, with where it came from.
type loaded struct {
	doc      *openapi3.T
	version  string   // as the document says: "2.0", "3.0.3", "3.1.0"
	location *url.URL // the document's own location; nil for data without one
	paths    []string // the paths in the document's order
}

// Error is a document that cannot be imported; its message is one sentence
// naming the file and, where known, the line or JSON pointer.
type Error struct{ msg string }

func (e *Error) Error() string { return e.msg }

func errorf(format string, args ...any) error { return &Error{fmt.Sprintf(format, args...)} }

// source reads a document and the files or URLs it refers to.
type source struct {
	ctx    context.Context
	client *http.Client
	// remoteOnly refuses local files: a document fetched from the network must
	// not pull a file of this machine into the generated config.
	remoteOnly bool
	// noExternal refuses every external reference (documents given as data).
	noExternal bool
}

func isURL(spec string) bool {
	return strings.HasPrefix(spec, "http://") || strings.HasPrefix(spec, "https://")
}

// read fetches one file or http(s) URL.
func (s *source) read(u *url.URL) ([]byte, error) {
	switch {
	case s.noExternal:
		return nil, fmt.Errorf("external reference %s is not allowed here", u)
	case u.Scheme == "http" || u.Scheme == "https":
		req, err := http.NewRequestWithContext(s.ctx, http.MethodGet, u.String(), nil)
		if err != nil {
			return nil, err
		}
		req.Header.Set("Accept", "application/json, application/yaml;q=0.9, */*;q=0.5")
		resp, err := s.client.Do(req)
		if err != nil {
			var ue *url.Error
			if errors.As(err, &ue) {
				err = ue.Err
			}
			if errors.Is(err, context.DeadlineExceeded) {
				return nil, fmt.Errorf("cannot fetch %s: no answer within the timeout", u)
			}
			return nil, fmt.Errorf("cannot fetch %s: %v", u, err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("cannot fetch %s: the server answered %s", u, resp.Status)
		}
		data, err := io.ReadAll(io.LimitReader(resp.Body, maxDocBytes+1))
		if err != nil {
			return nil, fmt.Errorf("cannot fetch %s: %v", u, err)
		}
		if len(data) > maxDocBytes {
			return nil, fmt.Errorf("%s is larger than %d MiB", u, maxDocBytes>>20)
		}
		return data, nil
	case u.Scheme == "" || u.Scheme == "file":
		if s.remoteOnly {
			return nil, fmt.Errorf("a document fetched from a URL may not refer to the local file %s", u.Path)
		}
		p := filepath.FromSlash(u.Path)
		f, err := os.Open(p)
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return nil, fmt.Errorf("file %s does not exist", p)
			}
			return nil, fmt.Errorf("cannot read %s: %v", p, errors.Unwrap(err))
		}
		defer f.Close()
		data, err := io.ReadAll(io.LimitReader(f, maxDocBytes+1))
		if err != nil {
			return nil, fmt.Errorf("cannot read %s: %v", p, err)
		}
		if len(data) > maxDocBytes {
			return nil, fmt.Errorf("%s is larger than %d MiB", p, maxDocBytes>>20)
		}
		return data, nil
	}
	return nil, fmt.Errorf("cannot read %s: only files and http(s) URLs are supported", u)
}

// load reads spec (a path or an http(s) URL) and returns it as OpenAPI 3.
func load(ctx context.Context, spec string, client *http.Client) (*loaded, error) {
	src := &source{ctx: ctx, client: client}
	var loc *url.URL
	if isURL(spec) {
		u, err := url.Parse(spec)
		if err != nil || u.Host == "" {
			return nil, errorf("%s is not a valid URL", spec)
		}
		loc, src.remoteOnly = u, true
	} else {
		abs, err := filepath.Abs(spec)
		if err != nil {
			return nil, errorf("%s: %v", spec, err)
		}
		loc = &url.URL{Path: filepath.ToSlash(abs)}
	}
	data, err := src.read(loc)
	if err != nil {
		return nil, &Error{err.Error()}
	}
	return parse(data, spec, loc, src)
}

// parseData turns a document given as bytes into OpenAPI 3; it refuses
// external references.
func parseData(ctx context.Context, data []byte, name string) (*loaded, error) {
	return parse(data, name, nil, &source{ctx: ctx, noExternal: true})
}

func parse(data []byte, name string, loc *url.URL, src *source) (l *loaded, err error) {
	defer func() {
		// The parser is third-party code fed untrusted input: a crash in it is
		// a document we cannot read, never a crash of switchboard.
		if r := recover(); r != nil {
			l, err = nil, errorf("%s cannot be read as an OpenAPI document (the parser failed: %v)", name, r)
		}
	}()
	isJSON := looksJSON(data)
	var root map[string]any
	var paths []string
	var top any
	if isJSON {
		// encoding/json is many times faster than a YAML parser on the
		// multi-megabyte documents vendors publish.
		var raw map[string]json.RawMessage
		if err := json.Unmarshal(data, &raw); err != nil {
			return nil, jsonError(name, data, err)
		}
		root = map[string]any{}
		for k, v := range raw {
			var s any
			if k == "openapi" || k == "swagger" {
				_ = json.Unmarshal(v, &s)
			}
			root[k] = s
		}
		paths = jsonKeys(raw["paths"])
	} else {
		if err := yaml.UnmarshalWithOptions(data, &top, yaml.UseOrderedMap()); err != nil {
			return nil, syntaxError(name, err)
		}
		var ok bool
		if root, ok = asMap(top); !ok {
			return nil, errorf("%s is not an OpenAPI document: it is not a JSON or YAML object", name)
		}
		if ps, ok := root["paths"].(yaml.MapSlice); ok {
			for _, it := range ps {
				paths = append(paths, fmt.Sprint(it.Key))
			}
		}
	}
	version := ""
	if v, ok := root["openapi"]; ok {
		version = fmt.Sprint(v)
		if !strings.HasPrefix(version, "3.") {
			return nil, errorf("%s: OpenAPI version %q is not supported (want 3.0, 3.1 or Swagger 2.0)", name, version)
		}
	} else if v, ok := root["swagger"]; ok {
		version = fmt.Sprint(v)
		if version != "2.0" {
			return nil, errorf("%s: Swagger version %q is not supported (want 2.0)", name, version)
		}
	} else {
		return nil, errorf("%s is not an OpenAPI document: it has neither an \"openapi\" nor a \"swagger\" key at the top", name)
	}

	loader := openapi3.NewLoader()
	loader.Context = src.ctx
	loader.IsExternalRefsAllowed = !src.noExternal
	loader.ReadFromURIFunc = func(_ *openapi3.Loader, u *url.URL) ([]byte, error) { return src.read(u) }
	var doc *openapi3.T
	if version == "2.0" {
		// The 2.0 decoder reads JSON; YAML is turned into JSON first.
		js := data
		if !isJSON {
			if js, err = json.Marshal(jsonable(top)); err != nil {
				return nil, errorf("%s cannot be read: %v", name, err)
			}
		}
		var d2 openapi2.T
		if err := json.Unmarshal(js, &d2); err != nil {
			return nil, errorf("%s is not a valid Swagger 2.0 document: %v", name, err)
		}
		doc, err = openapi2conv.ToV3WithLoader(&d2, loader, loc)
		if err != nil {
			return nil, refError(name, err)
		}
	} else {
		var fast openapi3.T
		switch {
		case isJSON && json.Unmarshal(data, &fast) == nil:
			// The fast path for JSON, which the loader would parse as YAML;
			// a document it cannot decode goes to the loader, whose error
			// names the JSON pointer.
			doc = &fast
			err = loader.ResolveRefsIn(doc, loc)
		case loc != nil:
			doc, err = loader.LoadFromDataWithPath(data, loc)
		default:
			doc, err = loader.LoadFromData(data)
		}
		if err != nil {
			return nil, refError(name, err)
		}
	}
	return &loaded{doc: doc, version: version, location: loc, paths: paths}, nil
}

// asMap returns the keys of a decoded YAML/JSON object.
func asMap(v any) (map[string]any, bool) {
	switch m := v.(type) {
	case yaml.MapSlice:
		out := make(map[string]any, len(m))
		for _, it := range m {
			out[fmt.Sprint(it.Key)] = it.Value
		}
		return out, true
	case map[string]any:
		return m, true
	}
	return nil, false
}

// jsonable turns decoded YAML (ordered maps, non-string keys) into values
// encoding/json can write, keeping the order of keys.
func jsonable(v any) any {
	switch x := v.(type) {
	case yaml.MapSlice:
		m := make(orderedJSON, 0, len(x))
		for _, it := range x {
			m = append(m, kv{fmt.Sprint(it.Key), jsonable(it.Value)})
		}
		return m
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[k] = jsonable(e)
		}
		return m
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = jsonable(e)
		}
		return out
	}
	return v
}

type kv struct {
	k string
	v any
}

type orderedJSON []kv

func (o orderedJSON) MarshalJSON() ([]byte, error) {
	var b strings.Builder
	b.WriteByte('{')
	for i, e := range o {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(e.k)
		b.Write(k)
		b.WriteByte(':')
		v, err := json.Marshal(e.v)
		if err != nil {
			return nil, err
		}
		b.Write(v)
	}
	b.WriteByte('}')
	return []byte(b.String()), nil
}

type tokenError interface {
	GetToken() *token.Token
	GetMessage() string
}

func looksJSON(data []byte) bool {
	t := bytes.TrimLeft(data, " \t\r\n\ufeff")
	return len(t) > 0 && (t[0] == '{' || t[0] == '[')
}

// jsonKeys lists an object's keys in order; nil when raw is not an object.
func jsonKeys(raw json.RawMessage) []string {
	if len(raw) == 0 {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil
	}
	var keys []string
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return keys
		}
		k, _ := t.(string)
		keys = append(keys, k)
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return keys
		}
	}
	return keys
}

// jsonError names the line and column of broken JSON.
func jsonError(name string, data []byte, err error) error {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		line, col := lineCol(data, int(se.Offset))
		return errorf("%s is not valid JSON: line %d, column %d: %v", name, line, col, se)
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return errorf("%s is not an OpenAPI document: it is not a JSON object", name)
	}
	return errorf("%s is not valid JSON: %v", name, err)
}

func lineCol(data []byte, off int) (int, int) {
	off = min(max(off, 0), len(data))
	before := data[:off]
	line := bytes.Count(before, []byte{'\n'}) + 1
	col := off - bytes.LastIndexByte(before, '\n')
	return line, col
}

// syntaxError names the line of broken YAML.
func syntaxError(name string, err error) error {
	kind := "YAML"
	var te tokenError
	if errors.As(err, &te) && te.GetToken() != nil && te.GetToken().Position != nil {
		p := te.GetToken().Position
		return errorf("%s is not valid %s: line %d, column %d: %s", name, kind, p.Line, p.Column, te.GetMessage())
	}
	msg := err.Error()
	if i := strings.IndexByte(msg, '\n'); i >= 0 {
		msg = msg[:i]
	}
	return errorf("%s is not valid %s: %s", name, kind, msg)
}

// refError words a loader failure (most often a $ref that cannot be
// resolved) as one sentence naming the document.
func refError(name string, err error) error {
	msg := strings.Join(strings.Fields(err.Error()), " ")
	if len(msg) > 400 {
		msg = msg[:400] + "…"
	}
	return errorf("%s cannot be loaded: %s", name, msg)
}
