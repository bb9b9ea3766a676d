package configs

import (
	"regexp"
	"strings"
	"time"
)

// What a voice call adds to a config: the call context (server.call_headers,
// a param's value_from), speech while a tool runs, and de-duplication of
// repeated calls.

// Speech is what a voice platform may say while a tool runs.
type Speech struct {
	Start string      `yaml:"start"`
	Slow  *SlowSpeech `yaml:"slow"`
}

// SlowSpeech is said when a call has run longer than After, and again every
// After while it runs.
type SlowSpeech struct {
	After time.Duration `yaml:"after"`
	Say   string        `yaml:"say"`
}

// Limits on speech.
const (
	MaxSpeechLen   = 300
	MinSpeechAfter = 100 * time.Millisecond
)

// CallContextName is the rule for call context names.
var CallContextName = regexp.MustCompile(`^[a-z0-9_]+$`)

// ValueFromPrefix is the only value_from source: the call context.
const ValueFromPrefix = "call."

// ContextName returns the call context name a param's value_from reads, and
// whether value_from is well formed.
func ContextName(valueFrom string) (string, bool) {
	name, ok := strings.CutPrefix(valueFrom, ValueFromPrefix)
	return name, ok && CallContextName.MatchString(name)
}

// ToolSpeech is a tool's speech: its own, else its integration's.
func ToolSpeech(in Integration, t *Tool) *Speech {
	if t != nil && t.Speech != nil {
		return t.Speech
	}
	return in.Speech
}

// ToolDedupe is a tool's dedupe window: its own, else its integration's.
func ToolDedupe(in Integration, t *Tool) time.Duration {
	if t != nil && t.Dedupe != nil {
		return *t.Dedupe
	}
	return in.Dedupe
}

func (c *checker) checkCallHeaders(cfg *Config) {
	seen := map[string]string{}
	for name, h := range cfg.Server.CallHeaders {
		p := "server.call_headers." + name
		if !CallContextName.MatchString(name) {
			c.add(p, "call context name %q must match [a-z0-9_]+", name)
		}
		if !headerToken.MatchString(h) {
			c.add(p, "%q is not a valid header name", h)
			continue
		}
		canon := strings.ToLower(h)
		if other, dup := seen[canon]; dup {
			c.add(p, "header %s already carries %s", h, other)
		}
		seen[canon] = name
		switch canon {
		case "authorization", "cookie", "mcp-session-id", "mcp-protocol-version":
			c.add(p, "%s is not a call context header", h)
		}
	}
}

func (c *checker) checkSpeech(p string, s *Speech) {
	if s == nil {
		return
	}
	if s.Start == "" && s.Slow == nil {
		c.add(p, "speech needs start, slow or both")
	}
	c.checkSpeechText(p+".start", s.Start)
	if s.Slow == nil {
		return
	}
	if s.Slow.Say == "" {
		c.add(p+".slow.say", "is required")
	}
	c.checkSpeechText(p+".slow.say", s.Slow.Say)
	if s.Slow.After < MinSpeechAfter {
		c.add(p+".slow.after", "must be at least %s (got %s)", MinSpeechAfter, s.Slow.After)
	}
}

func (c *checker) checkSpeechText(p, text string) {
	if n := len([]rune(text)); n > MaxSpeechLen {
		c.add(p, "is %d characters; a sentence to speak must be at most %d", n, MaxSpeechLen)
	}
}

// checkDedupe: dedupe is for tools that change something; a read-only tool's
// identical calls are already shared while in flight.
func (c *checker) checkDedupe(p string, d time.Duration, readOnly bool) {
	if d < 0 {
		c.add(p, "must not be negative (got %s)", d)
	}
	if d > 0 && readOnly {
		c.add(p, "dedupe is for tools that change something; a GET tool's identical calls in flight are shared already")
	}
}

// checkValueFrom checks a param's value_from.
func (c *checker) checkValueFrom(p string, prm Param, top bool) {
	if prm.ValueFrom == "" {
		return
	}
	if !top {
		c.add(p+".value_from", "value_from is for a tool's own params, not for properties or items")
		return
	}
	name, ok := strings.CutPrefix(prm.ValueFrom, ValueFromPrefix)
	switch {
	case !ok:
		src, _, _ := strings.Cut(prm.ValueFrom, ".")
		c.add(p+".value_from", "unknown source %q: value_from reads the call context, as call.<name> (call.caller_number, say)", src)
	case !CallContextName.MatchString(name):
		c.add(p+".value_from", "call context name %q must match [a-z0-9_]+", name)
	}
	if prm.Value != nil {
		c.add(p+".value_from", "a param takes value or value_from, not both")
	}
	switch prm.Type {
	case "", "string", "integer", "number", "boolean":
	default:
		c.add(p+".type", "a value_from param is a string, integer, number or boolean (call context values are strings)")
	}
	if prm.In == "path" && !prm.Required && prm.Default == nil {
		c.add(p+".required", "a value_from param in the path must be required (or have a default): a call without %s would have no path", prm.ValueFrom)
	}
}

// checkTemplateCall checks a confirm message's {{.call.<name>}} fields.
func (c *checker) checkTemplateCall(p string, path []string) {
	if len(path) != 2 || !CallContextName.MatchString(path[1]) {
		c.add(p, "the message uses {{.%s}}: the call context is read as {{.call.<name>}}", strings.Join(path, "."))
	}
}
