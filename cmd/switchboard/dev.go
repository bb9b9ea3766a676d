package main

import (
	"github.com/switchboard-dev/switchboard/internal/demoapi"
	"github.com/switchboard-dev/switchboard/internal/secrets"
)

// devSecrets is the in-memory store behind --dev: the vault: references of
// configs/dev.yaml resolve to the sample API's freshly generated keys, so
// the demo runs with no Vault and no setup.
func devSecrets(keys demoapi.Keys) secrets.Source {
	return secrets.Memory(keys.Secrets())
}
