package openapi

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// The real API descriptions the tests import come from npm packages, pinned
// here and installed on first use (never committed):
//   - @octokit/openapi: GitHub's REST API description, 1,200+ operations
//   - @readme/oas-examples: ~130 small edge-case documents in Swagger 2.0,
//     OpenAPI 3.0 and 3.1 (circular schemas, polymorphism, callbacks, several
//     security schemes, server variables, file uploads, parameter styles)
var fixturePackages = []string{
	"@octokit/openapi@23.0.2",
	"@readme/oas-examples@8.2.2",
}

var (
	fixtureOnce sync.Once
	fixtureDir  string
	fixtureErr  string
)

// fixtures returns the node_modules directory holding the pinned packages,
// installing them into ${SWITCHBOARD_CI_CACHE:-$HOME/.cache/switchboard-ci}
// when missing. No npm is a test failure, never a silent skip.
func fixtures(t testing.TB) string {
	t.Helper()
	fixtureOnce.Do(func() { fixtureDir, fixtureErr = installFixtures() })
	if fixtureErr != "" {
		t.Fatal(fixtureErr)
	}
	return fixtureDir
}

func installFixtures() (string, string) {
	cache := os.Getenv("SWITCHBOARD_CI_CACHE")
	if cache == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", "no cache directory for the OpenAPI fixtures: set SWITCHBOARD_CI_CACHE (" + err.Error() + ")"
		}
		cache = filepath.Join(home, ".cache", "switchboard-ci")
	}
	name := strings.NewReplacer("@", "", "/", "-").Replace(strings.Join(fixturePackages, "+"))
	dir := filepath.Join(cache, "openapi-fixtures", name)
	modules := filepath.Join(dir, "node_modules")
	if _, err := os.Stat(modules); err == nil {
		return modules, ""
	}
	npm, err := exec.LookPath("npm")
	if err != nil {
		return "", "the OpenAPI import tests need npm to install their fixtures (" + strings.Join(fixturePackages, ", ") + "): install Node.js/npm, or put them into " + dir + " by hand"
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return "", err.Error()
	}
	// Install into a temporary prefix, then rename: an interrupted install
	// never looks cached.
	tmp, err := os.MkdirTemp(filepath.Dir(dir), name+".tmp-")
	if err != nil {
		return "", err.Error()
	}
	defer os.RemoveAll(tmp)
	args := append([]string{"install", "--prefix", tmp, "--no-save", "--no-audit", "--no-fund", "--ignore-scripts", "--loglevel=error"}, fixturePackages...)
	cmd := exec.Command(npm, args...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", "npm install of the OpenAPI fixtures failed: " + err.Error() + "\n" + string(out)
	}
	if err := os.Rename(tmp, dir); err != nil {
		if _, statErr := os.Stat(modules); statErr == nil {
			return modules, "" // another test process installed them meanwhile
		}
		return "", err.Error()
	}
	return modules, ""
}
