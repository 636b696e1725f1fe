package dashboards

import (
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/units"
)

// raftInternals is for diagnosing the consensus layer: where write latency
// goes (commit, FSM apply, fsync), whether replication keeps up, and whether
// the log and snapshots stay bounded.
func raftInternals() *dashboard.DashboardBuilder {
	return newDashboard(UIDRaft, "raftline / Raft internals",
		"Raft latency, replication, elections, log and snapshots per node.").
		WithRow(dashboard.NewRowBuilder("Latency")).
		WithPanel(withAlertLimit(timeseriesPanel("Commit latency", units.Seconds,
			"Time from proposing a broker write to its commit by a quorum, p50 and p99. Only the leader proposes, so only it has data."+
				alertLimitText("RaftCommitLatencyHigh", alertLimit.CommitP99, fmtSeconds),
			query(`histogram_quantile(0.99, sum by (node_id, le) (rate(raft_commit_duration_seconds_bucket{job="$job", cluster=~"$cluster", node_id=~"$node"}[$__rate_interval])))`, "{{node_id}} p99"),
			query(`histogram_quantile(0.50, sum by (node_id, le) (rate(raft_commit_duration_seconds_bucket{job="$job", cluster=~"$cluster", node_id=~"$node"}[$__rate_interval])))`, "{{node_id}} p50")).
			Span(thirdWidth),
			alertLimit.CommitP99)).
		WithPanel(withLimits(timeseriesPanel("FSM apply latency", units.Seconds,
			"Time to apply one committed entry to the broker state machine, p50 and p99, on every node. Slow applies delay acknowledgements and grow the commit-to-applied backlog. Dashed lines: 50 ms (orange), 250 ms (red).",
			query(`histogram_quantile(0.99, sum by (node_id, le) (rate(raft_fsm_apply_duration_seconds_bucket{job="$job", cluster=~"$cluster", node_id=~"$node"}[$__rate_interval])))`, "{{node_id}} p99"),
			query(`histogram_quantile(0.50, sum by (node_id, le) (rate(raft_fsm_apply_duration_seconds_bucket{job="$job", cluster=~"$cluster", node_id=~"$node"}[$__rate_interval])))`, "{{node_id}} p50")).
			Span(thirdWidth),
			0.05, 0.25)).
		WithPanel(withAlertLimit(timeseriesPanel("Log append (fsync) p99", units.Seconds,
			"99th percentile duration of the log store's StoreLogs call, which includes the fsync every commit waits for. A slow disk shows here first."+
				alertLimitText("RaftFsyncSlow", alertLimit.FsyncP99, fmtSeconds),
			query(`histogram_quantile(0.99, sum by (node_id, le) (rate(raft_log_store_append_duration_seconds_bucket{job="$job", cluster=~"$cluster", node_id=~"$node"}[$__rate_interval])))`, "{{node_id}}")).
			Span(thirdWidth),
			alertLimit.FsyncP99)).
		WithRow(dashboard.NewRowBuilder("Replication")).
		WithPanel(timeseriesPanel("AppendEntries by direction", units.OpsPerSecond,
			"AppendEntries RPCs carrying log entries, per second, sent (by the leader) and received (by followers). Heartbeats are counted separately.",
			query(`sum by (node_id, direction) (rate(raft_append_entries_total{job="$job", cluster=~"$cluster", node_id=~"$node"}[$__rate_interval]))`, "{{node_id}} {{direction}}")).
			Span(thirdWidth)).
		WithPanel(withAlertLimit(timeseriesPanel("Follower lag", units.Short,
			"On the leader: entries between its last log index and each follower's matched index. A follower that keeps growing is falling behind and may need a snapshot."+
				alertLimitText("RaftFollowerLagging", alertLimit.FollowerLag, fmtCount),
			query(`raft_follower_lag_entries{job="$job", cluster=~"$cluster", node_id=~"$node"}`, "{{node_id}} → {{follower_id}}")).
			Span(thirdWidth),
			alertLimit.FollowerLag)).
		WithPanel(withAlertLimit(timeseriesPanel("Last contact with leader", units.Seconds,
			"Seconds since each follower last heard from the leader (0 on the leader). Approaching the heartbeat timeout triggers an election."+
				alertLimitText("RaftLastContactHigh", alertLimit.LastContact, fmtSeconds),
			query(`raft_last_contact_seconds{job="$job", cluster=~"$cluster", node_id=~"$node"}`, "{{node_id}}")).
			Span(thirdWidth),
			alertLimit.LastContact)).
		WithPanel(timeseriesPanel("Heartbeats by direction", units.OpsPerSecond,
			"Empty AppendEntries (heartbeats) per second. The leader sends, followers receive; a follower whose received rate drops to zero has lost the leader.",
			query(`sum by (node_id, direction) (rate(raft_heartbeats_total{job="$job", cluster=~"$cluster", node_id=~"$node"}[$__rate_interval]))`, "{{node_id}} {{direction}}")).
			Span(thirdWidth)).
		WithPanel(withLimits(timeseriesPanel("Vote requests", units.Short,
			"RequestVote RPCs sent and received per interval. Zero outside elections; a steady stream means nodes keep timing out and campaigning. Dashed lines: 1 (orange), 5 (red).",
			query(`sum by (node_id, direction) (increase(raft_vote_requests_total{job="$job", cluster=~"$cluster", node_id=~"$node"}[$__rate_interval]))`, "{{node_id}} {{direction}}")).
			Span(thirdWidth),
			1, 5)).
		WithPanel(withLimits(timeseriesPanel("Commit to apply backlog", units.Short,
			"Committed entries not yet applied to the state machine (commit index minus applied index) per node. A growing backlog means the FSM cannot keep up. Dashed lines: 100 (orange), 1000 entries (red).",
			query(`raft_commit_index{job="$job", cluster=~"$cluster", node_id=~"$node"} - raft_applied_index{job="$job", cluster=~"$cluster", node_id=~"$node"}`, "{{node_id}}")).
			Span(thirdWidth),
			100, 1000)).
		WithPanel(timeseriesPanel("Replication round trip p99 per follower", units.Seconds,
			"On the leader: 99th percentile round trip of the AppendEntries carrying entries to each follower (raft_replication_rtt_seconds): the network both ways and the follower's log write and fsync. One follower far above the others is a slow disk or link on that follower; a commit waits for the quorum's fastest, so it hurts writes only when a majority is slow. raftline / Produce journey sets it beside the other stages.",
			query(`histogram_quantile(0.99, sum by (node_id, follower_id, le) (rate(raft_replication_rtt_seconds_bucket{job="$job", cluster=~"$cluster", node_id=~"$node"}[$__rate_interval])))`, "{{node_id}} → {{follower_id}}")).
			Span(fullWidth)).
		WithRow(dashboard.NewRowBuilder("Elections and membership")).
		WithPanel(timeseriesPanel("Term per node", units.Short,
			"Raft term per node. Terms agree in a healthy cluster; a node whose term runs ahead is campaigning without winning, typically because it is partitioned.",
			query(`raft_current_term{job="$job", cluster=~"$cluster", node_id=~"$node"}`, "{{node_id}}")).
			Span(thirdWidth)).
		WithPanel(withLimits(timeseriesPanel("Leader elections", units.Short,
			"Leader changes each node observed per interval. Dashed lines: 1 (orange), 3 (red).",
			query(`sum by (node_id) (increase(raft_leader_elections_total{job="$job", cluster=~"$cluster", node_id=~"$node"}[$__rate_interval]))`, "{{node_id}}")).
			Span(thirdWidth),
			1, 3)).
		WithPanel(timeseriesPanel("Voters in configuration", units.Short,
			"Voting members in the raft configuration each node holds. All nodes should report the same number; a difference means a membership change has not reached every node.",
			query(`raft_voters{job="$job", cluster=~"$cluster", node_id=~"$node"}`, "{{node_id}}")).
			Span(thirdWidth)).
		WithRow(dashboard.NewRowBuilder("Log and snapshots")).
		WithPanel(timeseriesPanel("Log entries", units.Short,
			"Entries held in the raft log store. It grows with writes and drops when a snapshot lets the log be compacted; steady growth means snapshots are not happening.",
			query(`raft_log_entries{job="$job", cluster=~"$cluster", node_id=~"$node"}`, "{{node_id}}")).
			Span(thirdWidth)).
		WithPanel(timeseriesPanel("Log size on disk", units.BytesIEC,
			"Size of the raft log store on disk per node.",
			query(`raft_log_size_bytes{job="$job", cluster=~"$cluster", node_id=~"$node"}`, "{{node_id}}")).
			Span(thirdWidth)).
		WithPanel(timeseriesPanel("Snapshots", units.Short,
			"Snapshots taken per interval by result. Failures (red) mean the log cannot be compacted and will keep growing.",
			query(`sum by (node_id, result) (increase(raft_snapshots_total{job="$job", cluster=~"$cluster", node_id=~"$node"}[$__rate_interval]))`, "{{node_id}} {{result}}")).
			OverrideByRegexp(".*failure", fixedColor("red")).
			Span(thirdWidth)).
		WithPanel(timeseriesPanel("Last snapshot duration", units.Seconds,
			"Time the last snapshot each node persisted took (0 before its first). Snapshots are minutes apart, so the last one is shown rather than a rate.",
			query(`max by (node_id) (raft_snapshot_last_duration_seconds{job="$job", cluster=~"$cluster", node_id=~"$node"})`, "{{node_id}}"))).
		WithPanel(timeseriesPanel("Last snapshot size", units.BytesIEC,
			"Size of the last snapshot each node persisted: roughly the broker state a restarting or lagging node has to transfer.",
			query(`raft_snapshot_size_bytes{job="$job", cluster=~"$cluster", node_id=~"$node"}`, "{{node_id}}")))
}
