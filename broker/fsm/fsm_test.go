package fsm

import (
	"bytes"
	"encoding/binary"
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/raftline/raftline/broker/recordbatch"
	"github.com/raftline/raftline/broker/topicrules"
)

func TestProduce_AssignsConsecutiveOffsetsPerPartition(t *testing.T) {
	eachStorage(t, func(t *testing.T, st storage) {
		r := newReplica(t, st)
		r.createTopic("t", 2, nil)

		if off := r.mustProduce(100, "t", 0, plain(1, "a", "b", "c")); off != 0 {
			t.Fatalf("first batch at %d, want 0", off)
		}
		if off := r.mustProduce(101, "t", 0, plain(2, "d", "e")); off != 3 {
			t.Fatalf("second batch at %d, want 3", off)
		}
		// Several batches in one entry: the result is the first one's offset.
		if off := r.mustProduce(102, "t", 0, plain(3, "f"), plain(4, "g", "h")); off != 5 {
			t.Fatalf("third entry at %d, want 5", off)
		}
		if off := r.mustProduce(103, "t", 1, plain(5, "x")); off != 0 {
			t.Fatalf("other partition starts at %d, want 0", off)
		}

		log := r.log("t", 0)
		if start, next := log.Offsets(); start != 0 || next != 8 {
			t.Fatalf("Offsets() = %d, %d; want 0, 8", start, next)
		}
		var bases []int64
		for _, b := range served(t, log, 0) {
			h, err := recordbatch.Parse(b.Data)
			if err != nil {
				t.Fatalf("served batch at %d does not parse: %v", b.BaseOffset, err)
			}
			if b.LastOffset != b.BaseOffset+int64(h.RecordCount)-1 {
				t.Fatalf("batch %d: last offset %d for %d records", b.BaseOffset, b.LastOffset, h.RecordCount)
			}
			bases = append(bases, b.BaseOffset)
		}
		if len(bases) > 0 && bases[0] != 0 {
			t.Fatalf("the first batch served carries base offset %d", bases[0])
		}
		if want := []int64{0, 3, 5, 6}; !equalInts(bases, want) {
			t.Fatalf("batch base offsets %v, want %v", bases, want)
		}
	})
}

func equalInts(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// replayEntries is a log touching every op: two replicas applying it must
// end byte-identical.
func replayEntries(t *testing.T) [][]byte {
	cmds := []Command{
		{Op: OpRegisterNode, TimeMs: 1, Broker: &Broker{ID: 1, KafkaAddr: "a:9092", HTTPAddr: "a:9644", RaftAddr: "a:9192"}},
		{Op: OpCreateTopic, TimeMs: 2, Topic: &CreateTopic{Name: "events", Partitions: 3}},
		{Op: OpCreateTopic, TimeMs: 3, Topic: &CreateTopic{Name: "short", Partitions: 1, Configs: map[string]string{topicrules.ConfigRetentionMs: "100"}}},
		{Op: OpInitProducer, TimeMs: 4},
	}
	for i := range 30 {
		ts := int64(1000 + 10*i)
		cmds = append(cmds,
			Command{Op: OpProduce, TimeMs: ts, Produce: []ProducePartition{
				{Topic: "events", Partition: int32(i % 3), Batches: [][]byte{plain(ts, "v", strings.Repeat("x", i))}},
				{Topic: "short", Partition: 0, Batches: [][]byte{batch(0, 0, int32(i), ts, "s")}},
			}})
		if i%7 == 6 {
			cmds = append(cmds, Command{Op: OpRetention, TimeMs: ts})
		}
		if i%10 == 9 {
			cmds = append(cmds, Command{Op: OpDeleteRecords, TimeMs: ts, Records: &DeleteRecords{Partitions: []DeleteRecordsPartition{
				{Topic: "events", Partition: 0, Offset: int64(i / 3)},
				{Topic: "events", Partition: 2, Offset: -1},
				{Topic: "events", Partition: 1, Offset: 1 << 40}, // past the high watermark: refused alike
			}}})
		}
	}
	cmds = append(cmds,
		Command{Op: OpDeleteTopic, TimeMs: 5000, Delete: "events"},
		Command{Op: OpCreateTopic, TimeMs: 5001, Topic: &CreateTopic{Name: "events", Partitions: 2}},
		Command{Op: OpProduce, TimeMs: 5002, Produce: []ProducePartition{{Topic: "events", Partition: 1, Batches: [][]byte{plain(5002, "again")}}}},
	)
	var out [][]byte
	for _, c := range cmds {
		data, err := Encode(c)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, data)
	}
	return out
}

