package dashboards

import (
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/units"
)

// loadTest puts what the load generator measures beside what the brokers
// report, panel by panel, so a gap between the two (client queueing,
// retries, lost acknowledgements) is visible rather than inferred.
func loadTest() *dashboard.DashboardBuilder {
	return newDashboard(UIDLoadTest, "raftline / Load test",
		"The load generator's view (sent, acked, failed, consumed, latency) beside the brokers' own metrics.",
		jobVariable("loadgen_job", "Load generator job", "loadgen_records_sent_total", "loadgen")).
		WithRow(dashboard.NewRowBuilder("Summary")).
		WithPanel(statPanel("Acked rate", units.RecordsPerSecond,
			"Records per second the load generator had acknowledged by the brokers.",
			query(`sum(rate(loadgen_records_acked_total{job="$loadgen_job", cluster=~"$cluster"}[$__rate_interval]))`, "acked"))).
		WithPanel(statPanel("Failure ratio", units.PercentUnit,
			"Failed records as a share of records sent. Orange from 0.1 %, red from 1 %.",
			query(`(sum(rate(loadgen_records_failed_total{job="$loadgen_job", cluster=~"$cluster"}[$__rate_interval])) or vector(0)) / sum(rate(loadgen_records_sent_total{job="$loadgen_job", cluster=~"$cluster"}[$__rate_interval]))`, "failed")).
			Thresholds(limits(0.001, 0.01))).
		WithPanel(statPanel("Publish p99", units.Seconds,
			"99th percentile time from send to acknowledgement as the load generator measures it. Orange from 100 ms, red from 500 ms.",
			query(`histogram_quantile(0.99, sum by (le) (rate(loadgen_publish_latency_seconds_bucket{job="$loadgen_job", cluster=~"$cluster"}[$__rate_interval])))`, "p99")).
			Thresholds(limits(0.1, 0.5))).
		WithPanel(statPanel("End-to-end p99", units.Seconds,
			"99th percentile time from the produce timestamp to the record being consumed. Orange from 500 ms, red from 2 s.",
			query(`histogram_quantile(0.99, sum by (le) (rate(loadgen_e2e_latency_seconds_bucket{job="$loadgen_job", cluster=~"$cluster"}[$__rate_interval])))`, "p99")).
			Thresholds(limits(0.5, 2))).
		WithPanel(statPanel("Broker produced rate", units.RecordsPerSecond,
			"Records per second the selected brokers accepted, to compare with the acked rate.",
			query(`sum(rate(raftline_produced_records_total{job="$job", cluster=~"$cluster", node_id=~"$node"}[$__rate_interval]))`, "produced"))).
		WithPanel(statPanel("Broker produce p99", units.Seconds,
			"99th percentile Produce latency the brokers measure, to compare with publish p99. Orange from 100 ms, red from 500 ms.",
			query(`histogram_quantile(0.99, sum by (le) (rate(raftline_kafka_request_duration_seconds_bucket{job="$job", cluster=~"$cluster", node_id=~"$node", api="Produce"}[$__rate_interval])))`, "p99")).
			Thresholds(limits(0.1, 0.5))).
		WithRow(dashboard.NewRowBuilder("Throughput: load generator vs brokers")).
		WithPanel(timeseriesPanel("Records: sent, acked, produced", units.RecordsPerSecond,
			"Load generator sent and acked rates against the brokers' produced-records rate. Acked and produced should coincide; produced above acked means retries were written twice, sent above acked means requests are queueing or failing.",
			query(`sum(rate(loadgen_records_sent_total{job="$loadgen_job", cluster=~"$cluster"}[$__rate_interval]))`, "loadgen sent"),
			query(`sum(rate(loadgen_records_acked_total{job="$loadgen_job", cluster=~"$cluster"}[$__rate_interval]))`, "loadgen acked"),
			query(`sum(rate(raftline_produced_records_total{job="$job", cluster=~"$cluster", node_id=~"$node"}[$__rate_interval]))`, "broker produced"))).
		WithPanel(timeseriesPanel("Records: consumed vs fetched", units.RecordsPerSecond,
			"Records the load generator consumed against records the brokers returned from Fetch. Fetched above consumed means records were fetched more than once, for example after a consumer restart.",
			query(`sum(rate(loadgen_records_consumed_total{job="$loadgen_job", cluster=~"$cluster"}[$__rate_interval]))`, "loadgen consumed"),
			query(`sum(rate(raftline_fetched_records_total{job="$job", cluster=~"$cluster", node_id=~"$node"}[$__rate_interval]))`, "broker fetched"))).
		WithPanel(timeseriesPanel("Consumer lag", units.Short,
			"Records acknowledged to the load generator that its consumers have not read yet (e2e), and, with --group, the group's lag by its committed offsets as the brokers report it, which trails by up to the client's auto-commit interval.",
			query(`sum(loadgen_consumer_lag_records{job="$loadgen_job", cluster=~"$cluster"})`, "not yet consumed"),
			query(`sum by (group) (loadgen_consumer_group_committed_lag_records{job="$loadgen_job", cluster=~"$cluster"})`, "committed lag {{group}}"))).
		WithPanel(timeseriesPanel("Failures by kind", units.RecordsPerSecond,
			"Records the load generator saw fail, per second, by error kind. Any sustained failure is a lost write from the client's point of view.",
			query(`sum by (kind) (rate(loadgen_records_failed_total{job="$loadgen_job", cluster=~"$cluster"}[$__rate_interval])) or vector(0)`, "{{kind}}"))).
		WithPanel(timeseriesPanel("Broker errors by code", units.CountsPerSecond,
			"Error codes the brokers returned to Produce and Fetch, to match against the load generator's failures.",
			query(`sum by (api, error_code) (rate(raftline_kafka_request_errors_total{job="$job", cluster=~"$cluster", node_id=~"$node", api=~"Produce|Fetch"}[$__rate_interval])) or vector(0)`, "{{api}} {{error_code}}"))).
		WithRow(dashboard.NewRowBuilder("Latency: load generator vs brokers")).
		WithPanel(withLimits(timeseriesPanel("Publish vs broker produce latency", units.Seconds,
			"Publish latency as the load generator measures it against the brokers' Produce latency, p50 and p99. The gap is network, client batching and queueing; in fixed-rate mode it also includes time a send waited behind earlier ones. Dashed lines: 100 ms (orange), 500 ms (red).",
			query(`histogram_quantile(0.99, sum by (le) (rate(loadgen_publish_latency_seconds_bucket{job="$loadgen_job", cluster=~"$cluster"}[$__rate_interval])))`, "loadgen publish p99"),
			query(`histogram_quantile(0.99, sum by (le) (rate(raftline_kafka_request_duration_seconds_bucket{job="$job", cluster=~"$cluster", node_id=~"$node", api="Produce"}[$__rate_interval])))`, "broker produce p99"),
			query(`histogram_quantile(0.50, sum by (le) (rate(loadgen_publish_latency_seconds_bucket{job="$loadgen_job", cluster=~"$cluster"}[$__rate_interval])))`, "loadgen publish p50"),
			query(`histogram_quantile(0.50, sum by (le) (rate(raftline_kafka_request_duration_seconds_bucket{job="$job", cluster=~"$cluster", node_id=~"$node", api="Produce"}[$__rate_interval])))`, "broker produce p50")),
			0.1, 0.5)).
		WithPanel(withLimits(timeseriesPanel("End-to-end latency", units.Seconds,
			"Time from a record's produce timestamp to its consumption by the load generator, p50 and p99. Includes commit, fetch long-poll and consumer processing. Dashed lines: 500 ms (orange), 2 s (red).",
			query(`histogram_quantile(0.99, sum by (le) (rate(loadgen_e2e_latency_seconds_bucket{job="$loadgen_job", cluster=~"$cluster"}[$__rate_interval])))`, "e2e p99"),
			query(`histogram_quantile(0.50, sum by (le) (rate(loadgen_e2e_latency_seconds_bucket{job="$loadgen_job", cluster=~"$cluster"}[$__rate_interval])))`, "e2e p50")),
			0.5, 2))
}
