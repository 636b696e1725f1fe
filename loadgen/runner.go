package loadgen

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/raftline/raftline/loadgen/ledger"
	"github.com/raftline/raftline/loadgen/payload"
	"github.com/raftline/raftline/loadgen/rate"
)

// Options are a Runner's optional hooks.
type Options struct {
	// Observer is told about every record, for live metrics.
	Observer Observer
	// Progress receives a Sample every ProgressInterval (default 1s) and a
	// last, usually shorter, one at the end.
	Progress         func(Sample)
	ProgressInterval time.Duration
	// Ledger, if set, is used by Verify instead of a fresh one, so that a
	// test harness can inspect it.
	Ledger *ledger.Ledger
}

// Runner runs one load test. Create it with New, call Run once, and Stop
// from any goroutine to end it early.
type Runner struct {
	cfg     Config
	clients Clients
	opts    Options
	obs     Observer
	run     uint64 // tags this run's records, to tell them from others
	ledger  *ledger.Ledger

	stopOnce    sync.Once
	stopCh      chan struct{}
	interrupted atomic.Bool
	stopAt      atomic.Int64 // UnixNano of the first Stop

	// start is when the run proper began, measureStart when warmup ended,
	// and deadline (zero without a Duration) when producing stops.
	start, measureStart, deadline time.Time

	nextID       atomic.Uint64
	sent         atomic.Int64
	sentMeasured atomic.Int64
	consumeSlots atomic.Int64 // for Records in the consume command
	inflight     atomic.Int64 // records produced whose outcome has not arrived
	prod, cons   *flow

	// posMu guards the consumers' progress and the highest acknowledged
	// offsets, which together say when consumers have caught up.
	posMu    sync.Mutex
	position map[int32]int64 // next offset to consume, per partition
	ackedTop map[int32]int64 // highest acknowledged offset + 1
	// base is where this run's records begin in each partition (the end
	// offsets before the first send, e2e only): a group that has not read
	// a partition yet lags by what the run wrote there, not by the
	// partition's history.
	base map[int32]int64

	// committedLag is the group's lag by its committed offsets, as the
	// broker last reported it, or -1 while unknown.
	committedLag atomic.Int64
	// fatal is the first FatalError a consumer met; abort ends the run.
	fatalMu sync.Mutex
	fatal   error
	abort   context.CancelFunc

	sampleMu sync.Mutex
	sampler  sampler
	series   []Sample
}

// New returns a Runner for cfg, which should already be validated.
func New(cfg Config, clients Clients, opts Options) *Runner {
	r := &Runner{
		cfg:      cfg,
		clients:  clients,
		opts:     opts,
		obs:      opts.Observer,
		run:      rand.Uint64(),
		stopCh:   make(chan struct{}),
		position: make(map[int32]int64),
		ackedTop: make(map[int32]int64),
	}
	if r.obs == nil {
		r.obs = nopObserver{}
	}
	r.committedLag.Store(-1)
	if r.opts.ProgressInterval <= 0 {
		r.opts.ProgressInterval = time.Second
	}
	if cfg.Verify {
		r.ledger = opts.Ledger
		if r.ledger == nil {
			r.ledger = ledger.New()
		}
	}
	return r
}

// Stop ends the run early: producing stops, records in flight are still
// awaited and consumers still catch up (within DrainTimeout). Cancel Run's
// context to cut those waits short too. Stop may be called more than once.
func (r *Runner) Stop() {
	r.stopOnce.Do(func() {
		r.stopAt.Store(time.Now().UnixNano())
		r.interrupted.Store(true)
		close(r.stopCh)
	})
}

// Run runs the test and returns what it measured. When ctx ends, Run stops
// at once and returns what was gathered so far, with no error.
func (r *Runner) Run(ctx context.Context) (Result, error) {
	res := Result{Version: ResultVersion, Config: r.cfg, Machine: ThisMachine(), Started: time.Now()}
	c := r.cfg
	if err := c.Validate(); err != nil {
		return res, err
	}
	// A consumer's FatalError cancels ctx, which ends the run as a second
	// Ctrl-C would, and is returned with what was gathered.
	ctx, r.abort = context.WithCancel(ctx)
	defer r.abort()
	res, err := r.runOnce(ctx, res)
	r.fatalMu.Lock()
	defer r.fatalMu.Unlock()
	if err == nil && r.fatal != nil {
		err = r.fatal
	}
	return res, err
}

