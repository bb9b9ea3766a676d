package httpapi

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/switchboard-dev/switchboard/integrations"
	"github.com/switchboard-dev/switchboard/internal/secrets"
)

// segment is one piece of a compiled path template: literal text, or the
// name of the param whose value goes there.
type segment struct {
	lit   string
	param string
}

// compilePath splits a checked path template into segments once, at load.
func compilePath(path string) ([]segment, error) {
	var out []segment
	rest := path
	for {
		i := strings.IndexByte(rest, '{')
		if i < 0 {
			if rest != "" {
				out = append(out, segment{lit: rest})
			}
			return out, nil
		}
		j := strings.IndexByte(rest[i:], '}') + i
		if j < i {
			return nil, fmt.Errorf("path %q: unbalanced {", path)
		}
		if i > 0 {
			out = append(out, segment{lit: rest[:i]})
		}
		out = append(out, segment{param: rest[i+1 : j]})
		rest = rest[j+1:]
	}
}

// header is an integration header: a literal value, or a secret reference
// read at call time.
type header struct {
	name, value string
	ref         *secrets.Ref
}

// compileHeaders parses the integration's header values once, at load.
func compileHeaders(h map[string]string) ([]header, error) {
	out := make([]header, 0, len(h))
	for k, v := range h {
		hd := header{name: k, value: v}
		if secrets.IsRef(v) {
			ref, err := secrets.ParseRef(v)
			if err != nil {
				return nil, fmt.Errorf("header %s: %w", k, err)
			}
			hd.ref = &ref
		}
		out = append(out, hd)
	}
	return out, nil
}

// buildRequest maps checked arguments onto an HTTP request. Path and query
// values are escaped, so no argument can add a path segment, a query key, a
// header or a body field. It returns the secret values it used, so that the
// caller can scrub them from anything the upstream echoes back.
func (t *tool) buildRequest(ctx context.Context, args map[string]any, idempotencyKey string) (*http.Request, *secrets.Redactor, error) {
	used := &secrets.Redactor{}
	reveal := func(ref secrets.Ref) (string, error) {
		v, err := t.secrets.Resolve(ctx, ref)
		if err == nil {
			used.Add(v)
		}
		return v, err
	}

	var escPath strings.Builder
	escPath.WriteString(t.basePath)
	for _, s := range t.path {
		if s.param == "" {
			escPath.WriteString(s.lit)
		} else {
			escPath.WriteString(url.PathEscape(scalarString(args[s.param])))
		}
	}
	u := *t.base
	u.RawPath = escPath.String()
	p, err := url.PathUnescape(u.RawPath)
	if err != nil {
		return nil, nil, fmt.Errorf("build path: %w", err)
	}
	u.Path = p

	q := u.Query()
	headers := make(http.Header, len(t.headers)+4)
	body := map[string]any{}
	for _, prm := range t.cfg.Params {
		v, ok := args[prm.Name]
		if !ok || v == nil {
			continue
		}
		switch prm.In {
		case "query":
			if list, ok := v.([]any); ok {
				for _, item := range list {
					q.Add(prm.Name, scalarString(item))
				}
			} else {
				q.Set(prm.Name, scalarString(v))
			}
		case "header":
			headers.Set(prm.Name, scalarString(v))
		case "body":
			body[prm.Name] = v
		}
	}

	for _, h := range t.headers {
		v := h.value
		if h.ref != nil {
			if v, err = reveal(*h.ref); err != nil {
				return nil, nil, err
			}
		}
		headers.Set(h.name, v)
	}
	if headers.Get("Accept") == "" {
		headers.Set("Accept", "application/json")
	}
	headers.Set("User-Agent", t.userAgent)

	a := t.integ.Auth
	var secret string
	if t.authRef != nil {
		if secret, err = reveal(*t.authRef); err != nil {
			return nil, nil, err
		}
	}
	switch a.Type {
	case "bearer":
		headers.Set("Authorization", "Bearer "+secret)
	case "header":
		headers.Set(a.Header, secret)
	case "query":
		q.Set(a.Param, secret)
	}
	u.RawQuery = q.Encode()

	var rd io.Reader // a nil *bytes.Reader would not be a nil io.Reader
	if len(body) > 0 {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, nil, integrations.Errorf(integrations.KindInvalid, err, "The arguments of %s could not be encoded as JSON.", t.name)
		}
		rd = bytes.NewReader(b)
		headers.Set("Content-Type", "application/json")
	}
	req, err := http.NewRequestWithContext(ctx, t.cfg.Method, u.String(), rd)
	if err != nil {
		return nil, nil, fmt.Errorf("build request: %w", err)
	}
	req.Header = headers
	if a.Type == "basic" {
		req.SetBasicAuth(a.Username, secret)
		used.AddForm(base64.StdEncoding.EncodeToString([]byte(a.Username + ":" + secret)))
	}
	if idempotencyKey != "" {
		req.Header.Set("Idempotency-Key", idempotencyKey)
	}
	return req, used, nil
}

// scalarString formats a JSON scalar the way APIs expect it in a URL or a
// header: integers without an exponent, booleans as true/false.
func scalarString(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case json.Number:
		return x.String()
	case bool:
		return strconv.FormatBool(x)
	case int:
		return strconv.Itoa(x)
	case int64:
		return strconv.FormatInt(x, 10)
	case uint64:
		return strconv.FormatUint(x, 10)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}
