package dashboards

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/statetimeline"
	"github.com/grafana/grafana-foundation-sdk/go/units"

	"github.com/raftline/raftline/alerts"
)

// overview answers "is the cluster healthy and serving?" at a glance. The
// top row is cluster-wide and ignores $node on purpose: quorum and
// leadership are properties of the whole cluster, not of the nodes picked.
func overview() *dashboard.DashboardBuilder {
	b := newDashboard(UIDOverview, "raftline / Cluster overview",
		"Is the cluster healthy and serving: quorum, leader, failing writes and clients, produce SLO burn and budget, replication, disk and memory against its limit, firing alerts, versions; then raft, traffic and consumers.").
		Annotations(overviewAnnotations()).
		WithRow(dashboard.NewRowBuilder("Is it serving?")).
		WithPanel(statPanel("Quorum", units.NoUnit,
			"Whether enough voters know a leader to commit writes: nodes reporting raft_has_leader=1 against a majority of the voters (raft_voters; the scrape targets when no node answers). LOST means produce requests cannot be committed, and it says LOST, not \"no data\", when every node is down. Cluster-wide; ignores the node filter.",
			query(quorumExpr, "quorum")).
			Mappings(valueMappings(
				mapped{"0", "LOST", "red"},
				mapped{"1", "OK", "green"})).
			Thresholds(thresholds("red", step{1, "green"})).
			NoValue("LOST")).
		WithPanel(statPanel("Current leader", units.NoUnit,
			"The node the cluster follows, with how many nodes report following it. More than one name means nodes disagree on the leader (an election in progress or a partitioned node); no value means no node knows a leader.",
			query(`count by (leader_id) (raft_leader_info{job="$job", cluster=~"$cluster", leader_id!=""} == 1)`, "{{leader_id}}")).
			TextMode(common.BigValueTextModeValueAndName).
			ColorMode(common.BigValueColorModeNone).
			NoValue("no leader")).
		WithPanel(statPanel("Write error ratio", units.PercentUnit,
			"Produce partition errors per Produce request over the selected nodes, the ratio BrokerProduceErrorRate watches. NOT_LEADER_OR_FOLLOWER during an election is part of it; the Broker dashboard splits it by error code."+
				alertLimitText("BrokerProduceErrorRate", alertLimit.ProduceErrorRatio, fmtPercent)+" 0 without Produce traffic.",
			query(`sum(rate(raftline_kafka_request_errors_total{job="$job", cluster=~"$cluster", node_id=~"$node", api="Produce"}[$__rate_interval])) / (sum(rate(raftline_kafka_requests_total{job="$job", cluster=~"$cluster", node_id=~"$node", api="Produce"}[$__rate_interval])) > 0) or vector(0)`, "errors per request")).
			Thresholds(limits(alertSteps(alertLimit.ProduceErrorRatio))).
			GraphMode(common.BigValueGraphModeArea)).
		WithPanel(statPanel("Client errors", units.CountsPerSecond,
			"Error codes returned to Kafka clients per second, every API, over the selected nodes. Bursts of NOT_LEADER_OR_FOLLOWER during elections are expected; the Broker dashboard has them by API and code. Orange from 1/s, red from 10/s.",
			query(`sum(rate(raftline_kafka_request_errors_total{job="$job", cluster=~"$cluster", node_id=~"$node"}[$__rate_interval])) or vector(0)`, "errors/s")).
			Thresholds(limits(1, 10)).
			GraphMode(common.BigValueGraphModeArea)).
		WithPanel(statPanel("Firing alerts", units.NoUnit,
			"Alerts Prometheus holds firing for this job (the ALERTS series of alerts/rules.yml, which needs no Grafana alerting); Alertmanager routes them. The Alerts row below names them over time and lists the rules firing or pending now.",
			query(`count(ALERTS{job="$job", cluster=~"$cluster", alertstate="firing"}) or vector(0)`, "firing")).
			Thresholds(thresholds("green", step{1, "red"}))).
		WithPanel(statPanel("Members up", units.NoUnit,
			"Nodes Prometheus scrapes successfully (up) next to the voters in the raft configuration. Colours assume a 3-node cluster: 2 up is degraded (one more failure loses quorum), 1 or 0 up means quorum is lost.",
			query(`sum(up{job="$job", cluster=~"$cluster"})`, "up"),
			query(`max(raft_voters{job="$job", cluster=~"$cluster"})`, "voters")).
			Thresholds(thresholds("red", step{2, "orange"}, step{3, "green"})).
			TextMode(common.BigValueTextModeValueAndName))
	b = withSLOTiles(b.WithRow(dashboard.NewRowBuilder("Are writes within their objectives?")))
	return b.WithRow(dashboard.NewRowBuilder("Will it keep serving?")).
		WithPanel(statPanel("Slowest follower", units.Short,
			"Entries the furthest-behind follower trails the leader by (max of raft_follower_lag_entries, on the leader). A follower past what the leader keeps after a snapshot needs a snapshot install."+
				alertLimitText("RaftFollowerLagging", alertLimit.FollowerLag, fmtCount),
			query(`max(raft_follower_lag_entries{job="$job", cluster=~"$cluster"})`, "entries behind")).
			Thresholds(limits(alertSteps(alertLimit.FollowerLag))).
			GraphMode(common.BigValueGraphModeArea).
			NoValue("no leader")).
		WithPanel(statPanel("Disk full in", units.Seconds,
			"Per node, when free space on the data directory's filesystem reaches the node's free-space floor (--storage-min-free-bytes) at its trend over the last "+diskTrendWindow+" (the window DiskFillingUp uses): free space above the floor divided by how fast it falls. Red within a day, orange within a week; \"not filling\" when free space is steady or rising. Under the floor the node refuses produces it leads.",
			query(`(raftline_storage_free_bytes{job="$job", cluster=~"$cluster", node_id=~"$node"} - raftline_storage_min_free_bytes{job="$job", cluster=~"$cluster", node_id=~"$node"}) / clamp_min(-deriv(raftline_storage_free_bytes{job="$job", cluster=~"$cluster", node_id=~"$node"}[`+diskTrendWindow+`]), 0.001)`, "{{node_id}}")).
			Thresholds(thresholds("red", step{24 * 3600, "orange"}, step{7 * 24 * 3600, "green"})).
			Mappings(notFilling(30 * 24 * 3600)).
			TextMode(common.BigValueTextModeValueAndName)).
		WithPanel(statPanel("Memory of limit", units.PercentUnit,
			"Per node, resident memory (process_resident_memory_bytes) as a share of the memory the process may use (raftline_memory_limit_bytes: its cgroup's memory.max or GOMEMLIMIT, whichever is smaller); \"no limit\" when neither is set. Past the limit the kernel kills the node or the Go runtime spends its time collecting garbage. The Node dashboard has resident memory, heap and GC."+
				alertLimitText("MemoryNearLimit", alertLimit.MemoryShare, fmtPercent),
			query(memoryOfLimitExpr, "{{node_id}}")).
			Thresholds(limits(alertSteps(alertLimit.MemoryShare))).
			Mappings(valueMappings(mapped{"-1", "no limit", "text"})).
			TextMode(common.BigValueTextModeValueAndName).
			GraphMode(common.BigValueGraphModeArea)).
		WithPanel(statPanel("Version per node", units.NoUnit,
			"The raftline version each node runs (raftline_build_info). Two versions at once is a rolling upgrade in progress.",
			query(`max by (node_id, version) (raftline_build_info{job="$job", cluster=~"$cluster", node_id=~"$node"})`, "{{node_id}}: {{version}}")).
			TextMode(common.BigValueTextModeName).
			ColorMode(common.BigValueColorModeNone)).
		WithPanel(statPanel("Term", units.NoUnit,
			"Highest raft term any node reports. Every election increments it, so a term that keeps climbing is an election storm.",
			query(`max(raft_current_term{job="$job", cluster=~"$cluster"})`, "term")).
			GraphMode(common.BigValueGraphModeArea).
			ColorMode(common.BigValueColorModeNone)).
		WithPanel(statPanel("Commit rate", units.OpsPerSecond,
			"Raft log entries committed per second, from the most advanced node's commit index. Zero under load means writes are stuck.",
			query(`max(rate(raft_commit_index{job="$job", cluster=~"$cluster"}[$__rate_interval]))`, "entries/s")).
			GraphMode(common.BigValueGraphModeArea).
			ColorMode(common.BigValueColorModeNone)).
		WithRow(dashboard.NewRowBuilder("Alerts")).
		WithPanel(timeseriesPanel("Firing alerts by name", units.Short,
			"Alerts firing over time by name and severity (Prometheus' ALERTS series): when each started and stopped. Alertmanager (the provisioned alertmanager data source) has the silences and routing.",
			query(`count by (alertname, severity) (ALERTS{job="$job", cluster=~"$cluster", alertstate="firing"})`, "{{alertname}} ({{severity}})")).
			NoValue("no alert fired in the time range").
			Span(halfWidth)).
		WithPanel(alertListPanel("Firing and pending alerts",
			"The alert rules of the provisioned Prometheus data source (\""+DefaultDatasourceName+"\", data-source-managed rules: alerts/rules.yml) with instances firing or pending for this job, firing first, each with its labels and since when. Grafana's alert list reads rule sources (Grafana's rules, Prometheus, Loki), not an Alertmanager data source: silences and routing are in Alerting > Alertmanager (the provisioned alertmanager data source). Filtered by job only: rule instances do not carry Prometheus' external cluster label.")).
		WithRow(dashboard.NewRowBuilder("Raft")).
		WithPanel(statPanel("Nodes without leader", units.NoUnit,
			"Nodes that report no known leader (raft_has_leader=0). Any such node cannot forward or serve writes; all of them together means the cluster is unavailable.",
			query(`count(raft_has_leader{job="$job", cluster=~"$cluster"} == 0) or vector(0)`, "without leader")).
			Thresholds(thresholds("green", step{1, "red"}))).
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
			WithTarget(query(`max by (node_id) ((raft_state{job="$job", cluster=~"$cluster", node_id=~"$node", state="leader"} == 1) * 3 or (raft_state{job="$job", cluster=~"$cluster", node_id=~"$node", state="candidate"} == 1) * 2 or (raft_state{job="$job", cluster=~"$cluster", node_id=~"$node", state="follower"} == 1) or (raft_state{job="$job", cluster=~"$cluster", node_id=~"$node", state="shutdown"} == 1) * 0)`, "{{node_id}}").RefId("A")).
			Mappings(valueMappings(
				mapped{"0", "shutdown", "red"},
				mapped{"1", "follower", "green"},
				mapped{"2", "candidate", "orange"},
				mapped{"3", "leader", "blue"})).
			DataLinks(nodeLinks()).
			ShowValue(common.VisibilityModeNever).
			Tooltip(common.NewVizTooltipOptionsBuilder().
				Mode(common.TooltipDisplayModeMulti).
				Sort(common.SortOrderNone))).
		WithPanel(withLimits(timeseriesPanel("Leader changes", units.Short,
			"Leader changes each node observed per interval (increase of raft_leader_elections_total). Every surviving node counts each change, so in an election storm all lines rise together. Dashed lines: 1 change (orange), 3 (red).",
			query(`sum by (node_id) (increase(raft_leader_elections_total{job="$job", cluster=~"$cluster", node_id=~"$node"}[$__rate_interval]))`, "{{node_id}}")),
			1, 3)).
		WithPanel(timeseriesPanel("Commit index", units.Short,
			"Highest committed raft index per node. The lines should lie on top of each other; one falling behind is a node not keeping up with replication.",
			query(`raft_commit_index{job="$job", cluster=~"$cluster", node_id=~"$node"}`, "{{node_id}}"))).
		WithPanel(timeseriesPanel("Commit rate per node", units.OpsPerSecond,
			"Raft log entries committed per second on each node. The commit index only grows, so rate() measures progress; a node restart shows as a counter reset, not a negative spike.",
			query(`rate(raft_commit_index{job="$job", cluster=~"$cluster", node_id=~"$node"}[$__rate_interval])`, "{{node_id}}"))).
		WithRow(dashboard.NewRowBuilder("Traffic")).
		WithPanel(timeseriesPanel("Produce / fetch throughput", units.RecordsPerSecond,
			"Records accepted by Produce and returned by Fetch per second, summed over the selected nodes.",
			query(`sum(rate(raftline_produced_records_total{job="$job", cluster=~"$cluster", node_id=~"$node"}[$__rate_interval]))`, "produced"),
			query(`sum(rate(raftline_fetched_records_total{job="$job", cluster=~"$cluster", node_id=~"$node"}[$__rate_interval]))`, "fetched")).
			Span(thirdWidth)).
		WithPanel(withLimits(timeseriesPanel("Produce latency p99", units.Seconds,
			"99th percentile Produce request latency per node, from request read to response written; it includes the raft commit. Dashed lines: 100 ms (orange), 500 ms (red).",
			query(`histogram_quantile(0.99, sum by (node_id, le) (rate(raftline_kafka_request_duration_seconds_bucket{job="$job", cluster=~"$cluster", node_id=~"$node", api="Produce"}[$__rate_interval])))`, "{{node_id}}")).
			Span(thirdWidth),
			0.1, 0.5)).
		WithPanel(timeseriesPanel("Fetch latency p99", units.Seconds,
			"99th percentile Fetch request latency per node. Fetch long-polls until data arrives or the client's max wait expires, so a value near the client's fetch max wait is normal on an idle topic.",
			query(`histogram_quantile(0.99, sum by (node_id, le) (rate(raftline_kafka_request_duration_seconds_bucket{job="$job", cluster=~"$cluster", node_id=~"$node", api="Fetch"}[$__rate_interval])))`, "{{node_id}}")).
			Span(thirdWidth)).
		WithRow(dashboard.NewRowBuilder("Consumers")).
		// Every node exports the same lag: the max over nodes per
		// partition, then the sum over a group's partitions.
		WithPanel(timeseriesPanel("Consumer lag by group", units.Short,
			"Records each consumer group has yet to consume, summed over its partitions (the same on every node, so the node filter does not apply). A line that keeps climbing is a group falling behind; raftline / Consumers has the partitions, members and rebalances.",
			query(`sum by (group) (max by (group, topic, partition) (raftline_consumer_group_lag{job="$job", cluster=~"$cluster"}))`, "{{group}}"))).
		WithPanel(withLimits(timeseriesPanel("Oldest unconsumed record by group", units.Seconds,
			"Age of the oldest record each consumer group has yet to consume, 0 when caught up; it rises a second per second while a group commits nothing. Dashed lines: 1 minute (orange), 5 minutes (red).",
			query(`max by (group) (raftline_consumer_group_lag_seconds{job="$job", cluster=~"$cluster"})`, "{{group}}")),
			60, 300))
}

