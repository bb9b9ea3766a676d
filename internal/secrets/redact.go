package secrets

import (
	"bytes"
	"encoding/json"
	"net/url"
	"strings"
)

// Redactor remembers the secrets sent to an upstream, in every spelling an
// upstream may echo them back in, and blanks them from what comes back.
// It is not safe for concurrent use.
type Redactor struct {
	forms []string
}

// Add remembers v as sent, URL-escaped and JSON-escaped (with and without
// HTML escaping).
func (r *Redactor) Add(v string) {
	r.AddForm(v)
	r.AddForm(url.QueryEscape(v))
	r.AddForm(url.PathEscape(v))
	if b, err := json.Marshal(v); err == nil {
		r.AddForm(string(b[1 : len(b)-1]))
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if enc.Encode(v) == nil {
		s := strings.TrimSpace(buf.String())
		r.AddForm(s[1 : len(s)-1])
	}
}

// AddForm remembers one exact spelling (say, a base64 basic credential).
func (r *Redactor) AddForm(s string) {
	if s == "" {
		return
	}
	for _, f := range r.forms {
		if f == s {
			return
		}
	}
	r.forms = append(r.forms, s)
}

// Redact replaces every remembered spelling in s. Spellings under four bytes
// are left alone: they would blank ordinary text.
func (r *Redactor) Redact(s string) string {
	if r == nil {
		return s
	}
	for _, f := range r.forms {
		if len(f) >= 4 && strings.Contains(s, f) {
			s = strings.ReplaceAll(s, f, "[redacted]")
		}
	}
	return s
}

// Contains reports whether s holds any remembered spelling.
func (r *Redactor) Contains(s string) bool {
	if r == nil {
		return false
	}
	for _, f := range r.forms {
		if strings.Contains(s, f) {
			return true
		}
	}
	return false
}

// Longest is the length of the longest remembered spelling.
func (r *Redactor) Longest() int {
	n := 0
	if r != nil {
		for _, f := range r.forms {
			n = max(n, len(f))
		}
	}
	return n
}
