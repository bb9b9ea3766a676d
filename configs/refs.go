package configs

import "strings"

// SecretRefs lists every secret reference a config uses, for a start-up
// check that the stores they point into are reachable.
func SecretRefs(cfg *Config) []string {
	var out []string
	add := func(v string) {
		for _, p := range []string{"vault:", "env:", "file:"} {
			if strings.HasPrefix(v, p) {
				out = append(out, v)
				return
			}
		}
	}
	for _, c := range cfg.Server.Clients {
		add(c.Key)
	}
	add(cfg.Policy.Confirmation.Key)
	add(cfg.State.Redis.Password)
	for _, in := range cfg.Integrations {
		add(in.Auth.Secret)
		for _, v := range in.Headers {
			add(v)
		}
		for _, v := range in.Env {
			add(v)
		}
	}
	return out
}

// UsesVault reports whether any reference in cfg is a vault: one.
func UsesVault(cfg *Config) bool {
	for _, ref := range SecretRefs(cfg) {
		if strings.HasPrefix(ref, "vault:") {
			return true
		}
	}
	return false
}
