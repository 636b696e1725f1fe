//go:build linux

package process

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/raftline/raftline/test/internal/systest"
)

// The Kafka listener's front door against the real binary: clients that
// declare large frames and stall, connections that never send a request,
// and a script hammering the node with requests it refuses.

// rss is a process's resident set size, VmRSS in /proc/<pid>/status.
func rss(pid int) (int64, error) {
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10, err
		}
	}
	return 0, fmt.Errorf("no VmRSS in /proc/%d/status", pid)
}

func mustRSS(t *testing.T, nd *node) int64 {
	t.Helper()
	n, err := rss(nd.Pid())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }

// scrapeNode parses a node's /metrics.
func scrapeNode(nd *node) (map[string]*dto.MetricFamily, error) {
	resp, err := httpClient.Get("http://" + nd.http + "/metrics")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET /metrics: %s", resp.Status)
	}
	parser := expfmt.NewTextParser(model.LegacyValidation)
	return parser.TextToMetricFamilies(resp.Body)
}

// sample is the value of the family's sample whose labels include want
// (summed when several do).
func sample(fams map[string]*dto.MetricFamily, name string, want map[string]string) float64 {
	var sum float64
	for _, m := range fams[name].GetMetric() {
		match := true
		for k, v := range want {
			found := false
			for _, l := range m.GetLabel() {
				found = found || (l.GetName() == k && l.GetValue() == v)
			}
			match = match && found
		}
		if match {
			sum += m.GetCounter().GetValue() + m.GetGauge().GetValue()
		}
	}
	return sum
}

// waitMetric waits until check accepts the node's metrics.
func waitMetric(t *testing.T, nd *node, timeout time.Duration, what string, check func(map[string]*dto.MetricFamily) error) {
	t.Helper()
	waitFor(t, timeout, what, func() error {
		fams, err := scrapeNode(nd)
		if err != nil {
			return err
		}
		return check(fams)
	})
}

// rawFrame is a request framed as a client frames it.
func rawFrame(req kmsg.Request, corr int32) []byte {
	return kmsg.NewRequestFormatter(kmsg.FormatterClientID("frontdoor")).AppendRequest(nil, req, corr)
}

// readResponse reads one response frame and returns its body.
func readResponse(conn net.Conn) ([]byte, error) {
	var size [4]byte
	if _, err := io.ReadFull(conn, size[:]); err != nil {
		return nil, err
	}
	body := make([]byte, binary.BigEndian.Uint32(size[:]))
	_, err := io.ReadFull(conn, body)
	return body, err
}

// stalled is a connection that was served one request, then declared a
// large frame, sent part of it (or none) and went quiet.
type stalled struct {
	conn     net.Conn
	declared time.Time // when its frame's first byte was sent
}

func stall(t *testing.T, addr string, declare, send int) *stalled {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	av := kmsg.NewPtrApiVersionsRequest()
	av.SetVersion(0)
	if _, err := conn.Write(rawFrame(av, 1)); err != nil {
		t.Fatal(err)
	}
	if _, err := readResponse(conn); err != nil {
		t.Fatalf("ApiVersions before stalling: %v", err)
	}
	s := &stalled{conn: conn, declared: time.Now()}
	if _, err := conn.Write(append(binary.BigEndian.AppendUint32(nil, uint32(declare)), make([]byte, send)...)); err != nil {
		t.Fatal(err)
	}
	return s
}

// closedAt waits for the server to close the connection and returns when
// it did (as this side saw it).
func closedAt(conn net.Conn, timeout time.Duration) (time.Time, error) {
	conn.SetReadDeadline(time.Now().Add(timeout))
	buf := make([]byte, 512)
	for {
		if _, err := conn.Read(buf); err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				return time.Time{}, fmt.Errorf("still open after %v", timeout)
			}
			return time.Now(), nil
		}
	}
}

