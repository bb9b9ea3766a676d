package state

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/switchboard-dev/switchboard/internal/testredis"
)

// go test -run '^$' -bench . ./internal/state/: each operation on memory and
// on a local Redis (loopback: the figure is mostly one round trip).
func BenchmarkStore(b *testing.B) {
	srv := testredis.Start(b)
	stores := []struct {
		name string
		s    Store
	}{
		{"memory", NewMemory(Config{})},
		{"redis", openTestRedis(b, srv.URL(), "bench:", nil)},
	}
	for _, st := range stores {
		s := st.s
		b.Run("Claim/"+st.name, func(b *testing.B) {
			for i := 0; b.Loop(); i++ {
				if _, err := s.Claim(ctx, "n"+strconv.Itoa(i), time.Minute); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("Allow/"+st.name, func(b *testing.B) {
			for b.Loop() {
				if _, _, err := s.Allow(ctx, "client", Limit{PerSecond: 1e9, Burst: 1000}); err != nil {
					b.Fatal(err)
				}
			}
		})
		run := func(context.Context) ([]byte, error) {
			return []byte(`{"content":[{"type":"text","text":"ticket 123"}]}`), nil
		}
		b.Run("Dedupe-first/"+st.name, func(b *testing.B) {
			for i := 0; b.Loop(); i++ {
				if _, _, err := Dedupe(ctx, s, "d"+strconv.Itoa(i), DedupeOptions{Window: time.Minute}, run); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("Dedupe-repeat/"+st.name, func(b *testing.B) {
			Dedupe(ctx, s, "repeat", DedupeOptions{Window: time.Hour}, run)
			for b.Loop() {
				if _, rep, err := Dedupe(ctx, s, "repeat", DedupeOptions{Window: time.Hour}, run); err != nil || !rep {
					b.Fatal(rep, err)
				}
			}
		})
		ids, _ := NewSessionIDs(s, []byte("0123456789abcdef"), time.Hour)
		id := ids.Generate()
		b.Run("SessionValidate/"+st.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := ids.Validate(id); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
