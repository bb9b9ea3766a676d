// Package configs defines switchboard's configuration file, loads it strictly
// (unknown keys, type errors and invalid values are all reported at once with
// their YAML path and line) and embeds the bundled dev and example configs.
package configs

import (
	"time"

	"github.com/itchyny/gojq"
)

// Config is the whole configuration file.
type Config struct {
	Server       Server        `yaml:"server"`
	Vault        *Vault        `yaml:"vault"`
	Policy       Policy        `yaml:"policy"`
	Audit        Audit         `yaml:"audit"`
	State        State         `yaml:"state"`
	Integrations []Integration `yaml:"integrations" validate:"dive"`
}

// State says where what replicas share is kept: single-use confirmations,
// rate limits, de-duplication and handshake-era sessions.
type State struct {
	Backend string     `yaml:"backend" validate:"omitempty,oneof=memory redis"`
	Redis   RedisState `yaml:"redis"`
}

// RedisState is the Redis (or Valkey) that replicas share.
type RedisState struct {
	URL string `yaml:"url"`
	// Password is a secret reference; it replaces a password in the URL.
	Password  string `yaml:"password"`
	KeyPrefix string `yaml:"key_prefix"`
}

// Server configures what MCP clients see and who may connect.
type Server struct {
	Name    string   `yaml:"name"`
	Listen  string   `yaml:"listen" validate:"omitempty,hostname_port"`
	Clients []Client `yaml:"clients" validate:"dive"`
	// MaxBodyBytes caps an incoming HTTP request body.
	MaxBodyBytes int64 `yaml:"max_body_bytes" validate:"gte=0"`
	// AllowedOrigins are browser origins accepted besides loopback ones.
	AllowedOrigins []string `yaml:"allowed_origins" validate:"dive,url"`

	// CallHeaders maps call context names to the HTTP headers that carry
	// them ({caller_number: X-Caller-Number}); see phone.go.
	CallHeaders map[string]string `yaml:"call_headers"`
	// Open serves non-loopback peers without client keys (turns protected
	// mode off).
	Open bool `yaml:"open"`
	// ClientKeyRefresh is how often client keys are re-read (default 30s).
	ClientKeyRefresh time.Duration `yaml:"client_key_refresh" validate:"gte=0"`
	// CallRateLimit bounds the tool calls of each phone call (call_id).
	CallRateLimit *RateLimit `yaml:"call_rate_limit"`
	// SessionRateLimit bounds how fast each client (or, without keys, each
	// peer address) opens sessions; over it, HTTP 429. Off when unset.
	SessionRateLimit *RateLimit `yaml:"session_rate_limit"`
}

// Client is one caller of the HTTP transport, identified by its key.
type Client struct {
	ID           string   `yaml:"id" validate:"required,excludesall= "`
	Key          string   `yaml:"key" validate:"required"`
	Integrations []string `yaml:"integrations"`
	// RateLimit bounds this client's tool calls; MaxConcurrent its calls in
	// flight (0: no bound).
	RateLimit     *RateLimit `yaml:"rate_limit"`
	MaxConcurrent int        `yaml:"max_concurrent" validate:"gte=0"`
}

// Vault says where vault: references are read and how switchboard logs in.
type Vault struct {
	Address       string        `yaml:"address" validate:"omitempty,url"`
	Namespace     string        `yaml:"namespace"`
	CACert        string        `yaml:"ca_cert"`
	TLSSkipVerify bool          `yaml:"tls_skip_verify"`
	Timeout       time.Duration `yaml:"timeout" validate:"gte=0"`
	Auth          VaultAuth     `yaml:"auth"`
	CacheTTL      time.Duration `yaml:"cache_ttl" validate:"gte=0"`
	StaleIfError  time.Duration `yaml:"stale_if_error" validate:"gte=0"`
}

// VaultAuth selects and configures the Vault login method.
type VaultAuth struct {
	Method       string `yaml:"method" validate:"omitempty,oneof=token approle kubernetes"`
	TokenFile    string `yaml:"token_file"`
	RoleID       string `yaml:"role_id"`
	SecretIDFile string `yaml:"secret_id_file"`
	Role         string `yaml:"role"`
	Mount        string `yaml:"mount"`
}

// Policy holds the confirmation settings and the allow/confirm/deny rules.
type Policy struct {
	Confirmation Confirmation `yaml:"confirmation"`
	ReadOnly     bool         `yaml:"read_only"`
	Rules        []Rule       `yaml:"rules" validate:"dive"`
}

// Confirmation configures how sensitive tools are confirmed.
type Confirmation struct {
	Mode string        `yaml:"mode" validate:"omitempty,oneof=token elicit auto"`
	TTL  time.Duration `yaml:"ttl" validate:"gte=0"`
	// Key signs confirmation tokens; a secret reference shared by replicas.
	// Empty: a random key per process.
	Key string `yaml:"key"`
}

