package raftcluster

import "github.com/raftline/raftline/broker/cluster"

// GateProduces sets what Produce asks before it proposes anything: while
// gate returns an error, every produce is answered with that error at once
// and nothing reaches Raft. The node sets its free-space floor here
// (freespace.Monitor.Check), whose error matches cluster.ErrNoSpace. Set it
// before the Kafka listener serves; gate is called for every partition
// produced to, so it must be cheap.
func (c *Cluster) GateProduces(gate func() error) { c.gate = gate }

// refused is a produce the gate turned away: done before it began.
type refused struct{ err error }

var doneAlready = func() chan struct{} { ch := make(chan struct{}); close(ch); return ch }()

func (refused) Stored() <-chan struct{} { return doneAlready }
func (refused) Done() <-chan struct{}   { return doneAlready }

func (r refused) Result() (cluster.ProduceResult, error) {
	return cluster.ProduceResult{BaseOffset: -1, LogStart: -1}, r.err
}
