package configs

import (
	"errors"
	"fmt"
	"net/url"
	"path"
	"reflect"
	"regexp"
	"strings"
	"text/template"
	"text/template/parse"

	"github.com/go-playground/validator/v10"
	"github.com/itchyny/gojq"

	"github.com/switchboard-dev/switchboard/internal/secrets"
)

var (
	integrationName = regexp.MustCompile(`^[a-z0-9_]+$`)
	// ExposedName is the rule most LLM APIs enforce on tool names.
	ExposedName = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,64}$`)
	placeholder = regexp.MustCompile(`\{([^{}]*)\}`)
	headerToken = regexp.MustCompile("^[!#$%&'*+\\-.^_`|~0-9A-Za-z]+$")
)

func newStructValidator() *validator.Validate {
	v := validator.New(validator.WithRequiredStructEnabled())
	v.RegisterTagNameFunc(func(f reflect.StructField) string { return yamlName(f) })
	return v
}

// checker collects problems with their lines.
type checker struct {
	idx      lineIndex
	problems []Problem
	// tags checks validate: tags; one per Parse, so each tag is compiled
	// once however many params use it.
	tags *validator.Validate
}

func (c *checker) add(p string, format string, args ...any) {
	c.problems = append(c.problems, Problem{Path: p, Line: c.idx.line(p), Message: fmt.Sprintf(format, args...)})
}

func validate(cfg *Config, idx lineIndex) []Problem {
	c := &checker{idx: idx, tags: validator.New()}
	if err := newStructValidator().Struct(cfg); err != nil {
		var verrs validator.ValidationErrors
		if errors.As(err, &verrs) {
			for _, fe := range verrs {
				p := strings.TrimPrefix(fe.Namespace(), "Config.")
				p = strings.ReplaceAll(p, ".List[", "[")
				c.add(p, "%s", tagMessage(fe))
			}
		} else {
			c.add("", "%v", err)
		}
	}
	c.checkServer(cfg)
	c.checkCallHeaders(cfg)
	c.checkPolicy(cfg)
	c.checkState(cfg)
	c.checkIntegrations(cfg)
	return c.problems
}

func tagMessage(fe validator.FieldError) string {
	switch fe.Tag() {
	case "required":
		return "is required"
	case "oneof":
		return fmt.Sprintf("%v is not one of: %s", fe.Value(), strings.ReplaceAll(fe.Param(), " ", ", "))
	case "min":
		return fmt.Sprintf("needs at least %s entr(ies)", fe.Param())
	case "gte":
		return fmt.Sprintf("must not be negative (got %v)", fe.Value())
	case "gt":
		return fmt.Sprintf("must be greater than %s (got %v)", fe.Param(), fe.Value())
	case "url":
		return fmt.Sprintf("%q is not a URL", fe.Value())
	case "hostname_port":
		return fmt.Sprintf("%q is not host:port", fe.Value())
	case "startswith":
		return fmt.Sprintf("%q must start with %q", fe.Value(), fe.Param())
	case "excludesall":
		return "must not contain spaces"
	}
	return fmt.Sprintf("fails %q", fe.Tag())
}

// checkSecretRef reports a value that must be a secret reference but is not
// one, or is a malformed one.
func (c *checker) checkSecretRef(p, v string) {
	if !secrets.IsRef(v) {
		c.add(p, "must be a secret reference (vault:<mount>/<path>#<field>, env:<NAME> or file:<path>), never a literal secret")
		return
	}
	if _, err := secrets.ParseRef(v); err != nil {
		c.add(p, "%v", err)
	}
}

// checkMaybeRef reports a malformed reference in a value that may be literal.
func (c *checker) checkMaybeRef(p, v string) {
	if secrets.IsRef(v) {
		if _, err := secrets.ParseRef(v); err != nil {
			c.add(p, "%v", err)
		}
	}
}

