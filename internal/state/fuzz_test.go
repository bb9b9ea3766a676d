package state

import (
	"encoding/base64"
	"strings"
	"testing"
	"time"
)

// No presented session id panics, and an id that opens has one spelling
// (its store key): a variant of a terminated id must not open.
func FuzzSessionID(f *testing.F) {
	ids, _ := NewSessionIDs(NewMemory(Config{}), []byte("0123456789abcdef"), time.Hour)
	good := ids.Generate()
	f.Add(good)
	f.Add(good[:len(good)-1] + "B")
	f.Add("mcp-session-")
	f.Add("")
	f.Fuzz(func(t *testing.T, id string) {
		if _, ok := ids.open(id); ok {
			raw, _ := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(id, sessionPrefix))
			if sessionPrefix+base64.RawURLEncoding.EncodeToString(raw) != id {
				t.Fatalf("%q opened but is not the canonical spelling", id)
			}
		}
		_, _ = ids.Validate(id)
	})
}
