package telemetry

import (
	"net/http"

	"github.com/hashicorp/raft"

	"github.com/raftline/raftline/broker/cluster"
	"github.com/raftline/raftline/broker/raftnode"
	"github.com/raftline/raftline/broker/server"
)

// Configure attaches the telemetry to a node's configuration: Raft RPC,
// log store and FSM hooks, the Kafka observer and, when tracing is on, the
// Kafka tracer, and /metrics on the HTTP mux. Hooks already set are kept
// and run too. Use one Telemetry per node.
func (t *Telemetry) Configure(c *server.Config) {
	obs := []raftnode.RPCObserver{t.raft, t.watch}
	if t.tracer != nil {
		obs = append(obs, t.tracer)
	}
	if c.RPCObserver != nil {
		obs = append(obs, c.RPCObserver)
	}
	c.RPCObserver = rpcFanout(obs)

	prevStore := c.WrapLogStore
	c.WrapLogStore = func(s raft.LogStore) raft.LogStore {
		if prevStore != nil {
			s = prevStore(s)
		}
		// The watch is outermost so the append timing covers the store
		// alone.
		return t.watch.WrapLogStore(t.raft.WrapLogStore(s))
	}

	prevFSM := c.WrapFSM
	c.WrapFSM = func(f raft.FSM) raft.FSM {
		if prevFSM != nil {
			f = prevFSM(f)
		}
		f = t.raft.WrapFSM(f)
		if t.tracer != nil {
			f = t.tracer.WrapFSM(f)
		}
		// Outermost: an entry is reported committed before its apply
		// span starts.
		return t.watch.WrapFSM(f)
	}

	if c.KafkaObserver != nil {
		c.KafkaObserver = kafkaFanout{t.broker, c.KafkaObserver}
	} else {
		c.KafkaObserver = t.broker
	}
	if t.tracer != nil {
		c.Tracer = t.tracer
	}

	prevStarted := c.NodeStarted
	c.NodeStarted = func(n *raftnode.Node) {
		t.watch.Attach(n.Raft(), raftnode.ServerID(n.ID()))
		t.raft.Attach(n)
		t.broker.Attach(cluster.New(n))
		if prevStarted != nil {
			prevStarted(n)
		}
	}

	handlers := make(map[string]http.Handler, len(c.HTTPHandlers)+1)
	for p, h := range c.HTTPHandlers {
		handlers[p] = h
	}
	handlers["/metrics"] = t.handler
	c.HTTPHandlers = handlers
}

// rpcFanout reports each RPC to several observers.
type rpcFanout []raftnode.RPCObserver

func (f rpcFanout) Sent(target raft.ServerID, cmd any) func(any, error) {
	var buf [4]func(any, error)
	dones := buf[:0]
	for _, o := range f {
		if d := o.Sent(target, cmd); d != nil {
			dones = append(dones, d)
		}
	}
	switch len(dones) {
	case 0:
		return nil
	case 1:
		return dones[0]
	}
	ds := append([]func(any, error){}, dones...)
	return func(resp any, err error) {
		for _, d := range ds {
			d(resp, err)
		}
	}
}

func (f rpcFanout) Received(cmd any) {
	for _, o := range f {
		o.Received(cmd)
	}
}
