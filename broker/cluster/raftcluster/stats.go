package raftcluster

import (
	"time"

	"github.com/raftline/raftline/broker/fsm"
)

// LogStats is what one partition's replica holds in its store on this node.
type LogStats = fsm.LogStats

// PartitionStats reports what a partition's replica holds on this node (its
// bytes; on disk, its segments and index bytes), from what the store keeps
// in memory, or answers kerr.UnknownTopicOrPartition.
func (v View) PartitionStats(topic string, partition int32) (LogStats, error) {
	log, err := v.state.Topic(topic).Partition(partition)
	if err != nil {
		return LogStats{}, err
	}
	return fsm.Stats(log), nil
}

// PartitionState is one partition's replica on this node: its log start
// offset, high watermark and what its store holds.
type PartitionState struct {
	Topic       string
	Partition   int32
	Start, Next int64
	Stats       LogStats
}

// PartitionsWithin lists every partition's state for readers that must not
// wait on an apply (fsm.State.TopicsWithin), or reports false when the
// state stayed locked for d: a produce blocked on a hung disk holds it. A
// metrics scrape that waited would hang, and with it every gauge, the one
// showing the hung write included.
func (v View) PartitionsWithin(d time.Duration) ([]PartitionState, bool) {
	ts, ok := v.state.TopicsWithin(d)
	if !ok {
		return nil, false
	}
	var out []PartitionState
	for _, t := range ts {
		for i, log := range t.Partitions {
			start, next := log.Offsets()
			out = append(out, PartitionState{Topic: t.Name, Partition: int32(i), Start: start, Next: next, Stats: fsm.Stats(log)})
		}
	}
	return out, true
}
