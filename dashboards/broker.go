package dashboards

import (
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/units"
)

// broker shows the Kafka-facing side: RED per API key, data in and out per
// topic, partition offsets, client connections and what the front door
// refuses or holds back, what partitions hold in their store, and produces
// refused for disk space.
func broker() *dashboard.DashboardBuilder {
	return newDashboard(UIDBroker, "raftline / Broker",
		"Kafka API requests, errors and latency; records and bytes per topic; partitions and connections; what partitions hold and produces refused for disk space.").
		WithRow(dashboard.NewRowBuilder("Kafka API (rate, errors, duration)")).
		WithPanel(timeseriesPanel("Requests by API", units.RequestsPerSecond,
			"Kafka requests handled per second by API key, over the selected nodes.",
			query(`sum by (api) (rate(raftline_kafka_requests_total{job="$job", cluster=~"$cluster", node_id=~"$node"}[$__rate_interval]))`, "{{api}}"))).
		WithPanel(withLimits(timeseriesPanel("Errors by API and code", units.CountsPerSecond,
			"Topic- and partition-level error codes returned per second, by API and Kafka error code. NOT_LEADER_OR_FOLLOWER bursts during elections are expected and clients retry them; a steady rate of anything else needs attention. Dashed lines: 1/s (orange), 10/s (red).",
			query(`sum by (api, error_code) (rate(raftline_kafka_request_errors_total{job="$job", cluster=~"$cluster", node_id=~"$node"}[$__rate_interval])) or vector(0)`, "{{api}} {{error_code}}")),
			1, 10)).
		WithPanel(timeseriesPanel("Latency p50 by API", units.Seconds,
			"Median request latency by API, from request read to response written.",
			query(`histogram_quantile(0.50, sum by (api, le) (rate(raftline_kafka_request_duration_seconds_bucket{job="$job", cluster=~"$cluster", node_id=~"$node"}[$__rate_interval])))`, "{{api}}"))).
		WithPanel(withLimits(timeseriesPanel("Latency p99 by API", units.Seconds,
			"99th percentile request latency by API. Produce includes the raft commit. Fetch long-polls up to the client's max wait, so Fetch sitting near that wait is normal. Dashed lines: 100 ms (orange), 500 ms (red).",
			query(`histogram_quantile(0.99, sum by (api, le) (rate(raftline_kafka_request_duration_seconds_bucket{job="$job", cluster=~"$cluster", node_id=~"$node"}[$__rate_interval])))`, "{{api}}")),
			0.1, 0.5)).
		WithRow(dashboard.NewRowBuilder("Data per topic")).
		WithPanel(timeseriesPanel("Records in by topic", units.RecordsPerSecond,
			"Records accepted by Produce per second, by topic.",
			query(`sum by (topic) (rate(raftline_produced_records_total{job="$job", cluster=~"$cluster", node_id=~"$node"}[$__rate_interval]))`, "{{topic}}"))).
		WithPanel(timeseriesPanel("Records out by topic", units.RecordsPerSecond,
			"Records returned by Fetch per second, by topic. Higher than records in when several consumers read the same topic.",
			query(`sum by (topic) (rate(raftline_fetched_records_total{job="$job", cluster=~"$cluster", node_id=~"$node"}[$__rate_interval]))`, "{{topic}}"))).
		WithPanel(timeseriesPanel("Bytes in by topic", units.BytesPerSecondSI,
			"Record batch bytes accepted by Produce per second, by topic.",
			query(`sum by (topic) (rate(raftline_produced_bytes_total{job="$job", cluster=~"$cluster", node_id=~"$node"}[$__rate_interval]))`, "{{topic}}"))).
		WithPanel(timeseriesPanel("Bytes out by topic", units.BytesPerSecondSI,
			"Record batch bytes returned by Fetch per second, by topic.",
			query(`sum by (topic) (rate(raftline_fetched_bytes_total{job="$job", cluster=~"$cluster", node_id=~"$node"}[$__rate_interval]))`, "{{topic}}"))).
		WithRow(dashboard.NewRowBuilder("Partitions and connections")).
		WithPanel(timeseriesPanel("Partition high watermarks", units.Short,
			"Next offset to be written per partition, the highest any selected node reports. A flat line under load means the partition stopped accepting writes.",
			query(`max by (topic, partition) (raftline_partition_high_watermark{job="$job", cluster=~"$cluster", node_id=~"$node"})`, "{{topic}}/{{partition}}"))).
		WithPanel(timeseriesPanel("Client connections", units.Short,
			"Open Kafka client connections per node.",
			query(`raftline_connections{job="$job", cluster=~"$cluster", node_id=~"$node"}`, "{{node_id}}"))).
		WithPanel(timeseriesPanel("Connections closed and requests held back", units.CountsPerSecond,
			"Kafka connections the broker closed per second, by reason: requests it does not serve (unknown_api_key: consumer groups, transactions), cannot parse or that are too large, clients past a timeout, or budget (closed to make room for others). Below them, requests that waited for room in the request bytes budget. A steady unknown_api_key rate is a client using an API raftline does not serve yet; frame_timeout or budget spikes are clients, or someone, holding frames open.",
			query(`sum by (reason) (rate(raftline_kafka_rejected_requests_total{job="$job", cluster=~"$cluster", node_id=~"$node"}[$__rate_interval]))`, "closed: {{reason}}"),
			query(`sum by (scope) (rate(raftline_kafka_budget_waits_total{job="$job", cluster=~"$cluster", node_id=~"$node"}[$__rate_interval]))`, "waited: {{scope}}"))).
		WithPanel(timeseriesPanel("Request bytes held", units.BytesIEC,
			"Kafka request bytes each node holds: frames being read, as their bytes arrive, and requests not yet handled. Bounded by --kafka-node-max-inflight-bytes (256 MiB by default); at the bound, reading waits and frames silent for a second are closed.",
			query(`raftline_kafka_inflight_request_bytes{job="$job", cluster=~"$cluster", node_id=~"$node"}`, "{{node_id}}"))).
		WithRow(dashboard.NewRowBuilder("Partition storage")).
		WithPanel(timeseriesPanel("Largest partitions", units.BytesIEC,
			"The 10 partitions holding the most record bytes, the most any selected node reports, in memory or in segment files. retention.bytes bounds each; on disk retention deletes whole segments, so a partition keeps up to one segment more.",
			query(`topk(10, max by (topic, partition) (raftline_partition_size_bytes{job="$job", cluster=~"$cluster", node_id=~"$node"}))`, "{{topic}}/{{partition}}"))).
		WithPanel(timeseriesPanel("Offsets retained", units.Short,
			"The 10 partitions retaining the most offsets: high watermark minus log start offset, the most any selected node reports. Retention moves the log start up; a partition whose count only grows keeps everything.",
			query(`topk(10, max by (topic, partition) (raftline_partition_high_watermark{job="$job", cluster=~"$cluster", node_id=~"$node"} - raftline_partition_log_start_offset{job="$job", cluster=~"$cluster", node_id=~"$node"}))`, "{{topic}}/{{partition}}"))).
		WithPanel(timeseriesPanel("Segments per partition", units.Short,
			"The 10 partitions with the most segments (--storage disk), each a log file and three index files, so four open files. segment.bytes (128 MiB by default) and retention bound them.",
			query(`topk(10, max by (topic, partition) (raftline_partition_segments{job="$job", cluster=~"$cluster", node_id=~"$node"}))`, "{{topic}}/{{partition}}")).
			Span(thirdWidth)).
		WithPanel(timeseriesPanel("Index bytes per partition", units.BytesIEC,
			"The 10 partitions with the largest offset, time and append-time index files (--storage disk): about 20 bytes per 4 KiB of records, read at start-up.",
			query(`topk(10, max by (topic, partition) (raftline_partition_index_size_bytes{job="$job", cluster=~"$cluster", node_id=~"$node"}))`, "{{topic}}/{{partition}}")).
			Span(thirdWidth)).
		WithPanel(timeseriesPanel("Produces refused for disk space", units.CountsPerSecond,
			"Partition produces refused per second before being proposed, by node and reason: disk_below_floor is a leader whose free space is under --storage-min-free-bytes, answered KAFKA_STORAGE_ERROR, which clients retry. Anything above 0 means writes are stopped; see DiskFreeSpaceBelowFloor.",
			query(`sum by (node_id, reason) (rate(raftline_produce_refusals_total{job="$job", cluster=~"$cluster", node_id=~"$node"}[$__rate_interval]))`, "{{node_id}} {{reason}}")).
			Span(thirdWidth))
}
