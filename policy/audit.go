package policy

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/switchboard-dev/switchboard/integrations"
)

// Decision is what policy decided for one call, as the audit log says it.
type Decision string

const (
	DecisionAllowed              Decision = "allowed"
	DecisionConfirmationRequired Decision = "confirmation_required"
	DecisionConfirmed            Decision = "confirmed"
	DecisionDeclined             Decision = "declined"
	DecisionDenied               Decision = "denied"
)

// Audit writes one JSON line per tool call. A line holds who called which
// tool, a hash of the arguments (never a value), what policy decided and how
// the call ended; nothing in it is a secret.
type Audit struct {
	mu  sync.Mutex
	w   io.Writer
	log *slog.Logger
	now func() time.Time
}

// NewAudit writes audit lines to w (a file opened for appending, or
// stderr). A failed write is logged on log; the call's result is not lost.
func NewAudit(w io.Writer, log *slog.Logger) *Audit {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Audit{w: w, log: log, now: time.Now}
}

// auditLine is the format of the audit log, one JSON object per line.
type auditLine struct {
	Time        time.Time `json:"time"`
	ClientID    string    `json:"client_id"`
	SessionID   string    `json:"session_id"`
	Tool        string    `json:"tool"`
	Integration string    `json:"integration"`
	ArgsHash    string    `json:"args_hash"`
	Decision    Decision  `json:"decision"`
	// Reason says why a presented confirmation was refused (invalid,
	// expired, reused) or a call denied.
	Reason   string  `json:"reason,omitempty"`
	Outcome  string  `json:"outcome"`
	Upstream int     `json:"upstream_status,omitempty"`
	Duration float64 `json:"duration_ms"`
	// CallID is the call context's call_id; no other context value is
	// written (they are personal data, like sensitive arguments).
	CallID string `json:"call_id,omitempty"`
	// Shared: the result came from one upstream request shared with
	// identical calls in flight.
	Shared bool `json:"shared,omitempty"`
	// UpstreamElicitation is what became of an upstream MCP server's
	// question to the person on the line during the call (asked, accept,
	// decline, cancel, unanswered, refused); never the question or answer.
	UpstreamElicitation string `json:"upstream_elicitation,omitempty"`
}

// middleware runs right inside the edge: it sees every call, the decision
// that inner middleware recorded on the Call, and the error before the edge
// hides it.
func (a *Audit) middleware(t *integrations.Tool, next integrations.Handler) integrations.Handler {
	return integrations.HandlerFunc(func(ctx context.Context, c *integrations.Call) (res *mcp.CallToolResult, err error) {
		start := time.Now()
		line := auditLine{
			ClientID:    c.Caller.ClientID,
			SessionID:   c.Session,
			Tool:        t.Name(),
			Integration: t.Integration,
			ArgsHash:    auditHash(c.Args, t.Sensitive),
			CallID:      c.CallID(),
		}
		panicked := true
		defer func() {
			line.Time = a.now().UTC()
			line.Duration = float64(time.Since(start).Microseconds()) / 1000
			line.Decision, line.Reason = decisionOf(c), c.Reason
			line.Outcome = outcome(res, err)
			if panicked {
				line.Outcome = "error"
			}
			line.Upstream = integrations.StatusOf(err)
			line.Shared = c.Shared
			line.UpstreamElicitation = c.Elicited
			a.write(line)
		}()
		res, err = next.Call(ctx, c)
		panicked = false
		return res, err
	})
}

// decisionOf is what policy decided for c; a call nothing objected to was
// allowed.
func decisionOf(c *integrations.Call) Decision {
	if c.Decision == "" {
		return DecisionAllowed
	}
	return Decision(c.Decision)
}

// outcome classifies how a call ended: ok, invalid (bad arguments, nothing
// sent) or error.
func outcome(res *mcp.CallToolResult, err error) string {
	switch {
	case err != nil && integrations.KindOf(err) == integrations.KindInvalid:
		return "invalid"
	case err != nil, res != nil && res.IsError:
		return "error"
	}
	return "ok"
}

func (a *Audit) write(line auditLine) {
	b, err := json.Marshal(line)
	if err != nil {
		a.log.Error("audit line could not be encoded", "tool", line.Tool, "error", err)
		return
	}
	b = append(b, '\n')
	a.mu.Lock()
	_, err = a.w.Write(b)
	a.mu.Unlock()
	if err != nil {
		a.log.Error("audit write failed", "tool", line.Tool, "error", err)
	}
}
