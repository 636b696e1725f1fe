package telemetry

import (
	"log/slog"
	"net/http"
	"path/filepath"
	"time"

	"github.com/raftline/raftline/broker/raftnode"
	"github.com/raftline/raftline/broker/server"
	"github.com/raftline/raftline/telemetry/storagemetrics"
)

// Configure attaches the telemetry to a node's configuration: the raft_*
// metrics and, when tracing is on, the Raft spans subscribe to the node's
// Raft events (Raft.Observer); NodeStarted points the gauges at the running
// node, its cluster and its free-space monitor; the partitions' segment syncs
// are timed (Raft.FSM.Segments.OnSync); the Kafka observer and, when tracing
// is on, the Kafka tracer; /metrics on the HTTP mux. Hooks already set are
// kept and run too. Use one Telemetry per node.
func (t *Telemetry) Configure(c *server.Config) {
	obs := []raftnode.Observer{t.raft}
	if t.tracer != nil {
		obs = append(obs, t.tracer)
	}
	c.Raft.Observer = raftnode.Multi(append(obs, c.Raft.Observer)...)

	if c.Kafka.Observer != nil {
		c.Kafka.Observer = kafkaFanout{t.broker, c.Kafka.Observer}
	} else {
		c.Kafka.Observer = t.broker
	}
	if t.tracer != nil {
		c.Kafka.Tracer = t.tracer
		// Lines logged while serving a traced request name its span.
		if c.Logger != nil {
			c.Logger = slog.New(LogHandler(c.Logger.Handler()))
		}
	}

	prevSync := c.Raft.FSM.Segments.OnSync
	c.Raft.FSM.Segments.OnSync = func(d time.Duration) {
		t.storage.SyncDone(d)
		if prevSync != nil {
			prevSync(d)
		}
	}

	prevStarted := c.NodeStarted
	c.NodeStarted = func(st server.Started) {
		t.raft.Attach(st.Node)
		t.broker.Attach(st.Cluster)
		t.groups.Attach(st.Cluster)
		// raftnode keeps the Raft log store in wal/ and the snapshot
		// store's files in snapshots/, both under LogDir.
		t.storage.Attach(storagemetrics.Source{Partitions: st.Cluster, Space: st.FreeSpace,
			RaftLogDir: filepath.Join(st.Node.LogDir(), "wal"), SnapshotDir: filepath.Join(st.Node.LogDir(), "snapshots")})
		if prevStarted != nil {
			prevStarted(st)
		}
	}

	handlers := make(map[string]http.Handler, len(c.HTTPHandlers)+1)
	for p, h := range c.HTTPHandlers {
		handlers[p] = h
	}
	handlers["/metrics"] = t.handler
	c.HTTPHandlers = handlers
}