// honestRound produces n records with a kgo producer and reads them back
// with a kgo consumer from offset from, returning each side's latency.
func honestRound(t *testing.T, producer *kgo.Client, seeds []string, topic string, from int64, n int) (produce, consume time.Duration) {
	t.Helper()
	var recs []*kgo.Record
	for i := range n {
		recs = append(recs, recordFor(topic, int(from)+i))
	}
	start := time.Now()
	produceSync(t, producer, int(from), recs...)
	produce = time.Since(start)

	start = time.Now()
	consumer := newClient(t, seeds, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {0: kgo.NewOffset().At(from)}}))
	got := 0
	waitFor(t, 60*time.Second, fmt.Sprintf("%d records consumed", n), func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		fs := consumer.PollFetches(ctx)
		for _, e := range fs.Errors() {
			if !errors.Is(e.Err, context.DeadlineExceeded) {
				return e.Err
			}
		}
		got += fs.NumRecords()
		if got < n {
			return fmt.Errorf("%d of %d consumed", got, n)
		}
		return nil
	})
	consumer.Close()
	return produce, time.Since(start)
}

// attackBound is the documented bound (broker/DESIGN.md, the help of
// --kafka-node-max-inflight-bytes) on what the attack below may add to the
// node's resident size: its 30 senders' 30 MiB, one 64 KiB chunk per
// connection, and the heap's slack.
const attackBound = 64 << 20