// quorumExpr is 1 while a majority of the voters know a leader, else 0.
// Without any node's raft series (every node down) the majority is taken
// of the scrape targets, and with no series at all it is 0: the tile says
// LOST rather than "no data" exactly when nothing answers.
const quorumExpr = `((count(raft_has_leader{job="$job", cluster=~"$cluster"} == 1) or vector(0)) >= bool (floor((max(raft_voters{job="$job", cluster=~"$cluster"}) or count(up{job="$job", cluster=~"$cluster"})) / 2) + 1)) or vector(0)`

// memoryOfLimitExpr is each node's resident memory over its memory limit,
// and -1 ("no limit") for a node whose limit is +Inf: a share of infinity
// would read 0 %, as if the node used no memory.
const memoryOfLimitExpr = `process_resident_memory_bytes{job="$job", cluster=~"$cluster", node_id=~"$node"} / on (job, cluster, instance, node_id) (raftline_memory_limit_bytes{job="$job", cluster=~"$cluster", node_id=~"$node"} < +Inf)` +
	` or (process_resident_memory_bytes{job="$job", cluster=~"$cluster", node_id=~"$node"} * 0 - 1)`

// diskTrendWindow is the window the disk-full estimate takes the trend of
// free space over: DiskFillingUp's, a trend rather than a rate.
const diskTrendWindow = "6h"

