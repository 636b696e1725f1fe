//go:build linux

package process

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"hash/fnv"
	"io/fs"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/raftline/raftline/test/internal/systest"
)

// What the disk storage tests write, read and measure: records a reader can
// check knowing only where it read them, a producer that keeps a ledger of
// what was acknowledged, and the files, memory and disk of a node.

// valueShape is the records the disk storage tests write: each one's length
// is between min and max bytes, picked from its place (value).
type valueShape struct{ min, max int }

// valueFiller is the filler's alphabet: printable, no '|' and no newline.
const valueFiller = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// value is the record at offset seq of topic/partition: a header naming the
// three, the value's length and the CRC-32C of the filler after it, then
// the filler, which follows from the same three. So any reader, kcat
// included, can check a record knowing only where it read it, and a record
// read from the wrong place, or cut, or damaged, shows in its own header.
// The value is printable and holds no '|' or newline: kcat prints one line
// per record.
func (s valueShape) value(topic string, partition int32, seq int64) []byte {
	h := fnv.New64a()
	fmt.Fprintf(h, "%s/%d/%d", topic, partition, seq)
	x := h.Sum64() | 1
	size := s.min + int(x%uint64(s.max-s.min+1))
	head := fmt.Sprintf("%s/%d/%d len=%d crc32c=", topic, partition, seq, size)
	const crcField = 9 // 8 hex digits and a space
	v := make([]byte, max(size, len(head)+crcField))
	filler := v[len(head)+crcField:]
	for i := 0; i < len(filler); {
		// xorshift64: up to ten filler bytes from each step.
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		for r := x; r != 0 && i < len(filler); r >>= 6 {
			filler[i] = valueFiller[r&63]
			i++
		}
	}
	copy(v, head)
	copy(v[len(head):], fmt.Sprintf("%08x ", crc32.Checksum(filler, castagnoli)))
	return v
}

// check returns nil if got is the value of the record at offset seq of
// topic/partition, else what got holds instead.
func (s valueShape) check(topic string, partition int32, seq int64, got []byte) error {
	want := s.value(topic, partition, seq)
	if bytes.Equal(got, want) {
		return nil
	}
	return fmt.Errorf("%s/%d offset %d holds %s; want %d bytes with the header %q",
		topic, partition, seq, describeValue(got), len(want), headerOf(want))
}

// headerOf is a checked value's header, without its filler.
func headerOf(v []byte) string {
	i := bytes.Index(v, []byte("crc32c="))
	if i < 0 || len(v) < i+len("crc32c=")+8 {
		return string(v[:min(len(v), 80)])
	}
	return string(v[:i+len("crc32c=")+8])
}

// describeValue says what a value that is not the expected one holds: its
// length, its header and whether its filler matches the CRC-32C it names.
func describeValue(v []byte) string {
	head := headerOf(v)
	what := fmt.Sprintf("%d bytes with the header %q", len(v), head)
	crc, err := strconv.ParseUint(head[max(0, len(head)-8):], 16, 32)
	if err != nil || len(v) < len(head)+1 {
		return what + ", not a checked value"
	}
	if crc32.Checksum(v[len(head)+1:], castagnoli) != uint32(crc) {
		return what + ", whose filler does not match its CRC-32C"
	}
	return what
}

// topicPartition names one partition.
type topicPartition struct {
	topic     string
	partition int32
}

func (tp topicPartition) String() string { return fmt.Sprintf("%s/%d", tp.topic, tp.partition) }

// createCheckedTopic creates a topic of partitions replicated to every
// voter with configs, retrying while the cluster settles.
func createCheckedTopic(t testing.TB, cl *kgo.Client, name string, partitions int32, configs map[string]string) {
	t.Helper()
	cfg := map[string]*string{}
	for k, v := range configs {
		cfg[k] = &v
	}
	adm := kadm.NewClient(cl)
	waitFor(t, 30*time.Second, "topic "+name+" to be created", func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		resp, err := adm.CreateTopic(ctx, partitions, -1, cfg, name)
		if err == nil {
			err = resp.Err
		}
		if errors.Is(err, kerr.TopicAlreadyExists) {
			return nil
		}
		return err
	})
}

// checkedWriter produces valueShape records to a set of partitions, each
// partition's in order, with acks=all through an idempotent kgo client
// (newClient's defaults: unbounded retries), and keeps the ledger: every
// record produced, in order, must be acknowledged at the offset equal to
// its sequence number in its partition, so a partition of n acknowledged
// records holds exactly records 0 to n-1, once each.
type checkedWriter struct {
	t     testing.TB
	cl    *kgo.Client
	shape valueShape
	parts []topicPartition

	// stop ends the loop start runs; done is closed once it has. ctx is
	// what records are produced with, cancelled only when the test ends,
	// so a loop blocked on a full buffer of a cluster gone quiet returns.
	stop    chan struct{}
	stopped sync.Once
	done    chan struct{}
	ctx     context.Context

	mu       sync.Mutex
	produced map[topicPartition]int64 // records handed to the client
	acked    map[topicPartition]int64 // acknowledged, each at its sequence number
	bytes    int64                    // value bytes acknowledged
	errs     []error
}

