package fsm

import (
	"reflect"
	"testing"
)

// applyTerm applies c as an entry of a Raft term.
func (r *replica) applyTerm(term uint64, c Command) ApplyResult {
	r.t.Helper()
	data, err := Encode(c)
	if err != nil {
		r.t.Fatal(err)
	}
	r.index++
	res, err := r.s.ApplyTerm(r.index, term, data)
	if err != nil {
		r.t.Fatal(err)
	}
	return res
}

func (r *replica) produceTerm(term uint64, topic string, partition int32, batches ...[]byte) {
	r.t.Helper()
	res := r.applyTerm(term, Command{Op: OpProduce, TimeMs: 1, Produce: []ProducePartition{{Topic: topic, Partition: partition, Batches: batches}}})
	if err := res.Partitions[0].Err; err != nil {
		r.t.Fatal(err)
	}
}

// Each term that writes to a partition is recorded with the first offset
// it wrote; terms that wrote nothing there, and retried batches, are not;
// snapshots keep the lists and a deleted topic loses them.
func TestLeaderEpochs_FirstOffsetPerTerm_KeptInSnapshots(t *testing.T) {
	eachStorage(t, func(t *testing.T, st storage) {
		r := newReplica(t, st)
		r.createTopic("t", 2, nil)
		r.produceTerm(2, "t", 0, plain(1, "a", "b"))
		r.produceTerm(2, "t", 0, plain(2, "c"))
		r.produceTerm(3, "t", 1, plain(3, "x"))
		r.produceTerm(5, "t", 0, plain(4, "d"), plain(5, "e"))
		// An idempotent retry of an earlier batch writes nothing.
		pid := r.initProducer()
		b := batch(pid, 0, 0, 6, "f")
		r.produceTerm(5, "t", 1, b)
		r.produceTerm(6, "t", 1, b)
		want0 := []EpochStart{{2, 0}, {5, 3}}
		want1 := []EpochStart{{3, 0}, {5, 1}}
		if got := r.s.LeaderEpochs("t", 0); !reflect.DeepEqual(got, want0) {
			t.Fatalf("t/0 epochs %v, want %v", got, want0)
		}
		if got := r.s.LeaderEpochs("t", 1); !reflect.DeepEqual(got, want1) {
			t.Fatalf("t/1 epochs %v, want %v", got, want1)
		}
		snap := takeSnapshot(t, r.s)
		fresh := newReplica(t, st)
		if err := snap.restore(fresh); err != nil {
			t.Fatal(err)
		}
		if got := fresh.s.LeaderEpochs("t", 0); !reflect.DeepEqual(got, want0) {
			t.Fatalf("restored t/0 epochs %v, want %v", got, want0)
		}
		r.apply(Command{Op: OpDeleteTopic, Delete: "t"})
		r.createTopic("t", 2, nil)
		if got := r.s.LeaderEpochs("t", 0); len(got) != 0 {
			t.Fatalf("re-created topic has epochs %v", got)
		}
	})
}

func TestLeaderEpochs_Bounded(t *testing.T) {
	r := newReplica(t, storages[0])
	r.createTopic("t", 1, nil)
	for term := uint64(1); term <= maxEpochsPerPartition+5; term++ {
		r.produceTerm(term, "t", 0, plain(int64(term), "v"))
	}
	got := r.s.LeaderEpochs("t", 0)
	if len(got) != maxEpochsPerPartition || got[0].Epoch != 6 || got[len(got)-1].Epoch != maxEpochsPerPartition+5 {
		t.Fatalf("%d epochs from %v to %v", len(got), got[0], got[len(got)-1])
	}
}