func (c *checker) checkServer(cfg *Config) {
	ids := map[string]bool{}
	names := map[string]bool{}
	for _, in := range cfg.Integrations {
		names[in.Name] = true
	}
	for i, cl := range cfg.Server.Clients {
		p := fmt.Sprintf("server.clients[%d]", i)
		if ids[cl.ID] {
			c.add(p+".id", "client id %q is used twice", cl.ID)
		}
		ids[cl.ID] = true
		if cl.Key != "" {
			c.checkSecretRef(p+".key", cl.Key)
		}
		for j, n := range cl.Integrations {
			if !names[n] {
				c.add(fmt.Sprintf("%s.integrations[%d]", p, j), "no integration is named %q", n)
			}
		}
	}
}

func (c *checker) checkPolicy(cfg *Config) {
	if k := cfg.Policy.Confirmation.Key; k != "" {
		c.checkSecretRef("policy.confirmation.key", k)
	}
	for i, r := range cfg.Policy.Rules {
		for j, g := range r.Tools {
			if _, err := path.Match(g, ""); err != nil {
				c.add(fmt.Sprintf("policy.rules[%d].tools[%d]", i, j), "bad glob %q: %v", g, err)
			}
		}
	}
	if cfg.Vault != nil {
		a := cfg.Vault.Auth
		switch a.Method {
		case "approle":
			if a.RoleID == "" || a.SecretIDFile == "" {
				c.add("vault.auth", "approle needs role_id and secret_id_file")
			}
		case "kubernetes":
			if a.Role == "" {
				c.add("vault.auth.role", "kubernetes auth needs a role")
			}
		}
	}
}

func (c *checker) checkState(cfg *Config) {
	st := cfg.State
	if st.Backend != "redis" {
		if st.Redis != (RedisState{}) {
			c.add("state.redis", "is used only with backend: redis")
		}
		return
	}
	if st.Redis.URL == "" {
		c.add("state.redis.url", "is required with backend: redis (redis://host:6379/0, or rediss:// for TLS)")
	} else if u, err := url.Parse(st.Redis.URL); err != nil || (u.Scheme != "redis" && u.Scheme != "rediss") || u.Host == "" {
		c.add("state.redis.url", "%q is not a redis:// or rediss:// URL", redactURL(st.Redis.URL))
	}
	if st.Redis.Password != "" {
		c.checkSecretRef("state.redis.password", st.Redis.Password)
	}
	// Replicas accept each other's confirmations and sessions only when they
	// sign them with one key.
	if cfg.Policy.Confirmation.Key == "" {
		c.add("state.backend", "backend: redis needs policy.confirmation.key, the key the replicas share to sign confirmations and sessions")
	}
}

// redactURL hides a password written in a URL, so that an error never shows it.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.User == nil {
		if i := strings.LastIndex(s, "@"); i >= 0 {
			return "…" + s[i:]
		}
		return s
	}
	return u.Redacted()
}

func (c *checker) checkIntegrations(cfg *Config) {
	seen := map[string]int{}
	exposed := map[string]string{}
	for i, in := range cfg.Integrations {
		p := fmt.Sprintf("integrations[%d]", i)
		if in.Name != "" && !integrationName.MatchString(in.Name) {
			c.add(p+".name", "%q must match [a-z0-9_]+", in.Name)
		}
		if j, dup := seen[in.Name]; dup && in.Name != "" {
			c.add(p+".name", "integration %q is already defined at integrations[%d]", in.Name, j)
		}
		seen[in.Name] = i
		for k, v := range in.Headers {
			if !headerToken.MatchString(k) {
				c.add(p+".headers."+k, "%q is not a valid header name", k)
			}
			if strings.ContainsAny(v, "\r\n") {
				c.add(p+".headers."+k, "a header value must not contain a line break")
			}
			c.checkMaybeRef(p+".headers."+k, v)
		}
		c.checkAuth(p+".auth", in.Auth)
		c.checkSpeech(p+".speech", in.Speech)
		switch in.Type {
		case "http":
			c.checkHTTP(p, in, exposed)
		case "mcp":
			c.checkMCP(p, in)
		}
	}
}

