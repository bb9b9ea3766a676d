package state

import (
	"testing"
	"time"
)

// No presented session id panics, and only ids this key issued open.
func FuzzSessionID(f *testing.F) {
	ids, _ := NewSessionIDs(NewMemory(Config{}), []byte("0123456789abcdef"), time.Hour)
	good := ids.Generate()
	f.Add(good)
	f.Add("mcp-session-")
	f.Add("")
	f.Fuzz(func(t *testing.T, id string) {
		if _, ok := ids.open(id); ok && id != good {
			t.Fatalf("%q opened", id)
		}
		_, _ = ids.Validate(id)
	})
}
