package httpapi_test

import (
	"strings"
	"testing"
)

// A failed validate tag is said in words the model can act on; a tag
// without words of its own is named with its parameter, when it has one.
func TestValidateTagMessages(t *testing.T) {
	up := newUpstream(t, nil)
	tools := build(t, up.URL(), `
integrations:
  - name: api
    type: http
    base_url: ${BASE}
    tools:
      - name: w
        description: Write.
        method: POST
        path: /w
        params:
          - {name: lt, type: integer, validate: "lt=10"}
          - {name: min, type: string, validate: "min=3"}
          - {name: max, type: string, validate: "max=2"}
          - {name: len, type: string, validate: "len=4"}
          - {name: oneof, type: string, validate: "oneof=red green"}
          - {name: prefix, type: string, validate: "startswith=ord_"}
          - {name: lower, type: string, validate: "lowercase"}
`, nil)
	_, err := callRaw(t.Context(), t, tool(t, tools, "api_w"),
		`{"lt": 10, "min": "ab", "max": "abc", "len": "abc", "oneof": "blue", "prefix": "x", "lower": "ABC"}`)
	ie := mustErr(t, nil, err)
	for _, want := range []string{
		"len: must have length 4",
		"lower: fails the check lowercase;",
		"lt: must be less than 10",
		"max: must be at most 2 (value or length)",
		"min: must be at least 3 (value or length)",
		"oneof: must be one of: red, green",
		"prefix: fails the check startswith=ord_",
	} {
		if !strings.Contains(ie.Public, want) {
			t.Errorf("%q missing from %q", want, ie.Public)
		}
	}
	up.none(t)
}
