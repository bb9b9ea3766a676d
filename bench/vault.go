package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"sync"
	"testing"

	"github.com/hashicorp/vault/api"

	"github.com/switchboard-dev/switchboard/internal/testvault"
)

// The bench's Vault: the in-process test Vault of internal/testvault, run in a
// process of its own (the harness re-executes itself with -role vault) so that
// its work is neither the gateway's nor the load generator's.
const (
	vaultMount  = "secret"
	vaultPath   = "bench"
	vaultField  = "token"
	vaultPolicy = "bench-read"
)

// vaultRef is the secret reference the gateways use.
var vaultRef = vaultMount + "/" + vaultPath + "#" + vaultField

// runVault starts Vault with secret/ as KV v2 (as `vault server -dev` has it),
// writes the upstream token there, creates a token that may only read it, prints
// "READY <addr> <token>" and serves until stdin closes.
func runVault(upstreamToken string) error {
	t := &tb{}
	defer t.cleanup()
	v := testvault.Start(t)
	if err := v.Client.Sys().Unmount(vaultMount); err != nil {
		return fmt.Errorf("unmount secret/: %w", err)
	}
	v.MountKV(vaultMount, 2)
	v.Write(vaultMount, vaultPath, map[string]any{vaultField: upstreamToken})
	v.WritePolicy(vaultPolicy, fmt.Sprintf(`path "%s/data/%s" { capabilities = ["read"] }`, vaultMount, vaultPath))
	tok := v.Token(&api.TokenCreateRequest{Policies: []string{vaultPolicy}, NoParent: true})
	fmt.Printf("READY %s %s\n", v.Addr, tok)
	io.Copy(io.Discard, os.Stdin)
	return nil
}

// tb is the testing.TB that testvault and Vault's test core ask for, outside
// a test: fatal errors end the process, cleanups run at exit. The embedded nil
// TB makes any method Vault starts to use that is not implemented here panic
// loudly instead of misbehaving quietly.
type tb struct {
	testing.TB
	mu       sync.Mutex
	cleanups []func()
}

func (t *tb) Helper()                  {}
func (t *tb) Name() string             { return "bench-vault" }
func (t *tb) Failed() bool             { return false }
func (t *tb) Context() context.Context { return context.Background() }
func (t *tb) Log(args ...any)          { fmt.Fprintln(os.Stderr, args...) }
func (t *tb) Logf(f string, a ...any)  { fmt.Fprintf(os.Stderr, f+"\n", a...) }
func (t *tb) Error(args ...any)        { t.Log(args...) }
func (t *tb) Errorf(f string, a ...any) {
	t.Logf(f, a...)
}
func (t *tb) Fatal(args ...any)         { t.Log(args...); t.FailNow() }
func (t *tb) Fatalf(f string, a ...any) { t.Logf(f, a...); t.FailNow() }
func (t *tb) FailNow()                  { t.cleanup(); os.Exit(1) }
func (t *tb) Setenv(k, v string)        { os.Setenv(k, v) }
func (t *tb) TempDir() string {
	dir, err := os.MkdirTemp("", "bench-vault-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}
func (t *tb) Cleanup(f func()) {
	t.mu.Lock()
	t.cleanups = append(t.cleanups, f)
	t.mu.Unlock()
}

func (t *tb) cleanup() {
	t.mu.Lock()
	fs := t.cleanups
	t.cleanups = nil
	t.mu.Unlock()
	for i := len(fs) - 1; i >= 0; i-- {
		fs[i]()
	}
}
