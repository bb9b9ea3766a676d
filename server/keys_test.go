package server

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeStore is a key store whose contents the test changes.
type fakeStore struct {
	mu    sync.Mutex
	keys  map[string]string // id → key
	down  bool
	reads atomic.Int64
}

func (f *fakeStore) set(id, key string) {
	f.mu.Lock()
	f.keys[id] = key
	f.mu.Unlock()
}

func (f *fakeStore) read(context.Context) (ClientSet, error) {
	f.reads.Add(1)
	f.mu.Lock()
	defer f.mu.Unlock()
	cs := ClientSet{Configured: true}
	for id, k := range f.keys {
		if f.down {
			cs.Unavailable = append(cs.Unavailable, id)
			continue
		}
		cs.Clients = append(cs.Clients, Client{ID: id, Key: k})
	}
	if f.down {
		return cs, errors.New("store down")
	}
	return cs, nil
}

func handler(k *Keys) http.Handler {
	return k.requireClient(nil, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(callerFrom(r.Context()).ClientID))
	}))
}

func do(h http.Handler, key, remote string) (int, string) {
	r := httptest.NewRequest("POST", "/mcp", nil)
	if remote != "" {
		r.RemoteAddr = remote
	}
	if key != "" {
		r.Header.Set("Authorization", "Bearer "+key)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w.Code, w.Body.String()
}

func TestKeysRotation(t *testing.T) {
	store := &fakeStore{keys: map[string]string{"voice": "k1"}}
	k := NewKeys(store.read, time.Hour, nil)
	if err := k.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	h := handler(k)
	if code, id := do(h, "k1", ""); code != 200 || id != "voice" {
		t.Fatalf("k1: %d %q", code, id)
	}
	// A key added to the store works on its first request...
	store.set("ops", "k2")
	k.now = func() time.Time { return time.Now().Add(2 * time.Second) }
	if code, id := do(h, "k2", ""); code != 200 || id != "ops" {
		t.Fatalf("new key: %d %q", code, id)
	}
	// ...and unknown keys re-read the store at most once a second.
	before := store.reads.Load()
	k.now = time.Now
	for range 50 {
		if code, _ := do(h, "guess", ""); code != 401 {
			t.Fatal("a wrong key was accepted")
		}
	}
	if n := store.reads.Load() - before; n > 1 {
		t.Fatalf("50 unknown keys caused %d reads", n)
	}
	// A rotated-out key is refused after the next read.
	store.set("voice", "k3")
	_ = k.Refresh(context.Background())
	if code, _ := do(h, "k1", ""); code != 401 {
		t.Fatal("the rotated-out key still works")
	}
	// A store that is down keeps the keys it last gave.
	store.mu.Lock()
	store.down = true
	store.mu.Unlock()
	_ = k.Refresh(context.Background())
	if code, _ := do(h, "k3", ""); code != 200 {
		t.Fatal("a store outage locked the client out")
	}
}

func TestKeysCloseStreamsOfRotatedKeys(t *testing.T) {
	store := &fakeStore{keys: map[string]string{"voice": "k1"}}
	k := NewKeys(store.read, time.Hour, nil)
	_ = k.Refresh(context.Background())
	ended := make(chan struct{})
	h := k.requireClient(nil, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done() // a long-lived stream
		close(ended)
	}))
	go func() {
		r := httptest.NewRequest("GET", "/sse", nil)
		r.Header.Set("Authorization", "Bearer k1")
		h.ServeHTTP(httptest.NewRecorder(), r)
	}()
	time.Sleep(50 * time.Millisecond)
	store.set("voice", "k2")
	_ = k.Refresh(context.Background())
	select {
	case <-ended:
	case <-time.After(2 * time.Second):
		t.Fatal("the stream of a rotated-out key stayed open")
	}
}

func TestProtectedMode(t *testing.T) {
	k := StaticKeys(nil)
	open := false
	h := k.requireClient(func() bool { return open }, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	if code, _ := do(h, "", "127.0.0.1:5000"); code != 200 {
		t.Fatalf("loopback: %d", code)
	}
	if code, _ := do(h, "", "[::1]:5000"); code != 200 {
		t.Fatalf("loopback v6: %d", code)
	}
	code, body := do(h, "", "192.0.2.7:5000")
	if code != 403 || !strings.Contains(body, "server.open: true") || !strings.Contains(body, "clients:") {
		t.Fatalf("remote: %d %s", code, body)
	}
	open = true
	if code, _ := do(h, "", "192.0.2.7:5000"); code != 200 {
		t.Fatalf("open: %d", code)
	}
}

func TestMatchComparesEveryKey(t *testing.T) {
	s := keySet{configured: true}
	for _, id := range []string{"a", "b", "c"} {
		s.entries = append(s.entries, keyEntry{hash: [32]byte{id[0]}, caller: callerOf(Client{ID: id})})
	}
	if c, ok := s.match([32]byte{'b'}); !ok || c.ClientID != "b" {
		t.Fatalf("match b: %v %v", c, ok)
	}
	if _, ok := s.match([32]byte{'z'}); ok {
		t.Fatal("matched an unknown hash")
	}
}

func TestOpensSession(t *testing.T) {
	for _, tc := range []struct {
		method, path string
		hdr          map[string]string
		want         bool
	}{
		{"POST", "/mcp", nil, true},
		{"POST", "/mcp", map[string]string{"Mcp-Session-Id": "x"}, false},
		{"POST", "/mcp", map[string]string{"Mcp-Method": "tools/call"}, false},
		{"GET", "/sse", nil, true},
		{"POST", "/message", nil, false},
	} {
		r := httptest.NewRequest(tc.method, tc.path, nil)
		for k, v := range tc.hdr {
			r.Header.Set(k, v)
		}
		if got := opensSession(r); got != tc.want {
			t.Errorf("%s %s %v: %v", tc.method, tc.path, tc.hdr, got)
		}
	}
}
