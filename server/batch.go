package server

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
)

// batchVersion is the one revision of streamable HTTP that allows JSON-RPC
// batches (2025-06-18 removed them); mcp-go answers a batch with 400.
const batchVersion = "2025-03-26"

// batches answers a JSON-RPC batch POSTed to /mcp by passing each message
// to next as a request of its own, in order, and answering with the array of
// the responses (202 when there are none: only notifications). A batch from
// a client of a later revision is refused, as that revision requires.
// Messages the server would have streamed during a call (progress) are not
// part of a batch's JSON answer.
func batches(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.Body == nil {
			next.ServeHTTP(w, r)
			return
		}
		// Peek, so that the usual single message streams on unread.
		br := bufio.NewReaderSize(r.Body, 512)
		head, _ := br.Peek(512)
		if first := bytes.TrimLeft(head, " \t\r\n"); len(first) == 0 || first[0] != '[' {
			r.Body = readCloser{br, r.Body}
			next.ServeHTTP(w, r)
			return
		}
		body, err := io.ReadAll(br)
		if err != nil {
			http.Error(w, "request body too large or unreadable", http.StatusRequestEntityTooLarge)
			return
		}
		trimmed := bytes.TrimLeft(body, " \t\r\n")
		if v := r.Header.Get("MCP-Protocol-Version"); v != "" && v != batchVersion {
			writeRPCError(w, http.StatusBadRequest, -32600, "JSON-RPC batches are not supported in protocol version "+v)
			return
		}
		var msgs []json.RawMessage
		if err := json.Unmarshal(trimmed, &msgs); err != nil || len(msgs) == 0 {
			writeRPCError(w, http.StatusBadRequest, -32600, "invalid JSON-RPC batch")
			return
		}
		var responses []json.RawMessage
		for _, m := range msgs {
			sub := r.Clone(r.Context())
			sub.Body = io.NopCloser(bytes.NewReader(m))
			sub.ContentLength = int64(len(m))
			rec := &recorder{header: http.Header{}, code: http.StatusOK}
			next.ServeHTTP(rec, sub)
			if rec.code != http.StatusOK && rec.code != http.StatusAccepted {
				rec.copyTo(w) // an unknown session, say: the batch fails as its message did
				return
			}
			if id := rec.header.Get("Mcp-Session-Id"); id != "" {
				w.Header().Set("Mcp-Session-Id", id)
			}
			responses = append(responses, rec.responses()...)
		}
		if len(responses) == 0 {
			w.WriteHeader(http.StatusAccepted)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(responses)
	})
}

type readCloser struct {
	io.Reader
	io.Closer
}

func writeRPCError(w http.ResponseWriter, status, code int, msg string) {
	writeJSON(w, status, map[string]any{"jsonrpc": "2.0", "id": nil, "error": map[string]any{"code": code, "message": msg}})
}

// recorder keeps one message's answer.
type recorder struct {
	header http.Header
	code   int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header         { return r.header }
func (r *recorder) Write(b []byte) (int, error) { return r.body.Write(b) }
func (r *recorder) WriteHeader(code int)        { r.code = code }
func (r *recorder) Flush()                      {}

func (r *recorder) copyTo(w http.ResponseWriter) {
	for k, v := range r.header {
		w.Header()[k] = v
	}
	w.WriteHeader(r.code)
	_, _ = w.Write(r.body.Bytes())
}

// responses are the JSON-RPC responses in the answer: the body itself, or
// the messages with an id among the events of an SSE answer.
func (r *recorder) responses() []json.RawMessage {
	if r.code == http.StatusAccepted || r.body.Len() == 0 {
		return nil
	}
	if !strings.HasPrefix(r.header.Get("Content-Type"), "text/event-stream") {
		return []json.RawMessage{append(json.RawMessage(nil), bytes.TrimSpace(r.body.Bytes())...)}
	}
	var out []json.RawMessage
	sc := bufio.NewScanner(&r.body)
	sc.Buffer(make([]byte, 0, 64<<10), 16<<20)
	for sc.Scan() {
		data, ok := strings.CutPrefix(sc.Text(), "data:")
		if !ok {
			continue
		}
		var m struct {
			ID     json.RawMessage `json:"id"`
			Result json.RawMessage `json:"result"`
			Error  json.RawMessage `json:"error"`
		}
		raw := json.RawMessage(strings.TrimSpace(data))
		if json.Unmarshal(raw, &m) == nil && len(m.ID) > 0 && (m.Result != nil || m.Error != nil) {
			out = append(out, raw)
		}
	}
	return out
}