func TestApply_SameEntriesOnTwoReplicas_ByteIdenticalLogs(t *testing.T) {
	eachStorage(t, func(t *testing.T, st storage) {
		entries := replayEntries(t)
		a, b := st.open(t), st.open(t)
		for i, e := range entries {
			ra, err := a.Apply(uint64(i+1), e)
			if err != nil {
				t.Fatal(err)
			}
			rb, err := b.Apply(uint64(i+1), e)
			if err != nil {
				t.Fatal(err)
			}
			if len(ra.Partitions) != len(rb.Partitions) || ra.ProducerID != rb.ProducerID || !errors.Is(ra.Err, rb.Err) {
				t.Fatalf("entry %d: results differ: %+v vs %+v", i+1, ra, rb)
			}
			for j := range ra.Partitions {
				if ra.Partitions[j] != rb.Partitions[j] {
					t.Fatalf("entry %d: partition results differ: %+v vs %+v", i+1, ra.Partitions[j], rb.Partitions[j])
				}
			}
		}
		if da, db := describe(a), describe(b); da != db {
			t.Fatalf("replicas differ:\n%s\nvs\n%s", da, db)
		}
		for _, tp := range a.Topics() {
			for i, p := range tp.Partitions {
				if mustDigest(t, p) != mustDigest(t, b.Topic(tp.Name).Partitions[i]) {
					t.Fatalf("%s/%d digests differ", tp.Name, i)
				}
			}
		}
		if !bytes.Equal(snapshotBytes(t, a), snapshotBytes(t, b)) {
			t.Fatal("replicas write different snapshots")
		}
		if d := mustDigest(t, a.Topic("events").Partitions[1]); d.Next != 1 {
			t.Fatalf("re-created topic's partition has high watermark %d, want 1", d.Next)
		}
	})
}

func TestProduce_RewritesOffsetsInACopy_EntryBytesUntouched(t *testing.T) {
	eachStorage(t, func(t *testing.T, st storage) {
		r := newReplica(t, st)
		r.createTopic("t", 1, nil)
		r.mustProduce(1, "t", 0, plain(1, "first", "second"))

		data, err := Encode(Command{Op: OpProduce, TimeMs: 2, Produce: []ProducePartition{{Topic: "t", Partition: 0, Batches: [][]byte{plain(2, "third")}}}})
		if err != nil {
			t.Fatal(err)
		}
		orig := append([]byte(nil), data...)
		r.index++
		res, err := r.s.Apply(r.index, data)
		if err != nil || res.Partitions[0].Err != nil || res.Partitions[0].BaseOffset != 2 {
			t.Fatalf("Apply: %+v, %v; want base offset 2", res, err)
		}
		if !bytes.Equal(data, orig) {
			t.Fatal("Apply modified the entry's bytes; Raft may still be sending them to followers")
		}
		// The log serves the batch with its assigned offset written in.
		batches := served(t, r.log("t", 0), 2)
		if got := int64(binary.BigEndian.Uint64(batches[0].Data)); got != 2 {
			t.Fatalf("served batch carries base offset %d, want 2", got)
		}
		if !bytes.Equal(data, orig) {
			t.Fatal("serving the batch modified the entry's bytes")
		}
	})
}

func TestProduce_UnknownTopicOrPartition_OtherPartitionsStillWritten(t *testing.T) {
	eachStorage(t, func(t *testing.T, st storage) {
		r := newReplica(t, st)
		r.createTopic("t", 2, nil)
		res := r.apply(Command{Op: OpProduce, TimeMs: 1, Produce: []ProducePartition{
			{Topic: "missing", Partition: 0, Batches: [][]byte{plain(1, "a")}},
			{Topic: "t", Partition: -1, Batches: [][]byte{plain(1, "b")}},
			{Topic: "t", Partition: 2, Batches: [][]byte{plain(1, "c")}},
			{Topic: "t", Partition: 1, Batches: [][]byte{plain(1, "d")}},
		}})
		for i, pr := range res.Partitions[:3] {
			if !errors.Is(pr.Err, kerr.UnknownTopicOrPartition) || pr.BaseOffset != -1 {
				t.Errorf("result %d (%s/%d): %v at %d; want UNKNOWN_TOPIC_OR_PARTITION at -1", i, pr.Topic, pr.Partition, pr.Err, pr.BaseOffset)
			}
		}
		if pr := res.Partitions[3]; pr.Err != nil || pr.BaseOffset != 0 || pr.Topic != "t" || pr.Partition != 1 {
			t.Fatalf("valid partition: %+v", pr)
		}
		if _, next := r.log("t", 0).Offsets(); next != 0 {
			t.Fatalf("partition 0 got %d records", next)
		}
	})
}

