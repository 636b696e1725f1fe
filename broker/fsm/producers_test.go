package fsm

import (
	"errors"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
)

func TestInitProducer_AllocatesConsecutiveIDsFromZero(t *testing.T) {
	eachStorage(t, func(t *testing.T, st storage) {
		r := newReplica(t, st)
		for want := int64(0); want < 4; want++ {
			if got := r.initProducer(); got != want {
				t.Fatalf("producer id %d, want %d", got, want)
			}
		}
	})
}

func TestIdempotentProduce_RetriedBatch_ReturnsOriginalOffsetAppendsNothing(t *testing.T) {
	eachStorage(t, func(t *testing.T, st storage) {
		r := newReplica(t, st)
		r.createTopic("t", 1, nil)
		pid := r.initProducer()
		r.mustProduce(1, "t", 0, plain(1, "before"))

		first := batch(pid, 0, 0, 1, "a", "b")
		second := batch(pid, 0, 2, 2, "c")
		if off := r.mustProduce(2, "t", 0, first); off != 1 {
			t.Fatalf("first batch at %d, want 1", off)
		}
		if off := r.mustProduce(3, "t", 0, second); off != 3 {
			t.Fatalf("second batch at %d, want 3", off)
		}
		before := r.digest("t", 0)

		// The client did not hear back and resends both, e.g. after a leader
		// change.
		if off := r.mustProduce(4, "t", 0, first); off != 1 {
			t.Fatalf("retried first batch answered with %d, want its original 1", off)
		}
		if off := r.mustProduce(5, "t", 0, second); off != 3 {
			t.Fatalf("retried second batch answered with %d, want its original 3", off)
		}
		if after := r.digest("t", 0); after != before {
			t.Fatalf("retries appended: %+v -> %+v", before, after)
		}
		if off := r.mustProduce(6, "t", 0, batch(pid, 0, 3, 6, "d")); off != 4 {
			t.Fatalf("next batch at %d, want 4", off)
		}
	})
}

func TestIdempotentProduce_RetryWithinLastFiveBatches_Deduplicated(t *testing.T) {
	eachStorage(t, func(t *testing.T, st storage) {
		r := newReplica(t, st)
		r.createTopic("t", 1, nil)
		pid := r.initProducer()
		var sent [][]byte
		for seq := range int32(7) {
			b := batch(pid, 0, seq, 1, "v")
			sent = append(sent, b)
			r.mustProduce(1, "t", 0, b)
		}
		before := r.digest("t", 0)
		for seq := 2; seq < 7; seq++ {
			if off := r.mustProduce(2, "t", 0, sent[seq]); off != int64(seq) {
				t.Errorf("retry of seq %d answered %d, want %d", seq, off, seq)
			}
		}
		// Older than the window: refused, never written twice.
		for seq := range 2 {
			if pr := r.produce(2, "t", 0, sent[seq]); pr.Err == nil {
				t.Errorf("retry of seq %d beyond the window accepted at %d", seq, pr.BaseOffset)
			}
		}
		if after := r.digest("t", 0); after != before {
			t.Fatalf("retries appended: %+v -> %+v", before, after)
		}
	})
}

func TestIdempotentProduce_SequenceErrors(t *testing.T) {
	eachStorage(t, func(t *testing.T, st storage) {
		tests := []struct {
			name string
			// setup runs after producer 0 (epoch 0) wrote seq 0-1 and 2-2 to t/0.
			next []byte
			want error
		}{
			{"gap in sequence", batch(0, 0, 4, 1, "x"), kerr.OutOfOrderSequenceNumber},
			{"sequence going back", batch(0, 0, 2, 1, "x", "y"), kerr.OutOfOrderSequenceNumber},
			{"old epoch", batch(0, -1, 3, 1, "x"), kerr.InvalidProducerEpoch},
			{"unknown producer id", batch(9, 0, 0, 1, "x"), kerr.UnknownProducerID},
			{"first batch of a new epoch not at zero", batch(0, 1, 3, 1, "x"), kerr.OutOfOrderSequenceNumber},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				r := newReplica(t, st)
				r.createTopic("t", 1, nil)
				pid := r.initProducer()
				r.mustProduce(1, "t", 0, batch(pid, 0, 0, 1, "a", "b"))
				r.mustProduce(1, "t", 0, batch(pid, 0, 2, 1, "c"))
				before := r.digest("t", 0)

				pr := r.produce(2, "t", 0, tt.next)
				if !errors.Is(pr.Err, tt.want) {
					t.Fatalf("got %v, want %v", pr.Err, tt.want)
				}
				if pr.BaseOffset != -1 {
					t.Fatalf("failed produce reported base offset %d", pr.BaseOffset)
				}
				if after := r.digest("t", 0); after != before {
					t.Fatal("a refused batch was appended")
				}
			})
		}
	})
}

