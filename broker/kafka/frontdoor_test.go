package kafka_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/raftline/raftline/broker/cluster"
	"github.com/raftline/raftline/broker/cluster/clusterfake"
	"github.com/raftline/raftline/broker/kafka"
)

// The tests in this file hold the listener's front door to its deadlines,
// budgets and rejection counts, over real sockets, on clusterfake.

// doorObserver records what the listener reports about its front door.
type doorObserver struct {
	mu       sync.Mutex
	rejected map[string]int
	// firstRejected is when each reason was first reported.
	firstRejected map[string]time.Time
	waits         map[string]int
	inflight      atomic.Int64
}

func (o *doorObserver) ConnOpened()                                                 {}
func (o *doorObserver) ConnClosed()                                                 {}
func (o *doorObserver) RequestDone(context.Context, string, time.Duration, []int16) {}
func (o *doorObserver) Produced(string, int64, int64)                               {}
func (o *doorObserver) Fetched(string, int64, int64)                                {}
func (o *doorObserver) InflightBytes(d int64)                                       { o.inflight.Add(d) }

func (o *doorObserver) Rejected(reason string) {
	o.mu.Lock()
	o.rejected[reason]++
	if _, ok := o.firstRejected[reason]; !ok {
		if o.firstRejected == nil {
			o.firstRejected = map[string]time.Time{}
		}
		o.firstRejected[reason] = time.Now()
	}
	o.mu.Unlock()
}

func (o *doorObserver) BudgetWaited(scope string) {
	o.mu.Lock()
	o.waits[scope]++
	o.mu.Unlock()
}

func (o *doorObserver) counts() (rejected, waits map[string]int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return clone(o.rejected), clone(o.waits)
}

func clone(m map[string]int) map[string]int {
	out := map[string]int{}
	for k, v := range m {
		out[k] = v
	}
	return out
}

// syncBuffer is a log destination safe for the listener's goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

type door struct {
	addr string
	obs  *doorObserver
	log  *syncBuffer
	fake *clusterfake.Cluster
}

// openDoor serves a leading fake holding topic "t" with the config as
// configure leaves it.
func openDoor(t *testing.T, configure func(*kafka.Config)) *door {
	t.Helper()
	d := &door{obs: &doorObserver{rejected: map[string]int{}, waits: map[string]int{}}, log: &syncBuffer{}, fake: clusterfake.New(1)}
	if err := d.fake.CreateTopic(context.Background(), cluster.TopicSpec{Name: "t", Partitions: 1}); err != nil {
		t.Fatal(err)
	}
	cfg := kafka.Config{NodeID: 1, Addr: "127.0.0.1:0", Observer: d.obs, Logger: slog.New(slog.NewTextHandler(d.log, nil))}
	if configure != nil {
		configure(&cfg)
	}
	l := kafka.New(cfg, d.fake)
	if err := l.Listen(); err != nil {
		t.Fatal(err)
	}
	go l.Serve()
	t.Cleanup(func() { l.Close() })
	d.addr = l.Addr()
	return d
}

// waitRejected waits until the listener has counted n closures for reason.
func (d *door) waitRejected(t *testing.T, reason string, n int) {
	t.Helper()
	waitUntil(t, fmt.Sprintf("%d %s closures", n, reason), func() error {
		if r, _ := d.obs.counts(); r[reason] != n {
			return fmt.Errorf("rejected so far: %v", r)
		}
		return nil
	})
}

