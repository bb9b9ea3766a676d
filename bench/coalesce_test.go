package main_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkCoalescing16 measures what sharing identical reads saves when 16
// arrive at once (a voice platform retrying, several agents asking the same
// stock level): one op is 16 concurrent calls through the whole policy path
// against an upstream that takes 20 ms per request. "identical" sends the
// same arguments and call_id (coalesced into one request); "distinct" sends
// 16 different arguments (16 requests). upstream-req/op is what the upstream
// had to serve.
func BenchmarkCoalescing16(b *testing.B) {
	const n = 16
	var served atomic.Int64
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		served.Add(1)
		time.Sleep(20 * time.Millisecond)
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, reply)
	}))
	b.Cleanup(up.Close)
	a := benchApp(b, up.URL)
	callCtx := map[string]string{"call_id": "c-bench"}
	for _, mode := range []string{"identical", "distinct"} {
		b.Run(mode, func(b *testing.B) {
			served.Store(0)
			ops := 0
			for b.Loop() {
				ops++
				var wg sync.WaitGroup
				for i := range n {
					args := []byte(`{"email":"maria@example.com"}`)
					if mode == "distinct" {
						args = []byte(fmt.Sprintf(`{"email":"maria%d@example.com"}`, i))
					}
					wg.Add(1)
					go func() {
						defer wg.Done()
						res, err := a.Call(context.Background(), "helpdesk_buscar_cliente", args, callCtx)
						if err != nil || res.IsError {
							b.Errorf("%v %+v", err, res)
						}
					}()
				}
				wg.Wait()
			}
			b.ReportMetric(float64(served.Load())/float64(ops), "upstream-req/op")
		})
	}
}