func (r *Runner) runOnce(ctx context.Context, res Result) (Result, error) {
	c := r.cfg
	gens, err := r.generators()
	if err != nil {
		return res, err
	}

	// Decide where consumers start before the first record is sent, so that
	// none of this run's records can be missed.
	var starts map[int32]int64
	if c.consumes() && (c.Group == "" || c.Command == CmdProduce) {
		var err error
		starts, err = r.clients.Offsets(ctx, c.produces() || c.FromEnd)
		if err != nil {
			return res, fmt.Errorf("reading partition offsets: %w", err)
		}
		if len(starts) == 0 {
			return res, fmt.Errorf("topic %q has no partitions", c.Topic)
		}
	}
	if c.Command == CmdE2E {
		r.base = starts // the end offsets, as the run produces
		if r.base == nil {
			if r.base, err = r.clients.Offsets(ctx, true); err != nil {
				return res, fmt.Errorf("reading partition offsets: %w", err)
			}
		}
	}

	sinks, err := r.openSinks()
	defer closeAll(sinks) // a second Close is a no-op, see onceSink
	if err != nil {
		return res, err
	}
	var sources []Source
	defer func() { closeAll(sources) }()
	if c.Command != CmdProduce {
		if sources, err = r.openSources(starts, c.Consumers); err != nil {
			return res, err
		}
	}

	// The run proper: stopCtx ends on Stop, when the consume command's
	// record count is reached, or with ctx; runCtx also at the deadline.
	r.start = time.Now()
	r.measureStart = r.start.Add(c.Warmup)
	if c.Duration > 0 {
		r.deadline = r.measureStart.Add(c.Duration)
	}
	r.sampler = sampler{start: r.start, last: r.start}
	if c.produces() {
		r.prod = newFlow(r.measureStart, r.windowEnd)
	}
	if c.consumes() {
		r.cons = newFlow(r.measureStart, r.windowEnd)
	}
	stopCtx, endRun := context.WithCancel(ctx)
	defer endRun()
	runCtx := stopCtx
	if !r.deadline.IsZero() {
		var cancel context.CancelFunc
		runCtx, cancel = context.WithDeadline(stopCtx, r.deadline)
		defer cancel()
	}
	go func() {
		select {
		case <-r.stopCh:
			endRun()
		case <-stopCtx.Done():
		}
	}()
	progressCtx, stopProgress := context.WithCancel(context.Background())
	progressStopped := r.reportProgress(progressCtx)
	defer func() { stopProgress(); <-progressStopped }()
	lagger, _ := r.clients.(GroupLagger)
	if c.Group == "" || c.Command == CmdProduce {
		lagger = nil
	}
	lagStopped := r.pollCommittedLag(progressCtx, lagger)
	defer func() { stopProgress(); <-lagStopped }()

	consCtx, stopConsumers := context.WithCancel(ctx)
	defer stopConsumers()
	var consumers sync.WaitGroup
	ownOnly := c.Command != CmdConsume
	for _, src := range sources {
		consumers.Go(func() { r.consume(consCtx, src, ownOnly, endRun) })
	}

	if c.produces() {
		r.produceAll(runCtx, stopCtx, ctx, sinks, gens)
		r.finishProducing(ctx, sinks)
		if c.Command == CmdProduce && c.Verify && ctx.Err() == nil {
			// The read-back is measured on its own, from its start.
			r.cons.from, r.cons.end = time.Now(), func() time.Time { return time.Time{} }
			if sources, err = r.openSources(starts, 1); err != nil {
				return res, err
			}
			for _, src := range sources {
				consumers.Go(func() { r.consume(consCtx, src, true, func() {}) })
			}
		}
		if len(sources) > 0 {
			r.drain(ctx, starts != nil)
		}
	} else {
		<-runCtx.Done()
	}
	stopConsumers()
	consumers.Wait()
	stopProgress()
	<-progressStopped
	<-lagStopped
	// Members leave the group, committing what they read, before the
	// last look at the group's committed lag.
	closeAll(sources)
	if lagger != nil && ctx.Err() == nil {
		r.sampleCommittedLag(ctx, lagger, 5*time.Second)
	}

	r.emit(time.Now())
	res.Interrupted = r.interrupted.Load() || ctx.Err() != nil
	r.fill(&res)
	return res, nil
}

// generators makes one payload generator per producer.
func (r *Runner) generators() ([]*payload.Generator, error) {
	if !r.cfg.produces() {
		return nil, nil
	}
	var gens []*payload.Generator
	for i := range r.cfg.Producers {
		g, err := payload.NewGenerator(r.cfg.Size, r.cfg.Keys, r.run+uint64(i))
		if err != nil {
			return nil, err
		}
		gens = append(gens, g)
	}
	return gens, nil
}

