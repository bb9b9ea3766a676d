package configs

import (
	"embed"
	"io/fs"
)

//go:embed dev.yaml examples/*.yaml
var bundled embed.FS

// Bundled holds dev.yaml (the --dev config) and examples/*.yaml.
func Bundled() fs.FS { return bundled }

// LoadBundled loads one of the bundled configs, e.g. "dev.yaml".
func LoadBundled(name string, getenv func(string) string) (*Config, error) {
	data, err := bundled.ReadFile(name)
	if err != nil {
		return nil, err
	}
	cfg, err := Parse(data, getenv)
	if cerr, ok := err.(*Error); ok {
		cerr.File = name
	}
	return cfg, err
}
