package dashboards

import (
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/statetimeline"
	"github.com/grafana/grafana-foundation-sdk/go/units"
)

// overview answers "is the cluster healthy and serving?" at a glance. The
// top row is cluster-wide and ignores $node on purpose: quorum and
// leadership are properties of the whole cluster, not of the nodes picked.
func overview() *dashboard.DashboardBuilder {
	return newDashboard(UIDOverview, "raftline / Cluster overview",
		"Quorum, leadership, commit progress and client traffic of one raftline cluster.").
		WithRow(dashboard.NewRowBuilder("Cluster")).
		WithPanel(statPanel("Quorum", units.NoUnit,
			"Whether enough voters know a leader to commit writes: nodes reporting raft_has_leader=1 against a majority of raft_voters. LOST means produce requests cannot be committed. Cluster-wide; ignores the node filter.",
			query(`(count(raft_has_leader{job="$job"} == 1) or vector(0)) >= bool (floor(max(raft_voters{job="$job"}) / 2) + 1)`, "quorum")).
			Mappings(valueMappings(
				mapped{"0", "LOST", "red"},
				mapped{"1", "OK", "green"})).
			Thresholds(thresholds("red", step{1, "green"})).
			NoValue("no data")).
		WithPanel(statPanel("Members up", units.NoUnit,
			"Nodes Prometheus scrapes successfully (up) next to the voters in the raft configuration. Colours assume a 3-node cluster: 2 up is degraded (one more failure loses quorum), 1 or 0 up means quorum is lost.",
			query(`sum(up{job="$job"})`, "up"),
			query(`max(raft_voters{job="$job"})`, "voters")).
			Thresholds(thresholds("red", step{2, "orange"}, step{3, "green"})).
			TextMode(common.BigValueTextModeValueAndName)).
		WithPanel(statPanel("Current leader", units.NoUnit,
			"The node the cluster follows, with how many nodes report following it. More than one name means nodes disagree on the leader (an election in progress or a partitioned node); no value means no node knows a leader.",
			query(`count by (leader_id) (raft_leader_info{job="$job", leader_id!=""} == 1)`, "{{leader_id}}")).
			TextMode(common.BigValueTextModeValueAndName).
			ColorMode(common.BigValueColorModeNone).
			NoValue("no leader")).
		WithPanel(statPanel("Term", units.NoUnit,
			"Highest raft term any node reports. Every election increments it, so a term that keeps climbing is an election storm.",
			query(`max(raft_current_term{job="$job"})`, "term")).
			GraphMode(common.BigValueGraphModeArea).
			ColorMode(common.BigValueColorModeNone)).
		WithPanel(statPanel("Nodes without leader", units.NoUnit,
			"Nodes that report no known leader (raft_has_leader=0). Any such node cannot forward or serve writes; all of them together means the cluster is unavailable.",
			query(`count(raft_has_leader{job="$job"} == 0) or vector(0)`, "without leader")).
			Thresholds(thresholds("green", step{1, "red"}))).
		WithPanel(statPanel("Commit rate", units.OpsPerSecond,
			"Raft log entries committed per second, from the most advanced node's commit index. Zero under load means writes are stuck.",
			query(`max(rate(raft_commit_index{job="$job"}[$__rate_interval]))`, "entries/s")).
			GraphMode(common.BigValueGraphModeArea).
			ColorMode(common.BigValueColorModeNone)).
		WithRow(dashboard.NewRowBuilder("Raft")).
		WithPanel(statetimeline.NewPanelBuilder().
			Title("Raft state per node").
			Unit(units.NoUnit).
			Description("Each node's raft role over time (from raft_state). Exactly one leader is healthy; candidates mean an election, flapping colours an election storm.").
			Datasource(datasource()).
			Height(graphHeight).
			Span(halfWidth).
			// Each state's series is turned into a code and the union taken, so
			// the query works whether or not the exporter also emits 0 for the
			// states a node is not in.
			WithTarget(query(`max by (node_id) ((raft_state{job="$job", node_id=~"$node", state="leader"} == 1) * 3 or (raft_state{job="$job", node_id=~"$node", state="candidate"} == 1) * 2 or (raft_state{job="$job", node_id=~"$node", state="follower"} == 1) or (raft_state{job="$job", node_id=~"$node", state="shutdown"} == 1) * 0)`, "{{node_id}}").RefId("A")).
			Mappings(valueMappings(
				mapped{"0", "shutdown", "red"},
				mapped{"1", "follower", "green"},
				mapped{"2", "candidate", "orange"},
				mapped{"3", "leader", "blue"})).
			ShowValue(common.VisibilityModeNever).
			Tooltip(common.NewVizTooltipOptionsBuilder().
				Mode(common.TooltipDisplayModeMulti).
				Sort(common.SortOrderNone))).
		WithPanel(withLimits(timeseriesPanel("Leader changes", units.Short,
			"Leader changes each node observed per interval (increase of raft_leader_elections_total). Every surviving node counts each change, so in an election storm all lines rise together. Dashed lines: 1 change (orange), 3 (red).",
			query(`sum by (node_id) (increase(raft_leader_elections_total{job="$job", node_id=~"$node"}[$__rate_interval]))`, "{{node_id}}")),
			1, 3)).
		WithPanel(timeseriesPanel("Commit index", units.Short,
			"Highest committed raft index per node. The lines should lie on top of each other; one falling behind is a node not keeping up with replication.",
			query(`raft_commit_index{job="$job", node_id=~"$node"}`, "{{node_id}}"))).
		WithPanel(timeseriesPanel("Commit rate per node", units.OpsPerSecond,
			"Raft log entries committed per second on each node. The commit index only grows, so rate() measures progress; a node restart shows as a counter reset, not a negative spike.",
			query(`rate(raft_commit_index{job="$job", node_id=~"$node"}[$__rate_interval])`, "{{node_id}}"))).
		WithRow(dashboard.NewRowBuilder("Traffic")).
		WithPanel(timeseriesPanel("Produce / fetch throughput", units.RecordsPerSecond,
			"Records accepted by Produce and returned by Fetch per second, summed over the selected nodes.",
			query(`sum(rate(raftline_produced_records_total{job="$job", node_id=~"$node"}[$__rate_interval]))`, "produced"),
			query(`sum(rate(raftline_fetched_records_total{job="$job", node_id=~"$node"}[$__rate_interval]))`, "fetched")).
			Span(thirdWidth)).
		WithPanel(withLimits(timeseriesPanel("Produce latency p99", units.Seconds,
			"99th percentile Produce request latency per node, from request read to response written; it includes the raft commit. Dashed lines: 100 ms (orange), 500 ms (red).",
			query(`histogram_quantile(0.99, sum by (node_id, le) (rate(raftline_kafka_request_duration_seconds_bucket{job="$job", node_id=~"$node", api="Produce"}[$__rate_interval])))`, "{{node_id}}")).
			Span(thirdWidth),
			0.1, 0.5)).
		WithPanel(timeseriesPanel("Fetch latency p99", units.Seconds,
			"99th percentile Fetch request latency per node. Fetch long-polls until data arrives or the client's max wait expires, so a value near the client's fetch max wait is normal on an idle topic.",
			query(`histogram_quantile(0.99, sum by (node_id, le) (rate(raftline_kafka_request_duration_seconds_bucket{job="$job", node_id=~"$node", api="Fetch"}[$__rate_interval])))`, "{{node_id}}")).
			Span(thirdWidth)).
		WithRow(dashboard.NewRowBuilder("Consumers")).
		// Every node exports the same lag: the max over nodes per
		// partition, then the sum over a group's partitions.
		WithPanel(timeseriesPanel("Consumer lag by group", units.Short,
			"Records each consumer group has yet to consume, summed over its partitions (the same on every node, so the node filter does not apply). A line that keeps climbing is a group falling behind; raftline / Consumers has the partitions, members and rebalances.",
			query(`sum by (group) (max by (group, topic, partition) (raftline_consumer_group_lag{job="$job"}))`, "{{group}}"))).
		WithPanel(withLimits(timeseriesPanel("Oldest unconsumed record by group", units.Seconds,
			"Age of the oldest record each consumer group has yet to consume, 0 when caught up; it rises a second per second while a group commits nothing. Dashed lines: 1 minute (orange), 5 minutes (red).",
			query(`max by (group) (raftline_consumer_group_lag_seconds{job="$job"})`, "{{group}}")),
			60, 300))
}
