package mcpupstream

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"
)

// tap sits between mcp-go's client and its transport and sees the raw
// results it would otherwise decode and lose:
//   - a server/discover result that lacks what the 2026-07-28 revision
//     requires (an empty {} from a server that answers every method, say) is
//     turned into an error, so the client falls back to initialize instead of
//     trusting it;
//   - every tools/list page is kept raw, so an upstream's input schemas pass
//     through byte for byte ($schema and all), which mcp.Tool does not keep.
type tap struct {
	transport.Interface

	mu      sync.Mutex
	schemas map[string]json.RawMessage // upstream tool name → inputSchema as sent
}

// httpTap is a tap over an HTTP transport: mcp-go tells it the negotiated
// protocol version (for the MCP-Protocol-Version header).
type httpTap struct{ *tap }

func (t httpTap) SetProtocolVersion(v string) {
	t.Interface.(transport.HTTPConnection).SetProtocolVersion(v)
}

func newTap(inner transport.Interface) transport.Interface {
	t := &tap{Interface: inner}
	if _, ok := inner.(transport.HTTPConnection); ok {
		return httpTap{t}
	}
	return t
}

func tapOf(i transport.Interface) *tap {
	switch t := i.(type) {
	case *tap:
		return t
	case httpTap:
		return t.tap
	}
	return nil
}

func (t *tap) SendRequest(ctx context.Context, req transport.JSONRPCRequest) (*transport.JSONRPCResponse, error) {
	resp, err := t.Interface.SendRequest(ctx, req)
	if err == nil && req.Method == string(mcp.MethodServerDiscover) && refusedVersionItSupports(resp) {
		// A server that refuses the version it then lists as supported
		// (the conformance suite's request-metadata does, once) is asked
		// again; mcp-go only retries with a different version.
		resp, err = t.Interface.SendRequest(ctx, req)
	}
	if err != nil || resp == nil || resp.Error != nil {
		return resp, err
	}
	switch req.Method {
	case string(mcp.MethodServerDiscover):
		if err := checkDiscover(resp.Result); err != nil {
			return nil, err
		}
	case string(mcp.MethodToolsList):
		var page struct {
			Tools []struct {
				Name        string          `json:"name"`
				InputSchema json.RawMessage `json:"inputSchema"`
			} `json:"tools"`
		}
		if json.Unmarshal(resp.Result, &page) == nil {
			t.mu.Lock()
			if t.schemas == nil {
				t.schemas = map[string]json.RawMessage{}
			}
			for _, tl := range page.Tools {
				t.schemas[tl.Name] = tl.InputSchema
			}
			t.mu.Unlock()
		}
	}
	return resp, nil
}

// refusedVersionItSupports: an unsupported-protocol-version error whose
// supported list holds the stateless-core revision switchboard asked for.
func refusedVersionItSupports(resp *transport.JSONRPCResponse) bool {
	if resp == nil || resp.Error == nil || resp.Error.Code != mcp.UNSUPPORTED_PROTOCOL_VERSION {
		return false
	}
	b, err := json.Marshal(resp.Error.Data)
	if err != nil {
		return false
	}
	var data struct {
		Supported []string `json:"supported"`
	}
	_ = json.Unmarshal(b, &data)
	for _, v := range data.Supported {
		if v == mcp.ProtocolVersion20260728 {
			return true
		}
	}
	return false
}

// schema returns the input schema the upstream sent for tool name, or nil.
func (t *tap) schema(name string) json.RawMessage {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.schemas[name]
}

// errNotStateless: the upstream answered server/discover without what the
// 2026-07-28 revision requires of the answer.
var errNotStateless = errors.New("server/discover answer is not a 2026-07-28 discovery result")

// checkDiscover requires what a DiscoverResult must carry: the supported
// versions (at least one) and the capabilities object. Anything less is not
// a stateless-core server, whatever it answered.
func checkDiscover(raw json.RawMessage) error {
	var d struct {
		SupportedVersions []string         `json:"supportedVersions"`
		Capabilities      *json.RawMessage `json:"capabilities"`
	}
	if err := json.Unmarshal(raw, &d); err != nil {
		return fmt.Errorf("%w: %v", errNotStateless, err)
	}
	switch {
	case len(d.SupportedVersions) == 0:
		return fmt.Errorf("%w: no supportedVersions", errNotStateless)
	case d.Capabilities == nil || string(*d.Capabilities) == "null":
		return fmt.Errorf("%w: no capabilities", errNotStateless)
	}
	return nil
}

func (t *tap) SetRequestHandler(h transport.RequestHandler) {
	if b, ok := t.Interface.(transport.BidirectionalInterface); ok {
		b.SetRequestHandler(h)
	}
}

func (t *tap) SetConnectionLostHandler(h func(error)) {
	if s, ok := t.Interface.(interface{ SetConnectionLostHandler(func(error)) }); ok {
		s.SetConnectionLostHandler(h)
	}
}

func (t *tap) RequiresLegacyProtocol() bool {
	l, ok := t.Interface.(interface{ RequiresLegacyProtocol() bool })
	return ok && l.RequiresLegacyProtocol()
}