// newCheckedWriter writes to parts through cl, which must partition
// manually (kgo.RecordPartitioner(kgo.ManualPartitioner())).
func newCheckedWriter(t testing.TB, cl *kgo.Client, shape valueShape, parts []topicPartition) *checkedWriter {
	w := &checkedWriter{t: t, cl: cl, shape: shape, parts: parts, stop: make(chan struct{}), ctx: context.Background(),
		produced: map[topicPartition]int64{}, acked: map[topicPartition]int64{}}
	return w
}

// produce hands the next record of tp to the client, which blocks while its
// buffer is full, and returns its size.
func (w *checkedWriter) produce(tp topicPartition) int {
	w.mu.Lock()
	seq := w.produced[tp]
	w.produced[tp]++
	w.mu.Unlock()
	v := w.shape.value(tp.topic, tp.partition, seq)
	r := &kgo.Record{Topic: tp.topic, Partition: tp.partition, Key: []byte(strconv.FormatInt(seq, 10)), Value: v}
	w.cl.Produce(w.ctx, r, func(r *kgo.Record, err error) {
		w.mu.Lock()
		defer w.mu.Unlock()
		switch {
		case err != nil:
			w.errs = append(w.errs, fmt.Errorf("%s seq %d: %w", tp, seq, err))
		case r.Offset != seq || w.acked[tp] != seq:
			w.errs = append(w.errs, fmt.Errorf("%s: seq %d acknowledged at offset %d, after %d acknowledgements", tp, seq, r.Offset, w.acked[tp]))
		default:
			w.acked[tp]++
			w.bytes += int64(len(r.Value))
		}
	})
	return len(v)
}

// fill produces round-robin until each partition has been handed perPartition
// value bytes, then waits for every acknowledgement.
func (w *checkedWriter) fill(perPartition int64) {
	w.t.Helper()
	handed := map[topicPartition]int64{}
	for {
		short := false
		for _, tp := range w.parts {
			if handed[tp] < perPartition {
				handed[tp] += int64(w.produce(tp))
				short = true
			}
		}
		if !short {
			break
		}
		if err := w.firstErr(); err != nil {
			w.t.Fatalf("produce failed: %v", err)
		}
	}
	w.flush()
}

// start produces round-robin in the background, as fast as the client's
// buffer lets it, until finish.
func (w *checkedWriter) start() {
	w.done = make(chan struct{})
	ctx, cancel := context.WithCancel(context.Background())
	w.ctx = ctx
	// Registered after the client's Cleanup, so it runs first.
	w.t.Cleanup(func() { w.halt(); cancel(); <-w.done })
	go func() {
		defer close(w.done)
		for {
			for _, tp := range w.parts {
				select {
				case <-w.stop:
					return
				default:
				}
				w.produce(tp)
			}
		}
	}()
}

func (w *checkedWriter) halt() { w.stopped.Do(func() { close(w.stop) }) }

// finish stops what start started and waits for every acknowledgement.
func (w *checkedWriter) finish() {
	w.t.Helper()
	w.halt()
	<-w.done
	w.flush()
}

// flush waits for every record handed to the client to be acknowledged.
func (w *checkedWriter) flush() {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := w.cl.Flush(ctx); err != nil {
		w.t.Fatalf("flushing the producer: %v (%d value bytes acknowledged)", err, w.ackedBytes())
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.errs) > 0 {
		w.t.Fatalf("%d records failed; first: %v", len(w.errs), w.errs[0])
	}
	for _, tp := range w.parts {
		if w.acked[tp] != w.produced[tp] {
			w.t.Fatalf("%s: %d records produced, %d acknowledged", tp, w.produced[tp], w.acked[tp])
		}
	}
}

func (w *checkedWriter) firstErr() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.errs) > 0 {
		return w.errs[0]
	}
	return nil
}

// ackedBytes is the value bytes acknowledged so far.
func (w *checkedWriter) ackedBytes() int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.bytes
}

// ackedRecords is the records acknowledged so far, in all partitions.
func (w *checkedWriter) ackedRecords() int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	var n int64
	for _, a := range w.acked {
		n += a
	}
	return n
}

