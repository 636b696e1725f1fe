package fsm

import (
	"github.com/raftline/raftline/broker/seglog"
	"github.com/raftline/raftline/broker/topicrules"
)

// SegmentOptions are the options of the topic's partition logs on disk:
// defaults (the store's, seglog's own when zero) with the topic's
// segment.bytes and segment.ms in place of theirs. Segments roll where these
// say, and retention deletes whole segments, so every replica must use the
// same values: they come from the topic's configs, which are replicated
// with it, and from nothing a node is started with.
//
// A value outside topicrules' bounds never reaches a topic through an entry
// (createTopic refuses it); one read from a snapshot is ignored, the same
// way on every replica.
func (t *Topic) SegmentOptions(defaults seglog.Options) seglog.Options {
	o := defaults
	if n := t.configInt(topicrules.ConfigSegmentBytes, 0); n >= topicrules.MinSegmentBytes && n <= topicrules.MaxSegmentBytes {
		o.SegmentBytes = n
	}
	if n := t.configInt(topicrules.ConfigSegmentMs, 0); n >= topicrules.MinSegmentMs {
		o.SegmentMs = n
	}
	return o
}
