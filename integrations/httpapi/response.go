package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/switchboard-dev/switchboard/integrations"
	"github.com/switchboard-dev/switchboard/internal/secrets"
)

// readReply turns a 2xx reply into the result the model sees: shaped by jq
// when configured, cut to max_bytes, with structuredContent when the shaped
// reply is a JSON object. Reading stops at max_read (with jq) or max_bytes
// (without), so a huge reply is never held in memory.
func (t *tool) readReply(ctx context.Context, resp *http.Response, used *secrets.Redactor) (*mcp.CallToolResult, error) {
	maxBytes := int64(t.cfg.Response.MaxBytes)
	// Read a little past max_bytes, so that a secret echoed across the cut is
	// scrubbed whole before the text is cut.
	limit := maxBytes + int64(used.Longest())
	if t.jq != nil {
		limit = int64(t.cfg.Response.MaxRead)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, t.transportError(ctx, err)
	}
	over := int64(len(body)) > limit
	if over {
		// Cut on a rune boundary: body[limit] exists, so back up to a rune start.
		cut := limit
		for cut > 0 && cut > limit-utf8.UTFMax && !utf8.RuneStart(body[cut]) {
			cut--
		}
		body = body[:cut]
	}
	if t.jq != nil && over {
		return nil, integrations.Errorf(integrations.KindUpstream, nil,
			"%s sent a reply larger than %d bytes, too large to shape; narrow the request.", t.integ.Name, limit)
	}
	if len(body) == 0 {
		return mcp.NewToolResultText(fmt.Sprintf("Done: %s answered %d %s with no content.", t.integ.Name, resp.StatusCode, http.StatusText(resp.StatusCode))), nil
	}

	ctype, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	isJSON := ctype == "application/json" || strings.HasSuffix(ctype, "+json") || (ctype == "" && json.Valid(body))
	if t.jq != nil {
		var in any
		if err := json.Unmarshal(body, &in); err != nil {
			return nil, integrations.Errorf(integrations.KindUpstream, err, "%s did not answer with JSON, so its reply could not be read.", t.integ.Name)
		}
		out, err := t.runJQ(ctx, in)
		if err != nil {
			return nil, integrations.Errorf(integrations.KindInternal, err, "The reply of %s could not be shaped (response.jq failed).", t.integ.Name)
		}
		return t.result(out, maxBytes, used), nil
	}
	if !utf8.Valid(body) {
		return mcp.NewToolResultText(fmt.Sprintf("%s answered with %d bytes of binary data (%s), which cannot be shown.", t.integ.Name, len(body), ctype)), nil
	}
	if isJSON && !over {
		var v any
		if json.Unmarshal(body, &v) == nil {
			return t.result(v, maxBytes, used), nil
		}
	}
	return textResult(string(body), over, maxBytes, used), nil
}

func (t *tool) runJQ(ctx context.Context, in any) (any, error) {
	iter := t.jq.RunWithContext(ctx, in)
	var outs []any
	for {
		v, ok := iter.Next()
		if !ok {
			break
		}
		if err, ok := v.(error); ok {
			var halt interface{ IsHaltError() bool }
			if errors.As(err, &halt) && halt.IsHaltError() {
				break
			}
			return nil, err
		}
		outs = append(outs, v)
	}
	switch len(outs) {
	case 0:
		return nil, nil
	case 1:
		return outs[0], nil
	}
	return outs, nil
}

// result renders a decoded JSON value: a string as itself, anything else as
// compact JSON; a JSON object also as structuredContent when it is whole.
func (t *tool) result(v any, maxBytes int64, used *secrets.Redactor) *mcp.CallToolResult {
	var text string
	if s, ok := v.(string); ok {
		text = s
	} else {
		b, err := json.Marshal(v)
		if err != nil {
			text = fmt.Sprint(v)
		} else {
			text = string(b)
		}
	}
	res := textResult(text, false, maxBytes, used)
	if obj, ok := v.(map[string]any); ok && int64(len(text)) <= maxBytes && !used.Contains(text) {
		res.StructuredContent = obj
	}
	return res
}

// textResult cuts text to maxBytes on a rune boundary and says so, and
// scrubs every secret used for the call from what the upstream echoed.
func textResult(text string, truncated bool, maxBytes int64, used *secrets.Redactor) *mcp.CallToolResult {
	text, cut := integrations.CutText(used.Redact(text), maxBytes)
	if truncated || cut {
		text += integrations.TruncationNote(maxBytes)
	}
	return mcp.NewToolResultText(text)
}

// statusError turns a non-2xx reply into a sentence a voice agent can act
// on; the upstream's own short message is kept when it gives one.
func (t *tool) statusError(resp *http.Response, used *secrets.Redactor) error {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	return integrations.UpstreamStatus(t.integ.Name, resp.StatusCode, used.Redact(upstreamMessage(b)),
		fmt.Errorf("%s %s: upstream status %d: %s", t.cfg.Method, t.cfg.Path, resp.StatusCode, used.Redact(string(b))))
}

// upstreamMessage picks a human message out of a JSON error body.
func upstreamMessage(b []byte) string {
	var m map[string]any
	if json.Unmarshal(b, &m) != nil {
		return ""
	}
	for _, k := range []string{"message", "error_description", "detail", "error", "title"} {
		switch v := m[k].(type) {
		case string:
			return v
		case map[string]any:
			if s, ok := v["message"].(string); ok {
				return s
			}
		}
	}
	return ""
}