// The leader checks CRCs before proposing; the FSM still refuses a batch whose
// header cannot be read, identically on every replica.
func TestProduce_MalformedBatchInEntry_CorruptMessageNothingAppended(t *testing.T) {
	eachStorage(t, func(t *testing.T, st storage) {
		r := newReplica(t, st)
		r.createTopic("t", 1, nil)
		bad := plain(1, "a")
		bad[16] = 1 // magic
		pr := r.produce(1, "t", 0, bad)
		if !errors.Is(pr.Err, kerr.CorruptMessage) {
			t.Fatalf("got %v, want CORRUPT_MESSAGE", pr.Err)
		}
		if _, next := r.log("t", 0).Offsets(); next != 0 {
			t.Fatalf("corrupt batch appended: high watermark %d", next)
		}
	})
}

func TestCreateTopic_Validation(t *testing.T) {
	eachStorage(t, func(t *testing.T, st storage) {
		tests := []struct {
			name       string
			topic      string
			partitions int32
			configs    map[string]string
			want       error
		}{
			{"empty name", "", 1, nil, kerr.InvalidTopicException},
			{"dot", ".", 1, nil, kerr.InvalidTopicException},
			{"dot dot", "..", 1, nil, kerr.InvalidTopicException},
			{"250 characters", strings.Repeat("a", 250), 1, nil, kerr.InvalidTopicException},
			{"slash", "a/b", 1, nil, kerr.InvalidTopicException},
			{"space", "a b", 1, nil, kerr.InvalidTopicException},
			{"non-ASCII letter", "café", 1, nil, kerr.InvalidTopicException},
			{"zero partitions", "t", 0, nil, kerr.InvalidPartitions},
			{"negative partitions", "t", -1, nil, kerr.InvalidPartitions},
			{"10001 partitions", "t", 10001, nil, kerr.InvalidPartitions},
			{"unknown config", "t", 1, map[string]string{"segment.jitter.ms": "1000"}, kerr.InvalidConfig},
			{"segment.ms under a minute", "t", 1, map[string]string{topicrules.ConfigSegmentMs: "1000"}, kerr.InvalidConfig},
			{"segment.bytes under 1 MiB", "t", 1, map[string]string{topicrules.ConfigSegmentBytes: "14"}, kerr.InvalidConfig},
			{"segment.bytes over 2^31-1", "t", 1, map[string]string{topicrules.ConfigSegmentBytes: "2147483648"}, kerr.InvalidConfig},
			{"retention.ms abc", "t", 1, map[string]string{topicrules.ConfigRetentionMs: "abc"}, kerr.InvalidConfig},
			{"retention.ms -2", "t", 1, map[string]string{topicrules.ConfigRetentionMs: "-2"}, kerr.InvalidConfig},
			{"retention.bytes 1.5", "t", 1, map[string]string{topicrules.ConfigRetentionBytes: "1.5"}, kerr.InvalidConfig},
			{"max.message.bytes 0", "t", 1, map[string]string{topicrules.ConfigMaxMessageBytes: "0"}, kerr.InvalidConfig},
			{"cleanup.policy compact", "t", 1, map[string]string{topicrules.ConfigCleanupPolicy: "compact"}, kerr.InvalidConfig},

			{"249 characters", strings.Repeat("a", 249), 1, nil, nil},
			{"every allowed character", "azAZ09._-", 1, nil, nil},
			{"10000 partitions", "t", 10000, nil, nil},
			{"every supported config", "t", 1, map[string]string{
				topicrules.ConfigRetentionMs: "-1", topicrules.ConfigRetentionBytes: "1048576", topicrules.ConfigMaxMessageBytes: "1", topicrules.ConfigCleanupPolicy: "delete",
				topicrules.ConfigSegmentBytes: "1048576", topicrules.ConfigSegmentMs: "60000",
			}, nil},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				if st.name == "disk" && tt.partitions > 1000 {
					// Each partition on disk holds four open files
					// (seglog); 10000 need more descriptors than a
					// test process may open.
					t.Skip("more partitions than the descriptor limit allows on disk")
				}
				r := newReplica(t, st)
				res := r.apply(Command{Op: OpCreateTopic, TimeMs: 1, Topic: &CreateTopic{Name: tt.topic, Partitions: tt.partitions, Configs: tt.configs}})
				if !errors.Is(res.Err, tt.want) || (tt.want == nil) != (res.Err == nil) {
					t.Fatalf("got %v, want %v", res.Err, tt.want)
				}
				created := r.s.Topic(tt.topic)
				if (created != nil) != (tt.want == nil) {
					t.Fatalf("topic exists: %v, with error %v", created != nil, res.Err)
				}
				if created != nil && len(created.Partitions) != int(tt.partitions) {
					t.Fatalf("%d partitions, want %d", len(created.Partitions), tt.partitions)
				}
			})
		}
	})
}

