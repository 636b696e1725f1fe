package raftcluster

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/raftline/raftline/broker/cluster"
	"github.com/raftline/raftline/broker/fsm"
	"github.com/raftline/raftline/broker/raftnode"
	"github.com/raftline/raftline/broker/topicrules"
)

func TestFromNode_MatchesTheContractsSentinelsKeepsTheText(t *testing.T) {
	for _, tc := range []struct {
		err      error
		sentinel error
		code     int16
	}{
		{raftnode.ErrNotLeader, cluster.ErrNotLeader, kerr.NotLeaderForPartition.Code},
		{raftnode.ErrShutdown, cluster.ErrShutdown, kerr.NotLeaderForPartition.Code},
		{raftnode.ErrIndeterminate, cluster.ErrIndeterminate, kerr.RequestTimedOut.Code},
		{fmt.Errorf("%w: leadership lost", raftnode.ErrIndeterminate), cluster.ErrIndeterminate, kerr.RequestTimedOut.Code},
	} {
		got := fromNode(tc.err)
		if !errors.Is(got, tc.sentinel) || !errors.Is(got, tc.err) {
			t.Errorf("fromNode(%v) = %v: matches %v %v, the node's error %v", tc.err, got, tc.sentinel, errors.Is(got, tc.sentinel), errors.Is(got, tc.err))
		}
		if got.Error() != tc.err.Error() {
			t.Errorf("fromNode(%v) reads %q", tc.err, got)
		}
		if c := cluster.ErrorCode(got); c != tc.code {
			t.Errorf("ErrorCode(fromNode(%v)) = %d, want %d", tc.err, c, tc.code)
		}
	}
	other := errors.New("encode failed")
	if fromNode(nil) != nil || fromNode(other) != other || fromNode(kerr.CorruptMessage) != kerr.CorruptMessage {
		t.Error("fromNode changed an error that is not raftnode's")
	}
}

func TestView_Partition_OneBoundsCheck(t *testing.T) {
	for _, st := range stores {
		t.Run(st.name, func(t *testing.T) {
			s := st.open(t)
			if res := s.ApplyCommand(1, fsm.Command{Op: fsm.OpCreateTopic, Topic: &fsm.CreateTopic{Name: "t", Partitions: 2}}); res.Err != nil {
				t.Fatal(res.Err)
			}
			v := NewView(s)
			for _, tc := range []struct {
				topic string
				p     int32
				ok    bool
			}{{"t", 0, true}, {"t", 1, true}, {"t", 2, false}, {"t", -1, false}, {"nope", 0, false}} {
				part, err := v.Partition(tc.topic, tc.p)
				if tc.ok != (err == nil) || tc.ok != (part != nil) {
					t.Errorf("Partition(%q, %d) = %v, %v", tc.topic, tc.p, part, err)
				}
				if !tc.ok && !errors.Is(err, kerr.UnknownTopicOrPartition) {
					t.Errorf("Partition(%q, %d): %v, want UNKNOWN_TOPIC_OR_PARTITION", tc.topic, tc.p, err)
				}
				if _, derr := v.Digest(tc.topic, tc.p); (derr == nil) != tc.ok {
					t.Errorf("Digest(%q, %d): %v", tc.topic, tc.p, derr)
				}
			}
			topic, ok := v.Topic("t")
			if !ok || topic.Partitions != 2 || topic.MaxMessageBytes != topicrules.DefaultMaxMessageBytes {
				t.Fatalf("Topic(t) = %+v, %v", topic, ok)
			}
		})
	}
}

func TestView_Brokers_AsTheContractsType(t *testing.T) {
	s := fsm.New()
	b := cluster.Broker{ID: 2, KafkaAddr: "k:9092", ExternalKafkaAddr: "e:19092", HTTPAddr: "h:9644", RaftAddr: "r:9192"}
	fb := fsmBroker(b)
	s.ApplyCommand(1, fsm.Command{Op: fsm.OpRegisterNode, Broker: &fb})
	v := NewView(s)
	if got, ok := v.Broker(2); !ok || got != b {
		t.Fatalf("Broker(2) = %+v, %v, want %+v", got, ok, b)
	}
	if got := v.Brokers(); len(got) != 1 || got[0] != b {
		t.Fatalf("Brokers() = %+v", got)
	}
	if _, ok := v.Broker(3); ok {
		t.Fatal("Broker(3) found")
	}
}

