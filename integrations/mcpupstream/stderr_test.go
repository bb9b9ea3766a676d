package mcpupstream

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
)

// stderrLines are the lines a lineLogger logged so far.
func stderrLines(logs *logRecorder) []string {
	var out []string
	for _, e := range logs.with("upstream stderr") {
		out = append(out, e.Attrs["line"].(string))
	}
	return out
}

// A stdio child's stderr is logged a line at a time, however the writes
// split it: an unfinished line waits for its end; a child that never ends a
// line is logged once 64 KiB have piled up, not held without bound.
func TestStderrIsLoggedALineAtATime(t *testing.T) {
	t.Parallel()
	logs := &logRecorder{}
	l := &lineLogger{log: logs.logger()}
	write := func(s string) {
		if n, err := l.Write([]byte(s)); n != len(s) || err != nil {
			t.Fatalf("Write(%q) = %d, %v", s, n, err)
		}
	}
	expect := func(want ...string) {
		t.Helper()
		if got := stderrLines(logs); strings.Join(got, "|") != strings.Join(want, "|") || len(got) != len(want) {
			t.Fatalf("logged %s, want %s", short(got), short(want))
		}
	}
	write("starting\nhalf")
	expect("starting")
	write(" a line\n\nthen two\nlines\n")
	expect("starting", "half a line", "", "then two", "lines")

	long := strings.Repeat("z", 64<<10)
	write(long)
	expect("starting", "half a line", "", "then two", "lines") // exactly 64 KiB: still waiting for its end
	write("z")
	expect("starting", "half a line", "", "then two", "lines", long+"z")
	write("after\n")
	expect("starting", "half a line", "", "then two", "lines", long+"z", "after")
}

// short shows lines with the long ones cut, for a failure message.
func short(lines []string) string {
	var out []string
	for _, l := range lines {
		if len(l) > 20 {
			l = fmt.Sprintf("%s…(%d bytes)", l[:20], len(l))
		}
		out = append(out, strconv.Quote(l))
	}
	return "[" + strings.Join(out, " ") + "]"
}