// Rule matches exposed tool names by glob; the first matching rule decides.
type Rule struct {
	Tools  []string `yaml:"tools" validate:"required,min=1"`
	Action string   `yaml:"action" validate:"required,oneof=allow confirm deny"`
}

// Audit says where the audit log goes.
type Audit struct {
	Path string `yaml:"path"`
}

// Integration is one external system: a REST API (type http) or another MCP
// server (type mcp).
type Integration struct {
	Name        string            `yaml:"name" validate:"required"`
	Type        string            `yaml:"type" validate:"required,oneof=http mcp"`
	Description string            `yaml:"description"`
	Timeout     time.Duration     `yaml:"timeout" validate:"gte=0"`
	Headers     map[string]string `yaml:"headers"`
	Auth        Auth              `yaml:"auth"`
	// MaxConcurrent bounds the calls in flight to this upstream, all
	// clients together (0: no bound).
	MaxConcurrent int `yaml:"max_concurrent" validate:"gte=0"`

	// type http
	BaseURL string `yaml:"base_url"`

	// type mcp
	URL       string            `yaml:"url"`
	Transport string            `yaml:"transport" validate:"omitempty,oneof=streamable sse stdio"`
	Command   []string          `yaml:"command"`
	Env       map[string]string `yaml:"env"`
	// Response caps what the model receives of an upstream MCP tool's
	// result (max_bytes, default DefaultMaxBytes); http tools set it per tool.
	Response *MCPResponse `yaml:"response"`

	// Tools is a list of tool definitions for type http and an
	// include/exclude/confirm filter for type mcp.
	Tools Tools `yaml:"tools"`

	// Speech and Dedupe are the defaults of the integration's tools (see
	// phone.go); for type mcp, the only place to set them.
	Speech *Speech       `yaml:"speech"`
	Dedupe time.Duration `yaml:"dedupe" validate:"gte=0"`
}

// Auth says how an integration authenticates to its upstream.
type Auth struct {
	Type     string `yaml:"type" validate:"omitempty,oneof=none bearer header query basic"`
	Secret   string `yaml:"secret"`
	Header   string `yaml:"header"`
	Param    string `yaml:"param"`
	Username string `yaml:"username"`
}

// Tools holds either shape of an integration's tools key.
type Tools struct {
	List   []Tool `validate:"dive"`
	Filter *ToolFilter
}

// ToolFilter selects which of an upstream MCP server's tools are exposed.
type ToolFilter struct {
	Include []string `yaml:"include"`
	Exclude []string `yaml:"exclude"`
	Confirm []string `yaml:"confirm"`
}

// Tool is one REST call exposed as an MCP tool.
type Tool struct {
	Name        string        `yaml:"name" validate:"required"`
	Description string        `yaml:"description" validate:"required"`
	Method      string        `yaml:"method" validate:"required,oneof=GET POST PUT PATCH DELETE"`
	Path        string        `yaml:"path" validate:"required,startswith=/"`
	Timeout     time.Duration `yaml:"timeout" validate:"gte=0"`
	Params      []Param       `yaml:"params" validate:"dive"`
	Response    Response      `yaml:"response"`
	Confirm     *Confirm      `yaml:"confirm"`

	// Speech and Dedupe override the integration's (see phone.go).
	Speech *Speech        `yaml:"speech"`
	Dedupe *time.Duration `yaml:"dedupe"`
}

// Param is one argument of a tool, or one property of an object argument.
type Param struct {
	Name        string `yaml:"name"`
	In          string `yaml:"in" validate:"omitempty,oneof=path query header body"`
	Type        string `yaml:"type" validate:"omitempty,oneof=string integer number boolean object array"`
	Description string `yaml:"description"`
	Required    bool   `yaml:"required"`
	Validate    string `yaml:"validate"`
	Enum        []any  `yaml:"enum"`
	Default     any    `yaml:"default"`
	Value       any    `yaml:"value"`
	// ValueFrom fills the param from the call context: call.<name>.
	ValueFrom  string  `yaml:"value_from"`
	Sensitive  bool    `yaml:"sensitive"`
	Properties []Param `yaml:"properties" validate:"dive"`
	Items      *Param  `yaml:"items"`
}

// Response shapes and caps what the model receives.
type Response struct {
	JQ       string `yaml:"jq"`
	MaxBytes Size   `yaml:"max_bytes" validate:"gte=0"`
	MaxRead  Size   `yaml:"max_read" validate:"gte=0"`
	code     *gojq.Code
}

// Program is the jq program, compiled when the config was validated (nil
// without jq).
func (r Response) Program() *gojq.Code { return r.code }

// MCPResponse caps the results of an mcp integration's tools.
type MCPResponse struct {
	MaxBytes Size `yaml:"max_bytes" validate:"gte=0"`
}

// Confirm makes a tool require the user's confirmation.
type Confirm struct {
	Message string `yaml:"message" validate:"required"`
}
