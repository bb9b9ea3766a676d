package openapi

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-dev/switchboard/configs"
)

func noenv(string) string { return "" }

// mustLoad checks that a generated config loads as switchboard validate loads it.
func mustLoad(t testing.TB, name string, out []byte) *configs.Config {
	t.Helper()
	cfg, err := configs.Parse(out, noenv)
	if err != nil {
		t.Fatalf("%s: the generated config does not pass configs.Parse: %v", name, err)
	}
	return cfg
}

// validateFallbacks counts tools the importer had to drop because the
// checker refused them: each is an importer bug to fix.
func validateFallbacks(r *Result) []string {
	var out []string
	for reason, ops := range r.LeftOut {
		if strings.HasPrefix(reason, "the generated tool does not pass validate") {
			for _, o := range ops {
				out = append(out, o+": "+reason)
			}
		}
	}
	return out
}

// TestOASExamples imports every document of @readme/oas-examples (2.0, 3.0
// and 3.1, JSON and YAML).
func TestOASExamples(t *testing.T) {
	root := filepath.Join(fixtures(t), "@readme", "oas-examples")
	var docs []string
	for _, v := range []string{"2.0", "3.0", "3.1"} {
		_ = filepath.WalkDir(filepath.Join(root, v), func(p string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() && (strings.HasSuffix(p, ".json") || strings.HasSuffix(p, ".yaml")) {
				docs = append(docs, p)
			}
			return nil
		})
	}
	if len(docs) < 100 {
		t.Fatalf("found only %d documents in %s", len(docs), root)
	}
	clean, failed := 0, map[string]string{}
	found, imported := 0, 0
	for _, p := range docs {
		rel, _ := filepath.Rel(root, p)
		r, err := Import(context.Background(), p, Options{})
		if err != nil {
			var ierr *Error
			if !errors.As(err, &ierr) || strings.Contains(err.Error(), "\n") {
				t.Errorf("%s: the error is not one sentence of type *Error: %v", rel, err)
			}
			failed[rel] = err.Error()
			continue
		}
		mustLoad(t, rel, r.YAML)
		if strings.HasSuffix(rel, "star-trek.json") {
			// The same document imports to the same file.
			again, err := Import(context.Background(), p, Options{})
			if err != nil || string(again.YAML) != string(r.YAML) {
				t.Errorf("%s: a second import differs (%v)", rel, err)
			}
		}
		if fb := validateFallbacks(r); len(fb) > 0 {
			t.Errorf("%s: tools refused by the checker: %v", rel, fb)
		}
		found += r.Found
		imported += r.Imported
		clean++
		if testing.Verbose() {
			left := 0
			for _, v := range r.LeftOut {
				left += len(v)
			}
			t.Logf("%-50s %3d found, %3d imported, %3d left out", rel, r.Found, r.Imported, left)
		}
	}
	names := make([]string, 0, len(failed))
	for k := range failed {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		t.Logf("not imported: %s", failed[k])
	}
	t.Logf("@readme/oas-examples: %d of %d documents import cleanly; %d of %d operations imported", clean, len(docs), imported, found)
	// The documents that cannot be imported are the ones with no operation
	// switchboard can call (webhooks only, a single multipart upload...).
	for _, k := range names {
		if !expectedFailure(failed[k]) {
			t.Errorf("%s: unexpected failure: %s", k, failed[k])
		}
	}
}

func expectedFailure(msg string) bool {
	return strings.Contains(msg, "has no operations to import") || strings.Contains(msg, "could be imported")
}

// TestGitHub imports GitHub's REST API description (1,200+ operations).
func TestGitHub(t *testing.T) {
	spec := filepath.Join(fixtures(t), "@octokit", "openapi", "generated", "api.github.com.json")
	start := time.Now()
	r, err := Import(context.Background(), spec, Options{Name: "github"})
	if err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	cfg := mustLoad(t, "api.github.com.json", r.YAML)
	if fb := validateFallbacks(r); len(fb) > 0 {
		t.Errorf("tools refused by the checker: %d, first %v", len(fb), fb[0])
	}
	if r.Found < 1000 || r.Imported < 1000 {
		t.Fatalf("found %d, imported %d operations; want well over 1000", r.Found, r.Imported)
	}
	seen := map[string]bool{}
	for _, tl := range cfg.Integrations[0].Tools.List {
		full := cfg.Integrations[0].Name + "_" + tl.Name
		if !configs.ExposedName.MatchString(full) {
			t.Errorf("exposed name %q breaks the 64-character rule", full)
		}
		if seen[full] {
			t.Errorf("exposed name %q is used twice", full)
		}
		seen[full] = true
	}
	var sum strings.Builder
	r.Summary(&sum)
	t.Logf("api.github.com.json: %s in %v (%d bytes of YAML)\n%s", r.Version, took.Round(time.Millisecond), len(r.YAML), sum.String())
	// Seconds, not minutes: about 2.5 s of CPU; generous for a busy 2-core
	// machine, and more so under -race.
	limit := 60 * time.Second
	if raceEnabled {
		limit = 8 * time.Minute
	}
	if took > limit {
		t.Errorf("the import took %v", took)
	}
	t.Run("call", func(t *testing.T) { callGitHubTool(t, cfg) })
}