func TestCreateTopic_AlreadyExists_KeepsTheOriginal(t *testing.T) {
	eachStorage(t, func(t *testing.T, st storage) {
		r := newReplica(t, st)
		r.createTopic("t", 2, map[string]string{topicrules.ConfigRetentionMs: "1000"})
		r.mustProduce(1, "t", 1, plain(1, "a"))
		id := r.s.Topic("t").ID

		res := r.apply(Command{Op: OpCreateTopic, TimeMs: 2, Topic: &CreateTopic{Name: "t", Partitions: 5}})
		if !errors.Is(res.Err, kerr.TopicAlreadyExists) {
			t.Fatalf("got %v, want TOPIC_ALREADY_EXISTS", res.Err)
		}
		tp := r.s.Topic("t")
		if tp.ID != id || len(tp.Partitions) != 2 || tp.RetentionMs() != 1000 {
			t.Fatalf("existing topic changed: id %x, %d partitions, retention %d", tp.ID, len(tp.Partitions), tp.RetentionMs())
		}
		if _, next := tp.Partitions[1].Offsets(); next != 1 {
			t.Fatalf("existing partition lost its records: next %d", next)
		}
	})
}

func TestCreateTopic_IDDependsOnNameAndEntryIndex(t *testing.T) {
	eachStorage(t, func(t *testing.T, st storage) {
		a, b := newReplica(t, st), newReplica(t, st)
		a.createTopic("t", 1, nil)
		b.createTopic("t", 1, nil)
		if a.s.Topic("t").ID != b.s.Topic("t").ID {
			t.Fatal("same entry at the same index gave different topic ids")
		}
		id := a.s.Topic("t").ID
		if id[6]>>4 != 4 || id[8]>>6 != 2 {
			t.Fatalf("topic id %x is not a version-4 UUID", id)
		}
		a.createTopic("u", 1, nil)
		if a.s.Topic("u").ID == id {
			t.Fatal("two topics share an id")
		}
		a.apply(Command{Op: OpDeleteTopic, TimeMs: 1, Delete: "t"})
		a.createTopic("t", 1, nil)
		if a.s.Topic("t").ID == id {
			t.Fatal("re-created topic kept the old id; clients would mix the two")
		}
	})
}

func TestDeleteTopic_RemovesItsLogs_RecreateStartsAtZero(t *testing.T) {
	eachStorage(t, func(t *testing.T, st storage) {
		r := newReplica(t, st)
		r.createTopic("t", 1, nil)
		r.createTopic("other", 1, nil)
		r.mustProduce(1, "t", 0, plain(1, "a", "b"))

		if res := r.apply(Command{Op: OpDeleteTopic, TimeMs: 2, Delete: "t"}); res.Err != nil {
			t.Fatalf("delete: %v", res.Err)
		}
		if r.s.Topic("t") != nil || len(r.s.Topics()) != 1 {
			t.Fatalf("topic still listed: %d topics", len(r.s.Topics()))
		}
		if pr := r.produce(3, "t", 0, plain(3, "c")); !errors.Is(pr.Err, kerr.UnknownTopicOrPartition) {
			t.Fatalf("produce to deleted topic: %v", pr.Err)
		}
		if res := r.apply(Command{Op: OpDeleteTopic, TimeMs: 4, Delete: "t"}); !errors.Is(res.Err, kerr.UnknownTopicOrPartition) {
			t.Fatalf("second delete: got %v, want UNKNOWN_TOPIC_OR_PARTITION", res.Err)
		}
		r.createTopic("t", 1, nil)
		if off := r.mustProduce(5, "t", 0, plain(5, "d")); off != 0 {
			t.Fatalf("re-created topic starts at %d, want 0", off)
		}
	})
}

