package secrets

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseRef(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Ref
	}{
		{"vault:secret/helpdesk#api_token", Ref{Scheme: SchemeVault, Path: "secret/helpdesk", Field: "api_token"}},
		{"vault:/kv/team/app/#k", Ref{Scheme: SchemeVault, Path: "kv/team/app", Field: "k"}},
		{"env:HELPDESK_TOKEN", Ref{Scheme: SchemeEnv, Path: "HELPDESK_TOKEN"}},
		{"env:_x9", Ref{Scheme: SchemeEnv, Path: "_x9"}},
		{"env:AZaz_09", Ref{Scheme: SchemeEnv, Path: "AZaz_09"}},
		{"env:Z", Ref{Scheme: SchemeEnv, Path: "Z"}},
		{"env:z", Ref{Scheme: SchemeEnv, Path: "z"}},
		{"env:_", Ref{Scheme: SchemeEnv, Path: "_"}},
		{"file:/run/secrets/token", Ref{Scheme: SchemeFile, Path: "/run/secrets/token"}},
	} {
		got, err := ParseRef(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("ParseRef(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
		if !IsRef(tc.in) {
			t.Errorf("IsRef(%q) = false", tc.in)
		}
	}
	for _, in := range []string{
		"", "secret", "literal-key", "http://x", "Vault:secret/x#k",
		"vault:secret/x", "vault:secret/x#", "vault:secret#k", "vault:/x#k", "vault:#k",
		"vault:secret//x#k", "vault:secret/a b#k", "vault:secret/x?y#k", "vault:secret/x#a#b",
		"env:", "env:9LIVES", "env:0", "env:A-B", "env:A B", "file:",
		// just outside each range: @ [ ` { / :
		"env:A@", "env:A[", "env:A`", "env:A{", "env:A/", "env:A:", "env:@", "env:[", "env:`", "env:{",
	} {
		if r, err := ParseRef(in); err == nil {
			t.Errorf("ParseRef(%q) = %+v, want an error", in, r)
		} else if in != "" && !strings.Contains(err.Error(), in) {
			t.Errorf("ParseRef(%q): error %q does not quote the reference", in, err)
		}
	}
	for _, s := range []string{"literal", "vaultx:y", "http://env:x"} {
		if IsRef(s) {
			t.Errorf("IsRef(%q) = true", s)
		}
	}
}

func TestRefString(t *testing.T) {
	for _, s := range []string{"vault:secret/helpdesk#api_token", "env:HELPDESK_TOKEN", "file:/run/secrets/token"} {
		r, err := ParseRef(s)
		if err != nil || r.String() != s {
			t.Errorf("ParseRef(%q).String() = %q, %v", s, r.String(), err)
		}
	}
}

func TestResolver(t *testing.T) {
	mem := Memory{"vault:secret/x#k": "x-value"}
	r := NewResolver(map[Scheme]Source{
		SchemeVault: mem,
		SchemeEnv:   Env(func(k string) string { return map[string]string{"TOKEN": "env-value"}[k] }),
	})
	ctx := context.Background()
	for ref, want := range map[string]string{"vault:secret/x#k": "x-value", "env:TOKEN": "env-value"} {
		if v, err := r.Lookup(ctx, ref); err != nil || v != want {
			t.Errorf("Lookup(%s) = %q, %v; want %q", ref, v, err, want)
		}
	}
	// The sources are copied: changing the map afterwards changes nothing.
	mem["vault:secret/y#k"] = "y-value"
	if v, err := r.Lookup(ctx, "vault:secret/y#k"); err != nil || v != "y-value" {
		t.Errorf("Memory is read at each call: %q, %v", v, err)
	}

	for _, tc := range []struct {
		ref  string
		want error
	}{
		{"vault:secret/nope#k", ErrNotFound},
		{"env:UNSET", ErrNotFound},
		{"file:/x", ErrUnavailable}, // no file source configured
	} {
		_, err := r.Lookup(ctx, tc.ref)
		if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.ref) {
			t.Errorf("Lookup(%s): %v, want %v naming the reference", tc.ref, err, tc.want)
		}
	}
	if _, err := r.Lookup(ctx, "not a ref"); err == nil {
		t.Error("Lookup of a malformed reference: no error")
	}
}

func TestFileSource(t *testing.T) {
	dir := t.TempDir()
	name := filepath.Join(dir, "token")
	if err := os.WriteFile(name, []byte("  file-value\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if v, err := File().Get(ctx, Ref{Scheme: SchemeFile, Path: name}); err != nil || v != "file-value" {
		t.Errorf("Get = %q, %v", v, err)
	}
	if _, err := File().Get(ctx, Ref{Scheme: SchemeFile, Path: filepath.Join(dir, "missing")}); !errors.Is(err, ErrNotFound) {
		t.Errorf("missing file: %v, want ErrNotFound", err)
	}
	// A directory cannot be read as a file: the store cannot be asked.
	if _, err := File().Get(ctx, Ref{Scheme: SchemeFile, Path: dir}); !errors.Is(err, ErrUnavailable) || errors.Is(err, ErrNotFound) {
		t.Errorf("unreadable file: %v, want ErrUnavailable", err)
	}
}