func (c *checker) checkAuth(p string, a Auth) {
	switch a.Type {
	case "", "none":
		if a.Secret != "" {
			c.add(p+".secret", "a secret needs an auth type (bearer, header, query or basic)")
		}
		return
	case "header":
		if a.Header == "" {
			c.add(p+".header", "auth type header needs the header name")
		} else if !headerToken.MatchString(a.Header) {
			c.add(p+".header", "%q is not a valid header name", a.Header)
		}
	case "query":
		if a.Param == "" {
			c.add(p+".param", "auth type query needs the query parameter name")
		}
	case "basic":
		if a.Username == "" {
			c.add(p+".username", "auth type basic needs a username")
		}
	}
	if a.Secret == "" {
		c.add(p+".secret", "auth type %s needs a secret reference", a.Type)
		return
	}
	c.checkSecretRef(p+".secret", a.Secret)
}

func (c *checker) checkMCP(p string, in Integration) {
	if (in.URL == "") == (len(in.Command) == 0) {
		c.add(p, "an mcp integration needs exactly one of url or command")
	}
	if in.URL != "" {
		if u, err := url.Parse(in.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			c.add(p+".url", "%q is not an http(s) URL", in.URL)
		}
	}
	if in.Transport == "stdio" && len(in.Command) == 0 {
		c.add(p+".transport", "transport stdio needs a command")
	}
	for k, v := range in.Env {
		c.checkMaybeRef(p+".env."+k, v)
	}
	if in.BaseURL != "" {
		c.add(p+".base_url", "base_url is for http integrations; an mcp integration uses url or command")
	}
	if in.Response != nil && in.Response.MaxBytes < 0 {
		c.add(p+".response.max_bytes", "must not be negative")
	}
	if len(in.Tools.List) > 0 {
		c.add(p+".tools", "an mcp integration's tools are discovered: use include/exclude/confirm globs, not a list")
	}
	if f := in.Tools.Filter; f != nil {
		for _, list := range [][]string{f.Include, f.Exclude, f.Confirm} {
			for _, g := range list {
				if _, err := path.Match(g, ""); err != nil {
					c.add(p+".tools", "bad glob %q: %v", g, err)
				}
			}
		}
	}
}

func (c *checker) checkHTTP(p string, in Integration, exposed map[string]string) {
	if in.BaseURL == "" {
		c.add(p+".base_url", "is required for an http integration")
	} else if u, err := url.Parse(in.BaseURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		c.add(p+".base_url", "%q is not an http(s) URL", in.BaseURL)
	} else if u.User != nil {
		c.add(p+".base_url", "must not carry credentials; use auth")
	}
	if in.URL != "" || len(in.Command) > 0 {
		c.add(p, "url and command are for mcp integrations")
	}
	if in.Response != nil {
		c.add(p+".response", "an http integration sets response on each tool")
	}
	if in.Tools.Filter != nil {
		c.add(p+".tools", "an http integration lists its tools (- name: ...)")
	}
	if len(in.Tools.List) == 0 && in.Tools.Filter == nil {
		c.add(p+".tools", "an http integration needs at least one tool")
	}
	names := map[string]bool{}
	for j, t := range in.Tools.List {
		tp := fmt.Sprintf("%s.tools[%d]", p, j)
		if t.Name == "" {
			continue
		}
		if names[t.Name] {
			c.add(tp+".name", "tool %q is defined twice in %s", t.Name, in.Name)
		}
		names[t.Name] = true
		full := in.Name + "_" + t.Name
		if !ExposedName.MatchString(full) {
			c.add(tp+".name", "exposed name %q must match ^[a-zA-Z0-9_-]{1,64}$", full)
		}
		if other, dup := exposed[full]; dup {
			c.add(tp+".name", "exposed name %q is also the name of %s", full, other)
		}
		exposed[full] = tp
		c.checkTool(tp, &in.Tools.List[j])
	}
}

