package fsm

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/raftline/raftline/broker/topicrules"
)

// populated builds a replica touching everything a snapshot holds: nodes,
// topics with and without configs, a trimmed partition, an empty one, and
// idempotent producers with sequence state on several partitions.
func populated(t *testing.T, st storage) *replica {
	r := newReplica(t, st)
	for id := int32(1); id <= 3; id++ {
		a := fmt.Sprintf("10.0.0.%d", id)
		r.apply(Command{Op: OpRegisterNode, TimeMs: 1, Broker: &Broker{ID: id, KafkaAddr: a + ":9092", HTTPAddr: a + ":9644", RaftAddr: a + ":9192"}})
	}
	r.createTopic("events", 3, nil)
	r.createTopic("audit", 1, map[string]string{topicrules.ConfigRetentionMs: "1000", topicrules.ConfigRetentionBytes: "100000", topicrules.ConfigCleanupPolicy: "delete"})
	r.createTopic("empty", 2, map[string]string{topicrules.ConfigMaxMessageBytes: "2048"})
	p0, p1, _ := r.initProducer(), r.initProducer(), r.initProducer()
	for i := range int32(8) {
		ts := int64(1000 * (i + 1))
		r.mustProduce(ts, "events", i%3, plain(ts, "plain", fmt.Sprint(i)))
		r.mustProduce(ts, "events", 0, batch(p0, 0, i, ts, "p0"))
		r.mustProduce(ts, "audit", 0, batch(p1, 0, 2*i, ts, "p1", "p1"))
	}
	r.mustProduce(9000, "events", 2, batch(p1, 0, 0, 9000, "on another partition"))
	r.apply(Command{Op: OpRetention, TimeMs: 6500}) // audit keeps batches from 5500 on
	if start, _ := r.log("audit", 0).Offsets(); start == 0 {
		t.Fatal("setup: retention trimmed nothing")
	}
	return r
}

func restored(t *testing.T, st storage, snap takenSnapshot) *replica {
	t.Helper()
	r := newReplica(t, st)
	if err := snap.restore(r); err != nil {
		t.Fatalf("Restore: %v", err)
	}
	return r
}

func TestSnapshot_RestoreIntoFreshState_SameTopicsLogsNodesAndProducers(t *testing.T) {
	eachStorage(t, func(t *testing.T, st storage) {
		orig := populated(t, st)
		snap, err := orig.s.Snapshot()
		if err != nil {
			t.Fatal(err)
		}
		defer snap.Release()
		var buf bytes.Buffer
		n, err := snap.WriteTo(&buf)
		if err != nil {
			t.Fatalf("WriteTo: %v", err)
		}
		if n != int64(buf.Len()) || snap.Size() != n {
			t.Fatalf("WriteTo reported %d, wrote %d, Size() says %d", n, buf.Len(), snap.Size())
		}

		got := restored(t, st, capture(t, snap, buf.Bytes()))
		got.index = orig.index
		if a, b := describe(orig.s), describe(got.s); a != b {
			t.Fatalf("restored state differs:\n%s\nvs\n%s", a, b)
		}
		if fmt.Sprint(orig.s.Brokers()) != fmt.Sprint(got.s.Brokers()) {
			t.Fatalf("nodes: %v vs %v", orig.s.Brokers(), got.s.Brokers())
		}
		if !bytes.Equal(snapshotBytes(t, got.s), buf.Bytes()) {
			t.Fatal("restored state snapshots to different bytes")
		}

		// From here both replicas must behave identically, producers included.
		for _, r := range []*replica{orig, got} {
			// Retry of producer 0's last batch on events/0: deduplicated.
			before := r.digest("events", 0)
			if off := r.mustProduce(10_000, "events", 0, batch(0, 0, 7, 8000, "p0")); off != before.Next-1 {
				t.Fatalf("retried batch answered %d, want its original %d", off, before.Next-1)
			}
			if r.digest("events", 0) != before {
				t.Fatal("retried batch appended again")
			}
			// A gap and an old epoch are still refused.
			if pr := r.produce(10_000, "audit", 0, batch(1, 0, 99, 10_000, "gap")); pr.Err == nil {
				t.Fatal("sequence gap accepted after restore")
			}
			if off := r.initProducer(); off != 3 {
				t.Fatalf("next producer id %d, want 3", off)
			}
			r.mustProduce(10_001, "events", 0, batch(0, 0, 8, 10_001, "p0 next"))
			r.mustProduce(10_001, "audit", 0, batch(1, 0, 16, 10_001, "p1 next"))
			r.mustProduce(10_001, "events", 2, batch(1, 0, 1, 10_001, "p1 next"))
			r.mustProduce(10_002, "empty", 1, batch(2, 0, 0, 10_002, "p2 first"))
			r.apply(Command{Op: OpRetention, TimeMs: 10_500})
		}
		if a, b := describe(orig.s), describe(got.s); a != b {
			t.Fatalf("replicas diverged after restore:\n%s\nvs\n%s", a, b)
		}
		if !bytes.Equal(snapshotBytes(t, orig.s), snapshotBytes(t, got.s)) {
			t.Fatal("replicas diverged after restore: snapshots differ")
		}
	})
}

