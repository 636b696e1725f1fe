package telemetry

import (
	"net/http"

	"github.com/raftline/raftline/broker/cluster/raftcluster"
	"github.com/raftline/raftline/broker/raftnode"
	"github.com/raftline/raftline/broker/server"
)

// Configure attaches the telemetry to a node's configuration: the raft_*
// metrics and, when tracing is on, the Raft spans subscribe to the node's
// Raft events (RaftObserver); NodeStarted points the gauges at the running
// node; the Kafka observer and, when tracing is on, the Kafka tracer;
// /metrics on the HTTP mux. Hooks already set are kept and run too. Use one
// Telemetry per node.
func (t *Telemetry) Configure(c *server.Config) {
	obs := []raftnode.Observer{t.raft}
	if t.tracer != nil {
		obs = append(obs, t.tracer)
	}
	c.RaftObserver = raftnode.Multi(append(obs, c.RaftObserver)...)

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
		t.raft.Attach(n)
		t.broker.Attach(raftcluster.New(n))
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