func TestIdempotentProduce_FirstBatchMustStartAtZero(t *testing.T) {
	eachStorage(t, func(t *testing.T, st storage) {
		r := newReplica(t, st)
		r.createTopic("t", 1, nil)
		pid := r.initProducer()
		if pr := r.produce(1, "t", 0, batch(pid, 0, 1, 1, "x")); !errors.Is(pr.Err, kerr.OutOfOrderSequenceNumber) {
			t.Fatalf("got %v, want OUT_OF_ORDER_SEQUENCE_NUMBER", pr.Err)
		}
	})
}

func TestIdempotentProduce_NewEpochResetsSequencesAndFencesTheOld(t *testing.T) {
	eachStorage(t, func(t *testing.T, st storage) {
		r := newReplica(t, st)
		r.createTopic("t", 2, nil)
		pid := r.initProducer()
		r.mustProduce(1, "t", 0, batch(pid, 0, 0, 1, "a", "b", "c"))
		r.mustProduce(1, "t", 1, batch(pid, 0, 0, 1, "a"))

		// Epoch bumped: sequences start again from zero on every partition.
		if off := r.mustProduce(2, "t", 0, batch(pid, 1, 0, 2, "d")); off != 3 {
			t.Fatalf("new epoch's first batch at %d, want 3", off)
		}
		if off := r.mustProduce(2, "t", 1, batch(pid, 1, 0, 2, "d")); off != 1 {
			t.Fatalf("new epoch's first batch on partition 1 at %d, want 1", off)
		}
		// A batch from the old epoch (a zombie) is fenced.
		if pr := r.produce(3, "t", 0, batch(pid, 0, 3, 3, "e")); !errors.Is(pr.Err, kerr.InvalidProducerEpoch) {
			t.Fatalf("old epoch: got %v, want INVALID_PRODUCER_EPOCH", pr.Err)
		}
		if off := r.mustProduce(4, "t", 0, batch(pid, 1, 1, 4, "f")); off != 4 {
			t.Fatalf("new epoch continues at %d, want 4", off)
		}
	})
}

func TestIdempotentProduce_SequencesArePerPartitionAndProducer(t *testing.T) {
	eachStorage(t, func(t *testing.T, st storage) {
		r := newReplica(t, st)
		r.createTopic("t", 2, nil)
		r.createTopic("u", 1, nil)
		p0, p1 := r.initProducer(), r.initProducer()
		r.mustProduce(1, "t", 0, batch(p0, 0, 0, 1, "a"))
		r.mustProduce(1, "t", 1, batch(p0, 0, 0, 1, "a"))
		r.mustProduce(1, "u", 0, batch(p0, 0, 0, 1, "a"))
		// Same sequence from another producer is a different batch, not a retry.
		if off := r.mustProduce(1, "t", 0, batch(p1, 0, 0, 1, "a")); off != 1 {
			t.Fatalf("other producer's seq 0 at %d, want 1", off)
		}
	})
}

func TestPlainProduce_SameBatchTwice_WrittenTwice(t *testing.T) {
	eachStorage(t, func(t *testing.T, st storage) {
		r := newReplica(t, st)
		r.createTopic("t", 1, nil)
		b := plain(1, "a")
		r.mustProduce(1, "t", 0, b)
		if off := r.mustProduce(1, "t", 0, b); off != 1 {
			t.Fatalf("second copy at %d, want 1: only idempotent producers are deduplicated", off)
		}
	})
}
