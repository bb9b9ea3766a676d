package app

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/switchboard-dev/switchboard/configs"
	"github.com/switchboard-dev/switchboard/internal/secrets/vault"
)

// openVault connects to Vault when the config uses vault: references (or has
// a vault: block); nil when it does not. Vault being down does not stop the
// start: calls say so and /readyz reports it; a refused login does stop it.
func openVault(ctx context.Context, cfg *configs.Config, getenv func(string) string, logger *slog.Logger) (*vault.Source, error) {
	if !configs.UsesVault(cfg) && cfg.Vault == nil {
		return nil, nil
	}
	v := cfg.Vault
	if v == nil {
		v = &configs.Vault{}
	}
	// token_file is the token for the token method and the service account
	// JWT for kubernetes (the SPEC's one key for both).
	tokenFile, jwtFile := v.Auth.TokenFile, ""
	if v.Auth.Method == "kubernetes" {
		tokenFile, jwtFile = "", v.Auth.TokenFile
	}
	src, err := vault.New(ctx, vault.Options{
		Address:       v.Address,
		Namespace:     v.Namespace,
		CACert:        v.CACert,
		TLSSkipVerify: v.TLSSkipVerify,
		Timeout:       v.Timeout,
		CacheTTL:      v.CacheTTL,
		StaleIfError:  v.StaleIfError,
		Getenv:        getenv,
		Auth: vault.Auth{
			Method:       v.Auth.Method,
			TokenFile:    tokenFile,
			RoleID:       v.Auth.RoleID,
			SecretIDFile: v.Auth.SecretIDFile,
			Mount:        v.Auth.Mount,
			Role:         v.Auth.Role,
			JWTFile:      jwtFile,
		},
	}, logger.With("component", "vault"))
	if err != nil {
		return nil, fmt.Errorf("vault: %w", err)
	}
	return src, nil
}
