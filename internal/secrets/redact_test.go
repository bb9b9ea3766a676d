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
