package raftcluster

import (
	"encoding/binary"
	"testing"

	"github.com/raftline/raftline/broker/fsm"
)

// Each batch is served with the epoch that wrote it, -1 before the first
// epoch known; a digest hashes what is served, so two replicas whose
// epochs differ digest differently.
func TestPartition_ServesEachBatchWithTheEpochThatWroteIt(t *testing.T) {
	for _, st := range stores {
		t.Run(st.name, func(t *testing.T) {
			s := st.open(t)
			if res := s.ApplyCommand(1, fsm.Command{Op: fsm.OpCreateTopic, TimeMs: 1, Topic: &fsm.CreateTopic{Name: "t", Partitions: 1}}); res.Err != nil {
				t.Fatal(res.Err)
			}
			for i, term := range []uint64{0, 4, 4, 6} { // offsets 0-1, 2-3, 4-5, 6-7
				res := s.ApplyCommand(uint64(i+2), fsm.Command{Op: fsm.OpProduce, TimeMs: 1, Term: term, Produce: []fsm.ProducePartition{{Topic: "t", Batches: [][]byte{recordBatch(2, 10, 1000)}}}})
				if err := res.Partitions[0].Err; err != nil {
					t.Fatal(err)
				}
			}
			v := NewView(s)
			p, err := v.Partition("t", 0)
			if err != nil {
				t.Fatal(err)
			}
			got, err := p.AppendBatches(nil, 0, 1<<20)
			if err != nil {
				t.Fatal(err)
			}
			var epochs []int32
			for b := got; len(b) > 0; b = b[12+binary.BigEndian.Uint32(b[8:]):] {
				epochs = append(epochs, int32(binary.BigEndian.Uint32(b[12:])))
			}
			// Term 0 is an entry applied without one (Apply): epoch 0.
			if want := []int32{0, 4, 4, 6}; len(epochs) != 4 || epochs[0] != want[0] || epochs[1] != want[1] || epochs[2] != want[2] || epochs[3] != want[3] {
				t.Fatalf("served epochs %v, want %v", epochs, want)
			}
			d, err := v.Digest("t", 0)
			if err != nil || d.Bytes != int64(len(got)) || d.Start != 0 || d.Next != 8 {
				t.Fatalf("digest %+v (%v), served %d bytes", d, err, len(got))
			}
		})
	}
	if e := epochOf([]fsm.EpochStart{{Epoch: 4, Start: 5}}, 3); e != -1 {
		t.Fatalf("offset before the first epoch: %d, want -1", e)
	}
}
