package main

import (
	"errors"
	"strings"
	"testing"
)

// switchboard call --call passes a call context: the demo's customer lookup
// takes the caller's number from it, and a bad --call is a usage error.
func TestCallWithCallContext(t *testing.T) {
	out, stderr, err := runCmd(t, env(nil), "call", "--dev", "helpdesk_buscar_cliente", "--call", "caller_number=+34612345678", "--call", "call_id=c-1")
	if err != nil || !strings.Contains(out, "cus_1001") {
		t.Fatalf("lookup by the caller's number: %q %v", out, err)
	}
	if strings.Contains(stderr, "612345678") || !strings.Contains(stderr, `"call_id":"c-1"`) {
		t.Fatalf("audit on stderr: want call_id and no number:\n%s", stderr)
	}
	out, _, err = runCmd(t, env(nil), "call", "--dev", "helpdesk_buscar_cliente", "--args", `{"phone":"+34612345678"}`)
	if !errors.Is(err, errReported) || !strings.Contains(out, "unknown parameter") {
		t.Fatalf("a phone from the arguments: %q %v", out, err)
	}
	var u usageError
	for _, bad := range []string{"caller_number", "Caller-Number=1", "=x"} {
		if _, _, err := runCmd(t, env(nil), "call", "--dev", "helpdesk_buscar_cliente", "--call", bad); !errors.As(err, &u) {
			t.Errorf("--call %q: want a usage error, got %v", bad, err)
		}
	}
}
