package integrations

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// The sentences the model hears when an upstream answers with an error
// status: what the status means for a voice agent, the upstream's own short
// message when it helps (never with a refused credential, where it could
// echo one).
func TestUpstreamStatusSentences(t *testing.T) {
	cause := errors.New("GET /x: upstream status")
	for _, tc := range []struct {
		code   int
		detail string
		want   string
	}{
		{401, "token tok-123 expired", "shop refused switchboard's credentials (401 Unauthorized); this needs the operator, retrying will not help."},
		{403, "key k-9 lacks scope", "shop refused switchboard's credentials (403 Forbidden); this needs the operator, retrying will not help."},
		{404, "", "shop found nothing for that request (404 Not Found); check the identifiers you passed."},
		{404, "no order A-1", "shop found nothing for that request (404 Not Found); check the identifiers you passed. It said: no order A-1"},
		{408, "", "shop is busy (408 Request Timeout); wait a few seconds before trying again."},
		{429, "slow down", "shop is busy (429 Too Many Requests); wait a few seconds before trying again. It said: slow down"},
		{499, "", "shop rejected the request (499 )."},
		{500, "", "shop had a problem on its side (500 Internal Server Error); try again shortly or offer to follow up later."},
		{503, "  down\n for   maintenance ", "shop had a problem on its side (503 Service Unavailable); try again shortly or offer to follow up later. It said: down for maintenance"},
		{400, "amount must be positive", "shop rejected the request (400 Bad Request). It said: amount must be positive"},
		{402, "", "shop rejected the request (402 Payment Required)."},
	} {
		e := UpstreamStatus("shop", tc.code, tc.detail, cause)
		if e.Public != tc.want {
			t.Errorf("%d %q:\n got %q\nwant %q", tc.code, tc.detail, e.Public, tc.want)
		}
		if e.Kind != KindUpstream || e.Status != tc.code || !errors.Is(e, cause) {
			t.Errorf("%d: kind %s status %d cause %v", tc.code, e.Kind, e.Status, e.Err)
		}
	}
	long := strings.Repeat("x", 300)
	if got := UpstreamStatus("shop", 400, long, nil).Public; !strings.HasSuffix(got, "It said: "+strings.Repeat("x", 200)+"…") {
		t.Errorf("a long detail is not clipped to 200 bytes: %q", got)
	}
}

// An *Error reads as its sentence and, for the log, its cause; the model
// sees the sentence of an *Error anywhere in the chain, and a generic one
// for anything else (or an *Error without a sentence).
func TestErrorTextAndPublicMessage(t *testing.T) {
	withCause := Errorf(KindUnavailable, errors.New("dial tcp: refused"), "%s cannot be reached.", "shop")
	if got := withCause.Error(); got != "shop cannot be reached.: dial tcp: refused" {
		t.Errorf("Error() with a cause = %q", got)
	}
	if got := Errorf(KindInvalid, nil, "No such tool.").Error(); got != "No such tool." {
		t.Errorf("Error() without a cause = %q", got)
	}
	const generic = "The tool failed unexpectedly. Try again later or continue without it."
	for err, want := range map[error]string{
		fmt.Errorf("call: %w", withCause): "shop cannot be reached.",
		errors.New("boom"):                generic,
		&Error{Kind: KindInternal}:        generic,
	} {
		if got := PublicMessage(err); got != want {
			t.Errorf("PublicMessage(%v) = %q, want %q", err, got, want)
		}
	}
	if KindOf(errors.New("x")) != KindInternal || StatusOf(errors.New("x")) != 0 || StatusOf(fmt.Errorf("w: %w", UpstreamStatus("s", 502, "", nil))) != 502 {
		t.Error("KindOf/StatusOf of plain and wrapped errors")
	}
}

// How long to wait, in words a voice agent can repeat: a second or less is
// "a second", anything longer is rounded up to whole seconds.
func TestWaitHints(t *testing.T) {
	for retry, want := range map[time.Duration]string{
		300 * time.Millisecond:  "wait a second",
		time.Second:             "wait a second",
		time.Second + 1:         "wait about 2 seconds",
		1500 * time.Millisecond: "wait about 2 seconds",
		2 * time.Second:         "wait about 2 seconds",
		10 * time.Second:        "wait about 10 seconds",
	} {
		if got := ClientRateLimited(retry).Public; got != "Too many tool calls from this agent right now; "+want+", then try again. Nothing was done." {
			t.Errorf("%s: %q", retry, got)
		}
		if got := CallRateLimited(retry).Public; !strings.Contains(got, "; "+want+", then") {
			t.Errorf("%s: %q", retry, got)
		}
	}
}

// Clip collapses whitespace, keeps a text of exactly n bytes whole, cuts a
// longer one on a rune boundary, and survives text that is not UTF-8.
func TestClipEdges(t *testing.T) {
	for _, tc := range []struct {
		in   string
		n    int
		want string
	}{
		{"abcde", 5, "abcde"},
		{"abcdef", 5, "abcde…"},
		{"año niño", 8, "año ni…"}, // byte 8 is inside the second ñ
		{"ñ", 1, "…"},
		{"\x80\x80\x80", 1, "…"},
	} {
		if got := Clip(tc.in, tc.n); got != tc.want {
			t.Errorf("Clip(%q, %d) = %q, want %q", tc.in, tc.n, got, tc.want)
		}
	}
}
