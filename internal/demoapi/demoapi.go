// Package demoapi is a small in-memory REST API that `switchboard serve --dev`
// runs on loopback, so the bundled demo integrations (configs/dev.yaml) work
// offline with no account anywhere.
//
// It answers like the real APIs it stands in for: a helpdesk (customers and
// tickets, bearer token) under /helpdesk/ and a shop (orders, inventory and
// refunds, X-API-Key header) under /shop/. Replies are JSON; errors are
// {"error":"<code>","message":"..."} with 401, 404, 405 or 422 (400 for a body
// that is not JSON). Refunds honour an Idempotency-Key header as payment APIs
// do. The data is seeded in Spanish and English for a phone-support demo and
// lives only as long as the handler.
//
// The whole HTTP surface is in routes below.
package demoapi

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Keys are the credentials each part of the API requires. The dev secret store
// must hand out the same values, so that the configured integrations
// authenticate. An empty key accepts no request at all.
type Keys struct {
	// HelpdeskToken is the bearer token of /helpdesk/
	// (Authorization: Bearer <HelpdeskToken>).
	HelpdeskToken string
	// ShopKey is the API key of /shop/ (X-API-Key: <ShopKey>).
	ShopKey string
}

// The secret references configs/dev.yaml authenticates with. In --dev mode
// they resolve from an in-memory store that Keys.Secrets fills.
const (
	HelpdeskTokenRef = "vault:secret/demo/helpdesk#api_token"
	ShopKeyRef       = "vault:secret/demo/shop#api_key"
)

// Secrets maps each secret reference of configs/dev.yaml to its key, ready
// to be the dev secret store's contents.
func (k Keys) Secrets() map[string]string {
	return map[string]string{
		HelpdeskTokenRef: k.HelpdeskToken,
		ShopKeyRef:       k.ShopKey,
	}
}

// GenerateKeys returns fresh random keys, so that a dev server never accepts a
// guessable credential.
func GenerateKeys() (Keys, error) {
	var k Keys
	for _, dst := range []*string{&k.HelpdeskToken, &k.ShopKey} {
		b := make([]byte, 16)
		if _, err := rand.Read(b); err != nil {
			return Keys{}, fmt.Errorf("demoapi: generate keys: %w", err)
		}
		*dst = "demo_" + hex.EncodeToString(b)
	}
	return k, nil
}

// New returns the demo API with its seeded data. Each call starts from the
// same fresh data set; nothing is shared between handlers.
func New(keys Keys) http.Handler {
	return newAPI(keys, time.Now).routes()
}

// maxBody caps a request body.
const maxBody = 64 << 10

// api holds one demo data set. mu guards every field below it.
type api struct {
	keys Keys
	now  func() time.Time

	mu          sync.Mutex
	customers   map[string]*customer
	customerIDs []string // seed order, so searches answer in a stable order
	tickets     map[int]*ticket
	nextTicket  int
	orders      map[string]*order
	inventory   map[string]*stockItem
	refunds     map[string]*refund
	nextRefund  int
	idempotency map[string]idempotentRefund
}

// idempotentRefund remembers which refund an Idempotency-Key created and with
// which parameters.
type idempotentRefund struct {
	fingerprint string
	refundID    string
}

func newAPI(keys Keys, now func() time.Time) *api {
	a := &api{
		keys:        keys,
		now:         now,
		customers:   map[string]*customer{},
		tickets:     map[int]*ticket{},
		orders:      map[string]*order{},
		inventory:   map[string]*stockItem{},
		refunds:     map[string]*refund{},
		idempotency: map[string]idempotentRefund{},
	}
	a.seed(now().UTC())
	return a
}

// routes is the whole HTTP surface of the demo API.
func (a *api) routes() http.Handler {
	helpdesk := http.NewServeMux()
	helpdesk.HandleFunc("GET /helpdesk/customers/search", a.searchCustomers)
	helpdesk.HandleFunc("GET /helpdesk/customers/{id}", a.getCustomer)
	helpdesk.HandleFunc("POST /helpdesk/tickets", a.createTicket)
	helpdesk.HandleFunc("GET /helpdesk/tickets/{id}", a.getTicket)

	shop := http.NewServeMux()
	shop.HandleFunc("GET /shop/orders/{id}", a.getOrder)
	shop.HandleFunc("GET /shop/inventory/{sku}", a.getStock)
	shop.HandleFunc("POST /shop/refunds", a.createRefund)

	mux := http.NewServeMux()
	mux.Handle("/helpdesk/", requireBearer(a.keys.HelpdeskToken, jsonMux(helpdesk)))
	mux.Handle("/shop/", requireHeader("X-API-Key", a.keys.ShopKey, jsonMux(shop)))
	mux.HandleFunc("GET /{$}", index)
	return jsonMux(mux)
}

