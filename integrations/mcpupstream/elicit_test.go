package mcpupstream

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	mcpgo "github.com/mark3labs/mcp-go/mcp"
	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/switchboard-dev/switchboard/integrations"
)

// answerer is the client of a call: it can be asked, and answers with name
// (or fails with err).
type answerer struct {
	name string
	err  error

	mu    sync.Mutex
	asked []string
}

// asks makes c a call whose client supports elicitation and answers.
func (a *answerer) asks(c *integrations.Call) {
	c.CanElicit = true
	c.Elicit = func(ctx context.Context, p mcpgo.ElicitationParams) (*mcpgo.ElicitationResult, error) {
		a.mu.Lock()
		a.asked = append(a.asked, p.Message)
		a.mu.Unlock()
		if a.err != nil {
			return nil, a.err
		}
		return &mcpgo.ElicitationResult{ElicitationResponse: mcpgo.ElicitationResponse{
			Action: mcpgo.ElicitationResponseActionAccept, Content: map[string]any{"name": a.name}}}, nil
	}
}

func (a *answerer) question() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return strings.Join(a.asked, " | ")
}

// An upstream's elicitation during a call is put to the client of that call
// when it can be asked, and its answer goes back; otherwise (the client did
// not declare elicitation, or cannot be reached during the call, or its
// answer fails) the upstream is refused at once and the refusal logged.
func TestHTTPElicitationForwarding(t *testing.T) {
	t.Parallel()
	s := sdk.NewServer(&sdk.Implementation{Name: "ask", Version: "1"}, nil)
	addAskTool(s)
	ts := httptest.NewServer(sdk.NewStreamableHTTPHandler(func(*http.Request) *sdk.Server { return s }, nil))
	t.Cleanup(ts.Close)
	logs := &logRecorder{}
	u := mustNew(t, integration(t, plainYAML(ts.URL)), Deps{Logger: logs.logger()})
	started(t, u)

	a := &answerer{name: "Ana"}
	r, err := callCtx(t, context.Background(), u, "crm_ask_name", nil, a.asks)
	if err != nil || r.IsError || text(r) != "accept Ana" || a.question() != "What is your name?" {
		t.Fatalf("forwarded: %q %v (asked %q)", textOf(r), err, a.question())
	}
	if l := logs.with("elicitation answered"); len(l) != 1 || l[0].Attrs["tool"] != "crm_ask_name" || l[0].Attrs["action"] != mcpgo.ElicitationResponseActionAccept {
		t.Fatalf("answered log: %+v", l)
	}

	for _, tc := range []struct {
		name string
		edit func(*integrations.Call)
		log  string
		want string
	}{
		{"client without elicitation", nil, "refused an upstream's elicitation", "switchboard cannot ask the user"},
		{"no way to ask during the call", func(c *integrations.Call) { c.CanElicit = true }, "refused an upstream's elicitation", "switchboard cannot ask the user"},
		{"the client's answer fails", (&answerer{err: errors.New("client went away")}).asks, "elicitation forwarded to the client failed", "client went away"},
	} {
		before := len(logs.with(tc.log))
		r, err := callCtx(t, context.Background(), u, "crm_ask_name", nil, tc.edit)
		if err != nil || !r.IsError || !strings.Contains(text(r), "elicitation failed") || !strings.Contains(text(r), tc.want) {
			t.Errorf("%s: %q %v; want the upstream told %q", tc.name, textOf(r), err, tc.want)
		}
		l := logs.with(tc.log)
		if len(l) != before+1 || l[len(l)-1].Attrs["tool"] != "crm_ask_name" {
			t.Errorf("%s: %q log records %+v", tc.name, tc.log, l)
		}
	}
}