func (r *Runner) openSinks() ([]Sink, error) {
	if !r.cfg.produces() {
		return nil, nil
	}
	var sinks []Sink
	for i := range r.cfg.Producers {
		s, err := r.clients.Sink(i)
		if err != nil {
			return sinks, fmt.Errorf("producer %d: %w", i, err)
		}
		sinks = append(sinks, &onceSink{Sink: s})
	}
	return sinks, nil
}

// onceSink lets the run close producers as soon as it is done with them
// and again, harmlessly, on its way out.
type onceSink struct {
	Sink
	once sync.Once
}

func (s *onceSink) Close() { s.once.Do(s.Sink.Close) }

// onceSource lets the run close consumers before its last look at the
// group and again on its way out.
type onceSource struct {
	Source
	once sync.Once
}

func (s *onceSource) Close() { s.once.Do(s.Source.Close) }

// openSources creates n consumers: in the group if starts is nil, otherwise
// each reading its share of the partitions from those offsets.
func (r *Runner) openSources(starts map[int32]int64, n int) ([]Source, error) {
	var shares []map[int32]int64
	if starts == nil {
		shares = make([]map[int32]int64, n)
	} else {
		if n > len(starts) {
			return nil, fmt.Errorf("%d consumers but topic %q has only %d partitions: without a group each consumer reads its own partitions",
				n, r.cfg.Topic, len(starts))
		}
		shares = split(starts, n)
		r.posMu.Lock()
		for p, off := range starts {
			r.position[p] = off
		}
		r.posMu.Unlock()
	}
	var sources []Source
	for i, share := range shares {
		s, err := r.clients.Source(i, share)
		if err != nil {
			closeAll(sources)
			return nil, fmt.Errorf("consumer %d: %w", i, err)
		}
		sources = append(sources, &onceSource{Source: s})
	}
	return sources, nil
}

// split deals partitions out to n consumers in turn.
func split(offsets map[int32]int64, n int) []map[int32]int64 {
	parts := slices.Sorted(func(yield func(int32) bool) {
		for p := range offsets {
			if !yield(p) {
				return
			}
		}
	})
	shares := make([]map[int32]int64, n)
	for i, p := range parts {
		if shares[i%n] == nil {
			shares[i%n] = make(map[int32]int64)
		}
		shares[i%n][p] = offsets[p]
	}
	return shares
}

// produceAll runs the producers until the duration is over, the record
// count is reached, or the run is stopped. Records are produced under ctx,
// so that stopping the run does not fail the records already in flight.
func (r *Runner) produceAll(runCtx, stopCtx, ctx context.Context, sinks []Sink, gens []*payload.Generator) {
	var lim *rate.Limiter
	if r.cfg.FixedRate() {
		// The schedule ends with the duration, and every slot in it is sent,
		// even by a producer running behind when the deadline passes.
		lim = rate.NewLimiter(r.cfg.Rate, r.start, r.deadline)
		runCtx = stopCtx
	}
	var wg sync.WaitGroup
	for i, s := range sinks {
		wg.Go(func() { r.produce(runCtx, ctx, s, gens[i], lim) })
	}
	wg.Wait()
}

func (r *Runner) produce(runCtx, ctx context.Context, sink Sink, gen *payload.Generator, lim *rate.Limiter) {
	for runCtx.Err() == nil {
		id := r.nextID.Add(1)
		if r.cfg.Records > 0 && id > uint64(r.cfg.Records) {
			return
		}
		// Latency is measured from the intended send time at a fixed rate,
		// so a stall counts against every record it held back.
		intended := time.Now()
		if lim != nil {
			t, err := lim.Wait(runCtx)
			if err != nil {
				return
			}
			intended = t
		}
		rec := Record{Key: gen.Key(), Value: gen.Value(payload.Header{Run: r.run, ID: id, Sent: intended})}
		size := len(rec.Key) + len(rec.Value)
		r.sent.Add(1)
		if !intended.Before(r.measureStart) {
			r.sentMeasured.Add(1)
		}
		r.obs.Sent()
		r.inflight.Add(1)
		sink.Produce(ctx, rec, func(a Ack) { r.acked(a, id, intended, size) })
	}
}

func (r *Runner) acked(a Ack, id uint64, intended time.Time, size int) {
	defer r.inflight.Add(-1)
	now := time.Now()
	if a.Err != nil {
		kind := ErrorKind(a.Err)
		r.prod.errs.add(kind)
		r.obs.Failed(kind)
		return
	}
	lat := now.Sub(intended)
	r.prod.add(size, now)
	if !intended.Before(r.measureStart) {
		r.prod.lat.Record(lat)
	} else {
		r.prod.lat.RecordWarmup(lat)
	}
	r.obs.Acked(lat)
	if a.Offset >= 0 {
		r.posMu.Lock()
		r.ackedTop[a.Partition] = max(r.ackedTop[a.Partition], a.Offset+1)
		r.posMu.Unlock()
	}
	if r.ledger != nil {
		r.ledger.Acked(a.Partition, a.Offset, id)
	}
}