// recordBatch builds a magic-2 batch of n records whose values are size
// bytes each, as a producer sends it (base offset 0), with max timestamp ts.
func recordBatch(n, size int, ts int64) []byte {
	var records []byte
	for i := range n {
		r := kmsg.Record{OffsetDelta: int32(i), Value: bytes.Repeat([]byte{byte('a' + i)}, size)}
		r.Length = int32(len(r.AppendTo(nil)) - 1)
		records = r.AppendTo(records)
	}
	rb := kmsg.RecordBatch{PartitionLeaderEpoch: -1, Magic: 2, LastOffsetDelta: int32(n - 1), FirstTimestamp: ts, MaxTimestamp: ts,
		ProducerID: -1, ProducerEpoch: -1, FirstSequence: -1, NumRecords: int32(n), Records: records}
	rb.Length = int32(len(rb.AppendTo(nil)) - 12)
	rb.CRC = int32(crc32.Checksum(rb.AppendTo(nil)[21:], crc32.MakeTable(crc32.Castagnoli)))
	return rb.AppendTo(nil)
}

// stores are the partition stores the View's tests run against.
var stores = []struct {
	name string
	open func(t *testing.T) *fsm.State
}{
	{"memory", func(*testing.T) *fsm.State { return fsm.New() }},
	{"disk", openDisk},
}

