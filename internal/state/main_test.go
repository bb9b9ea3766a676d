package state

import (
	"log/slog"
	"os"
	"testing"
)

func TestMain(m *testing.M) {
	// The outages these tests cause would fill the output with go-redis's
	// per-dial lines.
	RouteRedisLogs(slog.New(slog.DiscardHandler))
	os.Exit(m.Run())
}