func TestTopicConfigs_Defaults(t *testing.T) {
	tp := &Topic{}
	if tp.RetentionMs() != topicrules.DefaultRetentionMs || tp.RetentionBytes() != -1 || tp.MaxMessageBytes() != topicrules.DefaultMaxMessageBytes {
		t.Fatalf("defaults: %d %d %d", tp.RetentionMs(), tp.RetentionBytes(), tp.MaxMessageBytes())
	}
	tp.Configs = map[string]string{topicrules.ConfigRetentionMs: "5", topicrules.ConfigRetentionBytes: "6", topicrules.ConfigMaxMessageBytes: "7"}
	if tp.RetentionMs() != 5 || tp.RetentionBytes() != 6 || tp.MaxMessageBytes() != 7 {
		t.Fatalf("configured: %d %d %d", tp.RetentionMs(), tp.RetentionBytes(), tp.MaxMessageBytes())
	}
}

func TestRetentionMs_DropsBatchesAppendedBeforeTheCutoff(t *testing.T) {
	eachStorage(t, func(t *testing.T, st storage) {
		r := newReplica(t, st)
		r.createTopic("t", 1, map[string]string{topicrules.ConfigRetentionMs: "1000"})
		r.createTopic("forever", 1, map[string]string{topicrules.ConfigRetentionMs: "-1"})
		r.createTopic("default", 1, nil)
		for _, appendMs := range []int64{10_000, 11_000, 12_000, 13_000} {
			// The batch's own timestamp is far in the past: retention goes by
			// the entry's time, not the producer's clock.
			r.mustProduce(appendMs, "t", 0, plain(1, "v", "w"))
			r.mustProduce(appendMs, "forever", 0, plain(1, "v"))
			r.mustProduce(appendMs, "default", 0, plain(1, "v"))
		}
		// Cutoff 12_000: batches appended before it go, the one at it stays.
		r.apply(Command{Op: OpRetention, TimeMs: 13_000})

		start, next := r.log("t", 0).Offsets()
		if start != 4 || next != 8 {
			t.Fatalf("Offsets() = %d, %d; want 4 (two batches dropped), 8 (unchanged)", start, next)
		}
		if bs := served(t, r.log("t", 0), 4); len(bs) != 2 || bs[0].BaseOffset != 4 {
			t.Fatalf("after retention the log holds %d batches from %d", len(bs), bs[0].BaseOffset)
		}
		for _, topic := range []string{"forever", "default"} {
			if start, _ := r.log(topic, 0).Offsets(); start != 0 {
				t.Errorf("%s: log start %d, want 0", topic, start)
			}
		}
		// A produce reports the moved log start; offsets continue.
		pr := r.produce(13_001, "t", 0, plain(1, "x"))
		if pr.BaseOffset != 8 || pr.LogStart != 4 {
			t.Fatalf("produce after retention: base %d log start %d; want 8, 4", pr.BaseOffset, pr.LogStart)
		}
		// Everything expires: the log is empty and starts at the high watermark.
		r.apply(Command{Op: OpRetention, TimeMs: 100_000})
		if start, next := r.log("t", 0).Offsets(); start != 9 || next != 9 {
			t.Fatalf("all expired: Offsets() = %d, %d; want 9, 9", start, next)
		}
	})
}