// notFilling shows every value from "from" seconds up as "not filling":
// free space that is steady or rising gives estimates of years.
func notFilling(from float64) []dashboard.ValueMapping {
	return []dashboard.ValueMapping{{RangeMap: &dashboard.RangeMap{
		Type: dashboard.MappingTypeRangeToText,
		Options: dashboard.DashboardRangeMapOptions{
			From:   cog.ToPtr(from),
			Result: dashboard.ValueMappingResult{Text: cog.ToPtr("not filling"), Color: cog.ToPtr("green"), Index: cog.ToPtr(int32(0))},
		},
	}}}
}

func nodeLinks() []cog.Builder[dashboard.DashboardLink] {
	return []cog.Builder[dashboard.DashboardLink]{nodeLink()}
}

// overviewAnnotations mark elections (a node's term changed), restarts (a
// process start time changed) and membership changes (a node's voter count
// changed) on every graph.
func overviewAnnotations() []cog.Builder[dashboard.AnnotationQuery] {
	a := func(name, color, expr, title string) cog.Builder[dashboard.AnnotationQuery] {
		return dashboard.NewAnnotationQueryBuilder().
			Name(name).
			Datasource(datasource()).
			Enable(true).
			IconColor(color).
			Expr(expr).
			TitleFormat(title).
			Step("$__interval")
	}
	return []cog.Builder[dashboard.AnnotationQuery]{
		a("Elections", "orange", `max by (job) (changes(raft_current_term{job="$job", cluster=~"$cluster"}[$__rate_interval])) > 0`, "raft term changed (election)"),
		a("Restarts", "red", `changes(process_start_time_seconds{job="$job", cluster=~"$cluster", node_id=~"$node"}[$__rate_interval]) > 0`, "node {{node_id}} restarted"),
		a("Membership changes", "purple", `max by (job) (changes(raft_voters{job="$job", cluster=~"$cluster"}[$__rate_interval])) > 0`, "voters changed"),
	}
}