func (c *checker) checkTool(p string, t *Tool) {
	params := map[string]Param{}
	for k, prm := range t.Params {
		pp := fmt.Sprintf("%s.params[%d]", p, k)
		if prm.Name == "" {
			c.add(pp+".name", "is required")
		}
		if _, dup := params[prm.Name]; dup {
			c.add(pp+".name", "parameter %q is defined twice", prm.Name)
		}
		params[prm.Name] = prm
		if prm.Name == "confirmation_token" {
			c.add(pp+".name", "confirmation_token is reserved for confirmations")
		}
		if prm.In == "header" && !headerToken.MatchString(prm.Name) {
			c.add(pp+".name", "%q is not a valid header name", prm.Name)
		}
		if prm.In == "path" && prm.Type != "" && prm.Type != "string" && prm.Type != "integer" && prm.Type != "number" {
			c.add(pp+".type", "a path parameter must be a string or a number")
		}
		if prm.In == "path" && !prm.Required && prm.Default == nil && prm.Value == nil && prm.ValueFrom == "" {
			c.add(pp+".required", "a path parameter must be required (or have a default or a fixed value)")
		}
		if (prm.In == "query" || prm.In == "header" || prm.In == "path") && (prm.Type == "object") {
			c.add(pp+".type", "an object parameter can only go in the body")
		}
		c.checkParam(pp, prm)
		c.checkValueFrom(pp, prm, true)
		if prm.Name == "call" && t.Confirm != nil {
			c.add(pp+".name", "a tool with a confirm message cannot have a param named call: {{.call.<name>}} is the call context")
		}
	}
	c.checkSpeech(p+".speech", t.Speech)
	if t.Dedupe != nil {
		c.checkDedupe(p+".dedupe", *t.Dedupe, t.Method == "GET")
	}
	if rest := placeholder.ReplaceAllString(t.Path, ""); strings.ContainsAny(rest, "{}?#") {
		c.add(p+".path", "%q has an unbalanced { or }, or a ? or #: put query values in params with in: query", t.Path)
	}
	for _, m := range placeholder.FindAllStringSubmatch(t.Path, -1) {
		prm, ok := params[m[1]]
		if !ok || prm.In != "path" {
			c.add(p+".path", "placeholder {%s} has no parameter with in: path", m[1])
		}
	}
	for name, prm := range params {
		if prm.In == "path" && !strings.Contains(t.Path, "{"+name+"}") {
			c.add(p+".path", "parameter %q is in: path but the path has no {%s}", name, name)
		}
	}
	if t.Response.JQ != "" {
		code, err := CompileJQ(t.Response.JQ)
		if err != nil {
			c.add(p+".response.jq", "%v", err)
		}
		t.Response.code = code
	}
	if t.Confirm != nil && t.Confirm.Message != "" {
		c.checkConfirmTemplate(p+".confirm.message", t.Confirm.Message, params)
	}
}

func (c *checker) checkParam(p string, prm Param) {
	typ := prm.Type
	if typ == "" {
		typ = "string"
	}
	if len(prm.Properties) > 0 && typ != "object" {
		c.add(p+".properties", "properties need type: object")
	}
	if prm.Items != nil && typ != "array" {
		c.add(p+".items", "items need type: array")
	}
	if prm.Validate != "" {
		if err := checkValidateTag(c.tags, prm.Validate, typ); err != nil {
			c.add(p+".validate", "%v", err)
		}
	}
	for k, e := range prm.Enum {
		if !MatchesType(e, typ) {
			c.add(fmt.Sprintf("%s.enum[%d]", p, k), "%v is not of type %s", e, typ)
		}
	}
	if prm.Default != nil {
		if !MatchesType(prm.Default, typ) {
			c.add(p+".default", "%v is not of type %s", prm.Default, typ)
		} else if len(prm.Enum) > 0 && !enumContains(prm.Enum, prm.Default) {
			c.add(p+".default", "%v is not one of the enum values", prm.Default)
		}
	}
	if prm.Value != nil && !MatchesType(prm.Value, typ) {
		c.add(p+".value", "%v is not of type %s", prm.Value, typ)
	}
	names := map[string]bool{}
	for k, sub := range prm.Properties {
		sp := fmt.Sprintf("%s.properties[%d]", p, k)
		c.checkValueFrom(sp, sub, false)
		if sub.Name == "" {
			c.add(sp+".name", "is required")
		}
		if sub.In != "" {
			c.add(sp+".in", "a property is placed inside its object; it takes no in:")
		}
		if names[sub.Name] {
			c.add(sp+".name", "property %q is defined twice", sub.Name)
		}
		names[sub.Name] = true
		c.checkParam(sp, sub)
	}
	if prm.Items != nil {
		if prm.Items.In != "" || prm.Items.Name != "" {
			c.add(p+".items", "items describe each element: they take no name or in:")
		}
		c.checkValueFrom(p+".items", *prm.Items, false)
		c.checkParam(p+".items", *prm.Items)
	}
}

