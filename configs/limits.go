package configs

import (
	"math"
	"time"
)

// DefaultClientKeyRefresh is how often client keys are re-read.
const DefaultClientKeyRefresh = 30 * time.Second

// RateLimit is a token bucket: PerSecond calls on average, Burst at once.
type RateLimit struct {
	PerSecond float64 `yaml:"per_second" validate:"gt=0"`
	// Burst defaults to PerSecond rounded up (at least 1).
	Burst int `yaml:"burst" validate:"gte=0"`
}

func (r *RateLimit) applyDefaults() {
	if r != nil && r.Burst == 0 {
		r.Burst = max(1, int(math.Ceil(r.PerSecond)))
	}
}

// applyLimitDefaults fills the defaults of the shared-server keys.
func applyLimitDefaults(cfg *Config) {
	if cfg.Server.ClientKeyRefresh == 0 {
		cfg.Server.ClientKeyRefresh = DefaultClientKeyRefresh
	}
	cfg.Server.CallRateLimit.applyDefaults()
	cfg.Server.SessionRateLimit.applyDefaults()
	for i := range cfg.Server.Clients {
		cfg.Server.Clients[i].RateLimit.applyDefaults()
	}
}
