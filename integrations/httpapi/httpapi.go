// Package httpapi turns a declarative REST integration (type: http) into
// MCP tools: a JSON Schema of each tool's params, argument checks before any
// request leaves, the request itself, and the shaping of the reply.
package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"

	"github.com/go-playground/validator/v10"
	"github.com/itchyny/gojq"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/switchboard-dev/switchboard/configs"
	"github.com/switchboard-dev/switchboard/integrations"
	"github.com/switchboard-dev/switchboard/internal/secrets"
)

// Secrets reads a secret at call time; references are parsed at load.
type Secrets interface {
	Resolve(ctx context.Context, ref secrets.Ref) (string, error)
}

// Deps are what the tools need from the outside.
type Deps struct {
	Secrets   Secrets
	Client    *http.Client // shared, so connections to an upstream are reused
	Validate  *validator.Validate
	UserAgent string
	Logger    *slog.Logger
}

// NewClient returns an HTTP client tuned for many short calls to a few hosts.
// It has no overall timeout: each call sets its own through its context.
func NewClient() *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns = 256
	tr.MaxIdleConnsPerHost = 64
	return &http.Client{
		Transport: tr,
		// A redirect could carry credentials to another host; APIs answer directly.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

type tool struct {
	name      string
	integ     configs.Integration
	cfg       configs.Tool
	params    []configs.Param
	base      *url.URL
	basePath  string    // the base URL's escaped path, without a trailing /
	path      []segment // the tool's path template, compiled
	headers   []header
	authRef   *secrets.Ref // nil for auth type none
	schema    *lazySchema
	jq        *gojq.Code
	validate  *validator.Validate
	secrets   Secrets
	client    *http.Client
	userAgent string
	log       *slog.Logger
}

// New builds the tools of one http integration from its checked config.
func New(in configs.Integration, deps Deps) ([]*integrations.Tool, error) {
	base, err := url.Parse(in.BaseURL)
	if err != nil {
		return nil, fmt.Errorf("integration %s: base_url: %w", in.Name, err)
	}
	if deps.Client == nil {
		deps.Client = NewClient()
	}
	if deps.Secrets == nil {
		deps.Secrets = secrets.NewResolver(nil)
	}
	if deps.Validate == nil {
		deps.Validate = validator.New()
	}
	if deps.Logger == nil {
		deps.Logger = slog.New(slog.DiscardHandler)
	}
	headers, err := compileHeaders(in.Headers)
	if err != nil {
		return nil, fmt.Errorf("integration %s: %w", in.Name, err)
	}
	var authRef *secrets.Ref
	if in.Auth.Type != "none" && in.Auth.Type != "" {
		ref, err := secrets.ParseRef(in.Auth.Secret)
		if err != nil {
			return nil, fmt.Errorf("integration %s: auth.secret: %w", in.Name, err)
		}
		authRef = &ref
	}
	var out []*integrations.Tool
	for _, tc := range in.Tools.List {
		path, err := compilePath(tc.Path)
		if err != nil {
			return nil, fmt.Errorf("integration %s: tool %s: %w", in.Name, tc.Name, err)
		}
		t := &tool{
			name:      in.Name + "_" + tc.Name,
			integ:     in,
			cfg:       tc,
			params:    tc.Params,
			base:      base,
			basePath:  strings.TrimSuffix(base.EscapedPath(), "/"),
			path:      path,
			headers:   headers,
			authRef:   authRef,
			validate:  deps.Validate,
			secrets:   deps.Secrets,
			client:    deps.Client,
			userAgent: deps.UserAgent,
			log:       deps.Logger,
		}
		if t.userAgent == "" {
			t.userAgent = "switchboard"
		}
		raw, err := json.Marshal(inputSchema(tc.Params))
		if err != nil {
			return nil, fmt.Errorf("tool %s: schema: %w", t.name, err)
		}
		t.schema = &lazySchema{name: t.name, raw: raw}
		if t.jq = tc.Response.Program(); t.jq == nil && tc.Response.JQ != "" {
			if t.jq, err = configs.CompileJQ(tc.Response.JQ); err != nil {
				return nil, fmt.Errorf("tool %s: %w", t.name, err)
			}
		}
		def := mcp.NewToolWithRawSchema(t.name, tc.Description, raw)
		readOnly := tc.Method == http.MethodGet
		destructive := tc.Method == http.MethodDelete || tc.Confirm != nil
		def.Annotations = mcp.ToolAnnotation{OpenWorldHint: mcp.ToBoolPtr(true)}
		if readOnly && !destructive {
			def.Annotations.ReadOnlyHint = mcp.ToBoolPtr(true)
		} else {
			def.Annotations.ReadOnlyHint = mcp.ToBoolPtr(false)
			def.Annotations.DestructiveHint = mcp.ToBoolPtr(destructive)
		}
		it := &integrations.Tool{
			Definition:  def,
			Integration: in.Name,
			ReadOnly:    readOnly,
			Handler:     t,
		}
		if tc.Confirm != nil {
			if it.Confirm, err = configs.ParseConfirmTemplate(tc.Confirm.Message); err != nil {
				return nil, fmt.Errorf("tool %s: confirm: %w", t.name, err)
			}
		}
		for _, p := range tc.Params {
			if p.Sensitive {
				it.Sensitive = append(it.Sensitive, p.Name)
			}
		}
		it.Speech = integrations.SpeechFrom(configs.ToolSpeech(in, &tc))
		if !readOnly {
			it.Dedupe = configs.ToolDedupe(in, &tc)
		}
		out = append(out, it)
	}
	return out, nil
}

// Call validates the arguments, sends the request and shapes the reply.
func (t *tool) Call(ctx context.Context, c *integrations.Call) (*mcp.CallToolResult, error) {
	args, err := t.callArgs(c)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, t.cfg.Timeout)
	defer cancel()
	httpReq, used, err := t.buildRequest(ctx, args, c.IdempotencyKey)
	if err != nil {
		var ie *integrations.Error
		if errors.As(err, &ie) {
			return nil, err
		}
		return nil, integrations.SecretError(t.integ.Name, err)
	}
	resp, err := t.client.Do(httpReq)
	if err != nil {
		return nil, t.transportError(ctx, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, t.statusError(resp, used)
	}
	return t.readReply(ctx, resp, used)
}

// typed copies the model's arguments into the values the schema and the
// validate tags check: each json.Number becomes an int64 when it is one
// (every digit kept), else a float64; and an integer sent for a string param
// becomes its decimal text, as models (and MCP Inspector's --tool-arg) send
// order_id: 100234 for a string id. The other way, a string for a number,
// is never coerced.
func typed(params []configs.Param, args map[string]any) map[string]any {
	byName := make(map[string]*configs.Param, len(params))
	for i := range params {
		byName[params[i].Name] = &params[i]
	}
	out := make(map[string]any, len(args))
	for k, v := range args {
		out[k] = typedValue(byName[k], v)
	}
	return out
}

func typedValue(p *configs.Param, v any) any {
	switch x := v.(type) {
	case json.Number:
		if p != nil && p.Type == "string" && isInteger(string(x)) {
			return string(x)
		}
		if i, err := x.Int64(); err == nil {
			return i
		}
		f, _ := x.Float64()
		return f
	case map[string]any:
		if p != nil {
			return typed(p.Properties, x)
		}
		return typed(nil, x)
	case []any:
		var item *configs.Param
		if p != nil {
			item = p.Items
		}
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = typedValue(item, e)
		}
		return out
	}
	return v
}

