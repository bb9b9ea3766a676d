package server

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/switchboard-dev/switchboard/configs"
)

// CallMetaKey is the request _meta key of the call context object.
const CallMetaKey = "io.switchboard/call"

// maxContextValue bounds one call context value; a longer one is dropped
// (no caller number or call id is that long).
const maxContextValue = 512

// The call context is what the voice platform says about the phone call:
// the caller's number, the call's id. It comes from the HTTP headers named in
// server.call_headers and from the request's _meta["io.switchboard/call"],
// which wins; it is read here, once, on every transport, and carried on the
// Call. It is as trusted as the client that sends it.

type callHeadersKey struct{}

// callHeaders attaches the values of the configured call context headers to
// each MCP request's context (streamable HTTP and SSE posts alike). names
// maps context names to header names.
func callHeaders(names map[string]string, next http.Handler) http.Handler {
	if len(names) == 0 {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var got map[string]string
		for name, h := range names {
			if v := strings.TrimSpace(r.Header.Get(h)); validContextValue(v) {
				if got == nil {
					got = make(map[string]string, len(names))
				}
				got[name] = v
			}
		}
		if got != nil {
			r = r.WithContext(context.WithValue(r.Context(), callHeadersKey{}, got))
		}
		next.ServeHTTP(w, r)
	})
}

// callContext merges the header values attached to ctx with the request's
// _meta object; names that break [a-z0-9_]+ and values that are not strings
// or numbers (or are empty, too long, or hold control characters) are left
// out. nil when there is nothing.
func callContext(ctx context.Context, meta *mcp.Meta) map[string]string {
	headers, _ := ctx.Value(callHeadersKey{}).(map[string]string)
	var fromMeta map[string]any
	if meta != nil {
		fromMeta = asMap(meta.AdditionalFields[CallMetaKey])
	}
	if len(headers) == 0 && len(fromMeta) == 0 {
		return nil
	}
	out := make(map[string]string, len(headers)+len(fromMeta))
	for k, v := range headers {
		out[k] = v
	}
	for k, v := range fromMeta {
		s, ok := contextString(v)
		if !ok || !configs.CallContextName.MatchString(k) || !validContextValue(s) {
			continue
		}
		out[k] = s
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

func asMap(v any) map[string]any {
	switch m := v.(type) {
	case map[string]any:
		return m
	case json.RawMessage:
		var out map[string]any
		if json.Unmarshal(m, &out) == nil {
			return out
		}
	}
	return nil
}

func contextString(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return strings.TrimSpace(x), true
	case json.Number:
		return x.String(), true
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64), true
	}
	return "", false
}

func validContextValue(s string) bool {
	if s == "" || len(s) > maxContextValue || !utf8.ValidString(s) {
		return false
	}
	return !strings.ContainsFunc(s, func(r rune) bool { return r < ' ' || r == 0x7f })
}