// noTraffic is the value the burn-rate tiles take without produce traffic
// in their window, shown as "no traffic": with no events the error ratio is
// 0/0, and the recorded ratio is NaN or absent.
const noTraffic = -1

// withSLOTiles adds, per objective of alerts.SLOs(), its burn rate over the
// fast page's long window and the error budget left over its period: the
// same recorded series, factors and budget the burn-rate alerts and the
// Produce SLOs dashboard read, aggregated to the worst cluster. Each tile
// links to that dashboard.
func withSLOTiles(b *dashboard.DashboardBuilder) *dashboard.DashboardBuilder {
	w := alerts.BurnWindows[0]
	for _, s := range alerts.SLOs() {
		b = b.WithPanel(statPanel(s.Title+": burn rate, "+w.Long.String(), units.Short,
			fmt.Sprintf("How fast %s is spending its error budget: the error ratio over the last %s (what share %s) divided by the budget, %s. 1 spends the budget exactly in %s; %s pages when this and the %s burn both exceed %s. Yellow, orange and red are the alerts' factors: %s. \"no traffic\" without produces in the last %s (the alerts also need at least %s events/s); 0 with traffic and no bad events. The Produce SLOs dashboard has every window and the canary.",
				strings.ToLower(s.Title), w.Long, s.SLI.Describes, percentText(s.Budget()), "30 days", s.FastAlert(), w.Short, num(w.Factor), factorsText(), w.Long, num(s.MinEventRate)),
			query(burnRateExpr(s, w.Long), "burn rate")).
			Decimals(1).
			Thresholds(burnThresholds()).
			Mappings(valueMappings(mapped{strconv.Itoa(noTraffic), "no traffic", "text"})).
			DataLinks([]cog.Builder[dashboard.DashboardLink]{sloLink()}).
			Span(fullWidth / 4))
		b = b.WithPanel(statPanel(s.Title+": error budget left", units.PercentUnit,
			fmt.Sprintf("Share of the %s error budget of %s (objective %s) not yet spent, from the share of bad events over the last %s. Below 0 the objective is missed; orange in the last quarter. 100%% when no event was bad (or there was no traffic) in the period.",
				"30-day", s.Title, percentText(s.Objective), "30 days"),
			query(budgetLeftExpr(s), "budget left")).
			Decimals(1).
			Thresholds(budgetThresholds()).
			DataLinks([]cog.Builder[dashboard.DashboardLink]{sloLink()}).
			Span(fullWidth / 4))
	}
	return b
}

// burnRateExpr is an objective's burn rate over w in the worst cluster of
// the job. The recorded ratio is NaN without events in w and absent while
// no event was ever bad (the bad events' counter has no series), so: the
// burn rate where it is a number, else 0 where there were events, else
// noTraffic.
func burnRateExpr(s alerts.SLO, w alerts.Duration) string {
	sel := `{job="$job", cluster=~"$cluster"}`
	return fmt.Sprintf("(max(%s%s) / %s >= 0) or (max(%s%s) > 0) * 0 or vector(%d)",
		s.ErrorRatioRecord(w), sel, num(s.Budget()), s.EventRateRecord(w), sel, noTraffic)
}

// budgetLeftExpr is the share of an objective's error budget left over its
// period in the worst cluster of the job: all of it while the recorded
// ratio is absent (no event was bad) or NaN (no event at all).
func budgetLeftExpr(s alerts.SLO) string {
	sel := `{job="$job", cluster=~"$cluster"}`
	return fmt.Sprintf("1 - (max(%s%s) >= 0) / %s or vector(1)", s.ErrorRatioRecord(s.Period), sel, num(s.Budget()))
}
