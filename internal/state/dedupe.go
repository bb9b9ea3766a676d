package state

import (
	"context"
	"errors"
	"time"
)

// ErrBusy is returned by Dedupe when a call with the same key was still
// running on some replica when the wait ran out: the repeat was not executed.
var ErrBusy = errors.New("the same call is still running")

// DedupeOptions configure Dedupe.
type DedupeOptions struct {
	// Window is how long a successful result is returned to repeats.
	Window time.Duration
	// Lease bounds how long a running call keeps repeats waiting; it must
	// outlast the call (its timeout), or a repeat may execute while the
	// first still runs. It also frees the key when the replica running the
	// call dies. Default: Window.
	Lease time.Duration
	// Wait is how long a repeat that finds the call running waits for its
	// result before giving up with ErrBusy (never longer than ctx allows).
	// Zero gives up at once.
	Wait time.Duration
}

// pollEvery bounds how often a waiting repeat asks for the result.
const (
	pollFirst = 10 * time.Millisecond
	pollMax   = 100 * time.Millisecond
)

// Dedupe runs fn at most once per key within o.Window, across every replica
// sharing s. A repeat returns the first call's result (repeated true)
// without running fn. A repeat that arrives while the first call is still
// running waits up to o.Wait for its result; if the first call fails, the
// lease is released and the waiting repeat runs fn itself. Only a
// successful call (fn returns a nil error) is remembered.
//
// The error is fn's, ErrBusy, or the store's (wrapping ErrUnavailable):
// when the store cannot be used, fn does not run, since it could not be
// known to be the first.
//
// A call that fails with a result of its own (an isError tool result) keeps
// it in a variable of the closure and returns a non-nil error, so that it is
// not remembered:
//
//	var failed *mcp.CallToolResult
//	b, repeated, err := state.Dedupe(ctx, st, key, o, func(ctx context.Context) ([]byte, error) {
//		res, err := next.Handle(ctx, req)
//		if err == nil && res.IsError {
//			failed, err = res, errFailedCall
//		}
//		if err != nil {
//			return nil, err
//		}
//		return json.Marshal(res)
//	})
//	if failed != nil {
//		return failed, nil
//	}
func Dedupe(ctx context.Context, s Store, key string, o DedupeOptions, fn func(context.Context) ([]byte, error)) (result []byte, repeated bool, err error) {
	if err := checkTTL("dedupe window", o.Window); err != nil {
		return nil, false, err
	}
	if o.Lease <= 0 {
		o.Lease = o.Window
	}
	deadline := time.Now().Add(o.Wait)
	poll := pollFirst
	for {
		r, err := s.Reserve(ctx, key, o.Lease)
		if err != nil {
			return nil, false, err
		}
		switch r.Outcome {
		case Done:
			return r.Result, true, nil
		case Run:
			return run(ctx, s, r, o.Window, fn)
		}
		// Busy: another call runs; wait for its result or its failure.
		left := time.Until(deadline)
		if left <= 0 {
			return nil, false, ErrBusy
		}
		t := time.NewTimer(min(poll, left))
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, false, ctx.Err()
		case <-t.C:
		}
		poll = min(2*poll, pollMax)
	}
}

// run executes fn under the lease r, then remembers its result or releases
// the lease, also when fn panics or ctx is cancelled meanwhile.
func run(ctx context.Context, s Store, r Reservation, window time.Duration, fn func(context.Context) ([]byte, error)) (result []byte, repeated bool, err error) {
	done := false
	defer func() {
		if !done {
			_ = s.Release(context.WithoutCancel(ctx), r)
		}
	}()
	result, err = fn(ctx)
	if err != nil {
		return nil, false, err
	}
	// The call happened: its result goes back to the caller even when it
	// cannot be remembered (the store logs the outage). The lease is then
	// kept, not released, so that repeats stay off until it expires.
	done = true
	_ = s.Remember(context.WithoutCancel(ctx), r, result, window)
	return result, false, nil
}
