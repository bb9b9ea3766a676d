package policy

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/switchboard-dev/switchboard/integrations"
)

type notes struct {
	mu   sync.Mutex
	list []map[string]any
}

func (n *notes) notify(method string, params map[string]any) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if method == string(mcp.MethodNotificationProgress) {
		n.list = append(n.list, params)
	}
}

func (n *notes) all() []map[string]any {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]map[string]any(nil), n.list...)
}

func slowSpeech() *integrations.Speech {
	return &integrations.Speech{Start: "Un momento.", SlowAfter: 100 * time.Millisecond, SlowSay: "Sigue tardando."}
}

// sleeper takes d, reporting progress of its own at each of reportAt.
func sleeper(d time.Duration, reportAt ...time.Duration) integrations.HandlerFunc {
	return func(ctx context.Context, c *integrations.Call) (*mcp.CallToolResult, error) {
		start := time.Now()
		for _, at := range reportAt {
			time.Sleep(time.Until(start.Add(at)))
			c.Progress(map[string]any{"progress": 1, "message": "upstream working"})
		}
		time.Sleep(time.Until(start.Add(d)))
		return mcp.NewToolResultText("done"), nil
	}
}

func withProgress(n *notes) func(*integrations.Call) {
	return func(c *integrations.Call) { c.ProgressToken = "tok-1"; c.Notify = n.notify }
}

func TestSpeechSlowCallHearsTheSentence(t *testing.T) {
	f := newPhoneFixture(t, &integrations.Tool{Handler: sleeper(350 * time.Millisecond), Speech: slowSpeech()}, Deps{})
	n := &notes{}
	f.call(context.Background(), nil, nil, withProgress(n))
	got := n.all()
	if len(got) < 2 || len(got) > 3 {
		t.Fatalf("a 350 ms call with slow.after 100ms got %d notes, want 3 (2 on a loaded machine): %v", len(got), got)
	}
	for i, p := range got {
		if p["message"] != "Sigue tardando." || p["progressToken"] != "tok-1" || p["progress"] != i+1 {
			t.Fatalf("note %d = %v", i, p)
		}
	}
	count := len(got)
	time.Sleep(250 * time.Millisecond)
	if len(n.all()) != count {
		t.Fatal("progress was sent after the result")
	}
}

func TestSpeechQuickCallHearsNothing(t *testing.T) {
	f := newPhoneFixture(t, &integrations.Tool{Handler: sleeper(10 * time.Millisecond), Speech: slowSpeech()}, Deps{})
	n := &notes{}
	f.call(context.Background(), nil, nil, withProgress(n))
	time.Sleep(150 * time.Millisecond)
	if got := n.all(); len(got) != 0 {
		t.Fatalf("a quick call got %v", got)
	}
	// No progress token: nothing either, however slow.
	f2 := newPhoneFixture(t, &integrations.Tool{Handler: sleeper(250 * time.Millisecond), Speech: slowSpeech()}, Deps{})
	n2 := &notes{}
	f2.call(context.Background(), nil, nil, func(c *integrations.Call) { c.Notify = n2.notify })
	if got := n2.all(); len(got) != 0 {
		t.Fatalf("a call without progressToken got %v", got)
	}
}

// The upstream's own progress passes; the slow sentence fills only the
// intervals in which the upstream said nothing.
func TestSpeechUpstreamProgressComesFirst(t *testing.T) {
	f := newPhoneFixture(t, &integrations.Tool{Handler: sleeper(330*time.Millisecond, 50*time.Millisecond, 150*time.Millisecond), Speech: slowSpeech()}, Deps{})
	n := &notes{}
	f.call(context.Background(), nil, nil, withProgress(n))
	var upstream, ours int
	for _, p := range n.all() {
		switch p["message"] {
		case "upstream working":
			upstream++
		case "Sigue tardando.":
			ours++
		}
	}
	// Ticks at 100 (upstream spoke at 50), 200 (spoke at 150), 300 (silent).
	if upstream != 2 || ours != 1 {
		t.Fatalf("upstream notes %d (want 2), slow sentences %d (want 1): %v", upstream, ours, n.all())
	}
}

func TestSpeechInToolsList(t *testing.T) {
	f := newPhoneFixture(t, &integrations.Tool{Handler: sleeper(0), Speech: &integrations.Speech{Start: "Un momento, lo compruebo.", SlowAfter: 2 * time.Second, SlowSay: "Sigue tardando, gracias por esperar."}}, Deps{})
	b, err := json.Marshal(f.tool.Definition)
	if err != nil {
		t.Fatal(err)
	}
	var wire struct {
		Meta map[string]json.RawMessage `json:"_meta"`
	}
	_ = json.Unmarshal(b, &wire)
	want := `{"slow":{"after_ms":2000,"say":"Sigue tardando, gracias por esperar."},"start":"Un momento, lo compruebo."}`
	if got := string(wire.Meta["io.switchboard/speech"]); got != want {
		t.Fatalf("_meta speech = %s\nwant %s", got, want)
	}
}
