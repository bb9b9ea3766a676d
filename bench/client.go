package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// The one client every gateway is measured with: raw JSON-RPC over HTTP,
// handshake-era streamable HTTP (initialize once per session, then
// pre-encoded tools/call POSTs), accepting application/json and
// text/event-stream replies alike. Its own cost is the same for every MCP
// gateway, and small: no SDK, no schema handling.

const protocolVersion = "2025-06-18"

// httpClient is shared by all sessions: enough idle connections for every client.
var httpClient = &http.Client{
	Timeout: 30 * time.Second,
	Transport: &http.Transport{
		MaxIdleConns:        8192,
		MaxIdleConnsPerHost: 4096,
		IdleConnTimeout:     5 * time.Minute,
		DisableCompression:  true,
	},
}

// caller makes one call of the workload.
type caller interface {
	call(ctx context.Context) error
}

// endpoint opens callers: an MCP session each, or a plain HTTP client.
type endpoint interface {
	open(ctx context.Context) (caller, error)
}

// directEndpoint is the GET straight to the upstream, with the token.
type directEndpoint struct{ url, auth string }

func (d directEndpoint) open(context.Context) (caller, error) { return d, nil }

func (d directEndpoint) call(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, d.url, nil)
	if err != nil {
		return err
	}
	req.Header["Authorization"] = []string{d.auth}
	req.Header["Accept"] = []string{"application/json"}
	resp, err := httpClient.Do(req)
	if err != nil {
		return err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("upstream answered %d", resp.StatusCode)
	}
	return err
}

// mcpEndpoint is a tool of a streamable-HTTP MCP server.
type mcpEndpoint struct {
	url  string // …/mcp
	tool string
	args string // JSON object
}

func (e mcpEndpoint) open(ctx context.Context) (caller, error) {
	s, err := openSession(ctx, e.url)
	if err != nil {
		return nil, err
	}
	s.callPrefix = []byte(`{"jsonrpc":"2.0","id":`)
	s.callSuffix = []byte(`,"method":"tools/call","params":{"name":` + strconv.Quote(e.tool) + `,"arguments":` + e.args + `}}`)
	return s, nil
}

// session is one handshake-era MCP session.
type session struct {
	url, id                string
	next                   int64
	callPrefix, callSuffix []byte
	buf                    []byte
}

// openSession initializes a session (initialize, then notifications/initialized).
func openSession(ctx context.Context, url string) (*session, error) {
	s := &session{url: url}
	body := `{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"` + protocolVersion +
		`","capabilities":{},"clientInfo":{"name":"switchboard-bench","version":"1.0.0"}}}`
	resp, err := s.post(ctx, []byte(body))
	if err != nil {
		return nil, fmt.Errorf("initialize: %w", err)
	}
	s.id = resp.Header.Get("Mcp-Session-Id")
	if _, err := readResult(resp); err != nil {
		return nil, fmt.Errorf("initialize: %w", err)
	}
	if s.id == "" {
		return nil, errors.New("initialize: no Mcp-Session-Id")
	}
	resp, err = s.post(ctx, []byte(`{"jsonrpc":"2.0","method":"notifications/initialized"}`))
	if err != nil {
		return nil, fmt.Errorf("notifications/initialized: %w", err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return nil, fmt.Errorf("notifications/initialized: HTTP %d", resp.StatusCode)
	}
	s.next = 1
	return s, nil
}

func (s *session) post(ctx context.Context, body []byte) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header["Content-Type"] = []string{"application/json"}
	req.Header["Accept"] = []string{"application/json, text/event-stream"}
	req.Header["Mcp-Protocol-Version"] = []string{protocolVersion}
	if s.id != "" {
		req.Header["Mcp-Session-Id"] = []string{s.id}
	}
	return httpClient.Do(req)
}

// call sends the pre-encoded tools/call (only the id changes) and checks the
// reply is a result that is not isError.
func (s *session) call(ctx context.Context) error {
	s.buf = append(s.buf[:0], s.callPrefix...)
	s.buf = strconv.AppendInt(s.buf, s.next, 10)
	s.buf = append(s.buf, s.callSuffix...)
	s.next++
	resp, err := s.post(ctx, s.buf)
	if err != nil {
		return err
	}
	res, err := readResult(resp)
	if err != nil {
		return err
	}
	var r struct {
		IsError bool `json:"isError"`
		Content []struct {
			Text string `json:"text"`
		} `json:"content"`
	}
	if err := json.Unmarshal(res, &r); err != nil {
		return fmt.Errorf("tools/call result: %w", err)
	}
	if r.IsError {
		text := ""
		if len(r.Content) > 0 {
			text = r.Content[0].Text
		}
		return fmt.Errorf("tools/call: isError: %s", text)
	}
	return nil
}

// request sends one request and returns its result (for tools/list and the like).
func (s *session) request(ctx context.Context, method string, params any) (json.RawMessage, error) {
	p, err := json.Marshal(params)
	if err != nil {
		return nil, err
	}
	body := `{"jsonrpc":"2.0","id":` + strconv.FormatInt(s.next, 10) + `,"method":` + strconv.Quote(method) + `,"params":` + string(p) + `}`
	s.next++
	resp, err := s.post(ctx, []byte(body))
	if err != nil {
		return nil, err
	}
	return readResult(resp)
}

// readResult reads a JSON-RPC response from a JSON or an SSE reply and
// returns its result, or its error as an error.
func readResult(resp *http.Response) (json.RawMessage, error) {
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return nil, fmt.Errorf("HTTP %d: %s", resp.StatusCode, bytes.TrimSpace(b))
	}
	var msg []byte
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		var err error
		if msg, err = sseResponse(resp.Body); err != nil {
			return nil, err
		}
	} else {
		var err error
		if msg, err = io.ReadAll(resp.Body); err != nil {
			return nil, err
		}
	}
	var r struct {
		Result json.RawMessage `json:"result"`
		Error  *struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if err := json.Unmarshal(msg, &r); err != nil {
		return nil, fmt.Errorf("reply: %w", err)
	}
	if r.Error != nil {
		return nil, fmt.Errorf("JSON-RPC error %d: %s", r.Error.Code, r.Error.Message)
	}
	if r.Result == nil {
		return nil, errors.New("reply without result")
	}
	return r.Result, nil
}

// sseResponse returns the data of the first event that is a response (has
// "result" or "error"), skipping notifications sent before it.
func sseResponse(r io.Reader) ([]byte, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 64<<20)
	var data []byte
	for sc.Scan() {
		line := sc.Bytes()
		if len(line) == 0 {
			if isResponse(data) {
				return data, nil
			}
			data = data[:0]
			continue
		}
		if rest, ok := bytes.CutPrefix(line, []byte("data:")); ok {
			if len(data) > 0 {
				data = append(data, '\n')
			}
			data = append(data, bytes.TrimPrefix(rest, []byte(" "))...)
		}
	}
	if isResponse(data) {
		return data, nil
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return nil, errors.New("event stream ended without a response")
}

func isResponse(data []byte) bool {
	return len(data) > 0 && (bytes.Contains(data, []byte(`"result"`)) || bytes.Contains(data, []byte(`"error"`)))
}
