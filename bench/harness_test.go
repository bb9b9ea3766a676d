package main

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

func reply(ctype, body string) *http.Response {
	return &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {ctype}}, Body: io.NopCloser(strings.NewReader(body))}
}

func TestReadResultSSESkipsNotifications(t *testing.T) {
	body := "event: message\ndata: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\",\"params\":{}}\n\n" +
		"event: message\ndata: {\"jsonrpc\":\"2.0\",\"id\":3,\n" + "data: \"result\":{\"isError\":false}}\n\n"
	res, err := readResult(reply("text/event-stream", body))
	if err != nil || string(res) != `{"isError":false}` {
		t.Fatalf("got %s, %v", res, err)
	}
}

func TestReadResultErrors(t *testing.T) {
	if _, err := readResult(reply("application/json", `{"jsonrpc":"2.0","id":1,"error":{"code":-32602,"message":"unknown tool"}}`)); err == nil ||
		!strings.Contains(err.Error(), "unknown tool") {
		t.Fatalf("JSON-RPC error not reported: %v", err)
	}
	if _, err := readResult(reply("text/event-stream", "event: message\ndata: {\"method\":\"ping\"}\n\n")); err == nil {
		t.Fatal("a stream without a response was accepted")
	}
	r := reply("application/json", "gone")
	r.StatusCode = 404
	if _, err := readResult(r); err == nil || !strings.Contains(err.Error(), "404") {
		t.Fatalf("HTTP status not reported: %v", err)
	}
}

func TestPercentile(t *testing.T) {
	var d []time.Duration
	for i := 1; i <= 100; i++ {
		d = append(d, time.Duration(i)*time.Microsecond)
	}
	if p := percentile(d, 0.5); p != 51 {
		t.Errorf("p50 = %v", p)
	}
	if p := percentile(d, 0.99); p != 100 {
		t.Errorf("p99 = %v", p)
	}
	if p := percentile(nil, 0.5); p != 0 {
		t.Errorf("empty p50 = %v", p)
	}
}

func TestTargetsPassMissAndNotMeasured(t *testing.T) {
	m := metrics{
		"sequential/switchboard-vault/p50_us": 150, "sequential/ideal/p50_us": 100, // +50 µs: pass
		"load/switchboard-vault/c64/rps": 1000, "load/ideal/c64/rps": 1000, // 1.0×: miss
	}
	got := map[string]targetResult{}
	for _, r := range evalTargets(m) {
		got[r.Name] = r
	}
	if r := got[targets[0].name]; !r.Measured || !r.Pass || *r.Value != 50 {
		t.Errorf("added p50: %+v", r)
	}
	if r := got[targets[1].name]; !r.Measured || r.Pass {
		t.Errorf("throughput: %+v", r)
	}
	if r := got[targets[4].name]; r.Measured || r.Value != nil {
		t.Errorf("start-up, not measured: %+v", r)
	}
}
