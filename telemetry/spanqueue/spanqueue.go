// Package spanqueue is a span processor that never makes the code ending a
// span wait: finished spans go into a bounded queue and a single goroutine
// exports them in batches. When the queue is full, because the collector is
// down or slow, spans are dropped and counted instead.
package spanqueue

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// Options size the queue and its batches.
type Options struct {
	QueueSize     int           // spans waiting for export (default 8192)
	BatchSize     int           // spans per export call (default 512)
	Delay         time.Duration // longest wait before a partial batch is exported (default 1s)
	ExportTimeout time.Duration // bound on one export call (default 30s)
}

// Stats counts what happened to the spans the processor received.
type Stats struct {
	Exported     int64 // accepted by the exporter
	DroppedFull  int64 // dropped because the queue was full
	ExportFailed int64 // dropped because their export failed
	Queued       int   // waiting now
}

// Processor implements sdktrace.SpanProcessor.
type Processor struct {
	exp  sdktrace.SpanExporter
	opts Options
	q    chan sdktrace.ReadOnlySpan

	flush    chan chan struct{}
	stop     chan struct{}
	done     chan struct{}
	stopOnce sync.Once
	closed   atomic.Bool
	// exportCtx is cancelled when Shutdown gives up waiting, so an export
	// stuck on a dead collector ends too.
	exportCtx    context.Context
	cancelExport context.CancelFunc

	exported, droppedFull, failed atomic.Int64
}

var _ sdktrace.SpanProcessor = (*Processor)(nil)

// New starts a processor exporting to exp.
func New(exp sdktrace.SpanExporter, opts Options) *Processor {
	if opts.QueueSize <= 0 {
		opts.QueueSize = 8192
	}
	if opts.BatchSize <= 0 {
		opts.BatchSize = 512
	}
	opts.BatchSize = min(opts.BatchSize, opts.QueueSize)
	if opts.Delay <= 0 {
		opts.Delay = time.Second
	}
	if opts.ExportTimeout <= 0 {
		opts.ExportTimeout = 30 * time.Second
	}
	p := &Processor{
		exp: exp, opts: opts, q: make(chan sdktrace.ReadOnlySpan, opts.QueueSize),
		flush: make(chan chan struct{}), stop: make(chan struct{}), done: make(chan struct{}),
	}
	p.exportCtx, p.cancelExport = context.WithCancel(context.Background())
	go p.loop()
	return p
}

// OnStart implements sdktrace.SpanProcessor.
func (p *Processor) OnStart(context.Context, sdktrace.ReadWriteSpan) {}

// OnEnd implements sdktrace.SpanProcessor. It never blocks.
func (p *Processor) OnEnd(s sdktrace.ReadOnlySpan) {
	if !s.SpanContext().IsSampled() {
		return
	}
	if p.closed.Load() {
		p.droppedFull.Add(1)
		return
	}
	select {
	case p.q <- s:
	default:
		p.droppedFull.Add(1)
	}
}

// ForceFlush exports everything queued now and waits for it, or for ctx.
func (p *Processor) ForceFlush(ctx context.Context) error {
	ack := make(chan struct{})
	select {
	case p.flush <- ack:
	case <-p.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-ack:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Shutdown stops accepting spans, exports what is queued and shuts the
// exporter down, giving up when ctx ends.
func (p *Processor) Shutdown(ctx context.Context) error {
	p.closed.Store(true)
	p.stopOnce.Do(func() { close(p.stop) })
	select {
	case <-p.done:
	case <-ctx.Done():
		p.cancelExport()
		<-p.done
	}
	p.cancelExport()
	err := p.exp.Shutdown(ctx)
	if err == nil {
		err = ctx.Err()
	}
	return err
}

// Stats reports the processor's counts.
func (p *Processor) Stats() Stats {
	return Stats{Exported: p.exported.Load(), DroppedFull: p.droppedFull.Load(), ExportFailed: p.failed.Load(), Queued: len(p.q)}
}

func (p *Processor) loop() {
	defer close(p.done)
	batch := make([]sdktrace.ReadOnlySpan, 0, p.opts.BatchSize)
	timer := time.NewTimer(p.opts.Delay)
	defer timer.Stop()
	send := func() {
		if len(batch) == 0 {
			return
		}
		p.export(batch)
		clear(batch)
		batch = batch[:0]
	}
	drain := func() {
		for {
			select {
			case s := <-p.q:
				batch = append(batch, s)
				if len(batch) == cap(batch) {
					send()
				}
			default:
				send()
				return
			}
		}
	}
	for {
		select {
		case s := <-p.q:
			batch = append(batch, s)
			if len(batch) == cap(batch) {
				send()
			}
		case <-timer.C:
			send()
			timer.Reset(p.opts.Delay)
		case ack := <-p.flush:
			drain()
			close(ack)
		case <-p.stop:
			drain()
			return
		}
	}
}

func (p *Processor) export(batch []sdktrace.ReadOnlySpan) {
	ctx, cancel := context.WithTimeout(p.exportCtx, p.opts.ExportTimeout)
	defer cancel()
	if err := p.exp.ExportSpans(ctx, batch); err != nil {
		p.failed.Add(int64(len(batch)))
		return
	}
	p.exported.Add(int64(len(batch)))
}