// unresolvedWait bounds the wait for a Sink's callbacks after it is closed;
// a Sink that breaks its promise to call back must not hang the report.
const unresolvedWait = 10 * time.Second

// finishProducing waits for every record in flight, closes the producers,
// and counts any record whose outcome never arrived as an error.
func (r *Runner) finishProducing(ctx context.Context, sinks []Sink) {
	for _, s := range sinks {
		if err := s.Flush(ctx); err != nil && ctx.Err() == nil {
			r.prod.errs.add("flush_" + ErrorKind(err))
		}
	}
	closeAll(sinks)
	deadline := time.Now().Add(unresolvedWait)
	for r.inflight.Load() > 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := r.inflight.Load(); n > 0 {
		r.prod.errs.addN("unresolved", n)
	}
}

// consume reads from src until ctx ends. ownOnly ignores records of other
// runs; finish is called when the consume command's record count is reached.
func (r *Runner) consume(ctx context.Context, src Source, ownOnly bool, finish func()) {
	limited := r.cfg.Command == CmdConsume && r.cfg.Records > 0
	for ctx.Err() == nil {
		msgs, errs := src.Poll(ctx)
		if ctx.Err() == nil {
			for _, err := range errs {
				r.cons.errs.add(ErrorKind(err))
				if fe := (*FatalError)(nil); errors.As(err, &fe) {
					r.fail(err)
				}
			}
		}
		now := time.Now()
		top := make(map[int32]int64)
		for _, m := range msgs {
			top[m.Partition] = max(top[m.Partition], m.Offset+1)
			h, ok := payload.Parse(m.Value)
			own := ok && h.Run == r.run
			if ownOnly && !own {
				r.cons.foreign.Add(1)
				continue
			}
			if limited && r.consumeSlots.Add(1) > r.cfg.Records {
				finish()
				break
			}
			r.cons.add(len(m.Key)+len(m.Value), now)
			r.obs.Consumed()
			if !ok {
				continue
			}
			// The latency of a record of this run is measured if it was
			// sent after warmup; a record of another run is judged by when
			// it is read.
			d := now.Sub(h.Sent)
			if (own && !h.Sent.Before(r.measureStart)) || (!own && !now.Before(r.measureStart)) {
				r.cons.lat.Record(d)
			} else {
				r.cons.lat.RecordWarmup(d)
			}
			r.obs.EndToEnd(d)
			if own && r.ledger != nil {
				r.ledger.Consumed(m.Partition, m.Offset, h.ID)
			}
		}
		r.advance(top)
		if limited && r.consumeSlots.Load() >= r.cfg.Records {
			finish()
		}
	}
}

// fail ends the run at once with err, the first such error winning.
func (r *Runner) fail(err error) {
	r.fatalMu.Lock()
	if r.fatal == nil {
		r.fatal = err
	}
	r.fatalMu.Unlock()
	r.abort()
}

func (r *Runner) advance(top map[int32]int64) {
	r.posMu.Lock()
	for p, next := range top {
		r.position[p] = max(r.position[p], next)
	}
	r.posMu.Unlock()
}

// drain waits, within DrainTimeout, until consumers have read past every
// record acknowledged to this run and up to the end of each partition as it
// stood when producing stopped. knownStarts says whether consumers began at
// known offsets; with a group they did not, so only partitions this run
// wrote to can be waited for.
func (r *Runner) drain(ctx context.Context, knownStarts bool) {
	ctx, cancel := context.WithTimeout(ctx, r.cfg.DrainTimeout)
	defer cancel()
	ends, err := r.clients.Offsets(ctx, true)
	if err != nil && ctx.Err() == nil {
		r.cons.errs.add("drain_offsets_" + ErrorKind(err))
	}
	r.posMu.Lock()
	want := make(map[int32]int64)
	for p, top := range r.ackedTop {
		want[p] = max(top, ends[p])
	}
	if knownStarts {
		for p, end := range ends {
			want[p] = max(want[p], end)
		}
	}
	r.posMu.Unlock()

	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !r.caughtUp(want) {
		select {
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				r.cons.errs.add("drain_timeout")
			}
			return
		case <-tick.C:
		}
	}
}