// checkValidateTag compiles a validator tag against a value of the param's
// type (gte=0.5 is a bound for a number, a length for a string); validator
// panics on a bad one.
func checkValidateTag(v *validator.Validate, tag, typ string) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("bad validate tag %q: %v", tag, r)
		}
	}()
	var zero any = ""
	switch typ {
	case "number":
		zero = float64(0)
	case "integer":
		zero = int64(0)
	case "boolean":
		zero = false
	case "object":
		zero = map[string]any{}
	case "array":
		zero = []any{}
	}
	_ = v.Var(zero, tag)
	return nil
}

func enumContains(enum []any, v any) bool {
	for _, e := range enum {
		if fmt.Sprint(e) == fmt.Sprint(v) {
			return true
		}
	}
	return false
}

// MatchesType reports whether a YAML- or JSON-decoded value fits a param type.
func MatchesType(v any, typ string) bool {
	switch typ {
	case "", "string":
		_, ok := v.(string)
		return ok
	case "boolean":
		_, ok := v.(bool)
		return ok
	case "integer":
		switch n := v.(type) {
		case int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64:
			return true
		case float64:
			return n == float64(int64(n))
		}
		return false
	case "number":
		switch v.(type) {
		case int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64, float32, float64:
			return true
		}
		return false
	case "object":
		_, ok := v.(map[string]any)
		return ok
	case "array":
		_, ok := v.([]any)
		return ok
	}
	return false
}

// CompileJQ parses and compiles a response.jq program.
func CompileJQ(src string) (*gojq.Code, error) {
	q, err := gojq.Parse(src)
	if err != nil {
		return nil, fmt.Errorf("jq: %v", err)
	}
	code, err := gojq.Compile(q)
	if err != nil {
		return nil, fmt.Errorf("jq: %v", err)
	}
	return code, nil
}

// ParseConfirmTemplate parses a confirm message. A key that is not in the
// arguments is an error at execution instead of "<no value>" on the phone.
func ParseConfirmTemplate(msg string) (*template.Template, error) {
	return template.New("confirm").Option("missingkey=error").Parse(msg)
}

func (c *checker) checkConfirmTemplate(p, msg string, params map[string]Param) {
	tmpl, err := ParseConfirmTemplate(msg)
	if err != nil {
		c.add(p, "bad template: %v", err)
		return
	}
	for _, field := range templateFields(tmpl.Root) {
		key := field[0]
		if key == "call" {
			c.checkTemplateCall(p, field)
			continue
		}
		prm, ok := params[key]
		if ok && prm.ValueFrom != "" {
			c.add(p, "the message uses {{.%s}}, which is filled from the call: write {{.%s}}", key, prm.ValueFrom)
			continue
		}
		if !ok {
			c.add(p, "the message uses {{.%s}} but the tool has no parameter %q", key, key)
			continue
		}
		if !prm.Required && prm.Default == nil && prm.Value == nil {
			c.add(p, "the message uses {{.%s}} but %q is optional with no default: make it required or give it a default", key, key)
		}
	}
}

// templateFields lists the .field chains a template reads (.a.b is [a b]).
func templateFields(n parse.Node) [][]string {
	var out [][]string
	var walk func(parse.Node)
	walk = func(n parse.Node) {
		switch x := n.(type) {
		case *parse.ListNode:
			if x == nil {
				return
			}
			for _, c := range x.Nodes {
				walk(c)
			}
		case *parse.ActionNode:
			walk(x.Pipe)
		case *parse.PipeNode:
			if x == nil {
				return
			}
			for _, cmd := range x.Cmds {
				walk(cmd)
			}
		case *parse.CommandNode:
			for _, a := range x.Args {
				walk(a)
			}
		case *parse.FieldNode:
			out = append(out, x.Ident)
		case *parse.IfNode:
			walk(x.Pipe)
			walk(x.List)
			walk(x.ElseList)
		case *parse.RangeNode:
			walk(x.Pipe)
		case *parse.WithNode:
			walk(x.Pipe)
		}
	}
	walk(n)
	return out
}
