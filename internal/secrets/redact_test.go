package secrets

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"
)

func TestRedactorBlanksEverySpelling(t *testing.T) {
	const secret = `pa&ss<wo>rd"42 x`
	var r Redactor
	r.Add(secret)
	r.AddForm("YWxpY2U6c2VjcmV0") // a base64 basic credential
	jsonEsc, _ := json.Marshal(secret)
	for _, echoed := range []string{secret, url.QueryEscape(secret), url.PathEscape(secret), string(jsonEsc), "YWxpY2U6c2VjcmV0"} {
		got := r.Redact("before " + echoed + " after")
		if strings.Contains(got, "ss<wo") || strings.Contains(got, "ss%3Cwo") || strings.Contains(got, `ss\u003cwo`) || strings.Contains(got, "YWxpY2U6") {
			t.Errorf("%q not redacted: %q", echoed, got)
		}
		if !r.Contains(echoed) {
			t.Errorf("Contains(%q) = false", echoed)
		}
	}
	if r.Contains("nothing secret here") {
		t.Error("false positive")
	}
	var short Redactor
	short.Add("ab")
	if got := short.Redact("abc tab"); got != "abc tab" {
		t.Errorf("a 2-byte secret blanked ordinary text: %q", got)
	}
	var none *Redactor
	if none.Redact("x") != "x" || none.Contains("x") || none.Longest() != 0 {
		t.Error("a nil Redactor must be a no-op")
	}
}

// An upstream that writes JSON without HTML escaping (Go's json.Encoder with
// SetEscapeHTML(false), most non-Go encoders) echoes `"` as \" but < and &
// as they are.
func TestRedactorJSONWithoutHTMLEscaping(t *testing.T) {
	const secret = `pa&ss<wo>rd"42 x`
	var r Redactor
	r.Add(secret)
	echoed := `{"echo":"pa&ss<wo>rd\"42 x"}`
	if got := r.Redact(echoed); strings.Contains(got, "ss<wo") {
		t.Errorf("not redacted: %q", got)
	}
}

// Four bytes is the shortest spelling blanked; the longest is reported.
func TestRedactorShortestAndLongest(t *testing.T) {
	var r Redactor
	r.AddForm("abcd")
	r.AddForm("xyz")
	r.AddForm("abcd") // once only
	if got := r.Redact("abcd xyz"); got != "[redacted] xyz" {
		t.Errorf("Redact = %q", got)
	}
	if n := r.Longest(); n != 4 {
		t.Errorf("Longest = %d, want 4", n)
	}
	if len(r.forms) != 2 {
		t.Errorf("forms = %q", r.forms)
	}
}
