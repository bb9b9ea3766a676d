package configs

import (
	"strings"
	"time"
)

// Defaults the SPEC and README promise for keys left out.
const (
	DefaultName         = "switchboard"
	DefaultListen       = "127.0.0.1:8080"
	DefaultTimeout      = 5 * time.Second
	DefaultMaxBytes     = Size(16 << 10)
	DefaultMaxRead      = Size(8 << 20)
	DefaultConfirmTTL   = 2 * time.Minute
	DefaultConfirmMode  = "auto"
	DefaultMaxBodyBytes = 1 << 20
	DefaultStateBackend = "memory"
	DefaultKeyPrefix    = "switchboard:"
)

// applyDefaults fills what the file left out, so everything downstream reads
// plain values.
func applyDefaults(cfg *Config) {
	if cfg.Server.Name == "" {
		cfg.Server.Name = DefaultName
	}
	if cfg.Server.Listen == "" {
		cfg.Server.Listen = DefaultListen
	}
	if cfg.Server.MaxBodyBytes == 0 {
		cfg.Server.MaxBodyBytes = DefaultMaxBodyBytes
	}
	applyLimitDefaults(cfg)
	if cfg.Policy.Confirmation.Mode == "" {
		cfg.Policy.Confirmation.Mode = DefaultConfirmMode
	}
	if cfg.Policy.Confirmation.TTL == 0 {
		cfg.Policy.Confirmation.TTL = DefaultConfirmTTL
	}
	if cfg.State.Backend == "" {
		cfg.State.Backend = DefaultStateBackend
	}
	if cfg.State.Backend == "redis" && cfg.State.Redis.KeyPrefix == "" {
		cfg.State.Redis.KeyPrefix = DefaultKeyPrefix
	}
	for i := range cfg.Integrations {
		in := &cfg.Integrations[i]
		if in.Timeout == 0 {
			in.Timeout = DefaultTimeout
		}
		if in.Auth.Type == "" {
			in.Auth.Type = "none"
		}
		for j := range in.Tools.List {
			t := &in.Tools.List[j]
			t.Method = strings.ToUpper(t.Method)
			if t.Timeout == 0 {
				t.Timeout = in.Timeout
			}
			if t.Response.MaxBytes == 0 {
				t.Response.MaxBytes = DefaultMaxBytes
			}
			if t.Response.MaxRead == 0 {
				t.Response.MaxRead = DefaultMaxRead
			}
			for k := range t.Params {
				p := &t.Params[k]
				if p.In == "" {
					p.In = defaultIn(t, p.Name)
				}
				defaultTypes(p)
			}
		}
	}
}

// defaultIn places a param without in: where a reader would expect it: in the
// path when the path names it, in the query for GET and DELETE, else the body.
func defaultIn(t *Tool, name string) string {
	switch {
	case strings.Contains(t.Path, "{"+name+"}"):
		return "path"
	case t.Method == "GET" || t.Method == "DELETE":
		return "query"
	}
	return "body"
}

func defaultTypes(p *Param) {
	if p.Type == "" {
		switch {
		case len(p.Properties) > 0:
			p.Type = "object"
		case p.Items != nil:
			p.Type = "array"
		default:
			p.Type = "string"
		}
	}
	for i := range p.Properties {
		defaultTypes(&p.Properties[i])
	}
	if p.Items != nil {
		defaultTypes(p.Items)
	}
}
