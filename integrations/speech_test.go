package integrations

import (
	"reflect"
	"testing"
	"time"

	"github.com/switchboard-dev/switchboard/configs"
)

// A tool's speech as tools/list shows it: start when there is one, slow only
// with both something to say and a positive delay.
func TestSpeechMeta(t *testing.T) {
	for _, tc := range []struct {
		s    Speech
		want map[string]any
	}{
		{Speech{}, map[string]any{}},
		{Speech{Start: "One moment."}, map[string]any{"start": "One moment."}},
		{Speech{SlowSay: "Still looking.", SlowAfter: 2 * time.Second}, map[string]any{"slow": map[string]any{"after_ms": int64(2000), "say": "Still looking."}}},
		{Speech{SlowSay: "Still looking.", SlowAfter: time.Millisecond}, map[string]any{"slow": map[string]any{"after_ms": int64(1), "say": "Still looking."}}},
		{Speech{SlowSay: "Still looking."}, map[string]any{}},
		{Speech{SlowAfter: time.Second}, map[string]any{}},
	} {
		if got := tc.s.Meta(); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%+v: %v, want %v", tc.s, got, tc.want)
		}
	}
}

func TestSpeechFromConfig(t *testing.T) {
	if SpeechFrom(nil) != nil {
		t.Error("no speech: block gives a speech")
	}
	if got := SpeechFrom(&configs.Speech{Start: "One moment."}); *got != (Speech{Start: "One moment."}) {
		t.Errorf("start only: %+v", got)
	}
	got := SpeechFrom(&configs.Speech{Start: "a", Slow: &configs.SlowSpeech{After: 3 * time.Second, Say: "b"}})
	if *got != (Speech{Start: "a", SlowAfter: 3 * time.Second, SlowSay: "b"}) {
		t.Errorf("with slow: %+v", got)
	}
}
