package spanqueue_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/raftline/raftline/telemetry/spanqueue"
)

// exporter records spans; while blocked it holds every export until
// released or its context ends.
type exporter struct {
	mu      sync.Mutex
	spans   int
	fail    bool
	blocked chan struct{}
}

func (e *exporter) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	if e.blocked != nil {
		select {
		case <-e.blocked:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.fail {
		return errors.New("receiver said no")
	}
	e.spans += len(spans)
	return nil
}

func (e *exporter) Shutdown(context.Context) error { return nil }

func (e *exporter) count() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.spans
}

func endSpans(p sdktrace.SpanProcessor, n int) {
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(p))
	tr := tp.Tracer("test")
	for range n {
		_, s := tr.Start(context.Background(), "s")
		s.End()
	}
}

func TestProcessor_ReceiverStuck_EndingSpansNeverWaitsAndDropsAreCounted(t *testing.T) {
	exp := &exporter{blocked: make(chan struct{})}
	p := spanqueue.New(exp, spanqueue.Options{QueueSize: 8, BatchSize: 4, Delay: time.Millisecond, ExportTimeout: time.Minute})
	const n = 10000
	start := time.Now()
	endSpans(p, n)
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("ending %d spans against a stuck receiver took %v", n, d)
	}
	st := p.Stats()
	if st.DroppedFull < n-8-4 {
		t.Fatalf("dropped %d of %d spans with room for 12", st.DroppedFull, n)
	}
	close(exp.blocked)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := p.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	st = p.Stats()
	if st.Exported+st.DroppedFull != n || int64(exp.count()) != st.Exported {
		t.Fatalf("stats %+v, exporter saw %d, want every one of %d spans exported or dropped", st, exp.count(), n)
	}
}

func TestProcessor_Shutdown_ExportsEverythingQueued(t *testing.T) {
	exp := &exporter{}
	p := spanqueue.New(exp, spanqueue.Options{QueueSize: 1000, BatchSize: 64, Delay: time.Hour})
	endSpans(p, 300)
	if err := p.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if exp.count() != 300 || p.Stats().Exported != 300 {
		t.Fatalf("exported %d (%+v), want 300", exp.count(), p.Stats())
	}
	endSpans(p, 5)
	if st := p.Stats(); st.DroppedFull != 5 {
		t.Errorf("spans ended after shutdown: %+v", st)
	}
}

func TestProcessor_ForceFlush(t *testing.T) {
	exp := &exporter{}
	p := spanqueue.New(exp, spanqueue.Options{Delay: time.Hour})
	defer p.Shutdown(context.Background())
	endSpans(p, 3)
	if err := p.ForceFlush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if exp.count() != 3 {
		t.Fatalf("exported %d after a flush, want 3", exp.count())
	}
}

func TestProcessor_ShutdownGivesUpOnADeadReceiver(t *testing.T) {
	exp := &exporter{blocked: make(chan struct{})}
	p := spanqueue.New(exp, spanqueue.Options{Delay: time.Millisecond, ExportTimeout: time.Hour})
	endSpans(p, 10)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	if err := p.Shutdown(ctx); err == nil {
		t.Error("shutdown against a dead receiver reported success")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("shutdown took %v past its deadline", d)
	}
	if st := p.Stats(); st.ExportFailed != 10 {
		t.Errorf("stats %+v, want the 10 spans counted as failed", st)
	}
}

func TestProcessor_FailedExportsCounted(t *testing.T) {
	exp := &exporter{fail: true}
	p := spanqueue.New(exp, spanqueue.Options{})
	endSpans(p, 7)
	p.Shutdown(context.Background())
	if st := p.Stats(); st.ExportFailed != 7 || st.Exported != 0 {
		t.Fatalf("stats %+v", st)
	}
}