// waitAcked waits until bytes of values in all have been acknowledged,
// failing at once if a record failed.
func (w *checkedWriter) waitAcked(bytes int64, timeout time.Duration) {
	w.t.Helper()
	waitFor(w.t, timeout, fmt.Sprintf("%s of values acknowledged", mib(bytes)), func() error {
		if err := w.firstErr(); err != nil {
			w.t.Fatalf("produce failed: %v", err)
		}
		if got := w.ackedBytes(); got < bytes {
			return fmt.Errorf("%s acknowledged", mib(got))
		}
		return nil
	})
}

// ends is each partition's acknowledged record count: after finish or
// fill, its high watermark.
func (w *checkedWriter) ends() map[topicPartition]int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := map[topicPartition]int64{}
	for _, tp := range w.parts {
		out[tp] = w.acked[tp]
	}
	return out
}

// checkDigests asserts that the digests list every partition the writer
// wrote as holding exactly its acknowledged records from offset 0, and
// returns the bytes they hold.
func (w *checkedWriter) checkDigests(digests []partitionDigest) int64 {
	w.t.Helper()
	ends := w.ends()
	var held int64
	seen := 0
	for _, d := range digests {
		end, ok := ends[topicPartition{d.Topic, d.Partition}]
		if !ok {
			continue
		}
		seen++
		held += d.Bytes
		if d.LogStart != 0 || d.HighWatermark != end {
			w.t.Fatalf("%s/%d: the nodes hold offsets %d to %d; %d records were acknowledged from 0", d.Topic, d.Partition, d.LogStart, d.HighWatermark, end)
		}
	}
	if seen != len(ends) {
		w.t.Fatalf("the nodes list %d of the %d partitions written", seen, len(ends))
	}
	return held
}

// consumeChecked reads every partition from offset 0 to its end with a kgo
// consumer and checks each record is the checked value of its offset: the
// partitions hold every acknowledged record once, in order, and nothing
// else.
func consumeChecked(t testing.TB, seeds []string, shape valueShape, ends map[topicPartition]int64) {
	t.Helper()
	offsets := map[string]map[int32]kgo.Offset{}
	for tp := range ends {
		if offsets[tp.topic] == nil {
			offsets[tp.topic] = map[int32]kgo.Offset{}
		}
		offsets[tp.topic][tp.partition] = kgo.NewOffset().At(0)
	}
	cl := newClient(t, seeds, kgo.ConsumePartitions(offsets))
	next := map[topicPartition]int64{}
	var lastErr error
	waitFor(t, 2*time.Minute, "every acknowledged record to be consumed", func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		fetches := cl.PollFetches(ctx)
		cancel()
		for _, e := range fetches.Errors() {
			if !errors.Is(e.Err, context.DeadlineExceeded) {
				lastErr = fmt.Errorf("%s/%d: %w", e.Topic, e.Partition, e.Err)
			}
		}
		var bad error
		fetches.EachRecord(func(r *kgo.Record) {
			tp := topicPartition{r.Topic, r.Partition}
			switch {
			case bad != nil:
			case r.Offset != next[tp]:
				bad = fmt.Errorf("%s: read offset %d after %d records", tp, r.Offset, next[tp])
			case r.Offset >= ends[tp]:
				bad = fmt.Errorf("%s: read offset %d, beyond the %d records acknowledged", tp, r.Offset, ends[tp])
			default:
				bad = shape.check(r.Topic, r.Partition, r.Offset, r.Value)
				next[tp]++
			}
		})
		if bad != nil {
			t.Fatal(bad)
		}
		for tp, end := range ends {
			if next[tp] < end {
				return fmt.Errorf("%s read up to %d of %d (last fetch error: %v)", tp, next[tp], end, lastErr)
			}
		}
		return nil
	})
}

// slowHTTP is for queries that read whole partitions: a digest of
// gigabytes takes longer than httpClient's timeout.
var slowHTTP = &http.Client{Timeout: 3 * time.Minute}

// digestsOf is partitionsOf through slowHTTP.
func digestsOf(nd *node) ([]partitionDigest, error) {
	var v partitionsView
	if err := systest.GetJSON(slowHTTP, nd.http, "/v1/partitions", &v); err != nil {
		return nil, err
	}
	slices.SortFunc(v.Partitions, func(a, b partitionDigest) int {
		if c := strings.Compare(a.Topic, b.Topic); c != 0 {
			return c
		}
		return int(a.Partition - b.Partition)
	})
	return v.Partitions, nil
}