func openDisk(t *testing.T) *fsm.State {
	s, err := fsm.Open(fsm.Options{Storage: fsm.Disk, Dir: filepath.Join(t.TempDir(), "partitions")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// partitionWith applies a topic "t" of one partition and one entry per
// batch to a new state, and returns the partition as the View serves it.
func partitionWith(t *testing.T, open func(*testing.T) *fsm.State, batches ...[]byte) cluster.Partition {
	t.Helper()
	s := open(t)
	if res := s.ApplyCommand(1, fsm.Command{Op: fsm.OpCreateTopic, TimeMs: 1, Topic: &fsm.CreateTopic{Name: "t", Partitions: 1}}); res.Err != nil {
		t.Fatal(res.Err)
	}
	for i, b := range batches {
		res := s.ApplyCommand(uint64(i+2), fsm.Command{Op: fsm.OpProduce, TimeMs: 1, Produce: []fsm.ProducePartition{{Topic: "t", Batches: [][]byte{b}}}})
		if err := res.Partitions[0].Err; err != nil {
			t.Fatal(err)
		}
	}
	p, err := NewView(s).Partition("t", 0)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestPartition_AppendBatches_AsServed(t *testing.T) {
	byBase := map[int64][]byte{}
	var batches [][]byte
	base := int64(0)
	for _, n := range []int{2, 3, 1} { // offsets 0-1, 2-4, 5
		b := recordBatch(n, 20, 1000)
		byBase[base] = b
		batches = append(batches, b)
		base += int64(n)
	}
	size := func(base int64) int { return len(byBase[base]) }
	for _, st := range stores {
		t.Run(st.name, func(t *testing.T) {
			p := partitionWith(t, st.open, batches...)
			for _, tc := range []struct {
				offset   int64
				maxBytes int
				bases    []int64
			}{
				{0, 1 << 20, []int64{0, 2, 5}},
				{1, 1 << 20, []int64{0, 2, 5}}, // from the batch holding 1
				{3, size(2) + size(5), []int64{2, 5}},
				{0, size(0) + size(2) - 1, []int64{0}}, // the second would pass maxBytes
				{0, 1, []int64{0}},                     // the first is whole whatever its size
				{6, 1 << 20, []int64(nil)},             // nothing from the high watermark on
			} {
				prefix := []byte("prefix")
				dst := make([]byte, len(prefix), len(prefix))
				copy(dst, prefix)
				got, err := p.AppendBatches(dst, tc.offset, tc.maxBytes)
				if err != nil {
					t.Fatalf("AppendBatches(%d, %d): %v", tc.offset, tc.maxBytes, err)
				}
				if !bytes.Equal(got[:len(prefix)], prefix) {
					t.Fatalf("AppendBatches(%d, %d) overwrote dst", tc.offset, tc.maxBytes)
				}
				var bases []int64
				for rest := got[len(prefix):]; len(rest) > 0; {
					base := int64(binary.BigEndian.Uint64(rest))
					bases = append(bases, base)
					want := byBase[base]
					// The bytes stored, but the base offset and leader epoch written in.
					if want == nil || len(want) > len(rest) || !bytes.Equal(rest[8:12], want[8:12]) || !bytes.Equal(rest[16:len(want)], want[16:]) {
						t.Fatalf("AppendBatches(%d, %d): bad batch at base %d", tc.offset, tc.maxBytes, base)
					}
					rest = rest[len(want):]
				}
				if fmt.Sprint(bases) != fmt.Sprint(tc.bases) {
					t.Errorf("AppendBatches(%d, %d) served bases %v, want %v", tc.offset, tc.maxBytes, bases, tc.bases)
				}
			}
			if _, next := p.Offsets(); next != 6 {
				t.Fatalf("high watermark %d", next)
			}
			empty, err := p.AppendBatches([]byte{}, 6, 100)
			if err != nil || empty == nil || len(empty) != 0 {
				t.Fatalf("AppendBatches to an empty non-nil dst, nothing to serve: %v", empty)
			}
		})
	}
}

func TestPartition_OffsetForTimestamp(t *testing.T) {
	for _, st := range stores {
		t.Run(st.name, func(t *testing.T) {
			p := partitionWith(t, st.open, recordBatch(2, 10, 1000), recordBatch(2, 10, 3000))
			for ts, want := range map[int64][3]int64{
				0: {0, 1000, 1}, 1000: {0, 1000, 1}, 1001: {2, 3000, 1}, 3000: {2, 3000, 1}, 3001: {-1, -1, 0},
			} {
				off, maxTs, ok, err := p.OffsetForTimestamp(ts)
				if err != nil || off != want[0] || maxTs != want[1] || ok != (want[2] == 1) {
					t.Errorf("OffsetForTimestamp(%d) = %d, %d, %v, want %v", ts, off, maxTs, ok, want)
				}
			}
		})
	}
}

// A partition whose log went with its deleted topic answers
// UNKNOWN_TOPIC_OR_PARTITION; one whose files fail their checks answers
// KAFKA_STORAGE_ERROR (cluster.ErrStorage). Neither serves a byte.
func TestPartition_ReadErrors_AreTheContracts(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "partitions")
	s, err := fsm.Open(fsm.Options{Storage: fsm.Disk, Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	p := partitionWith(t, func(*testing.T) *fsm.State { return s }, recordBatch(2, 10, 1000), recordBatch(2, 10, 3000))
	seg := filepath.Join(dir, "t", "0", "00000000000000000000.log")
	b, err := os.ReadFile(seg)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)-5] ^= 0xff // inside the second batch, under its CRC
	if err := os.WriteFile(seg, b, 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := p.AppendBatches([]byte("dst"), 2, 1<<20)
	if string(got) != "dst" || !errors.Is(err, cluster.ErrStorage) || cluster.ErrorCode(err) != kerr.KafkaStorageError.Code {
		t.Fatalf("damaged batch: AppendBatches = %q, %v; want dst unchanged and KAFKA_STORAGE_ERROR", got, err)
	}
	if _, _, _, err := p.OffsetForTimestamp(2000); cluster.ErrorCode(err) != kerr.KafkaStorageError.Code {
		t.Fatalf("damaged batch: OffsetForTimestamp error %v, want KAFKA_STORAGE_ERROR", err)
	}

	if res := s.ApplyCommand(9, fsm.Command{Op: fsm.OpDeleteTopic, TimeMs: 1, Delete: "t"}); res.Err != nil {
		t.Fatal(res.Err)
	}
	got, err = p.AppendBatches([]byte("dst"), 0, 1<<20)
	if string(got) != "dst" || cluster.ErrorCode(err) != kerr.UnknownTopicOrPartition.Code {
		t.Fatalf("deleted topic: AppendBatches = %q, %v; want dst unchanged and UNKNOWN_TOPIC_OR_PARTITION", got, err)
	}
	if off, maxTs, ok, err := p.OffsetForTimestamp(0); off != -1 || maxTs != -1 || ok || cluster.ErrorCode(err) != kerr.UnknownTopicOrPartition.Code {
		t.Fatalf("deleted topic: OffsetForTimestamp = %d, %d, %v, %v", off, maxTs, ok, err)
	}
}

func TestForwardHandler_RefusesWhatCannotBeForwarded(t *testing.T) {
	h := new(Cluster).ForwardHandler() // refusals never reach Raft
	del, err := fsm.Encode(fsm.Command{Op: fsm.OpDeleteTopic, Delete: "t"})
	if err != nil {
		t.Fatal(err)
	}
	produce, err := fsm.Encode(fsm.Command{Op: fsm.OpProduce, Produce: []fsm.ProducePartition{{Topic: "t"}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		body []byte
		want int
	}{
		{"garbage", []byte{0xff}, http.StatusBadRequest},
		{"delete topic", del, http.StatusBadRequest},
		{"record data", produce, http.StatusBadRequest},
		{"oversized", make([]byte, 1<<20+1), http.StatusRequestEntityTooLarge},
	} {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(http.MethodPost, ForwardPath, bytes.NewReader(tc.body)))
		if w.Code != tc.want {
			t.Errorf("%s: status %d, want %d (%s)", tc.name, w.Code, tc.want, w.Body)
		}
	}
}
