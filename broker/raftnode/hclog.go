package raftnode

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
)

// newHCLogger routes hashicorp/raft's hclog output into slog, so raft's lines
// carry node_id like every other line. hclog writes JSON lines to the writer;
// each is re-emitted as one slog record at the same level, except that a
// WARN or ERROR line expected says is a consequence of a graceful stop is
// logged at DEBUG (see expectedLine). expected may be nil.
func newHCLogger(name string, log *slog.Logger, expected func(msg string, attrs map[string]any) bool) hclog.Logger {
	return hclog.New(&hclog.LoggerOptions{
		Name:       name,
		Level:      hclog.Debug,
		JSONFormat: true,
		Output:     &slogWriter{log: log, expected: expected},
	})
}

type slogWriter struct {
	log      *slog.Logger
	expected func(msg string, attrs map[string]any) bool
}

func (w *slogWriter) Write(p []byte) (int, error) {
	for _, line := range bytes.Split(bytes.TrimSpace(p), []byte("\n")) {
		var m map[string]any
		if err := json.Unmarshal(line, &m); err != nil {
			w.log.Info(string(line))
			continue
		}
		level := slog.LevelInfo
		switch strings.ToLower(str(m["@level"])) {
		case "trace", "debug":
			level = slog.LevelDebug
		case "warn":
			level = slog.LevelWarn
		case "error":
			level = slog.LevelError
		}
		msg := str(m["@message"])
		attrs := []any{"component", str(m["@module"])}
		if level >= slog.LevelWarn && w.expected != nil && w.expected(msg, m) {
			// Kept, with the level raft gave it, for --log-level debug.
			attrs = append(attrs, "raft_level", level.String())
			level = slog.LevelDebug
		}
		if !w.log.Enabled(context.Background(), level) {
			continue
		}
		for k, v := range m {
			if !strings.HasPrefix(k, "@") {
				attrs = append(attrs, k, v)
			}
		}
		w.log.Log(context.Background(), level, msg, attrs...)
	}
	return len(p), nil
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

var _ io.Writer = (*slogWriter)(nil)

// hashicorp/raft's WARN and ERROR messages that a graceful stop explains,
// as raft v1.8 words them (raft.go, replication.go, net_transport.go).
var (
	// peerLines fail to reach one peer, named by the attribute given: its
	// id, its address, or the whole raft.Server. They are expected about a
	// peer that announced it is stopping, and on a node that is stopping.
	peerLines = map[string]string{
		"failed to heartbeat to":                       "peer",
		"failed to appendEntries to":                   "peer",
		"failed to pipeline appendEntries":             "peer",
		"failed to start pipeline replication to":      "peer",
		"failed to send snapshot to":                   "peer",
		"failed to install snapshot":                   "peer",
		"failed to contact":                            "server-id",
		"failed to make requestVote RPC":               "target",
		"heartbeat timeout reached, starting election": "last-leader-id",
	}
	// quorumLines say no quorum answers. They are expected on a node that
	// is stopping, and where the peers that announced their departure
	// leave too few voters for a quorum.
	quorumLines = map[string]bool{
		"failed to contact quorum of nodes, stepping down": true,
		"Election timeout reached, restarting election":    true,
	}
	// connectionLines report an inbound Raft connection that broke. The
	// line does not say which peer it came from, so they are expected
	// while this node is stopping (its transport closes under them) or
	// while any peer is away (a stopping peer's process exits with a
	// response it never read, and its connections are reset). A crash
	// shows anyway in the lines naming the peer.
	connectionLines = map[string]bool{
		"failed to decode incoming command": true,
		"failed to flush response":          true,
	}
	// stoppingLines follow the leadership this node hands over as it
	// stops: expected only on a node that is stopping.
	stoppingLines = map[string]bool{
		"peer has newer term, stopping replication": true,
		"new leader elected, stepping down":         true,
	}
)

// snapshotWriteLines are the snapshot store's messages for a snapshot it
// could not create, write, finalize or make room for (raft v1.8
// file_snapshot.go); its messages about reading snapshots keep their level.
var snapshotWriteLines = map[string]bool{
	"failed to make snapshot directly":              true,
	"failed to write metadata":                      true,
	"failed to create state file":                   true,
	"failed to finalize snapshot":                   true,
	"failed to delete temporary snapshot directory": true,
	"failed to move snapshot into place":            true,
	"failed to open snapshot parent directory":      true,
	"failed syncing parent directory":               true,
	"failed to reap snapshot":                       true,
}

// snapshotsModule and walModule are the hclog names of the snapshot
// store's and raft-wal's lines; walRotateError is raft-wal's message for a
// segment it could not make.
const (
	snapshotsModule = "raft.snapshots"
	walModule       = "raft.wal"
	walRotateError  = "rotate error"
)

// expectedLine reports whether a WARN or ERROR line hashicorp/raft logged
// with the attributes is a consequence of a graceful stop, this node's or a
// peer's that announced it, and so says nothing an operator must act on.
// Only the messages above qualify; anything else raft reports (storage,
// snapshots, log consistency) keeps its level even while stopping. Once the
// node failed on its disk every line is expected: the fault was logged, and
// what raft and raft-wal say next (the write that failed, the step-down,
// the peers it no longer answers) follows from it.
func (n *Node) expectedLine(msg string, attrs map[string]any) bool {
	key, aboutPeer := peerLines[msg]
	switch {
	case attrs["@module"] == walModule && msg == walRotateError:
		// raft-wal makes its next segment in the background and reports
		// a failure only here; the appends after it fail with "segment
		// is sealed", which does not say why. This line is the fault.
		n.storageFault(OpRaftLogWrite, filepath.Join(n.dir, "wal"), fmt.Errorf("new log segment: %v", attrs["err"]))
		return true
	case n.fault.Load() != nil:
		return true
	case attrs["@module"] == snapshotsModule && snapshotWriteLines[msg]:
		// The snapshot store logs a failed write before returning it;
		// the error reaches snapshotStore, which reports it as the
		// storage fault, in one line.
		return true
	case !aboutPeer && !quorumLines[msg] && !connectionLines[msg] && !stoppingLines[msg]:
		return false
	case n.stopping.Load():
		return true
	case aboutPeer:
		return n.peerAway(attrs[key])
	case quorumLines[msg]:
		return n.quorumAway()
	case connectionLines[msg]:
		return n.departed.any()
	}
	return false
}

// peerAway reports whether v, a peer as hashicorp/raft logs it (an id, an
// address or a raft.Server), announced its departure.
func (n *Node) peerAway(v any) bool {
	if !n.departed.any() || n.commits == nil {
		return false
	}
	var id, addr string
	switch v := v.(type) {
	case string:
		id, addr = v, v
	case map[string]any:
		id, addr = str(v["ID"]), str(v["Address"])
	}
	for _, s := range n.commits.configuration() {
		if (id != "" && string(s.ID) == id) || (addr != "" && string(s.Address) == addr) {
			return n.departed.away(s.ID)
		}
	}
	return false
}

// quorumAway reports whether the voters that did not announce their
// departure, this node included, are too few for a quorum.
func (n *Node) quorumAway() bool {
	if !n.departed.any() || n.commits == nil {
		return false
	}
	voters, present := 0, 0
	for _, s := range n.commits.configuration() {
		if s.Suffrage != raft.Voter {
			continue
		}
		voters++
		if s.ID == n.commits.self || !n.departed.away(s.ID) {
			present++
		}
	}
	return voters > 0 && present <= voters/2
}
