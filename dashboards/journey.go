package dashboards

import (
	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/prometheus"
	"github.com/grafana/grafana-foundation-sdk/go/timeseries"
	"github.com/grafana/grafana-foundation-sdk/go/units"
)

// journey follows one Produce through the broker: the request as the
// client sees it, then each stage its write passes on the leader (the wait
// in raft's queue, log write and fsync, replication round trip to each
// follower, commit by a quorum, apply), and what is left for the response. Stage
// panels show p50 and p99 with exemplars, so a slow point opens its trace.
func journey() *dashboard.DashboardBuilder {
	return newDashboard(UIDJourney, "raftline / Produce journey",
		"Where a Produce's time goes: request latency, the wait in raft's queue, leader log write and fsync, replication round trip per follower, commit, apply, and the rest (decoding, response); with the traces of the writes.",
		tracesVariable()).
		WithRow(dashboard.NewRowBuilder("Request")).
		WithPanel(latencyPanel("Produce request latency",
			"Produce latency per node from request read to response written, p50 and p99: everything below happens inside it. Exemplars (dots) open the trace of a slow request; the link opens the trace search over the time range.",
			`raftline_kafka_request_duration_seconds_bucket{job="$job", cluster=~"$cluster", node_id=~"$node", api="Produce"}`, "node_id").
			DataLinks([]cog.Builder[dashboard.DashboardLink]{traceSearchLink(), nodeLink()})).
		WithPanel(traceSearchPanel("Traced writes",
			"The latest traced writes ("+TraceOperation+" spans of service "+TraceService+") in the time range, from the Jaeger data source: a trace shows the send, propose, replicate (per follower), commit and apply spans of one Produce, on every node. Empty when tracing is off (OTEL_TRACES_EXPORTER=none) or sampled out.")).
		WithRow(dashboard.NewRowBuilder("Stages on the leader")).
		WithPanel(latencyPanel("1. Queue wait",
			"On the leader: from proposing an entry to raft taking it off its queue and appending it (raft.Log.AppendedAt), p50 and p99 (raft_proposal_queue_duration_seconds): the wait behind the batch being written before it. Commit starts where this ends. A queue wait that grows with the load while the log write stays flat is batching, not the disk.",
			`raft_proposal_queue_duration_seconds_bucket{job="$job", cluster=~"$cluster", node_id=~"$node"}`, "node_id").
			Span(thirdWidth)).
		WithPanel(withAlertLimit(latencyPanel("2. Log write and fsync",
			"The leader's StoreLogs call, p50 and p99: the write of a batch of entries and its fsync, which a commit waits for (followers do the same within the replication round trip). A slow disk shows here first."+
				alertLimitText("RaftFsyncSlow", alertLimit.FsyncP99, fmtSeconds),
			`raft_log_store_append_duration_seconds_bucket{job="$job", cluster=~"$cluster", node_id=~"$node"}`, "node_id").
			Span(thirdWidth), alertLimit.FsyncP99)).
		WithPanel(latencyPanel("3. Replication round trip per follower",
			"On the leader: round trip of each AppendEntries carrying entries to each follower, p50 and p99 (raft_replication_rtt_seconds): the network both ways plus the follower's log write and fsync. A commit waits for the fastest quorum, so one slow follower in three does not slow writes, two do.",
			`raft_replication_rtt_seconds_bucket{job="$job", cluster=~"$cluster", node_id=~"$node"}`, "node_id", "follower_id").
			Span(thirdWidth)).
		WithPanel(withAlertLimit(latencyPanel("4. Commit",
			"On the leader: from appending the entry to its log to a quorum of voters holding it, p50 and p99; the larger of the leader's own write and the quorum's fastest round trip."+
				alertLimitText("RaftCommitLatencyHigh", alertLimit.CommitP99, fmtSeconds),
			`raft_commit_duration_seconds_bucket{job="$job", cluster=~"$cluster", node_id=~"$node"}`, "node_id").
			Span(thirdWidth), alertLimit.CommitP99)).
		WithPanel(latencyPanel("5. Apply",
			"Applying one committed entry to the broker state machine, p50 and p99, on every node; the leader answers the Produce once its own apply returns.",
			`raft_fsm_apply_duration_seconds_bucket{job="$job", cluster=~"$cluster", node_id=~"$node"}`, "node_id").
			Span(thirdWidth)).
		WithPanel(timeseriesPanel("6. Where the average Produce goes", units.Seconds,
			"Mean time per Produce on the nodes that commit (the leader), stacked: queue wait, commit and apply per entry, and the rest of the request (decoding, waiting for the result, writing the response) as request minus the three. Means, not percentiles: they add up, percentiles do not. A growing queue wait with flat commit is load in front of raft; a growing rest with flat stages is the broker's own work.",
			query(`sum by (node_id) (rate(raft_proposal_queue_duration_seconds_sum{job="$job", cluster=~"$cluster", node_id=~"$node"}[$__rate_interval])) / sum by (node_id) (rate(raft_proposal_queue_duration_seconds_count{job="$job", cluster=~"$cluster", node_id=~"$node"}[$__rate_interval]) > 0)`, "{{node_id}} queue wait"),
			query(`sum by (node_id) (rate(raft_commit_duration_seconds_sum{job="$job", cluster=~"$cluster", node_id=~"$node"}[$__rate_interval])) / sum by (node_id) (rate(raft_commit_duration_seconds_count{job="$job", cluster=~"$cluster", node_id=~"$node"}[$__rate_interval]) > 0)`, "{{node_id}} commit"),
			query(`(sum by (node_id) (rate(raft_fsm_apply_duration_seconds_sum{job="$job", cluster=~"$cluster", node_id=~"$node"}[$__rate_interval])) / sum by (node_id) (rate(raft_fsm_apply_duration_seconds_count{job="$job", cluster=~"$cluster", node_id=~"$node"}[$__rate_interval]) > 0)) and on (node_id) (sum by (node_id) (rate(raft_commit_duration_seconds_count{job="$job", cluster=~"$cluster", node_id=~"$node"}[$__rate_interval])) > 0)`, "{{node_id}} apply"),
			query(`clamp_min(sum by (node_id) (rate(raftline_kafka_request_duration_seconds_sum{job="$job", cluster=~"$cluster", node_id=~"$node", api="Produce"}[$__rate_interval])) / sum by (node_id) (rate(raftline_kafka_request_duration_seconds_count{job="$job", cluster=~"$cluster", node_id=~"$node", api="Produce"}[$__rate_interval]) > 0) - on (node_id) (sum by (node_id) (rate(raft_proposal_queue_duration_seconds_sum{job="$job", cluster=~"$cluster", node_id=~"$node"}[$__rate_interval])) / sum by (node_id) (rate(raft_proposal_queue_duration_seconds_count{job="$job", cluster=~"$cluster", node_id=~"$node"}[$__rate_interval]) > 0)) - on (node_id) (sum by (node_id) (rate(raft_commit_duration_seconds_sum{job="$job", cluster=~"$cluster", node_id=~"$node"}[$__rate_interval])) / sum by (node_id) (rate(raft_commit_duration_seconds_count{job="$job", cluster=~"$cluster", node_id=~"$node"}[$__rate_interval]) > 0)) - on (node_id) (sum by (node_id) (rate(raft_fsm_apply_duration_seconds_sum{job="$job", cluster=~"$cluster", node_id=~"$node"}[$__rate_interval])) / sum by (node_id) (rate(raft_fsm_apply_duration_seconds_count{job="$job", cluster=~"$cluster", node_id=~"$node"}[$__rate_interval]) > 0)), 0)`, "{{node_id}} response and the rest")).
			Stacking(stackNormal()).
			FillOpacity(40).
			Span(fullWidth))
}

func stackNormal() *common.StackingConfigBuilder {
	return common.NewStackingConfigBuilder().Mode(common.StackingModeNormal)
}

// latencyPanel is a p50 and p99 graph of one histogram, per the labels
// in by, with exemplars (a trace id on a bucket's sample links to its
// trace); timeseriesPanel links it to the Node dashboard.
func latencyPanel(title, description, bucketSelector string, by ...string) *timeseries.PanelBuilder {
	labels := ""
	legend := ""
	for i, l := range by {
		if i > 0 {
			legend += " → "
		}
		labels += l + ", "
		legend += "{{" + l + "}}"
	}
	q := func(quantile, name string) *prometheus.DataqueryBuilder {
		return query(`histogram_quantile(`+quantile+`, sum by (`+labels+`le) (rate(`+bucketSelector+`[$__rate_interval])))`, legend+" "+name).
			Exemplar(true)
	}
	return timeseriesPanel(title, units.Seconds, description, q("0.99", "p99"), q("0.50", "p50"))
}
