package dashboards

import (
	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/statetimeline"
	"github.com/grafana/grafana-foundation-sdk/go/units"
)

// Consumer group series are the same on every node (telemetry/DESIGN.md):
// each query first takes the max over node_id for one group (and
// partition), then aggregates across partitions, so three nodes never
// triple a lag and one node down leaves no gap. They ignore $node for the
// same reason the cluster-wide stats do.

// groupLag is a group-partition's lag in records, one series per
// group-partition whatever the number of nodes.
const groupLag = `max by (group, topic, partition) (raftline_consumer_group_lag{job="$job", cluster=~"$cluster", group=~"$group"})`

// consumers answers "are the applications keeping up with what is
// written?": lag per group and partition in records and in time, and what
// makes it grow (members gone, rebalances, commits stopping).
func consumers() *dashboard.DashboardBuilder {
	return newDashboard(UIDConsumers, "raftline / Consumers",
		"Consumer groups: lag in records and in time per group and partition, members, state, rebalances and offset commits, from the brokers' replicated state.",
		groupVariable()).
		WithRow(dashboard.NewRowBuilder("Groups")).
		WithPanel(statPanel("Groups", units.NoUnit,
			"Consumer groups the cluster holds (selected by the group variable), with or without members.",
			query(`count(max by (group) (raftline_consumer_group_members{job="$job", cluster=~"$cluster", group=~"$group"}))`, "groups")).
			ColorMode(common.BigValueColorModeNone)).
		WithPanel(statPanel("Total lag", units.Short,
			"Records the selected groups have yet to consume, summed over their partitions. A number that keeps climbing is a group falling behind; see the lag per group below.",
			query(`sum(`+groupLag+`)`, "records")).
			GraphMode(common.BigValueGraphModeArea).
			ColorMode(common.BigValueColorModeNone)).
		WithPanel(statPanel("Oldest unconsumed record", units.Seconds,
			"Age of the oldest record any selected group has yet to consume (0 when every group is caught up). Orange from 1 minute, red from 5 minutes, where ConsumerGroupLagGrowing starts to count.",
			query(`max(raftline_consumer_group_lag_seconds{job="$job", cluster=~"$cluster", group=~"$group"})`, "age")).
			Thresholds(limits(60, 300))).
		WithPanel(statPanel("Lagging groups without members", units.NoUnit,
			"Groups with lag and no member to consume it: nothing will catch them up until a consumer joins. Red from 1; see ConsumerGroupLagNoMembers.",
			query(`count(sum by (group) (`+groupLag+`) > 0 and on (group) max by (group) (raftline_consumer_group_members{job="$job", cluster=~"$cluster", group=~"$group"}) == 0) or vector(0)`, "groups")).
			Thresholds(thresholds("green", step{1, "red"}))).
		WithPanel(statPanel("Groups rebalancing", units.NoUnit,
			"Groups in PreparingRebalance or CompletingRebalance now: their members consume nothing until the rebalance completes. Brief on every join or leave; a group that stays here is stuck.",
			query(`count(max by (group) (raftline_consumer_group_state{job="$job", cluster=~"$cluster", group=~"$group", state=~"PreparingRebalance|CompletingRebalance"}) == 1) or vector(0)`, "groups")).
			Thresholds(thresholds("green", step{1, "orange"}))).
		WithPanel(statPanel("Lag series dropped", units.Short,
			"Group-partitions left out of the per-partition lag series per interval, because more than --consumer-lag-max-series had committed offsets (the smallest lags are left out). Above 0 the per-partition panels miss partitions: raise the cap.",
			query(`max(increase(raftline_consumer_group_series_dropped_total{job="$job", cluster=~"$cluster"}[$__rate_interval]))`, "dropped")).
			Thresholds(thresholds("green", step{1, "orange"}))).
		WithRow(dashboard.NewRowBuilder("Lag")).
		WithPanel(timeseriesPanel("Lag per group", units.Short,
			"Records each group has yet to consume, summed over its partitions. A healthy group's lag hovers at what arrives between two commits; a line that keeps climbing is a group falling behind (slow, stuck or without members).",
			query(`sum by (group) (`+groupLag+`)`, "{{group}}"))).
		WithPanel(withLimits(timeseriesPanel("Oldest unconsumed record per group", units.Seconds,
			"Age of the oldest record each group has yet to consume, over its partitions: now minus the timestamp of the batch at its committed offset. It rises a second per second while a group commits nothing, and falls to 0 when it catches up. Dashed lines: 1 minute (orange), 5 minutes (red).",
			query(`max by (group) (raftline_consumer_group_lag_seconds{job="$job", cluster=~"$cluster", group=~"$group"})`, "{{group}}")),
			60, 300)).
		WithPanel(timeseriesPanel("Lag per partition", units.Short,
			"The 20 group-partitions with the most records to consume. One partition far above its group's others is a slow or stuck consumer of that partition, or a hot key.",
			query(`topk(20, `+groupLag+`)`, "{{group}} {{topic}}/{{partition}}"))).
		WithPanel(timeseriesPanel("Oldest unconsumed record per partition", units.Seconds,
			"The 20 group-partitions whose oldest unconsumed record is oldest.",
			query(`topk(20, max by (group, topic, partition) (raftline_consumer_group_lag_seconds{job="$job", cluster=~"$cluster", group=~"$group"}))`, "{{group}} {{topic}}/{{partition}}"))).
		WithRow(dashboard.NewRowBuilder("Membership and rebalances")).
		WithPanel(statetimeline.NewPanelBuilder().
			Title("Group state").
			Unit(units.NoUnit).
			Description("Each group's state over time (raftline_consumer_group_state). Stable is consuming; PreparingRebalance and CompletingRebalance are a rebalance, when members consume nothing; Empty has no members; Dead is being deleted. Flapping between Stable and the rebalance states is a rebalance storm.").
			Datasource(datasource()).
			Height(graphHeight).
			Span(halfWidth).
			// As the raft state panel: each state to a code, the union taken,
			// then the max over nodes.
			WithTarget(query(`max by (group) ((raftline_consumer_group_state{job="$job", cluster=~"$cluster", group=~"$group", state="Stable"} == 1) * 4 or (raftline_consumer_group_state{job="$job", cluster=~"$cluster", group=~"$group", state="CompletingRebalance"} == 1) * 3 or (raftline_consumer_group_state{job="$job", cluster=~"$cluster", group=~"$group", state="PreparingRebalance"} == 1) * 2 or (raftline_consumer_group_state{job="$job", cluster=~"$cluster", group=~"$group", state="Empty"} == 1) or (raftline_consumer_group_state{job="$job", cluster=~"$cluster", group=~"$group", state="Dead"} == 1) * 0)`, "{{group}}").RefId("A")).
			Mappings(valueMappings(
				mapped{"0", "Dead", "red"},
				mapped{"1", "Empty", "purple"},
				mapped{"2", "PreparingRebalance", "orange"},
				mapped{"3", "CompletingRebalance", "yellow"},
				mapped{"4", "Stable", "green"})).
			ShowValue(common.VisibilityModeNever).
			Tooltip(common.NewVizTooltipOptionsBuilder().
				Mode(common.TooltipDisplayModeMulti).
				Sort(common.SortOrderNone))).
		WithPanel(timeseriesPanel("Members per group", units.Short,
			"Members of each group. A drop to 0 with lag left is ConsumerGroupLagNoMembers; steps during a deploy are consumers restarting.",
			query(`max by (group) (raftline_consumer_group_members{job="$job", cluster=~"$cluster", group=~"$group"})`, "{{group}}"))).
		WithPanel(withLimits(timeseriesPanel("Rebalances", units.Short,
			"Rebalances (completed join rounds: the group's generation) per interval. A deploy makes a burst, about two per restarted member; rebalances that never stop are members being thrown out and rejoining (max.poll.interval.ms, session timeouts). Dashed lines: 1 (orange), 5 (red) per interval.",
			query(`max by (group) (increase(raftline_consumer_group_rebalances_total{job="$job", cluster=~"$cluster", group=~"$group"}[$__rate_interval]))`, "{{group}}")),
			1, 5)).
		WithPanel(timeseriesPanel("Offset commit rate", units.OpsPerSecond,
			"Offset commits applied per second, per group. It follows the clients' commit interval (5 s for auto-commit) times the members; a group with members whose commits stop is stuck, and its lag in seconds climbs.",
			query(`max by (group) (rate(raftline_consumer_group_offset_commits_total{job="$job", cluster=~"$cluster", group=~"$group"}[$__rate_interval]))`, "{{group}}")))
}

// groupVariable selects consumer groups, multi-valued with "All" = ".*" as
// the node variable, so a group created later is included without a
// reload.
func groupVariable() *dashboard.QueryVariableBuilder {
	q := `label_values(raftline_consumer_group_members{job="$job", cluster=~"$cluster"}, group)`
	return dashboard.NewQueryVariableBuilder("group").
		Label("Group").
		Datasource(datasource()).
		Query(dashboard.StringOrMap{String: cog.ToPtr(q)}).
		Definition(q).
		Refresh(dashboard.VariableRefreshOnTimeRangeChanged).
		Sort(dashboard.VariableSortAlphabeticalAsc).
		Multi(true).
		IncludeAll(true).
		AllValue(".*").
		Current(dashboard.VariableOption{
			Selected: cog.ToPtr(true),
			Text:     dashboard.StringOrArrayOfString{ArrayOfString: []string{"All"}},
			Value:    dashboard.StringOrArrayOfString{ArrayOfString: []string{"$__all"}},
		})
}