// waitLargeDigestsEqual is waitDigestsEqual for partitions of gigabytes:
// each node's digests are read with slowHTTP, and checked once a second.
func (c *cluster) waitLargeDigestsEqual(timeout time.Duration, want []partitionDigest) []partitionDigest {
	c.t.Helper()
	var got []partitionDigest
	systest.WaitEvery(c.t, timeout, time.Second, "equal partition digests on every node", func() error {
		got = nil
		for _, nd := range c.nodes {
			d, err := digestsOf(nd)
			if err != nil {
				return fmt.Errorf("node %d: %w", nd.id, err)
			}
			if got == nil {
				got = d
			} else if !slices.Equal(got, d) {
				return fmt.Errorf("node %d has %v, node %d has %v", c.nodes[0].id, got, nd.id, d)
			}
		}
		if want != nil && !slices.Equal(got, want) {
			return fmt.Errorf("nodes have %v, want %v", got, want)
		}
		return nil
	})
	return got
}

// segmentFile is one segment file of a partition as the file system has
// it: which file it is (inode) and its size and modification time.
type segmentFile struct {
	ino     uint64
	size    int64
	modTime time.Time
}

// segmentFiles lists the .log files of a partition directory by name (the
// segment's base offset).
func segmentFiles(dir string) (map[string]segmentFile, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	out := map[string]segmentFile{}
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".log") {
			continue
		}
		fi, err := e.Info()
		if err != nil {
			return nil, err
		}
		out[e.Name()] = segmentFile{ino: fi.Sys().(*syscall.Stat_t).Ino, size: fi.Size(), modTime: fi.ModTime()}
	}
	return out, nil
}

// partitionDir is where a node keeps a partition with --storage disk.
func partitionDir(nd *node, tp topicPartition) string {
	return filepath.Join(nd.dataDir, "partitions", tp.topic, strconv.Itoa(int(tp.partition)))
}

// segmentBases lists the base offsets of a partition directory's segments,
// in order.
func segmentBases(t testing.TB, dir string) []int64 {
	t.Helper()
	files, err := segmentFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	var bases []int64
	for name := range files {
		b, err := strconv.ParseInt(strings.TrimSuffix(name, ".log"), 10, 64)
		if err != nil {
			t.Fatalf("%s: a segment named %q", dir, name)
		}
		bases = append(bases, b)
	}
	slices.Sort(bases)
	return bases
}

// procMemory is a process's memory as /proc/<pid>/status has it.
type procMemory struct {
	rss, peak, anon, file int64 // VmRSS, VmHWM, RssAnon, RssFile
}

func (m procMemory) String() string {
	return fmt.Sprintf("RSS %s (anonymous %s, file-backed %s), peak RSS %s", mib(m.rss), mib(m.anon), mib(m.file), mib(m.peak))
}

func memoryOf(t testing.TB, nd *node) procMemory {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(nd.Pid()) + "/status")
	if err != nil {
		t.Fatalf("node %d: %v", nd.id, err)
	}
	var m procMemory
	fields := map[string]*int64{"VmRSS:": &m.rss, "VmHWM:": &m.peak, "RssAnon:": &m.anon, "RssFile:": &m.file}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) == 3 && f[2] == "kB" && fields[f[0]] != nil {
			kb, err := strconv.ParseInt(f[1], 10, 64)
			if err != nil {
				t.Fatalf("node %d: /proc status line %q", nd.id, line)
			}
			*fields[f[0]] = kb << 10
			delete(fields, f[0])
		}
	}
	if len(fields) > 0 {
		t.Fatalf("node %d: /proc/%d/status lacks %v", nd.id, nd.Pid(), slices.Collect(maps.Keys(fields)))
	}
	return m
}

// diskUse is the space a node's data directory takes, in allocated blocks,
// each file counted once however many links it has (a snapshot links the
// segment files it lists).
type diskUse struct{ partitions, rest, total int64 }

func (d diskUse) String() string {
	return fmt.Sprintf("%s in all: partitions %s; the Raft log, snapshots (beyond the segment files they link) and node state %s",
		mib(d.total), mib(d.partitions), mib(d.rest))
}

func diskUseOf(t testing.TB, nd *node) diskUse {
	t.Helper()
	seen := map[uint64]bool{}
	walk := func(dir string) int64 {
		var n int64
		err := filepath.WalkDir(dir, func(path string, e fs.DirEntry, err error) error {
			if err == nil {
				var fi fs.FileInfo
				if fi, err = e.Info(); err == nil {
					if st := fi.Sys().(*syscall.Stat_t); !seen[st.Ino] {
						seen[st.Ino] = true
						n += st.Blocks * 512
					}
				}
			}
			// The node runs: a snapshot or its pins may go meanwhile.
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		})
		if err != nil {
			t.Fatalf("node %d: %v", nd.id, err)
		}
		return n
	}
	var d diskUse
	d.partitions = walk(filepath.Join(nd.dataDir, "partitions"))
	d.total = d.partitions + walk(nd.dataDir)
	d.rest = d.total - d.partitions
	return d
}
