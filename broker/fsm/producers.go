package fsm

import (
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/raftline/raftline/broker/recordbatch"
)

// Idempotent producers. A producer id comes from InitProducerID (an entry in
// the log, so every replica allocates the same ids). For each partition the
// FSM remembers the last few batches' sequence ranges, as Kafka does, so a
// batch the client retries after a leader change is answered with its
// original offset instead of being written twice.

// recentBatches is how many batches per producer and partition are
// remembered; it matches Kafka's limit of five in-flight requests.
const recentBatches = 5

type producer struct {
	epoch int16
	parts map[topicPartition]*sequences
}

type topicPartition struct {
	topic     string
	partition int32
}

type sentBatch struct {
	firstSeq, lastSeq int32
	baseOffset        int64
}

type sequences struct {
	recent []sentBatch // oldest first
}

func newProducer(epoch int16) *producer {
	return &producer{epoch: epoch, parts: map[topicPartition]*sequences{}}
}

// checkSequence returns the partition's sequence state to record the batch
// in, or the base offset of an identical batch already written (dup >= 0), or
// a Kafka error.
func (s *State) checkSequence(topic string, partition int32, h recordbatch.Header) (seq *sequences, dup int64, err error) {
	p, ok := s.producers[h.ProducerID]
	if !ok {
		return nil, -1, kerr.UnknownProducerID
	}
	switch {
	case h.ProducerEpoch < p.epoch:
		return nil, -1, kerr.InvalidProducerEpoch
	case h.ProducerEpoch > p.epoch:
		// A client bumps its epoch to recover from an error; sequences
		// start again from zero. Nothing changes unless the batch is
		// accepted, so a refused batch cannot fence the producer's
		// earlier retries.
		if h.BaseSequence != 0 {
			return nil, -1, kerr.OutOfOrderSequenceNumber
		}
		p.epoch = h.ProducerEpoch
		p.parts = map[topicPartition]*sequences{}
	}
	tp := topicPartition{topic, partition}
	seq = p.parts[tp]
	if seq == nil {
		seq = &sequences{}
		p.parts[tp] = seq
	}
	last := h.BaseSequence + h.LastOffsetDelta
	for _, b := range seq.recent {
		if b.firstSeq == h.BaseSequence && b.lastSeq == last {
			return nil, b.baseOffset, nil
		}
	}
	if n := len(seq.recent); n > 0 {
		if want := seq.recent[n-1].lastSeq + 1; h.BaseSequence != want {
			return nil, -1, kerr.OutOfOrderSequenceNumber
		}
	} else if h.BaseSequence != 0 {
		return nil, -1, kerr.OutOfOrderSequenceNumber
	}
	return seq, -1, nil
}

func (q *sequences) record(h recordbatch.Header, baseOffset int64) {
	q.recent = append(q.recent, sentBatch{h.BaseSequence, h.BaseSequence + h.LastOffsetDelta, baseOffset})
	if len(q.recent) > recentBatches {
		q.recent = append(q.recent[:0:0], q.recent[1:]...)
	}
}
