package fsm

// Leader epochs. raftline's leader epoch is the Raft term: one leader leads
// every partition, and a term has at most one leader, so the term is the
// epoch Kafka's clients see everywhere (Metadata, Fetch, ListOffsets,
// OffsetForLeaderEpoch). For a client's truncation detection (KIP-320) the
// leader must say where each epoch's records end, which is where the next
// epoch's begin; Kafka keeps that in each replica's leader-epoch checkpoint.
// Here it is replicated state: for each partition, the first offset written
// by an entry of each term that wrote to it (the entry's term, the same on
// every replica), kept in snapshots. The list only grows at the end (terms
// in the log never decrease) and never needs truncating, because an applied
// entry is committed and Raft never removes it.

// EpochStart is the first offset of a partition written in a leader epoch
// (a Raft term).
type EpochStart struct {
	Epoch int32
	Start int64
}

// maxEpochsPerPartition bounds a partition's list: the oldest go first.
// A client asks about the epoch of its last consumed record, so only the
// recent ones are asked about; an older epoch is answered as one before
// the first kept (OffsetForLeaderEpoch: the first kept epoch's start).
const maxEpochsPerPartition = 1000

// noteEpoch records that the entry of term wrote to a partition from
// offset on. Under s.mu.
func (s *State) noteEpoch(topic string, partition int32, term uint64, offset int64) {
	tp := topicPartition{topic, partition}
	list := s.epochs[tp]
	epoch := int32(term)
	if n := len(list); n > 0 && list[n-1].Epoch >= epoch {
		return
	}
	if len(list) >= maxEpochsPerPartition {
		list = append(list[:0:0], list[len(list)-maxEpochsPerPartition+1:]...)
	}
	s.epochs[tp] = append(list, EpochStart{Epoch: epoch, Start: offset})
}

// dropEpochs forgets a deleted topic's epochs. Under s.mu.
func (s *State) dropEpochs(t *Topic) {
	for p := range t.Partitions {
		delete(s.epochs, topicPartition{t.Name, int32(p)})
	}
}

// LeaderEpochs returns a partition's epoch starts, oldest first: each epoch
// (Raft term) that wrote to it and the first offset it wrote. The slice is
// shared and must not be modified: the list only ever grows past the
// length a reader holds (noteEpoch), or is replaced, so it is read without
// copying on every fetch.
func (s *State) LeaderEpochs(topic string, partition int32) []EpochStart {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.epochs[topicPartition{topic, partition}]
}