// TestFrontDoor_StalledLargeFrames_MemoryBoundedClosedByDeadlineHonestClientsServed
// reproduces the attack: 10 connections declare ~100 MiB frames and send
// nothing of them, 30 more send 1 MiB each, and all go quiet (twice: the
// first wave's clients leave by themselves). The node must
// hold what arrived, not what was declared, keep serving a kgo producer and
// consumer, close every stalled connection at its frame timeout and give
// the memory back.
func TestFrontDoor_StalledLargeFrames_MemoryBoundedClosedByDeadlineHonestClientsServed(t *testing.T) {
	const frameTimeout, firstTimeout = 15 * time.Second, 3 * time.Second
	const declare = 100<<20 - 1024 // under the default --max-request-bytes
	c := newCluster(t, 1, "--kafka-frame-timeout", frameTimeout.String(), "--kafka-first-request-timeout", firstTimeout.String())
	nd := c.nodes[0]
	c.waitReady(nd)
	seeds := c.kafkaAddrs()
	producer := newClient(t, seeds)
	const topic = "frontdoor"
	createTopic(t, producer, topic, 1)
	// Warm up, so the baseline includes what an honest client costs.
	p, cons := honestRound(t, producer, seeds, topic, 0, 200)
	t.Logf("honest client before the attack: produce 200 records %v, consume them %v", p, cons)
	before := mustRSS(t, nd)

	// A first wave that the clients close themselves once the node has read
	// what they sent. Besides showing that leaving releases everything, it
	// warms the heap: a node that allocated what frames declare would now
	// have to zero reused memory for them, which shows in its resident
	// size (fresh pages from the OS cost nothing until written).
	var wave []*stalled
	for i := range 40 {
		wave = append(wave, stall(t, nd.kafka, declare, min(i/10, 1)<<20))
	}
	waitHeld(t, nd, 30<<20)
	for _, a := range wave {
		a.conn.Close()
	}
	waitMetric(t, nd, 30*time.Second, "the first wave's bytes released", func(fams map[string]*dto.MetricFamily) error {
		if held := sample(fams, "raftline_kafka_inflight_request_bytes", nil); held != 0 {
			return fmt.Errorf("%s held", mib(int64(held)))
		}
		return nil
	})
	waitRSS(t, nd, before, "the first wave")

	// A connection that never sends a request at all.
	mute, err := net.DialTimeout("tcp", nd.kafka, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer mute.Close()
	muteAt := time.Now()

	var attackers []*stalled
	for i := range 40 {
		attackers = append(attackers, stall(t, nd.kafka, declare, min(i/10, 1)<<20))
	}
	waitHeld(t, nd, 30<<20)
	during := mustRSS(t, nd)
	p, cons = honestRound(t, producer, seeds, topic, 200, 200)
	t.Logf("honest client during the attack: produce 200 records %v, consume them %v", p, cons)
	during = max(during, mustRSS(t, nd))
	fams, err := scrapeNode(nd)
	if err != nil {
		t.Fatal(err)
	}
	if v := sample(fams, "raftline_kafka_rejected_requests_total", map[string]string{"reason": "frame_timeout"}); v != 0 {
		t.Fatalf("%v stalled connections were closed before the honest round ended; the attack was over too soon to measure", v)
	}
	t.Logf("node RSS: before %s, during the attack %s (+%s; bound +%s)", mib(before), mib(during), mib(during-before), mib(attackBound))
	if during-before > attackBound {
		t.Errorf("the attack added %s to the node's resident size, over the bound of %s", mib(during-before), mib(attackBound))
	}

	// Every stalled connection is closed at its frame timeout, the mute one
	// at the first-request timeout; none before.
	var early, late []string
	var lastClose time.Time
	for i, a := range attackers {
		at, err := closedAt(a.conn, frameTimeout+60*time.Second)
		if err != nil {
			t.Fatalf("stalled connection %d: %v", i, err)
		}
		if took := at.Sub(a.declared); took < frameTimeout {
			early = append(early, fmt.Sprintf("%d after %v", i, took))
		} else {
			late = append(late, (took - frameTimeout).Round(time.Millisecond).String())
		}
		if at.After(lastClose) {
			lastClose = at
		}
	}
	if len(early) > 0 {
		t.Fatalf("stalled connections closed before the %v frame timeout: %v", frameTimeout, early)
	}
	t.Logf("stalled connections closed this long after their frame timeout: %v", late)
	at, err := closedAt(mute, firstTimeout+60*time.Second)
	if err != nil {
		t.Fatalf("the connection that sent nothing: %v", err)
	}
	if took := at.Sub(muteAt); took < firstTimeout {
		t.Fatalf("the connection that sent nothing was closed after %v, before the %v first-request timeout", took, firstTimeout)
	}
	waitMetric(t, nd, 30*time.Second, "the closures counted and every byte released", func(fams map[string]*dto.MetricFamily) error {
		reason := func(r string) float64 {
			return sample(fams, "raftline_kafka_rejected_requests_total", map[string]string{"reason": r})
		}
		held := sample(fams, "raftline_kafka_inflight_request_bytes", nil)
		// The first wave's clients left mid-frame: truncated, malformed.
		if ft, fr, m := reason("frame_timeout"), reason("first_request_timeout"), reason("malformed"); ft != 40 || fr != 1 || m != 40 || held != 0 {
			return fmt.Errorf("frame_timeout %v (want 40), first_request_timeout %v (want 1), malformed %v (want 40), %v bytes held", ft, fr, m, held)
		}
		return nil
	})

	waitRSS(t, nd, before, fmt.Sprintf("the second wave (%v after the last closure)", time.Since(lastClose).Round(time.Second)))
	p, cons = honestRound(t, producer, seeds, topic, 400, 200)
	t.Logf("honest client after the attack: produce 200 records %v, consume them %v", p, cons)
}

// TestFrontDoor_NodeBudgetFilledBySilentFrames_ClosedToServeHonestClients
// fills the node's request bytes budget with frames that stop arriving:
// honest clients' requests wait for room, and the silent frames'
// connections are closed to make it, so the clients are served without
// waiting for any frame timeout, and memory stays within the budget.
func TestFrontDoor_NodeBudgetFilledBySilentFrames_ClosedToServeHonestClients(t *testing.T) {
	const budget = 24 << 20
	c := newCluster(t, 1, "--max-request-bytes", strconv.Itoa(16<<20),
		"--kafka-node-max-inflight-bytes", strconv.Itoa(budget), "--kafka-frame-timeout", "10m")
	nd := c.nodes[0]
	c.waitReady(nd)
	seeds := c.kafkaAddrs()
	producer := newClient(t, seeds)
	const topic = "budget"
	createTopic(t, producer, topic, 1)
	honestRound(t, producer, seeds, topic, 0, 200)
	before := mustRSS(t, nd)

	// 40 connections each send 1 MiB of a 16 MiB frame: more than the
	// budget, so some wait for room with their bytes in the socket.
	// Their writes run on their own: the node may not read them all.
	var attackers []net.Conn
	for range 40 {
		conn, err := net.DialTimeout("tcp", nd.kafka, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		attackers = append(attackers, conn)
		go conn.Write(append(binary.BigEndian.AppendUint32(nil, 16<<20-1024), make([]byte, 1<<20)...))
	}
	waitMetric(t, nd, 30*time.Second, "the budget full and frames waiting", func(fams map[string]*dto.MetricFamily) error {
		held := sample(fams, "raftline_kafka_inflight_request_bytes", nil)
		waits := sample(fams, "raftline_kafka_budget_waits_total", map[string]string{"scope": "node"})
		if held < budget-(1<<20) || waits == 0 {
			return fmt.Errorf("%s held, %v waits", mib(int64(held)), waits)
		}
		return nil
	})
	during := mustRSS(t, nd)
	p, cons := honestRound(t, producer, seeds, topic, 200, 200)
	t.Logf("honest client with the budget full of silent frames: produce 200 records %v, consume them %v", p, cons)
	during = max(during, mustRSS(t, nd))
	fams, err := scrapeNode(nd)
	if err != nil {
		t.Fatal(err)
	}
	closed := sample(fams, "raftline_kafka_rejected_requests_total", map[string]string{"reason": "budget"})
	t.Logf("node RSS: before %s, with the budget full %s (+%s; budget %s); %v silent connections closed to make room",
		mib(before), mib(during), mib(during-before), mib(budget), closed)
	if closed == 0 {
		t.Error("no connection closed to make room, yet the honest clients were served")
	}
	if during-before > attackBound {
		t.Errorf("the node's resident size grew by %s, over %s", mib(during-before), mib(attackBound))
	}
}

// waitHeld waits until the node holds at least n request bytes: the bytes
// the stalled connections sent have been read.
func waitHeld(t *testing.T, nd *node, n int64) {
	t.Helper()
	waitMetric(t, nd, 30*time.Second, fmt.Sprintf("%s of request bytes held", mib(n)), func(fams map[string]*dto.MetricFamily) error {
		if v := sample(fams, "raftline_kafka_inflight_request_bytes", nil); v < float64(n) {
			return fmt.Errorf("%s held", mib(int64(v)))
		}
		return nil
	})
}

// waitRSS waits until the node's resident size is back within 16 MiB of
// before: after a burst is released the node returns its free memory
// (rate-limited), so what stalled connections cost does not outlive them.
func waitRSS(t *testing.T, nd *node, before int64, after string) {
	t.Helper()
	var now int64
	start := time.Now()
	err := systest.Poll(60*time.Second, time.Second, func() error {
		now = mustRSS(t, nd)
		if now-before > 16<<20 {
			return fmt.Errorf("RSS %s, %s above the baseline", mib(now), mib(now-before))
		}
		return nil
	})
	t.Logf("node RSS after %s closed: %s (%+.1f MiB from before), waited %v", after, mib(now), float64(now-before)/(1<<20), time.Since(start).Round(time.Millisecond))
	if err != nil {
		t.Fatalf("memory not given back after %s: %v", after, err)
	}
}

// TestFrontDoor_1000BadRequests_FewLogLinesEveryOneCounted is a script
// hammering the node with requests it refuses, each on a new connection as
// a client reconnecting after every close does: the node's log gains a line
// per peer and reason and a summary per interval, the metric counts all.
func TestFrontDoor_1000BadRequests_FewLogLinesEveryOneCounted(t *testing.T) {
	const interval = 2 * time.Second
	c := newCluster(t, 1, "--kafka-reject-log-interval", interval.String())
	nd := c.nodes[0]
	c.waitReady(nd)
	logBefore, err := nd.logSinceStart()
	if err != nil {
		t.Fatal(err)
	}

	// Two Kafka inter-broker requests raftline never serves.
	leaderAndISR := kmsg.NewPtrLeaderAndISRRequest()
	stopReplica := kmsg.NewPtrStopReplicaRequest()
	// Produce v99, and Metadata v1 whose topic array claims 2^31-1 entries
	// and holds none: a header (key, version, correlation id, null client
	// id) and the body, framed.
	handmade := func(key, version int16, body ...byte) []byte {
		b := binary.BigEndian.AppendUint32(nil, uint32(10+len(body)))
		b = binary.BigEndian.AppendUint16(b, uint16(key))
		b = binary.BigEndian.AppendUint16(b, uint16(version))
		b = append(b, 0, 0, 0, 1, 0xff, 0xff)
		return append(b, body...)
	}
	produceV99 := handmade(0, 99)
	metadataGarbage := handmade(3, 1, 0x7f, 0xff, 0xff, 0xff)
	kinds := []struct {
		frame  []byte
		reason string
	}{
		{rawFrame(leaderAndISR, 1), "unknown_api_key"},
		{rawFrame(stopReplica, 1), "unknown_api_key"},
		{produceV99, "unsupported_version"},
		{metadataGarbage, "malformed"},
	}
	start := time.Now()
	const total = 1000
	var wg sync.WaitGroup
	errs := make(chan error, total)
	sem := make(chan struct{}, 8)
	for i := range total {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			conn, err := net.DialTimeout("tcp", nd.kafka, 5*time.Second)
			if err != nil {
				errs <- err
				return
			}
			defer conn.Close()
			if _, err := conn.Write(kinds[i%len(kinds)].frame); err != nil {
				errs <- err
				return
			}
			if _, err := closedAt(conn, 10*time.Second); err != nil {
				errs <- fmt.Errorf("bad request %d (%s): %w", i, kinds[i%len(kinds)].reason, err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	sent := time.Since(start)
	want := map[string]float64{"unknown_api_key": total / 2, "unsupported_version": total / 4, "malformed": total / 4}
	waitMetric(t, nd, 30*time.Second, "every bad request counted", func(fams map[string]*dto.MetricFamily) error {
		got := map[string]float64{}
		for r := range want {
			got[r] = sample(fams, "raftline_kafka_rejected_requests_total", map[string]string{"reason": r})
		}
		if !maps.Equal(got, want) {
			return fmt.Errorf("counted %v, want %v", got, want)
		}
		return nil
	})
	// The summary of the interval the requests fell in.
	var added []string
	waitFor(t, 4*interval+10*time.Second, "a summary of the unknown_api_key rejections", func() error {
		log, err := nd.logSinceStart()
		if err != nil {
			return err
		}
		added = strings.Split(strings.TrimSpace(strings.TrimPrefix(log, logBefore)), "\n")
		for _, l := range added {
			if strings.Contains(l, `msg="rejected Kafka requests"`) && strings.Contains(l, "reason=unknown_api_key") {
				return nil
			}
		}
		return fmt.Errorf("%d lines so far", len(added))
	})
	var first, summaries int
	for _, l := range added {
		if strings.Contains(l, `msg="closing Kafka connection"`) {
			first++
		}
		if strings.Contains(l, `msg="rejected Kafka requests"`) {
			summaries++
		}
	}
	t.Logf("%d bad requests in %v: the node logged %d lines (%d first lines, %d summaries):\n%s",
		total, sent.Round(time.Millisecond), len(added), first, summaries, strings.Join(added, "\n"))
	if first != 3 {
		t.Errorf("%d first lines, want one per reason from this one host (3)", first)
	}
	// At most one summary per reason per interval, over the time it took.
	if limit := 3 * (int(time.Since(start)/interval) + 1); summaries > limit || len(added) > first+limit {
		t.Errorf("%d lines added (%d summaries), more than %d", len(added), summaries, first+limit)
	}
}
