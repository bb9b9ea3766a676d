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

// buildRequest maps checked arguments onto an HTTP request. Path and query
// values are escaped, so no argument can add a path segment, a query key, a
// header or a body field. It returns the secret values it used, so that the
// caller can scrub them from anything the upstream echoes back.
func (t *tool) buildRequest(ctx context.Context, args map[string]any) (*http.Request, *secrets.Redactor, error) {
	used := &secrets.Redactor{}
	reveal := func(ref string) (string, error) {
		v, err := t.secrets.Lookup(ctx, ref)
		if err == nil {
			used.Add(v)
		}
		return v, err
	}

	var escPath strings.Builder
	escPath.WriteString(strings.TrimSuffix(t.base.EscapedPath(), "/"))
	rest := t.cfg.Path
	for {
		i := strings.IndexByte(rest, '{')
		if i < 0 {
			escPath.WriteString(rest)
			break
		}
		j := strings.IndexByte(rest[i:], '}') + i
		if j < i {
			return nil, nil, fmt.Errorf("path %q: unbalanced {", t.cfg.Path)
		}
		escPath.WriteString(rest[:i])
		escPath.WriteString(url.PathEscape(scalarString(args[rest[i+1:j]])))
		rest = rest[j+1:]
	}
	u := *t.base
	u.RawPath = escPath.String()
	p, err := url.PathUnescape(u.RawPath)
	if err != nil {
		return nil, nil, fmt.Errorf("build path: %w", err)
	}
	u.Path = p

	q := u.Query()
	headers := http.Header{}
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

	for k, v := range t.integ.Headers {
		if secrets.IsRef(v) {
			if v, err = reveal(v); err != nil {
				return nil, nil, err
			}
		}
		headers.Set(k, v)
	}
	if headers.Get("Accept") == "" {
		headers.Set("Accept", "application/json")
	}
	headers.Set("User-Agent", t.userAgent)

	a := t.integ.Auth
	var secret string
	if a.Type != "none" && a.Type != "" {
		if secret, err = reveal(a.Secret); err != nil {
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
	if key := integrations.IdempotencyKey(ctx); key != "" {
		req.Header.Set("Idempotency-Key", key)
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
