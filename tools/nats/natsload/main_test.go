package main

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

func TestWindowCountsOnlyAcknowledgementsInsideIt(t *testing.T) {
	start := time.Now()
	w := &window{from: start.Add(time.Second), to: start.Add(3 * time.Second), errors: map[string]int64{}}
	for _, at := range []time.Duration{0, 500 * time.Millisecond, time.Second, 2 * time.Second, 2500 * time.Millisecond, 4 * time.Second} {
		w.acked(start.Add(at))
	}
	if w.warmup != 2 || w.records != 3 || w.after != 1 {
		t.Fatalf("warmup %d, records %d, after %d; want 2, 3, 1", w.warmup, w.records, w.after)
	}
	if want := start.Add(2500 * time.Millisecond); !w.last.Equal(want) {
		t.Fatalf("last = %v, want the last acknowledgement in the window, %v", w.last, want)
	}
}

func TestWindowNamesErrorsByKind(t *testing.T) {
	w := &window{errors: map[string]int64{}}
	w.failed(fmt.Errorf("publish: %w", context.DeadlineExceeded))
	w.failed(jetstream.ErrAsyncPublishTimeout)
	w.failed(jetstream.ErrTooManyStalledMsgs)
	w.failed(&jetstream.APIError{Code: 503, ErrorCode: 10077, Description: "maximum messages exceeded"})
	w.failed(errors.New("nats: connection closed"))
	want := map[string]int64{"timeout": 2, "stalled": 1, "api_10077": 1, "nats: connection closed": 1}
	if fmt.Sprint(w.errors) != fmt.Sprint(want) {
		t.Fatalf("errors = %v, want %v", w.errors, want)
	}
}
