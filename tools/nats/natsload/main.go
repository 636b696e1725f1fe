// Command natsload publishes to a NATS JetStream stream in the shapes that
// `loadgen produce` sends to raftline, so that scripts/bench-peers.sh can put
// the two side by side with one method of measurement:
//
//   - --rate 0: as fast as the server acknowledges, each producer keeping at
//     most --max-pending publishes unacknowledged (loadgen's --max-buffered);
//     latency from the actual send to the acknowledgement;
//   - --sync: each producer publishes and waits for the acknowledgement before
//     the next (loadgen's --max-buffered 1 --linger 0);
//   - --rate N: open loop on loadgen's fixed schedule (loadgen/rate), latency
//     from the intended send time, so a stall counts against every publish
//     that should have gone out during it.
//
// Latency goes into loadgen's HdrHistograms (loadgen/latency), and the result
// is written in the layout of loadgen's --json (produce, publish_latency,
// publish_distribution), which bench/peers reads for both systems.
//
// Values are --size bytes cut at random offsets from a buffer of random
// bytes: incompressible, and the stream is created without compression.
package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	mrand "math/rand/v2"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/raftline/raftline/loadgen/latency"
	"github.com/raftline/raftline/loadgen/rate"
)

// config is the command line.
type config struct {
	Servers    string        `json:"servers"`
	Stream     string        `json:"stream"`
	Replicas   int           `json:"replicas"`
	Size       int           `json:"size"`
	Producers  int           `json:"producers"`
	Rate       float64       `json:"rate"`
	Sync       bool          `json:"sync"`
	MaxPending int           `json:"max_pending"`
	Warmup     time.Duration `json:"warmup"`
	Duration   time.Duration `json:"duration"`
	jsonPath   string
}

// throughput and result mirror the fields of loadgen.Result that bench/peers
// reads, under the same JSON names.
type throughput struct {
	Sent          int64            `json:"sent"`
	Records       int64            `json:"records"`
	Bytes         int64            `json:"bytes"`
	Seconds       float64          `json:"seconds"`
	RecordsPerSec float64          `json:"records_per_sec"`
	MiBPerSec     float64          `json:"mib_per_sec"`
	WarmupRecords int64            `json:"warmup_records"`
	AfterRecords  int64            `json:"after_records"`
	Errors        map[string]int64 `json:"errors"`
}

type result struct {
	System              string          `json:"system"`
	Config              config          `json:"config"`
	Started             time.Time       `json:"started"`
	Produce             *throughput     `json:"produce"`
	Publish             latency.Summary `json:"publish_latency"`
	PublishDistribution []latency.Point `json:"publish_distribution,omitempty"`
}

func main() {
	var c config
	flag.StringVar(&c.Servers, "servers", "nats://127.0.0.1:4222,nats://127.0.0.1:4223,nats://127.0.0.1:4224", "comma-separated NATS server URLs")
	flag.StringVar(&c.Stream, "stream", "bench", "stream to create (file storage, no compression) and publish to; its subject is the same name")
	flag.IntVar(&c.Replicas, "replicas", 3, "replicas of the stream")
	flag.IntVar(&c.Size, "size", 1024, "message payload size in bytes")
	flag.IntVar(&c.Producers, "producers", 1, "producer connections, sharing --rate")
	flag.Float64Var(&c.Rate, "rate", 0, "publishes per second in total on a fixed schedule; 0 publishes as fast as acknowledged")
	flag.BoolVar(&c.Sync, "sync", false, "wait for each acknowledgement before the next publish")
	flag.IntVar(&c.MaxPending, "max-pending", 10000, "publishes a producer may have unacknowledged before publishing blocks")
	flag.DurationVar(&c.Warmup, "warmup", 2*time.Second, "time at the start that is run but not measured")
	flag.DurationVar(&c.Duration, "duration", 10*time.Second, "measured time after warmup")
	flag.StringVar(&c.jsonPath, "json", "", "write the result to this file")
	flag.Parse()
	if c.Sync && c.Rate > 0 {
		fail(errors.New("--sync and --rate are exclusive"))
	}
	r, err := run(c)
	if err != nil {
		fail(err)
	}
	fmt.Printf("%.0f records/s  p50 %.2f ms  p99 %.2f ms  errors %v\n", r.Produce.RecordsPerSec,
		float64(r.Publish.P50Micros)/1000, float64(r.Publish.P99Micros)/1000, r.Produce.Errors)
	if c.jsonPath != "" {
		b, _ := json.MarshalIndent(r, "", "  ")
		if err := os.WriteFile(c.jsonPath, append(b, '\n'), 0o644); err != nil {
			fail(err)
		}
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "natsload:", err)
	os.Exit(1)
}

// window is the measured interval and what was acknowledged in it.
type window struct {
	from, to time.Time
	mu       sync.Mutex
	records  int64
	warmup   int64
	after    int64
	last     time.Time
	errors   map[string]int64
	sent     atomic.Int64
}

// acked counts one acknowledgement received at t.
func (w *window) acked(t time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	switch {
	case t.Before(w.from):
		w.warmup++
	case t.After(w.to):
		w.after++
	default:
		w.records++
		w.last = t
	}
}