// In memory, retention.bytes drops batches while the log is over the limit,
// so the log never holds more. On disk it deletes a segment only while what
// is left still holds the limit, as Kafka does, so the log keeps at least
// retention.bytes and up to one segment more; a batch per segment here.
func TestRetentionBytes_KeepsLogAtOrUnderLimit(t *testing.T) {
	eachStorage(t, func(t *testing.T, st storage) {
		one := int64(len(plain(1, "v")))
		limit := 3*one + one/2
		kept := int64(3) // batches left by a pass over more
		if st.name == "disk" {
			kept = 4
		}
		r := newReplica(t, st)
		r.createTopic("t", 2, map[string]string{topicrules.ConfigRetentionBytes: strconv.FormatInt(limit, 10)})
		for range 10 {
			r.mustProduce(1, "t", 0, plain(1, "v"))
		}
		r.mustProduce(1, "t", 1, plain(1, "v"))
		r.apply(Command{Op: OpRetention, TimeMs: 2})

		log := r.log("t", 0)
		if log.Size() != kept*one {
			t.Fatalf("log is %d bytes (limit %d), want the newest %d batches (%d)", log.Size(), limit, kept, kept*one)
		}
		if start, next := log.Offsets(); start != 10-kept || next != 10 {
			t.Fatalf("Offsets() = %d, %d; want %d, 10", start, next, 10-kept)
		}
		if start, _ := r.log("t", 1).Offsets(); start != 0 {
			t.Fatalf("partition under the limit was trimmed to %d", start)
		}
		// Retention is per partition and applied again on every pass.
		for range 5 {
			r.mustProduce(3, "t", 0, plain(3, "v"))
		}
		r.apply(Command{Op: OpRetention, TimeMs: 4})
		if start, next := log.Offsets(); start != 15-kept || next != 15 {
			t.Fatalf("second pass: Offsets() = %d, %d; want %d, 15", start, next, 15-kept)
		}
	})
}

func TestRetention_ZeroBytesEmptiesTheLog(t *testing.T) {
	eachStorage(t, func(t *testing.T, st storage) {
		r := newReplica(t, st)
		r.createTopic("t", 1, map[string]string{topicrules.ConfigRetentionBytes: "0"})
		r.mustProduce(1, "t", 0, plain(1, "a", "b"))
		r.apply(Command{Op: OpRetention, TimeMs: 2})
		if start, next := r.log("t", 0).Offsets(); start != 2 || next != 2 || r.log("t", 0).Size() != 0 {
			t.Fatalf("Offsets() = %d, %d, size %d; want 2, 2, 0", start, next, r.log("t", 0).Size())
		}
	})
}

func TestRegisterNode_LatestAddressWins(t *testing.T) {
	eachStorage(t, func(t *testing.T, st storage) {
		r := newReplica(t, st)
		r.apply(Command{Op: OpRegisterNode, TimeMs: 1, Broker: &Broker{ID: 2, KafkaAddr: "old:9092"}})
		r.apply(Command{Op: OpRegisterNode, TimeMs: 1, Broker: &Broker{ID: 1, KafkaAddr: "one:9092"}})
		r.apply(Command{Op: OpRegisterNode, TimeMs: 1, Broker: &Broker{ID: 2, KafkaAddr: "new:9092"}})
		nodes := r.s.Brokers()
		if len(nodes) != 2 || nodes[0].ID != 1 || nodes[1].KafkaAddr != "new:9092" {
			t.Fatalf("Brokers() = %+v", nodes)
		}
		if n, ok := r.s.Broker(2); !ok || n.KafkaAddr != "new:9092" {
			t.Fatalf("Broker(2) = %+v, %v", n, ok)
		}
		if _, ok := r.s.Broker(3); ok {
			t.Fatal("Broker(3) found")
		}
	})
}

func TestAppended_ClosedByTheNextProduce(t *testing.T) {
	eachStorage(t, func(t *testing.T, st storage) {
		r := newReplica(t, st)
		r.createTopic("t", 1, nil)
		ch := r.s.Appended()
		select {
		case <-ch:
			t.Fatal("closed before any append")
		default:
		}
		var calls []int64
		r.s.OnAppend(func(topic string, partition int32, records int64, bytes int) { calls = append(calls, records) })
		r.mustProduce(1, "t", 0, plain(1, "a", "b"))
		select {
		case <-ch:
		default:
			t.Fatal("Appended channel still open after a produce")
		}
		if len(calls) != 1 || calls[0] != 2 {
			t.Fatalf("OnAppend calls %v, want [2]", calls)
		}
	})
}
