package integrations

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/switchboard-dev/switchboard/internal/secrets"
)

// Kind classifies a failed call for the audit log and metrics.
type Kind string

const (
	// KindInvalid: the arguments were wrong; nothing was sent.
	KindInvalid Kind = "invalid"
	// KindUpstream: the upstream answered with an error status.
	KindUpstream Kind = "upstream"
	// KindUnavailable: the upstream or a credential store could not be reached in time.
	KindUnavailable Kind = "unavailable"
	// KindCancelled: the client gave up before the call ended.
	KindCancelled Kind = "cancelled"
	// KindInternal: anything else.
	KindInternal Kind = "internal"
)

// Error is a failed call. Public is one short sentence that the model may
// see and a voice agent can act on; Err carries the detail for the log only.
type Error struct {
	Kind   Kind
	Public string
	// Status is the upstream's HTTP status, when there was one.
	Status int
	Err    error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return e.Public + ": " + e.Err.Error()
	}
	return e.Public
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf builds an *Error whose public sentence is format applied to args.
func Errorf(kind Kind, cause error, format string, args ...any) *Error {
	return &Error{Kind: kind, Public: fmt.Sprintf(format, args...), Err: cause}
}

// PublicMessage is what the model may see of err: the public sentence of an
// *Error, or a generic sentence that reveals nothing.
func PublicMessage(err error) string {
	var e *Error
	if errors.As(err, &e) && e.Public != "" {
		return e.Public
	}
	return "The tool failed unexpectedly. Try again later or continue without it."
}

// KindOf classifies err.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return KindInternal
}

// StatusOf returns the upstream status carried by err, or 0.
func StatusOf(err error) int {
	var e *Error
	if errors.As(err, &e) {
		return e.Status
	}
	return 0
}

// The sentences below are everything the model hears when a call fails; they
// name the integration (or the exposed tool, never an upstream's own name)
// and say what a voice agent can do next.

// InvalidArgs: the arguments were refused; nothing was sent.
func InvalidArgs(tool string, problems []string) *Error {
	return Errorf(KindInvalid, nil, "Invalid arguments for %s: %s. Correct them and call again.", tool, strings.Join(problems, "; "))
}

// UnknownTool: the tool does not exist for this caller.
func UnknownTool(tool string) *Error {
	return Errorf(KindInvalid, nil, "There is no tool named %s.", tool)
}

// SecretError says which integration could not get its credentials and why,
// never what they are.
func SecretError(integration string, err error) *Error {
	var why string
	switch {
	case errors.Is(err, secrets.ErrDenied):
		why = "the secret store denied access to its credentials"
	case errors.Is(err, secrets.ErrNotFound):
		why = "its credentials are missing from the secret store"
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, secrets.ErrUnavailable):
		why = "the secret store is unreachable right now"
	default:
		why = "its credentials could not be read"
	}
	return Errorf(KindUnavailable, err,
		"%s cannot be used: %s. Tell the caller the system is unavailable and offer to follow up later.", integration, why)
}

// Timeout: the upstream did not answer within the call's timeout.
func Timeout(integration string, d time.Duration, cause error) *Error {
	return Errorf(KindUnavailable, cause, "%s did not answer within %s; try once more or offer to follow up later.", integration, d)
}

// Cancelled: the client gave up on the call.
func Cancelled(integration string, cause error) *Error {
	return &Error{Kind: KindCancelled, Public: fmt.Sprintf("The call to %s was cancelled.", integration), Err: cause}
}

// Unreachable: the upstream could not be reached.
func Unreachable(integration string, cause error) *Error {
	return Errorf(KindUnavailable, cause, "%s cannot be reached right now; try again shortly or offer to follow up later.", integration)
}

// Reconnecting: an upstream MCP server is down and switchboard is
// reconnecting to it.
func Reconnecting(integration string, cause error) *Error {
	return Errorf(KindUnavailable, cause,
		"%s is unavailable right now (switchboard is reconnecting); try again shortly or offer to follow up later.", integration)
}

// UpstreamStatus turns an upstream's error status into a sentence; detail is
// the upstream's own short message (already scrubbed of credentials), kept
// for statuses where it helps the model correct itself.
func UpstreamStatus(integration string, code int, detail string, cause error) *Error {
	status := fmt.Sprintf("%d %s", code, http.StatusText(code))
	var msg string
	switch {
	case code == 401 || code == 403:
		msg = fmt.Sprintf("%s refused switchboard's credentials (%s); this needs the operator, retrying will not help.", integration, status)
	case code == 404:
		msg = fmt.Sprintf("%s found nothing for that request (%s); check the identifiers you passed.", integration, status)
	case code == 408 || code == 429:
		msg = fmt.Sprintf("%s is busy (%s); wait a few seconds before trying again.", integration, status)
	case code >= 500:
		msg = fmt.Sprintf("%s had a problem on its side (%s); try again shortly or offer to follow up later.", integration, status)
	default:
		msg = fmt.Sprintf("%s rejected the request (%s).", integration, status)
	}
	if detail = Clip(detail, 200); detail != "" && code != 401 && code != 403 {
		msg = strings.TrimSuffix(msg, ".") + ". It said: " + detail
	}
	return &Error{Kind: KindUpstream, Public: msg, Status: code, Err: cause}
}