// waitUntil polls cond until it returns nil, failing with its last error
// after 10s.
func waitUntil(t *testing.T, what string, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s: %v", what, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// send writes a request framed as a client frames it.
func send(t *testing.T, conn net.Conn, req kmsg.Request, corr int32) {
	t.Helper()
	f := kmsg.NewRequestFormatter(kmsg.FormatterClientID("door"))
	if _, err := conn.Write(f.AppendRequest(nil, req, corr)); err != nil {
		t.Fatal(err)
	}
}

// receive reads one response to a non-flexible request kind.
func receive(t *testing.T, conn net.Conn, kind kmsg.Request) (int32, kmsg.Response) {
	t.Helper()
	var size [4]byte
	if _, err := io.ReadFull(conn, size[:]); err != nil {
		t.Fatalf("reading a %s response: %v", kmsg.NameForKey(kind.Key()), err)
	}
	body := make([]byte, binary.BigEndian.Uint32(size[:]))
	if _, err := io.ReadFull(conn, body); err != nil {
		t.Fatal(err)
	}
	resp := kind.ResponseKind()
	if err := resp.ReadFrom(body[4:]); err != nil {
		t.Fatal(err)
	}
	return int32(binary.BigEndian.Uint32(body)), resp
}

func apiVersions() *kmsg.ApiVersionsRequest {
	req := kmsg.NewPtrApiVersionsRequest()
	req.SetVersion(2)
	return req
}

// closedWithin reads until the server closes the connection, failing if it
// is still open after limit; it returns how long that took.
func closedWithin(t *testing.T, conn net.Conn, limit time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	conn.SetReadDeadline(start.Add(limit))
	buf := make([]byte, 4096)
	for {
		if _, err := conn.Read(buf); err != nil {
			if isTimeout(err) {
				t.Fatalf("connection still open after %v", limit)
			}
			return time.Since(start)
		}
	}
}

func TestFrontDoor_NoWholeFirstRequest_ClosedAtFirstRequestTimeout(t *testing.T) {
	const timeout = 200 * time.Millisecond
	d := openDoor(t, func(c *kafka.Config) { c.FirstRequestTimeout = timeout })
	start := time.Now()
	silent := rawConn(t, d.addr)
	partial := rawConn(t, d.addr)
	if _, err := partial.Write(append(binary.BigEndian.AppendUint32(nil, 100), 0, 18)); err != nil {
		t.Fatal(err)
	}
	for _, c := range []net.Conn{silent, partial} {
		closedWithin(t, c, 10*time.Second)
	}
	if took := time.Since(start); took < timeout {
		t.Fatalf("closed after %v, before the %v timeout", took, timeout)
	}
	d.waitRejected(t, kafka.ReasonFirstRequestTimeout, 2)

	// A client that sends its first request in time is served.
	ok := rawConn(t, d.addr)
	send(t, ok, apiVersions(), 1)
	if corr, _ := receive(t, ok, apiVersions()); corr != 1 {
		t.Fatalf("correlation id %d", corr)
	}
}

func TestFrontDoor_TruncatedFrameOnOpenConnection_ClosedAtFrameTimeout(t *testing.T) {
	const timeout = 300 * time.Millisecond
	d := openDoor(t, func(c *kafka.Config) { c.FrameTimeout = timeout })
	conn := rawConn(t, d.addr)
	send(t, conn, apiVersions(), 1)
	receive(t, conn, apiVersions())
	// A 1000-byte frame of which 10 bytes arrive.
	if _, err := conn.Write(append(binary.BigEndian.AppendUint32(nil, 1000), make([]byte, 10)...)); err != nil {
		t.Fatal(err)
	}
	sent := time.Now()
	closedWithin(t, conn, 10*time.Second)
	if took := time.Since(sent); took < timeout/2 {
		t.Fatalf("closed after %v, before the %v frame timeout", took, timeout)
	}
	d.waitRejected(t, kafka.ReasonFrameTimeout, 1)
	if d.obs.inflight.Load() != 0 {
		t.Fatalf("%d request bytes still held after the connection closed", d.obs.inflight.Load())
	}
}

func TestFrontDoor_IdleConnection_ClosedAtIdleTimeoutButNotDuringALongPoll(t *testing.T) {
	const idle = 300 * time.Millisecond
	d := openDoor(t, func(c *kafka.Config) { c.IdleTimeout = idle })
	conn := rawConn(t, d.addr)
	// A long poll three times the idle timeout on an empty partition: the
	// request is pending, so the connection is not idle.
	fetch := fetchReq("t", 0, 0)
	fetch.MaxWaitMillis = int32(3 * idle / time.Millisecond)
	fetch.MinBytes = 1
	start := time.Now()
	send(t, conn, fetch, 7)
	if corr, _ := receive(t, conn, fetch); corr != 7 {
		t.Fatalf("correlation id %d", corr)
	}
	answered := time.Now()
	if took := answered.Sub(start); took < 2*idle {
		t.Fatalf("the long poll answered after %v, not after its wait", took)
	}
	// Once answered the connection is idle and may be closed at any moment
	// after, however late this goroutine gets here on a busy machine; a
	// closure before the answer arrived is the failure.
	d.obs.mu.Lock()
	at, closed := d.obs.firstRejected[kafka.ReasonIdleTimeout]
	d.obs.mu.Unlock()
	if closed && at.Before(answered.Add(-idle/2)) {
		t.Fatalf("closed for idleness %v before the long poll was answered", answered.Sub(at))
	}
	closedWithin(t, conn, 10*time.Second)
	d.waitRejected(t, kafka.ReasonIdleTimeout, 1)
}

func TestFrontDoor_ResponsesNotRead_ClosedAtWriteTimeout(t *testing.T) {
	d := openDoor(t, func(c *kafka.Config) { c.FrameTimeout = 300 * time.Millisecond })
	for range 4 {
		if res, err := d.fake.Produce("t", 0, [][]byte{rawBatch(strings.Repeat("x", 512<<10))}, nil).Result(); err != nil || res.Err != nil {
			t.Fatalf("produce: %v %v", err, res.Err)
		}
	}
	conn := rawConn(t, d.addr)
	conn.(*net.TCPConn).SetReadBuffer(4096)
	// Each response carries the partition's 2 MiB; together far more than
	// the sockets buffer, and the client reads none of them.
	fetch := fetchReq("t", 0, 0)
	fetch.MaxBytes = 4 << 20
	fetch.Topics[0].Partitions[0].PartitionMaxBytes = 4 << 20
	for i := range 30 {
		send(t, conn, fetch, int32(i))
	}
	d.waitRejected(t, kafka.ReasonWriteTimeout, 1)
}

func TestFrontDoor_PipelinedPastConnectionBudget_WaitsForItsOwnRequests(t *testing.T) {
	d := openDoor(t, func(c *kafka.Config) { c.MaxConnInflightBytes = 1024 })
	conn := rawConn(t, d.addr)
	// A long poll holds its bytes while it waits; a produce that would take
	// the connection past 1 KiB is not read until the poll is answered.
	fetch := fetchReq("t", 0, 0)
	fetch.MaxWaitMillis, fetch.MinBytes = 300, 1
	send(t, conn, fetch, 1)
	produce := produceReq("t", 0, -1, rawBatch(strings.Repeat("p", 1200)))
	produce.SetVersion(7)
	send(t, conn, produce, 2)
	if corr, resp := receive(t, conn, fetch); corr != 1 || len(resp.(*kmsg.FetchResponse).Topics[0].Partitions[0].RecordBatches) != 0 {
		t.Fatalf("first response: correlation id %d; the poll must time out empty, as the produce was not read before it", corr)
	}
	if corr, resp := receive(t, conn, produce); corr != 2 || resp.(*kmsg.ProduceResponse).Topics[0].Partitions[0].ErrorCode != 0 {
		t.Fatalf("second response: correlation id %d, %+v", corr, resp)
	}
	if _, waits := d.obs.counts(); waits[kafka.BudgetScopeConnection] != 1 {
		t.Fatalf("waits %v, want one on the connection", waits)
	}
}

func TestFrontDoor_NodeBudgetHeldBySilentFrame_ClosedToServeAnHonestRequest(t *testing.T) {
	d := openDoor(t, func(c *kafka.Config) {
		c.MaxFrameBytes = 100 << 10
		c.MaxNodeInflightBytes = 128 << 10
	})
	// 80 KiB of a 100 KiB frame: 100 KiB of the node's 128 KiB held (the
	// second chunk is taken once the first is full).
	stalled := rawConn(t, d.addr)
	if _, err := stalled.Write(append(binary.BigEndian.AppendUint32(nil, 100<<10), make([]byte, 80<<10)...)); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the stalled frame's bytes to be held", func() error {
		if n := d.obs.inflight.Load(); n != 100<<10 {
			return fmt.Errorf("%d bytes held", n)
		}
		return nil
	})
	// An honest 40 KiB produce does not fit until the stalled frame's
	// connection is closed, a second after its last byte.
	honest := rawConn(t, d.addr)
	produce := produceReq("t", 0, -1, rawBatch(strings.Repeat("h", 40<<10)))
	produce.SetVersion(7)
	send(t, honest, produce, 9)
	if corr, resp := receive(t, honest, produce); corr != 9 || resp.(*kmsg.ProduceResponse).Topics[0].Partitions[0].ErrorCode != 0 {
		t.Fatalf("honest produce: correlation id %d, %+v", corr, resp)
	}
	closedWithin(t, stalled, 10*time.Second)
	d.waitRejected(t, kafka.ReasonBudget, 1)
	if _, waits := d.obs.counts(); waits[kafka.BudgetScopeNode] != 1 {
		t.Fatalf("waits %v, want one on the node", waits)
	}
	waitUntil(t, "every byte released", func() error {
		if n := d.obs.inflight.Load(); n != 0 {
			return fmt.Errorf("%d bytes held", n)
		}
		return nil
	})
}

func TestFrontDoor_ManyBadRequests_EachCountedFirstLogged(t *testing.T) {
	d := openDoor(t, nil)
	const n = 200
	for i := range n {
		conn := rawConn(t, d.addr)
		// LeaderAndISR, a Kafka inter-broker request raftline never
		// serves, as a misdirected tool might send it.
		req := kmsg.NewPtrLeaderAndISRRequest()
		send(t, conn, req, int32(i))
		closedWithin(t, conn, 10*time.Second)
		conn.Close()
	}
	d.waitRejected(t, kafka.ReasonUnknownAPIKey, n)
	logged := strings.Count(d.log.String(), "closing Kafka connection")
	if logged != 1 || !strings.Contains(d.log.String(), "LeaderAndISR") {
		t.Fatalf("%d bad requests logged %d lines, want 1 naming LeaderAndISR:\n%s", n, logged, d.log.String())
	}
}
