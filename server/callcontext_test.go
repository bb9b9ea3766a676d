package server

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/mark3labs/mcp-go/mcp"
)

func TestCallContextHeadersThenMeta(t *testing.T) {
	var got context.Context
	h := callHeaders(map[string]string{"caller_number": "X-Caller-Number", "call_id": "X-Call-Id", "language": "X-Lang"},
		http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) { got = r.Context() }))
	r := httptest.NewRequest("POST", "/mcp", nil)
	r.Header.Set("X-Caller-Number", " +34612345678 ")
	r.Header.Set("X-Call-Id", "c-from-header")
	r.Header.Set("X-Lang", "es\x01") // control characters: dropped
	h.ServeHTTP(httptest.NewRecorder(), r)

	var meta mcp.Meta
	if err := json.Unmarshal([]byte(`{"progressToken":"p","io.switchboard/call":{"call_id":"c-81","conversation_id":42,"Bad-Name":"x","nested":{"a":1},"empty":"","long":"`+strings.Repeat("9", 600)+`"}}`), &meta); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"caller_number": "+34612345678", "call_id": "c-81", "conversation_id": "42"}
	if cc := callContext(got, &meta); !reflect.DeepEqual(cc, want) {
		t.Fatalf("call context = %v, want %v", cc, want)
	}
	if cc := callContext(context.Background(), nil); cc != nil {
		t.Fatalf("no sources gave %v", cc)
	}
}
