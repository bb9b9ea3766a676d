package integrations

import (
	"time"

	"github.com/switchboard-dev/switchboard/configs"
)

// SpeechMetaKey is the tools/list _meta key under which a tool's speech is
// shown to the client.
const SpeechMetaKey = "io.switchboard/speech"

// Speech is what a voice platform may say while a tool runs: Start as the
// call begins, and SlowSay once the call has run longer than SlowAfter (sent
// as notifications/progress to a client that asked for progress, again every
// SlowAfter while it runs).
type Speech struct {
	Start     string
	SlowAfter time.Duration
	SlowSay   string
}

// Meta is the speech as tools/list shows it:
// {"start": "...", "slow": {"after_ms": 2000, "say": "..."}}.
func (s *Speech) Meta() map[string]any {
	m := map[string]any{}
	if s.Start != "" {
		m["start"] = s.Start
	}
	if s.SlowSay != "" && s.SlowAfter > 0 {
		m["slow"] = map[string]any{"after_ms": s.SlowAfter.Milliseconds(), "say": s.SlowSay}
	}
	return m
}

// SpeechFrom is the Speech of a checked config speech: block; nil for none.
func SpeechFrom(s *configs.Speech) *Speech {
	if s == nil {
		return nil
	}
	out := &Speech{Start: s.Start}
	if s.Slow != nil {
		out.SlowAfter, out.SlowSay = s.Slow.After, s.Slow.Say
	}
	return out
}