// isInteger: an optional minus and digits, nothing else (no fraction, no
// exponent: 1e3 is not the text an API expects for an id).
func isInteger(s string) bool {
	s = strings.TrimPrefix(s, "-")
	if s == "" {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// ValidateArgs checks arguments as Call does and sends nothing; policy uses
// it so that a caller is never asked to confirm a call that would be refused.
func (t *tool) ValidateArgs(c *integrations.Call) error {
	_, err := t.callArgs(c)
	return err
}

// callArgs checks the model's arguments, then fills the value_from params
// from the call context: what the request will carry.
func (t *tool) callArgs(c *integrations.Call) (map[string]any, error) {
	args, problems := t.checkArgs(typed(t.params, c.Args))
	if problems != nil {
		return nil, integrations.InvalidArgs(t.name, problems)
	}
	return t.fromCall(args, c.Context)
}

// transportError explains a failed exchange without the URL, which may hold
// a credential in its query.
func (t *tool) transportError(ctx context.Context, err error) error {
	var uerr *url.Error
	if errors.As(err, &uerr) {
		err = uerr.Err
	}
	detail := fmt.Errorf("%s %s: %w", t.cfg.Method, t.cfg.Path, err)
	var nerr net.Error
	switch {
	case errors.Is(ctx.Err(), context.DeadlineExceeded) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded) || (errors.As(err, &nerr) && nerr.Timeout()):
		return integrations.Timeout(t.integ.Name, t.cfg.Timeout, detail)
	case errors.Is(err, context.Canceled):
		return integrations.Cancelled(t.integ.Name, detail)
	}
	return integrations.Unreachable(t.integ.Name, detail)
}

var _ integrations.ArgsValidator = (*tool)(nil)
