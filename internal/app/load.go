package app

import (
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/switchboard-dev/switchboard/configs"
	"github.com/switchboard-dev/switchboard/internal/demoapi"
	"github.com/switchboard-dev/switchboard/internal/secrets"
)

// Source names the config to load: a file, YAML text (tests), or the
// bundled demo.
type Source struct {
	File string
	YAML []byte
	// Dev starts the bundled sample API on loopback and serves the vault:
	// references of configs/dev.yaml from an in-memory store.
	Dev bool
}

// loaded is a config with what loading it started.
type loaded struct {
	cfg *configs.Config
	// version is the first 12 hex digits of the SHA-256 of the config's
	// bytes (the file, the YAML, or the bundled dev.yaml).
	version string
	vault   secrets.Source // set by --dev: the in-memory store
	close   func()
}

// Load reads and validates the config src names, once; for Dev the sample
// API's address is a placeholder (nothing is started).
func Load(src Source, getenv func(string) string) (*configs.Config, error) {
	if src.Dev {
		return configs.LoadBundled("dev.yaml", devEnv("http://127.0.0.1:1", getenv))
	}
	if src.YAML != nil {
		return configs.Parse(src.YAML, getenv)
	}
	return configs.LoadFile(src.File, getenv)
}

func load(src Source, opts Options) (*loaded, error) {
	if !src.Dev {
		data, err := src.read()
		if err != nil {
			return nil, err
		}
		cfg, err := src.parse(data, opts.Getenv)
		if err != nil {
			return nil, err
		}
		return &loaded{cfg: cfg, version: configVersion(data), close: func() {}}, nil
	}
	keys, err := demoapi.GenerateKeys()
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("start demo API: %w", err)
	}
	srv := &http.Server{Handler: demoapi.New(keys), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	demoURL := "http://" + ln.Addr().String()
	opts.Logger.Info("demo API listening", "url", demoURL)
	cfg, err := configs.LoadBundled("dev.yaml", devEnv(demoURL, opts.Getenv))
	if err != nil {
		srv.Close()
		return nil, fmt.Errorf("bundled dev config: %w", err)
	}
	// The in-memory store behind --dev: the vault: references of dev.yaml
	// resolve to the sample API's freshly generated keys, so the demo runs
	// with no Vault and no setup.
	return &loaded{cfg: cfg, version: "dev", vault: secrets.Memory(keys.Secrets()), close: func() { srv.Close() }}, nil
}

func devEnv(demoURL string, getenv func(string) string) func(string) string {
	return func(k string) string {
		if k == "SWITCHBOARD_DEMO_URL" {
			return demoURL
		}
		return getenv(k)
	}
}
