// Package secrets resolves secret references (vault:, env:, file:) to their
// values at the moment a tool needs them. Each scheme is one Source; a Resolver
// routes a reference to the Source of its scheme. Values are never logged here
// and errors never carry them.
package secrets

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
)

// Scheme names the kind of store a reference points into.
type Scheme string

const (
	SchemeVault Scheme = "vault"
	SchemeEnv   Scheme = "env"
	SchemeFile  Scheme = "file"
)

// Ref is a parsed secret reference. For vault, Path is "<mount>/<path>" and
// Field the key inside the secret; for env, Path is the variable name; for
// file, Path is the file name.
type Ref struct {
	Scheme Scheme
	Path   string
	Field  string
}

func (r Ref) String() string {
	if r.Field != "" {
		return string(r.Scheme) + ":" + r.Path + "#" + r.Field
	}
	return string(r.Scheme) + ":" + r.Path
}

// IsRef reports whether s is written as a secret reference (it may still be a
// malformed one; ParseRef tells).
func IsRef(s string) bool {
	for _, p := range []Scheme{SchemeVault, SchemeEnv, SchemeFile} {
		if strings.HasPrefix(s, string(p)+":") {
			return true
		}
	}
	return false
}

// ParseRef parses "vault:<mount>/<path>#<field>", "env:<NAME>" or "file:<path>".
// It checks syntax only; it never reads the secret.
func ParseRef(s string) (Ref, error) {
	scheme, rest, ok := strings.Cut(s, ":")
	if !ok {
		return Ref{}, fmt.Errorf("secret reference %q: want vault:<mount>/<path>#<field>, env:<NAME> or file:<path>", s)
	}
	switch Scheme(scheme) {
	case SchemeVault:
		path, field, ok := strings.Cut(rest, "#")
		if !ok || field == "" {
			return Ref{}, fmt.Errorf("secret reference %q: a vault reference needs #<field> after the path", s)
		}
		path = strings.Trim(path, "/")
		mount, sub, _ := strings.Cut(path, "/")
		if mount == "" || sub == "" {
			return Ref{}, fmt.Errorf("secret reference %q: a vault reference needs <mount>/<path>", s)
		}
		if strings.Contains(path, "//") || strings.ContainsAny(path, " \t\r\n?") || strings.Contains(field, "#") {
			return Ref{}, fmt.Errorf("secret reference %q: malformed vault path", s)
		}
		return Ref{Scheme: SchemeVault, Path: path, Field: field}, nil
	case SchemeEnv:
		if !isEnvName(rest) {
			return Ref{}, fmt.Errorf("secret reference %q: env:<NAME> needs a variable name ([A-Za-z_][A-Za-z0-9_]*)", s)
		}
		return Ref{Scheme: SchemeEnv, Path: rest}, nil
	case SchemeFile:
		if rest == "" {
			return Ref{}, fmt.Errorf("secret reference %q: file:<path> needs a path", s)
		}
		return Ref{Scheme: SchemeFile, Path: rest}, nil
	default:
		return Ref{}, fmt.Errorf("secret reference %q: unknown scheme %q (want vault, env or file)", s, scheme)
	}
}

func isEnvName(s string) bool {
	if s == "" {
		return false
	}
	for i, c := range s {
		letter := c == '_' || 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z'
		if !letter && (i == 0 || c < '0' || c > '9') {
			return false
		}
	}
	return true
}

// Source reads secrets of one scheme.
type Source interface {
	Get(ctx context.Context, ref Ref) (string, error)
}

// SourceFunc adapts a function to Source.
type SourceFunc func(ctx context.Context, ref Ref) (string, error)

func (f SourceFunc) Get(ctx context.Context, ref Ref) (string, error) { return f(ctx, ref) }

// ErrNotFound means the store answered but holds no such secret or field.
var ErrNotFound = errors.New("secret not found")

// ErrUnavailable means the store could not be asked (unreachable, sealed,
// not authenticated). A caller may retry later.
var ErrUnavailable = errors.New("secret store unavailable")

// ErrDenied means the store refused to hand the secret to switchboard.
var ErrDenied = errors.New("permission denied")

// Resolver routes references to the Source of their scheme.
type Resolver struct {
	sources map[Scheme]Source
}

// NewResolver returns a Resolver with the given sources; a scheme without a
// source gives an error when used.
func NewResolver(sources map[Scheme]Source) *Resolver {
	m := make(map[Scheme]Source, len(sources))
	for k, v := range sources {
		m[k] = v
	}
	return &Resolver{sources: m}
}

// Resolve returns the value of ref.
func (r *Resolver) Resolve(ctx context.Context, ref Ref) (string, error) {
	src, ok := r.sources[ref.Scheme]
	if !ok {
		return "", fmt.Errorf("%s: no %s secret store is configured: %w", ref, ref.Scheme, ErrUnavailable)
	}
	v, err := src.Get(ctx, ref)
	if err != nil {
		return "", fmt.Errorf("%s: %w", ref, err)
	}
	return v, nil
}

// Lookup resolves a reference written as a string, as configs hold them.
func (r *Resolver) Lookup(ctx context.Context, s string) (string, error) {
	ref, err := ParseRef(s)
	if err != nil {
		return "", err
	}
	return r.Resolve(ctx, ref)
}

// Env reads env: references through getenv.
func Env(getenv func(string) string) Source {
	return SourceFunc(func(_ context.Context, ref Ref) (string, error) {
		v := getenv(ref.Path)
		if v == "" {
			return "", fmt.Errorf("environment variable %s is empty or not set: %w", ref.Path, ErrNotFound)
		}
		return v, nil
	})
}

// File reads file: references; the content is trimmed of surrounding
// whitespace, as files written by editors and Kubernetes end with a newline.
func File() Source {
	return SourceFunc(func(_ context.Context, ref Ref) (string, error) {
		b, err := os.ReadFile(ref.Path)
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return "", fmt.Errorf("read secret file: %w", ErrNotFound)
			}
			return "", fmt.Errorf("read secret file: %w", errors.Join(ErrUnavailable, err))
		}
		return strings.TrimSpace(string(b)), nil
	})
}

// Memory is an in-memory store keyed by the reference's text. It backs the
// --dev mode, where vault: references resolve without a Vault.
type Memory map[string]string

func (m Memory) Get(_ context.Context, ref Ref) (string, error) {
	v, ok := m[ref.String()]
	if !ok {
		return "", ErrNotFound
	}
	return v, nil
}
