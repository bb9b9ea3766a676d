package policy

import (
	"context"
	"crypto/sha256"
	"encoding/hex"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/switchboard-dev/switchboard/integrations"
)

// coalescer shares one upstream request among identical calls in flight:
// concurrent calls of one read-only tool with the same canonical arguments,
// client and call_id all get the result of the first one. Each is still
// audited on its own, marked shared. A tool that needs confirmation is never
// coalesced (each confirmation is its own).
type coalescer struct {
	flights flights[*mcp.CallToolResult]
}

func (co *coalescer) middleware(t *integrations.Tool, next integrations.Handler) integrations.Handler {
	if !t.ReadOnly || t.NeedsConfirmation {
		return next
	}
	return keepValidator(next, integrations.HandlerFunc(func(ctx context.Context, c *integrations.Call) (*mcp.CallToolResult, error) {
		if c.Presented.RequestState != "" {
			// The answer to an upstream's question goes to the one call
			// that holds it.
			return next.Call(ctx, c)
		}
		key, err := callKey("coalesce", t, c, c.CallID())
		if err != nil {
			return nil, integrations.InvalidArgs(t.Name(), []string{err.Error()})
		}
		// The run gets its own copy of the call: it may outlive this caller.
		run := *c
		res, err, joined, shared := co.flights.do(ctx, key, func(ctx context.Context) (*mcp.CallToolResult, error) {
			return next.Call(ctx, &run)
		})
		if joined && err == nil && res != nil && res.NeedsInput() {
			// A question is put to one caller: this one gets its own.
			return next.Call(ctx, c)
		}
		c.Shared = shared
		if !joined && ctx.Err() == nil { // this caller's run, and it has ended
			c.Elicited = run.Elicited
		}
		if err != nil && ctx.Err() != nil && integrations.KindOf(err) == integrations.KindInternal {
			return nil, integrations.Cancelled(t.Integration, err)
		}
		return ownCopy(res), err
	}))
}

// callKey identifies identical calls: the tool, the canonical arguments, the
// client and scope (the call_id, or for dedupe the session when there is
// none), each length-prefixed before hashing. It is the same on every
// replica, so a shared store can hold it.
func callKey(kind string, t *integrations.Tool, c *integrations.Call, scope string) (string, error) {
	digest, err := argsDigest(c.Args)
	if err != nil {
		return "", err
	}
	h := sha256.New()
	for _, f := range []string{kind, t.Name(), c.Caller.ClientID, scope} {
		writeField(h, f)
	}
	h.Write(digest[:])
	return kind + ":" + hex.EncodeToString(h.Sum(nil)), nil
}
