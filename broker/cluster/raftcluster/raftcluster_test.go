package raftcluster

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/raftline/raftline/broker/cluster"
	"github.com/raftline/raftline/broker/fsm"
	"github.com/raftline/raftline/broker/partlog"
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
	s := fsm.New()
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

// batch is a stored batch's bytes as far as the partition reads them: a
// header whose base offset is zero until served.
func batch(size int) []byte { return bytes.Repeat([]byte{0xab}, size) }

func TestPartition_AppendBatches_AsServed(t *testing.T) {
	log := partlog.New(10)
	log.Append(batch(100), 2, 1000, 0) // offsets 10-11
	log.Append(batch(50), 3, 2000, 0)  // 12-14
	log.Append(batch(70), 1, 3000, 0)  // 15
	p := partition{log}

	for _, tc := range []struct {
		offset   int64
		maxBytes int
		bases    []int64
	}{
		{10, 1 << 20, []int64{10, 12, 15}},
		{11, 1 << 20, []int64{10, 12, 15}}, // from the batch holding 11
		{13, 120, []int64{12, 15}},
		{10, 149, []int64{10}},      // the second would pass maxBytes
		{10, 1, []int64{10}},        // the first is whole whatever its size
		{16, 1 << 20, []int64(nil)}, // nothing from the high watermark on
	} {
		prefix := []byte("prefix")
		dst := make([]byte, len(prefix), len(prefix))
		copy(dst, prefix)
		got := p.AppendBatches(dst, tc.offset, tc.maxBytes)
		if !bytes.Equal(got[:len(prefix)], prefix) {
			t.Fatalf("AppendBatches(%d, %d) overwrote dst", tc.offset, tc.maxBytes)
		}
		var bases []int64
		for rest := got[len(prefix):]; len(rest) > 0; {
			base := int64(binary.BigEndian.Uint64(rest))
			bases = append(bases, base)
			size := map[int64]int{10: 100, 12: 50, 15: 70}[base]
			if size == 0 || !bytes.Equal(rest[8:size], batch(size)[8:]) {
				t.Fatalf("AppendBatches(%d, %d): bad batch at base %d", tc.offset, tc.maxBytes, base)
			}
			rest = rest[size:]
		}
		if fmt.Sprint(bases) != fmt.Sprint(tc.bases) {
			t.Errorf("AppendBatches(%d, %d) served bases %v, want %v", tc.offset, tc.maxBytes, bases, tc.bases)
		}
	}
	// One allocation beyond the log's read, for the bytes: dst is grown
	// once, to the size of what is appended.
	read := testing.AllocsPerRun(20, func() { log.Read(10, 1<<20) })
	served := testing.AllocsPerRun(20, func() { p.AppendBatches(nil, 10, 1<<20) })
	if served != read+1 {
		t.Errorf("AppendBatches allocates %v times, the read %v", served, read)
	}
	if _, next := p.Offsets(); next != 16 {
		t.Fatalf("high watermark %d", next)
	}
	empty := p.AppendBatches([]byte{}, 16, 100)
	if empty == nil || len(empty) != 0 {
		t.Fatalf("AppendBatches to an empty non-nil dst, nothing to serve: %v", empty)
	}
}

func TestPartition_OffsetForTimestamp(t *testing.T) {
	log := partlog.New(0)
	log.Append(batch(20), 2, 1000, 0)
	log.Append(batch(20), 2, 3000, 0)
	p := partition{log}
	for ts, want := range map[int64][3]int64{
		0: {0, 1000, 1}, 1000: {0, 1000, 1}, 1001: {2, 3000, 1}, 3000: {2, 3000, 1}, 3001: {-1, -1, 0},
	} {
		off, maxTs, ok := p.OffsetForTimestamp(ts)
		if off != want[0] || maxTs != want[1] || ok != (want[2] == 1) {
			t.Errorf("OffsetForTimestamp(%d) = %d, %d, %v, want %v", ts, off, maxTs, ok, want)
		}
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
