// Package testvault runs a real, in-memory Vault server inside a test process,
// so that code talking to Vault is tested against Vault itself rather than a
// fake. It is the only package that imports Vault's server code; only _test.go
// files and the benchmark harness (bench/, a program that is never shipped) may
// import it, which keeps that code out of production binaries.
package testvault

import (
	"sync"
	"testing"

	"github.com/hashicorp/vault/api"
	"github.com/hashicorp/vault/builtin/credential/approle"
	vaulthttp "github.com/hashicorp/vault/http"
	"github.com/hashicorp/vault/vault"
)

// The test core only knows the credential backends registered before it is
// created, in a package-level map without a lock: register once, at init.
func init() {
	if err := vault.AddTestCredentialBackend("approle", approle.Factory); err != nil {
		panic(err)
	}
}

// Server is one initialised, unsealed Vault listening on loopback. Its
// "secret/" mount is KV version 1, as Vault's test core creates it.
type Server struct {
	Addr      string      // http://127.0.0.1:<port>
	RootToken string      // a root token
	Client    *api.Client // authenticated with RootToken

	t    testing.TB
	core *vault.Core
	keys [][]byte

	mu      sync.Mutex
	kv      map[string]int // mount -> KV version, for Write
	approle bool
}

// Start starts a Vault for the test; it stops when the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	core, keys, root := vault.TestCoreUnsealed(t)
	ln, addr := vaulthttp.TestServer(t, core)
	t.Cleanup(func() { ln.Close() })

	cfg := api.DefaultConfig()
	cfg.Address = addr
	c, err := api.NewClient(cfg)
	if err != nil {
		t.Fatalf("testvault: client: %v", err)
	}
	c.SetToken(root)
	return &Server{Addr: addr, RootToken: root, Client: c, t: t, core: core, keys: keys, kv: map[string]int{"secret": 1}}
}

// MountKV mounts a KV secrets engine of the given version (1 or 2) at mount.
func (s *Server) MountKV(mount string, version int) {
	s.t.Helper()
	v := "1"
	if version == 2 {
		v = "2"
	}
	err := s.Client.Sys().Mount(mount, &api.MountInput{Type: "kv", Options: map[string]string{"version": v}})
	s.check("mount kv "+mount, err)
	s.mu.Lock()
	s.kv[mount] = version
	s.mu.Unlock()
}

// Write replaces the secret at mount/path with data, through the KV API of
// the mount's version (mount must be "secret" or mounted with MountKV).
func (s *Server) Write(mount, path string, data map[string]any) {
	s.t.Helper()
	s.mu.Lock()
	version, ok := s.kv[mount]
	s.mu.Unlock()
	if !ok {
		s.t.Fatalf("testvault: %s is not a KV mount made by testvault", mount)
	}
	var err error
	if version == 2 {
		_, err = s.Client.KVv2(mount).Put(s.t.Context(), path, data)
	} else {
		err = s.Client.KVv1(mount).Put(s.t.Context(), path, data)
	}
	s.check("write "+mount+"/"+path, err)
}

// WritePolicy creates or replaces an ACL policy.
func (s *Server) WritePolicy(name, rules string) {
	s.t.Helper()
	s.check("write policy "+name, s.Client.Sys().PutPolicy(name, rules))
}

// Token creates a token (as root) and returns it.
func (s *Server) Token(req *api.TokenCreateRequest) string {
	s.t.Helper()
	sec, err := s.Client.Auth().Token().Create(req)
	s.check("create token", err)
	return sec.Auth.ClientToken
}

// AppRole enables AppRole at "approle" (once), writes the role with the given
// parameters (token_policies, token_ttl, ...) and returns a role_id and a new
// secret_id for it.
func (s *Server) AppRole(role string, params map[string]any) (roleID, secretID string) {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.approle {
		s.check("enable approle", s.Client.Sys().EnableAuthWithOptions("approle", &api.EnableAuthOptions{Type: "approle"}))
		s.approle = true
	}
	l := s.Client.Logical()
	_, err := l.Write("auth/approle/role/"+role, params)
	s.check("write approle role", err)
	r, err := l.Read("auth/approle/role/" + role + "/role-id")
	s.check("read role_id", err)
	w, err := l.Write("auth/approle/role/"+role+"/secret-id", nil)
	s.check("create secret_id", err)
	return r.Data["role_id"].(string), w.Data["secret_id"].(string)
}

// Seal seals Vault: every request then gets 503 until Unseal.
func (s *Server) Seal() {
	s.t.Helper()
	s.check("seal", vault.TestCoreSeal(s.core))
}

// Unseal unseals Vault with the keys it was initialised with.
func (s *Server) Unseal() {
	s.t.Helper()
	for _, k := range s.keys {
		if _, err := vault.TestCoreUnseal(s.core, vault.TestKeyCopy(k)); err != nil {
			s.t.Fatalf("testvault: unseal: %v", err)
		}
	}
	if s.core.Sealed() {
		s.t.Fatal("testvault: still sealed after unseal")
	}
}

func (s *Server) check(what string, err error) {
	s.t.Helper()
	if err != nil {
		s.t.Fatalf("testvault: %s: %v", what, err)
	}
}
