package kafka

import (
	"sort"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/raftline/raftline/broker/cluster"
)

// Leader epochs are the Raft term (cluster.Partition.LeaderEpochs; the
// state machine's epochs.go says why). One epoch, the node's current term,
// is reported everywhere a client sees one: Metadata's partition leader
// epoch, ListOffsets' leader epoch, the partition leader epoch of every
// fetched batch (written in as the cluster serves it: raftcluster/epochs.go),
// and OffsetForLeaderEpoch; Fetch, ListOffsets and OffsetForLeaderEpoch
// check the client's current leader epoch against it.

// checkLeaderEpoch is Kafka's answer to a request's current leader epoch
// (-1: the client did not say): an older epoch is FENCED_LEADER_EPOCH (the
// client's metadata is stale), a newer one UNKNOWN_LEADER_EPOCH (this
// node's is). 0 when they agree.
func checkLeaderEpoch(requested, current int32) int16 {
	switch {
	case requested < 0 || requested == current:
		return 0
	case requested < current:
		return kerr.FencedLeaderEpoch.Code
	}
	return kerr.UnknownLeaderEpoch.Code
}

// epochOf is the epoch that wrote offset: the last epoch starting at or
// before it, or -1 for offsets before the first epoch known.
func epochOf(epochs []cluster.EpochStart, offset int64) int32 {
	i := sort.Search(len(epochs), func(i int) bool { return epochs[i].Start > offset })
	if i == 0 {
		return -1
	}
	return epochs[i-1].Epoch
}

// endOffsetFor is Kafka's OffsetForLeaderEpoch answer
// (LeaderEpochFileCache.endOffsetFor) for a partition whose epochs are
// epochs, whose leader's epoch is current and whose high watermark (here
// also its log end) is hwm: the requested epoch, or the last one before it,
// and the offset where it ends, which is where the next epoch that wrote
// begins. The current epoch ends at the high watermark. The current epoch
// starts where the epoch before it ended even before it writes, as Kafka's
// leader records its epoch at its log end when elected. Unknown (a
// requested epoch past the current, or -1): -1 and -1. An epoch older than
// any known: itself, ending where the first known begins.
func endOffsetFor(epochs []cluster.EpochStart, requested, current int32, hwm int64) (int32, int64) {
	if n := len(epochs); n == 0 || epochs[n-1].Epoch < current {
		epochs = append(epochs[:n:n], cluster.EpochStart{Epoch: current, Start: hwm})
	}
	switch {
	case requested < 0 || requested > current:
		return -1, -1
	case requested == current:
		return current, hwm
	}
	higher := sort.Search(len(epochs), func(i int) bool { return epochs[i].Epoch > requested })
	if higher == 0 {
		return requested, epochs[0].Start
	}
	return epochs[higher-1].Epoch, epochs[higher].Start
}
