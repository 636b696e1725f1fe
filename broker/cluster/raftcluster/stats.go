package raftcluster

import "github.com/raftline/raftline/broker/fsm"

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