func (w *window) failed(err error) {
	var kind string
	var apiErr *jetstream.APIError
	switch {
	case errors.As(err, &apiErr):
		kind = fmt.Sprintf("api_%d", apiErr.ErrorCode)
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, nats.ErrTimeout),
		errors.Is(err, jetstream.ErrAsyncPublishTimeout):
		kind = "timeout"
	case errors.Is(err, jetstream.ErrTooManyStalledMsgs):
		kind = "stalled"
	default:
		kind = err.Error()
	}
	w.mu.Lock()
	w.errors[kind]++
	w.mu.Unlock()
}

func run(c config) (*result, error) {
	servers := strings.Split(c.Servers, ",")
	if err := createStream(servers, c); err != nil {
		return nil, err
	}
	// One buffer of random bytes that every value is cut from at a random
	// offset: values differ and do not compress.
	pool := make([]byte, 1<<20+c.Size)
	_, _ = rand.Read(pool)

	started := time.Now()
	w := &window{from: started.Add(c.Warmup), to: started.Add(c.Warmup + c.Duration), errors: map[string]int64{}}
	rec := latency.NewRecorder()
	var lim *rate.Limiter
	if c.Rate > 0 {
		lim = rate.NewLimiter(c.Rate, started, w.to)
	}
	ctx, cancel := context.WithDeadline(context.Background(), w.to)
	defer cancel()

	var wg sync.WaitGroup
	errs := make(chan error, c.Producers)
	for p := range c.Producers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := produce(ctx, servers, c, pool, uint64(p), lim, w, rec); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return nil, err
	}

	t := &throughput{Sent: w.sent.Load(), Records: w.records, Bytes: w.records * int64(c.Size),
		WarmupRecords: w.warmup, AfterRecords: w.after, Errors: w.errors}
	if w.records > 0 {
		t.Seconds = w.last.Sub(w.from).Seconds()
		t.RecordsPerSec = float64(w.records) / t.Seconds
		t.MiBPerSec = float64(t.Bytes) / (1 << 20) / t.Seconds
	}
	return &result{System: "nats-jetstream", Config: c, Started: started, Produce: t,
		Publish: rec.Summary(), PublishDistribution: rec.Distribution()}, nil
}

// createStream creates the file-storage stream, retrying while the cluster
// elects its meta leader or gathers its peers; it reports the last error
// when that takes longer than 30 s.
func createStream(servers []string, c config) error {
	nc, err := nats.Connect(strings.Join(servers, ","), nats.RetryOnFailedConnect(true), nats.MaxReconnects(-1))
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, err = js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
			Name: c.Stream, Subjects: []string{c.Stream}, Storage: jetstream.FileStorage,
			Replicas: c.Replicas, Compression: jetstream.NoCompression,
		})
		cancel()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("create stream %s: %w", c.Stream, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// inflight is one asynchronous publish awaiting its acknowledgement.
type inflight struct {
	from time.Time // intended send time at a fixed rate, else actual
	ack  jetstream.PubAckFuture
}

// produce is one producer: its own connection, publishing until ctx ends
// (or the schedule does) and then waiting for what it has in flight.
func produce(ctx context.Context, servers []string, c config, pool []byte, seed uint64, lim *rate.Limiter, w *window, rec *latency.Recorder) error {
	nc, err := nats.Connect(strings.Join(servers, ","))
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(c.MaxPending))
	if err != nil {
		return err
	}
	rng := mrand.New(mrand.NewPCG(seed, uint64(time.Now().UnixNano())))
	value := func() []byte {
		off := rng.IntN(len(pool) - c.Size)
		return pool[off : off+c.Size]
	}
	record := func(from, at time.Time) {
		w.acked(at)
		if !from.Before(w.from) {
			rec.Record(at.Sub(from))
		} else {
			rec.RecordWarmup(at.Sub(from))
		}
	}

	if c.Sync {
		for ctx.Err() == nil {
			from := time.Now()
			w.sent.Add(1)
			pctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			_, err := js.Publish(pctx, c.Stream, value())
			cancel()
			if err != nil {
				w.failed(err)
				continue
			}
			record(from, time.Now())
		}
		return nil
	}

	// Acknowledgements of one stream come back in order, so one goroutine
	// waiting on the futures in publish order times each within the time it
	// takes to handle the ones before it. The channel's capacity bounds the
	// publishes in flight, like --max-buffered.
	pending := make(chan inflight, c.MaxPending)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for p := range pending {
			select {
			case <-p.ack.Ok():
				record(p.from, time.Now())
			case err := <-p.ack.Err():
				w.failed(err)
			}
		}
	}()
	for {
		from := time.Now()
		if lim != nil {
			var err error
			if from, err = lim.Wait(ctx); errors.Is(err, rate.ErrEnd) || (err != nil && ctx.Err() != nil) {
				break
			}
		} else if ctx.Err() != nil {
			break
		}
		// Blocked by --max-pending for up to the 30 s a record may take, like
		// loadgen's buffer, rather than failing after nats.go's default 200 ms.
		f, err := js.PublishAsync(c.Stream, value(), jetstream.WithStallWait(30*time.Second))
		if err != nil {
			w.failed(err)
			continue
		}
		w.sent.Add(1)
		pending <- inflight{from: from, ack: f}
	}
	close(pending)
	<-done
	return nil
}
