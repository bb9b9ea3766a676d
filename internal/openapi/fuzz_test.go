package openapi

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/go-playground/validator/v10"

	"github.com/switchboard-dev/switchboard/configs"
)

// FuzzImport feeds mutated documents to the importer: it must never panic or
// hang, and whatever it accepts must load as switchboard validate loads it.
func FuzzImport(f *testing.F) {
	for _, p := range []string{"testdata/extref/api.yaml", "testdata/extref/common/schemas.yaml", "testdata/swagger2/api.yaml"} {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte(petsDoc))
	f.Add([]byte(doc31))
	f.Add([]byte(`{"swagger":"2.0","info":{"title":"t","version":"1"},"host":"h.example","paths":{"/a/{id}":{"delete":{"parameters":[{"name":"id","in":"path","required":true,"type":"string"},{"name":"b","in":"body","schema":{"$ref":"#/definitions/D"}}]}}},"definitions":{"D":{"allOf":[{"$ref":"#/definitions/D"}],"properties":{"x":{"type":"integer","enum":[1,2.5,null]}}}}}`))
	f.Add([]byte(`{"openapi":"3.0.0","info":{"title":"t","version":"1"},"servers":[{"url":"https://x.example"}],"paths":{"/x":{"post":{"requestBody":{"content":{"application/json":{"schema":{"oneOf":[{"type":"object","properties":{"a":{"type":"string","format":"email","minLength":3}}},{"type":"null"}]}}}}}}}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		// A hang is a failure with the input saved, not a stalled worker.
		done := make(chan struct{})
		defer close(done)
		go func() {
			select {
			case <-done:
			case <-time.After(20 * time.Second):
				panic(fmt.Sprintf("the import hangs on %q", data))
			}
		}()
		start := time.Now()
		r, err := ImportData(ctx, data, "fuzz.yaml", Options{})
		if d := time.Since(start); d > 5*time.Second {
			t.Fatalf("the import took %v", d)
		}
		if err != nil {
			if _, ok := err.(*Error); !ok {
				t.Fatalf("not an *Error: %T %v", err, err)
			}
			return
		}
		if _, err := configs.Parse(r.YAML, func(string) string { return "" }); err != nil {
			t.Fatalf("the generated config does not load: %v\n%s", err, r.YAML)
		}
	})
}

// validatorCompiles runs a tag once, as configs does: a bad one panics.
func validatorCompiles(tag string) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%v", r)
		}
	}()
	v := validator.New()
	if strings.Contains(tag, "=2006") || strings.HasPrefix(tag, "email") || strings.HasPrefix(tag, "min=") {
		_ = v.Var("x", tag)
		return nil
	}
	_ = v.Var(int64(1), tag) // what httpapi passes for an integral number
	_ = v.Var(1.5, tag)
	return nil
}
