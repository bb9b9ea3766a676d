package integrations

import (
	"errors"
	"fmt"
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
