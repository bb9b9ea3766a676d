package policy

import (
	"context"
	"errors"
	"strings"
	"testing"
)

func TestFlightPanicIsAnError(t *testing.T) {
	var g flights[int]
	_, err, _, _ := g.do(context.Background(), "k", func(context.Context) (int, error) { panic("boom") })
	if err == nil || !strings.Contains(err.Error(), "boom") {
		t.Fatalf("err = %v", err)
	}
	// The key is free again.
	v, err, joined, shared := g.do(context.Background(), "k", func(context.Context) (int, error) { return 7, nil })
	if v != 7 || err != nil || joined || shared {
		t.Fatalf("second run = %d %v %v %v", v, err, joined, shared)
	}
}

func TestFlightFinishOutlivesItsCallers(t *testing.T) {
	g := flights[int]{finish: true}
	ctx, cancel := context.WithCancel(context.Background())
	started, release := make(chan struct{}), make(chan struct{})
	ran := make(chan error, 1)
	go func() {
		_, err, _, _ := g.do(ctx, "k", func(rctx context.Context) (int, error) {
			close(started)
			<-release
			ran <- rctx.Err()
			return 1, nil
		})
		if !errors.Is(err, context.Canceled) {
			t.Errorf("the caller who left got %v", err)
		}
	}()
	<-started
	cancel()
	waitFor(t, func() bool { return g.count() == 0 })
	close(release)
	if err := <-ran; err != nil {
		t.Fatalf("a finish run was cancelled: %v", err)
	}
}