func (r *Runner) caughtUp(want map[int32]int64) bool {
	r.posMu.Lock()
	defer r.posMu.Unlock()
	for p, end := range want {
		if r.position[p] < end {
			return false
		}
	}
	return true
}

// windowEnd is when the measured window closes: at the deadline or the first
// Stop, whichever came first, or zero while neither has.
func (r *Runner) windowEnd() time.Time {
	end := r.deadline
	if ns := r.stopAt.Load(); ns != 0 {
		if stop := time.Unix(0, ns); end.IsZero() || stop.Before(end) {
			end = stop
		}
	}
	return end
}

// reportProgress emits a sample at every interval, scheduled against the
// start time so that samples do not drift, until ctx ends. The returned
// channel is closed when it has stopped.
func (r *Runner) reportProgress(ctx context.Context) <-chan struct{} {
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		for k := 1; ; k++ {
			t := time.NewTimer(time.Until(r.start.Add(time.Duration(k) * r.opts.ProgressInterval)))
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
				r.emit(time.Now())
			}
		}
	}()
	return stopped
}

func (r *Runner) emit(now time.Time) {
	r.sampleMu.Lock()
	defer r.sampleMu.Unlock()
	if !now.After(r.sampler.last) {
		return
	}
	// An interval that began before the end of warmup is part of it.
	s := r.sampler.take(now, r.sampler.last.Before(r.measureStart), r.sent.Load(), r.prod, r.cons)
	lo, _ := r.obs.(LagObserver)
	if r.base != nil {
		n := r.lagRecords()
		s.Lag = &n
		if lo != nil {
			lo.Lag(n)
		}
	}
	if n := r.committedLag.Load(); n >= 0 {
		s.CommittedLag = &n
		if lo != nil {
			lo.CommittedLag(n)
		}
	}
	r.series = append(r.series, s)
	if r.opts.Progress != nil {
		r.opts.Progress(s)
	}
}

// lagRecords is how many records acknowledged to the run the consumers have
// not read yet, by offsets: in each partition from the consumers' position
// (or where the run began writing, if further) to the highest acknowledged
// offset. Records other writers put in between count too, as in any lag.
func (r *Runner) lagRecords() int64 {
	r.posMu.Lock()
	defer r.posMu.Unlock()
	var n int64
	for p, top := range r.ackedTop {
		if d := top - max(r.position[p], r.base[p]); d > 0 {
			n += d
		}
	}
	return n
}

// pollCommittedLag asks l for the group's committed lag every progress
// interval until ctx ends, and closes the returned channel then. With l nil
// it does nothing.
func (r *Runner) pollCommittedLag(ctx context.Context, l GroupLagger) <-chan struct{} {
	done := make(chan struct{})
	if l == nil {
		close(done)
		return done
	}
	go func() {
		defer close(done)
		tick := time.NewTicker(r.opts.ProgressInterval)
		defer tick.Stop()
		for {
			r.sampleCommittedLag(ctx, l, r.opts.ProgressInterval)
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
	return done
}

// sampleCommittedLag asks once, within timeout (at least a second). An
// answer that does not come leaves the lag unknown rather than stale.
func (r *Runner) sampleCommittedLag(ctx context.Context, l GroupLagger, timeout time.Duration) {
	ctx, cancel := context.WithTimeout(ctx, max(timeout, time.Second))
	defer cancel()
	n, err := l.CommittedLag(ctx)
	if err != nil {
		n = -1
	}
	r.committedLag.Store(n)
}

// fill copies the measurements into res.
func (r *Runner) fill(res *Result) {
	res.Series = r.series
	if r.prod != nil {
		res.Produce = r.prod.throughput()
		res.Produce.Sent = r.sentMeasured.Load()
		s := r.prod.lat.Summary()
		res.Publish = &s
		res.PublishDistribution = r.prod.lat.Distribution()
	}
	if r.cons != nil {
		res.Consume = r.cons.throughput()
		if r.cfg.Command != CmdProduce {
			s := r.cons.lat.Summary()
			res.EndToEnd = &s
			res.EndToEndDistribution = r.cons.lat.Distribution()
		}
	}
	if r.ledger != nil {
		rep := r.ledger.Report()
		res.Verify = &rep
	}
	res.Lag = summarizeLag(r.series)
}

func closeAll[T interface{ Close() }](cs []T) {
	for _, c := range cs {
		c.Close()
	}
}

type nopObserver struct{}

func (nopObserver) Sent()                  {}
func (nopObserver) Acked(time.Duration)    {}
func (nopObserver) Failed(string)          {}
func (nopObserver) Consumed()              {}
func (nopObserver) EndToEnd(time.Duration) {}