// CredentialsRefused: an upstream without HTTP statuses (an MCP server)
// refused the credentials.
func CredentialsRefused(integration string, cause error) *Error {
	return &Error{Kind: KindUpstream, Status: 401, Err: cause,
		Public: fmt.Sprintf("%s refused switchboard's credentials; this needs the operator, retrying will not help.", integration)}
}

// Refused: an upstream MCP server answered the call with a protocol error.
func Refused(integration, detail string, cause error) *Error {
	return Errorf(KindUpstream, cause, "%s refused the call: %s", integration, Clip(detail, 200))
}

// NeedsCaller: an upstream MCP server asked, during the call, a question
// that switchboard could not put to the caller (the client cannot be asked).
func NeedsCaller(tool string, cause error) *Error {
	return Errorf(KindUpstream, cause, "%s needs an answer from the caller that cannot be asked for over this connection, so it was not done. Tell the caller it cannot be done right now.", tool)
}

// Clip collapses whitespace and cuts s to at most n bytes on a rune
// boundary, marking the cut.
func Clip(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// The call context and de-duplication.

// CallContextMissing: the call context lacks values a tool needs (the
// caller's number, say); nothing was sent. names are the context names.
func CallContextMissing(tool string, names []string) *Error {
	return Errorf(KindInvalid, nil,
		"%s was not run: this call did not provide %s, which only the phone system can give (not the caller or you). Tell the caller it cannot be done on this call and offer another way.",
		tool, strings.Join(names, " and "))
}

// CallContextInvalid: a call context value fails a param's type or
// validate check; nothing was sent. The value itself is never repeated.
func CallContextInvalid(tool string, problems []string) *Error {
	return Errorf(KindInvalid, nil,
		"%s was not run: this call provided %s. Tell the caller it cannot be done on this call and offer another way.",
		tool, strings.Join(problems, "; "))
}

// DedupeUnavailable: the store that remembers finished calls could not be
// read, so a call that must not run twice was not run at all.
func DedupeUnavailable(tool string, cause error) *Error {
	return Errorf(KindUnavailable, cause,
		"%s was not done because switchboard cannot check right now whether it was already done; try again in a moment.", tool)
}

// KindLimited: a limit of the shared server refused the call at once;
// nothing was sent.
const KindLimited Kind = "limited"

// waitHint says how long to wait, in words a voice agent can repeat.
func waitHint(retry time.Duration) string {
	if retry <= time.Second {
		return "wait a second"
	}
	return fmt.Sprintf("wait about %d seconds", int((retry+time.Second-1)/time.Second))
}

// ClientRateLimited: this client made more tool calls than its rate_limit.
func ClientRateLimited(retry time.Duration) *Error {
	return Errorf(KindLimited, nil, "Too many tool calls from this agent right now; %s, then try again. Nothing was done.", waitHint(retry))
}

// CallRateLimited: this phone call (call_id) made more tool calls than
// server.call_rate_limit allows.
func CallRateLimited(retry time.Duration) *Error {
	return Errorf(KindLimited, nil, "Too many tool calls during this phone call; %s, then try again. Nothing was done.", waitHint(retry))
}

// ClientBusy: this client already has max_concurrent calls running.
func ClientBusy() *Error {
	return Errorf(KindLimited, nil, "This agent already has too many tool calls running; wait for one to finish, then try again. Nothing was done.")
}

// IntegrationBusy: the integration already has max_concurrent calls
// running, from all clients together.
func IntegrationBusy(integration string) *Error {
	return Errorf(KindLimited, nil, "%s is handling too many calls right now; try again in a moment or offer to follow up later. Nothing was done.", integration)
}

// QuestionClosed: a client's answer came for an upstream's question that is
// not open here (answered already, or asked by another replica), so it was
// not passed on. Whether an earlier answer was acted on is not known here,
// so the sentence does not invite a blind retry.
func QuestionClosed(tool string) *Error {
	return Errorf(KindInvalid, nil, "The caller's answer came for a question of %s that is no longer open (it was answered already, or asked elsewhere), so this answer was not passed on. Check whether it was done before calling %s again.", tool, tool)
}