// index tells a curious newcomer what is here.
func index(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{
		"name": "switchboard demo API",
		"endpoints": []string{
			"GET /helpdesk/customers/search?email=&phone=",
			"GET /helpdesk/customers/{id}",
			"POST /helpdesk/tickets",
			"GET /helpdesk/tickets/{id}",
			"GET /shop/orders/{id}",
			"GET /shop/inventory/{sku}",
			"POST /shop/refunds",
		},
		"auth": map[string]string{
			"helpdesk": "Authorization: Bearer <token>",
			"shop":     "X-API-Key: <key>",
		},
	})
}

// jsonMux answers the requests that mux has no route for with JSON errors
// (404, or 405 with Allow) instead of ServeMux's plain-text ones.
func jsonMux(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, pattern := mux.Handler(r); pattern != "" {
			mux.ServeHTTP(w, r)
			return
		}
		probe := &statusProbe{header: http.Header{}}
		mux.ServeHTTP(probe, r)
		if probe.code == http.StatusMethodNotAllowed {
			w.Header().Set("Allow", probe.header.Get("Allow"))
			writeError(w, http.StatusMethodNotAllowed, "method_not_allowed", r.Method+" is not allowed on "+r.URL.Path)
			return
		}
		writeError(w, http.StatusNotFound, "not_found", "no endpoint "+r.URL.Path)
	})
}

// statusProbe records the status and headers ServeMux would send, and drops
// its body.
type statusProbe struct {
	header http.Header
	code   int
}

func (p *statusProbe) Header() http.Header         { return p.header }
func (p *statusProbe) Write(b []byte) (int, error) { return len(b), nil }
func (p *statusProbe) WriteHeader(code int)        { p.code = code }

// requireBearer lets through requests with "Authorization: Bearer <token>".
func requireBearer(token string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		scheme, cred, _ := strings.Cut(r.Header.Get("Authorization"), " ")
		if !strings.EqualFold(scheme, "Bearer") || !keyMatches(strings.TrimSpace(cred), token) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="helpdesk"`)
			writeError(w, http.StatusUnauthorized, "unauthorized", "missing or invalid bearer token")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// requireHeader lets through requests whose header name carries key.
func requireHeader(name, key string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !keyMatches(r.Header.Get(name), key) {
			writeError(w, http.StatusUnauthorized, "unauthorized", "missing or invalid "+name+" header")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// keyMatches compares in constant time; an empty expected key matches nothing.
func keyMatches(got, want string) bool {
	return want != "" && subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

// apiError is the error body every endpoint answers with.
type apiError struct {
	Error   string `json:"error"`
	Message string `json:"message,omitempty"`
	Field   string `json:"field,omitempty"`
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, apiError{Error: code, Message: msg})
}

// invalid answers 422 for a bad value of one field.
func invalid(w http.ResponseWriter, field, msg string) {
	writeJSON(w, http.StatusUnprocessableEntity, apiError{Error: "validation_failed", Message: msg, Field: field})
}

func notFound(w http.ResponseWriter, msg string) {
	writeError(w, http.StatusNotFound, "not_found", msg)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

// decodeBody reads a JSON object into dst, strictly: unknown fields, wrong
// types and trailing data are rejected, as real APIs reject unknown
// parameters. It writes the error reply itself and reports whether to go on.
func decodeBody(w http.ResponseWriter, r *http.Request, dst any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	dec.DisallowUnknownFields()
	err := dec.Decode(dst)
	if err == nil {
		if dec.Decode(&struct{}{}) != io.EOF {
			writeError(w, http.StatusBadRequest, "invalid_json", "the body must hold a single JSON object")
			return false
		}
		return true
	}
	var typeErr *json.UnmarshalTypeError
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &typeErr) && typeErr.Field != "":
		invalid(w, typeErr.Field, fmt.Sprintf("%s must be a %s", typeErr.Field, jsonKind(typeErr.Type.Kind().String())))
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		field := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		invalid(w, field, fmt.Sprintf("unknown parameter %q", field))
	case errors.As(err, &tooBig):
		writeError(w, http.StatusRequestEntityTooLarge, "too_large", "the body is too large")
	case errors.Is(err, io.EOF), errors.As(err, &typeErr):
		writeError(w, http.StatusBadRequest, "invalid_json", "the body must be a JSON object")
	default:
		writeError(w, http.StatusBadRequest, "invalid_json", "the body is not valid JSON")
	}
	return false
}

// jsonKind names a Go kind as a JSON type, for error messages.
func jsonKind(kind string) string {
	switch {
	case strings.HasPrefix(kind, "int"), strings.HasPrefix(kind, "uint"):
		return "integer"
	case strings.HasPrefix(kind, "float"):
		return "number"
	case kind == "ptr":
		return "value of the right type"
	case kind == "map", kind == "struct":
		return "object"
	case kind == "slice":
		return "array"
	}
	return kind
}