func TestSnapshot_RetriedBatchAfterRestore_AnsweredWithOriginalOffset(t *testing.T) {
	eachStorage(t, func(t *testing.T, st storage) {
		r := newReplica(t, st)
		r.createTopic("t", 1, nil)
		pid := r.initProducer()
		b := batch(pid, 0, 0, 1, "a", "b")
		want := r.mustProduce(1, "t", 0, plain(1, "x"), b)
		want++ // b follows the one-record plain batch

		got := restored(t, st, takeSnapshot(t, r.s))
		before := got.digest("t", 0)
		if off := got.mustProduce(2, "t", 0, b); off != want {
			t.Fatalf("retry after restore answered %d, want %d", off, want)
		}
		if got.digest("t", 0) != before {
			t.Fatal("retry after restore was appended again")
		}
	})
}

func TestSnapshot_IsPointInTime(t *testing.T) {
	eachStorage(t, func(t *testing.T, st storage) {
		// Two replicas apply the same prefix; one takes a snapshot and then
		// goes on applying before writing it out.
		early, live := populated(t, st), populated(t, st)
		snap, err := live.s.Snapshot()
		if err != nil {
			t.Fatal(err)
		}
		defer snap.Release()

		live.mustProduce(20_000, "events", 1, plain(20_000, "later"))
		live.mustProduce(20_000, "events", 0, batch(0, 0, 8, 20_000, "later"))
		live.apply(Command{Op: OpRetention, TimeMs: 1 << 40})
		live.apply(Command{Op: OpDeleteTopic, TimeMs: 20_001, Delete: "empty"})
		live.createTopic("new", 4, nil)
		live.apply(Command{Op: OpRegisterNode, TimeMs: 20_002, Broker: &Broker{ID: 9, KafkaAddr: "later:9092"}})
		live.initProducer()
		if describe(live.s) == describe(early.s) {
			t.Fatal("setup: later entries changed nothing")
		}

		var buf bytes.Buffer
		if _, err := snap.WriteTo(&buf); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(buf.Bytes(), snapshotBytes(t, early.s)) {
			t.Fatal("snapshot written after later entries does not match the state when it was taken")
		}
		got := restored(t, st, capture(t, snap, buf.Bytes()))
		if describe(got.s) != describe(early.s) {
			t.Fatal("restored snapshot does not match the state when it was taken")
		}
		if id := got.initProducer(); id != 3 {
			t.Fatalf("restored next producer id %d, want 3", id)
		}
	})
}

func TestSnapshot_EmptyStateRoundTrips(t *testing.T) {
	eachStorage(t, func(t *testing.T, st storage) {
		snap := snapshotBytes(t, st.open(t))
		r := populated(t, st)
		if err := r.s.Restore(bytes.NewReader(snap), nil); err != nil {
			t.Fatal(err)
		}
		if len(r.s.Topics()) != 0 || len(r.s.Brokers()) != 0 {
			t.Fatalf("restore of an empty snapshot kept %d topics, %d nodes", len(r.s.Topics()), len(r.s.Brokers()))
		}
		if id := r.initProducer(); id != 0 {
			t.Fatalf("producer id %d after restoring an empty state, want 0", id)
		}
	})
}

// metaSnapshot is a snapshot with the given JSON meta and trailing bytes.
func metaSnapshot(meta string, rest ...byte) []byte {
	out := []byte(snapshotMagic)
	out = binary.BigEndian.AppendUint32(out, uint32(len(meta)))
	out = append(out, meta...)
	return append(out, rest...)
}

func TestRestore_BadInput_ErrBadSnapshotAndStateUnchanged(t *testing.T) {
	eachStorage(t, func(t *testing.T, st storage) {
		valid := snapshotBytes(t, populated(t, st).s)
		tests := map[string][]byte{
			"empty":                    nil,
			"garbage":                  []byte("this is not a raftline snapshot at all"),
			"other version magic":      append([]byte("RLSNAP2\n"), valid[8:]...),
			"magic only":               []byte(snapshotMagic),
			"meta length past the end": metaSnapshot("{}")[:len(snapshotMagic)+4+1],
			"meta not JSON":            metaSnapshot("{nope"),
			"meta wrong JSON types":    metaSnapshot(`{"topics":"events"}`),
			"huge meta length":         append([]byte(snapshotMagic), 0xff, 0xff, 0xff, 0xff),
			"batch missing":            metaSnapshot(`{"topics":[{"name":"t","partitions":[{"start":0,"next":1,"batches":1}]}]}`),
			"batch header cut":         metaSnapshot(`{"topics":[{"name":"t","partitions":[{"start":0,"next":1,"batches":1}]}]}`, 0, 0, 0),
			"batch bytes cut": metaSnapshot(`{"topics":[{"name":"t","partitions":[{"start":0,"next":1,"batches":1}]}]}`,
				append(make([]byte, 32), 0, 0, 0, 10, 1, 2, 3)...),
			"negative batch count": metaSnapshot(`{"topics":[{"name":"t","partitions":[{"start":0,"next":1,"batches":-1}]}]}`),
			"absurd batch count":   metaSnapshot(`{"topics":[{"name":"t","partitions":[{"start":0,"next":1,"batches":1000000000000000}]}]}`),
		}
		for name, in := range tests {
			t.Run(name, func(t *testing.T) {
				r := populated(t, st)
				before := describe(r.s)
				err := r.s.Restore(bytes.NewReader(in), nil)
				if !errors.Is(err, ErrBadSnapshot) {
					t.Fatalf("Restore: got %v, want ErrBadSnapshot", err)
				}
				if describe(r.s) != before {
					t.Fatal("a failed restore changed the state")
				}
				if err := r.s.Err(); err != nil {
					t.Fatalf("a bad snapshot failed the state: %v", err)
				}
			})
		}
	})
}

func TestRestore_EveryTruncation_ErrBadSnapshot(t *testing.T) {
	eachStorage(t, func(t *testing.T, st storage) {
		r := newReplica(t, st)
		r.apply(Command{Op: OpRegisterNode, TimeMs: 1, Broker: &Broker{ID: 1, KafkaAddr: "a:1"}})
		r.createTopic("t", 2, nil)
		r.mustProduce(1, "t", 0, plain(1, "a"), plain(2, "b", "c"))
		r.mustProduce(1, "t", 1, plain(1, "d"))
		valid := snapshotBytes(t, r.s)
		for n := range len(valid) {
			err := st.open(t).Restore(bytes.NewReader(valid[:n]), nil)
			if !errors.Is(err, ErrBadSnapshot) {
				t.Fatalf("restore of the first %d of %d bytes: got %v, want ErrBadSnapshot", n, len(valid), err)
			}
		}
	})
}

func TestRestore_ReaderError_ErrBadSnapshot(t *testing.T) {
	eachStorage(t, func(t *testing.T, st storage) {
		valid := snapshotBytes(t, populated(t, st).s)
		boom := errors.New("disk read failed")
		r := io.MultiReader(bytes.NewReader(valid[:len(valid)/2]), errReader{boom})
		if err := st.open(t).Restore(r, nil); !errors.Is(err, ErrBadSnapshot) {
			t.Fatalf("got %v, want ErrBadSnapshot", err)
		}
	})
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

func TestSnapshotWriteTo_WriterError_Returned(t *testing.T) {
	eachStorage(t, func(t *testing.T, st storage) {
		boom := errors.New("disk full")
		snap, err := populated(t, st).s.Snapshot()
		if err != nil {
			t.Fatal(err)
		}
		defer snap.Release()
		if _, err := snap.WriteTo(failAfter{n: 100, err: boom}); !errors.Is(err, boom) {
			t.Fatalf("got %v, want the writer's error", err)
		}
	})
}

// failAfter accepts writes until n bytes, then fails.
type failAfter struct {
	n   int
	err error
}

func (f failAfter) Write(p []byte) (int, error) {
	if len(p) > f.n {
		return f.n, f.err
	}
	return len(p), nil
}
