// Package catalog is the list of every metric raftline exports: its name,
// type, labels, the HELP text its exporter serves and what it means to an
// operator. It is the contract between the exporters (telemetry/raftmetrics,
// telemetry/brokermetrics, the trace queue in telemetry, loadgen/metrics) and
// what reads their metrics (dashboards/, alerts/, docs/runbooks/).
//
// docs/METRICS.md is generated from it; a test fails when the committed
// file is stale. Regenerate with
//
//	go generate ./telemetry/catalog/...
//
// Tests hold both sides to the catalogue: the telemetry contract test
// checks that a live node's /metrics equals it (names, types, labels and
// HELP), loadgen/metrics does the same for the load generator, and the
// dashboards' and alert rules' tests check that every name they read is in
// it. The package depends on nothing but the standard library, so any of
// them can import it.
package catalog

//go:generate go run ../../cmd/metricsdoc -o ../../docs/METRICS.md

import (
	"slices"
	"strings"
)

// Jobs: the Prometheus job names the bundled configs, dashboards and
// alerts scrape each exporter under.
const (
	Job        = "raftline" // every raftline node
	LoadgenJob = "loadgen"  // the load generator's --metrics-addr
	CanaryJob  = "canary"   // the load generator's canary mode (loadgen canary), always on in compose
)

// Type is a metric's Prometheus type.
type Type string

// The types raftline exports.
const (
	Counter   Type = "counter"
	Gauge     Type = "gauge"
	Histogram Type = "histogram"
)

// Label is one label of a metric.
type Label struct {
	Name string
	// Values are the values the label takes when they are a fixed set
	// (direction: sent, received); nil when they come from the cluster,
	// the protocol or the client (topic, api, node ids).
	Values []string
}

// Metric is one exported metric family.
type Metric struct {
	Name   string
	Type   Type
	Labels []Label // as documented: node_id first on raftline's own metrics
	// Help is the text of the family's # HELP line, exactly as served.
	Help string
	// Doc is what docs/METRICS.md says the metric counts or means
	// (Markdown, one line).
	Doc string
}

// LabelNames returns the metric's label names, sorted.
func (m Metric) LabelNames() []string {
	names := make([]string, len(m.Labels))
	for i, l := range m.Labels {
		names[i] = l.Name
	}
	slices.Sort(names)
	return names
}

// Series returns the names the metric's samples have in an exposition: the
// name itself, or for a histogram its _bucket, _sum and _count series.
func (m Metric) Series() []string {
	if m.Type == Histogram {
		return []string{m.Name + "_bucket", m.Name + "_sum", m.Name + "_count"}
	}
	return []string{m.Name}
}

// Section is a group of metrics as docs/METRICS.md presents them.
type Section struct {
	Title string
	Intro string // a paragraph between the heading and the table, if any
	// Column heads the table's description column.
	Column string
	// Job is the Prometheus job of the exporter that serves the metrics.
	Job     string
	Metrics []Metric
}

// RuntimePrefixes are the name prefixes of the Go runtime (go_*) and
// process (process_*) collectors' metrics, which every raftline node and
// the load generator export besides the catalogue's own. They are not
// listed one by one: the collectors' names come from their library.
var RuntimePrefixes = []string{"go_", "process_"}

// IsRuntime reports whether name is a runtime or process collector metric.
func IsRuntime(name string) bool {
	for _, p := range RuntimePrefixes {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

// Sections returns the catalogue in the order docs/METRICS.md lists it.
func Sections() []Section {
	out := slices.Clone(sections)
	for i := range out {
		out[i].Metrics = slices.Clone(out[i].Metrics)
	}
	return out
}

// All returns every metric of the catalogue, in order.
func All() []Metric {
	var out []Metric
	for _, s := range sections {
		out = append(out, s.Metrics...)
	}
	return out
}

// ByJob returns the metrics the exporters scraped under job serve: Job for
// a raftline node, LoadgenJob for the load generator, CanaryJob for its
// canary mode.
func ByJob(job string) []Metric {
	var out []Metric
	for _, s := range sections {
		if s.Job == job {
			out = append(out, s.Metrics...)
		}
	}
	return out
}

// Lookup returns the metric named name.
func Lookup(name string) (Metric, bool) {
	for _, m := range All() {
		if m.Name == name {
			return m, true
		}
	}
	return Metric{}, false
}

// LookupSeries returns the metric whose exposition includes the series
// name: a metric's own name, or a histogram's name_bucket, name_sum or
// name_count.
func LookupSeries(name string) (Metric, bool) {
	for _, m := range All() {
		if slices.Contains(m.Series(), name) {
			return m, true
		}
	}
	return Metric{}, false
}

func label(name string, values ...string) Label { return Label{Name: name, Values: values} }

var (
	nodeID    = label("node_id")
	direction = label("direction", "sent", "received")
	topic     = label("topic")
	partition = label("partition")
	api       = label("api")
	group     = label("group")
)

var sections = []Section{
	{
		Title:  "Raft (the family operators' dashboards and alerts expect)",
		Column: "what it counts",
		Job:    Job,
		Metrics: []Metric{
			{
				Name: "raft_leader_elections_total", Type: Counter, Labels: []Label{nodeID},
				Help: "Leader changes this node observed: each time it learned of a newly elected leader (itself included) for a new term or a different node. Rises on every surviving node in an election storm.",
				Doc:  "leader changes this node observed (a new leader elected, including itself). Rises on every surviving node in an election storm.",
			},
			{
				Name: "raft_append_entries_total", Type: Counter, Labels: []Label{nodeID, direction},
				Help: "AppendEntries RPCs that carried at least one log entry, counted on the transport as this node sent or received them.",
				Doc:  "AppendEntries RPCs that carried at least one log entry",
			},
			{
				Name: "raft_heartbeats_total", Type: Counter, Labels: []Label{nodeID, direction},
				Help: "AppendEntries RPCs that carried no log entry (leader heartbeats), counted on the transport as this node sent or received them.",
				Doc:  "AppendEntries RPCs with no entries (leader heartbeats)",
			},
			{
				Name: "raft_vote_requests_total", Type: Counter, Labels: []Label{nodeID, direction},
				Help: "RequestVote RPCs (a candidate asking for a vote in a real election), counted on the transport as this node sent or received them.",
				Doc:  "RequestVote RPCs",
			},
			{
				Name: "raft_log_entries", Type: Gauge, Labels: []Label{nodeID},
				Help: "Entries currently held in the raft log store (last index - first index + 1).",
				Doc:  "entries currently held in the raft log store (last index - first index + 1)",
			},
			{
				Name: "raft_current_term", Type: Gauge, Labels: []Label{nodeID},
				Help: "Current raft term.",
				Doc:  "current raft term",
			},
			{
				Name: "raft_commit_index", Type: Gauge, Labels: []Label{nodeID},
				Help: "Highest log index this node knows to be committed.",
				Doc:  "highest log index known to be committed",
			},
		},
	},
	{
		Title:  "Raft, beyond the family",
		Column: "meaning",
		Job:    Job,
		Metrics: []Metric{
			{
				Name: "raft_state", Type: Gauge,
				Labels: []Label{nodeID, label("state", "leader", "follower", "candidate", "shutdown")},
				Help:   "1 for the node's current raft state (leader, follower, candidate, shutdown), 0 for the others.",
				Doc:    "1 for the node's current state, 0 for the others",
			},
			{
				Name: "raft_leader_info", Type: Gauge, Labels: []Label{nodeID, label("leader_id")},
				Help: `1 for the leader this node currently knows, by node id (leader_id="" when none).`,
				Doc:  `1 for the leader this node currently follows (leader_id="" when none)`,
			},
			{
				Name: "raft_has_leader", Type: Gauge, Labels: []Label{nodeID},
				Help: "1 when this node knows a leader, else 0.",
				Doc:  "1 when the node knows a leader",
			},
			{
				Name: "raft_applied_index", Type: Gauge, Labels: []Label{nodeID},
				Help: "Highest log index applied to the FSM.",
				Doc:  "highest index applied to the FSM",
			},
			{
				Name: "raft_last_contact_seconds", Type: Gauge, Labels: []Label{nodeID},
				Help: "Seconds since this node last heard from the leader (0 on the leader; since start when never).",
				Doc:  "seconds since last contact with the leader (0 on the leader)",
			},
			{
				Name: "raft_voters", Type: Gauge, Labels: []Label{nodeID},
				Help: "Voting members in the latest configuration this node holds.",
				Doc:  "voting members in the configuration this node holds",
			},
			{
				Name: "raft_follower_lag_entries", Type: Gauge, Labels: []Label{nodeID, label("follower_id")},
				Help: "On the leader: leader last index - the follower's matched index, for each follower that acknowledged entries in the current term.",
				Doc:  "on the leader: leader last index - follower's matched index",
			},
			{
				Name: "raft_commit_duration_seconds", Type: Histogram, Labels: []Label{nodeID},
				Help: "On the leader: time from appending an entry to its log (raft.Log.AppendedAt) to a quorum of voters holding it, per command entry.",
				Doc:  "on the leader: propose to commit of a broker write (from the leader appending the entry to its log to a quorum of voters holding it); exemplars (OpenMetrics) carry a traced write's trace id",
			},
			{
				Name: "raft_replication_rtt_seconds", Type: Histogram, Labels: []Label{nodeID, label("follower_id")},
				Help: "On the leader: round trip of one AppendEntries RPC that carried log entries to a follower, from sending it to its answer (the network both ways and the follower's log write and fsync), by follower_id. Failed RPCs are not timed.",
				Doc:  "on the leader: AppendEntries round trip to each follower for RPCs carrying entries (network both ways plus the follower's log write and fsync), like etcd's peer round trip; heartbeats and failed RPCs are not timed",
			},
			{
				Name: "raft_proposal_queue_duration_seconds", Type: Histogram, Labels: []Label{nodeID},
				Help: "On the leader: time from proposing a command entry to the leader taking it off hashicorp/raft's queue and appending it (raft.Log.AppendedAt): the wait behind the batches ahead of it, before its write starts.",
				Doc:  "on the leader: proposal to the leader taking the entry off Raft's queue to append it (`raft.Log.AppendedAt`), the first stage of a write's latency, before the log store write; with exemplars",
			},
			{
				Name: "raft_fsm_apply_duration_seconds", Type: Histogram, Labels: []Label{nodeID},
				Help: "Time to apply one command entry to the FSM.",
				Doc:  "time to apply one entry to the FSM",
			},
			{
				Name: "raft_log_store_append_duration_seconds", Type: Histogram, Labels: []Label{nodeID},
				Help: "Time of one log store StoreLogs call (one or more entries written and fsynced).",
				Doc:  "log store StoreLogs call, including fsync",
			},
			{
				Name: "raft_log_store_append_oldest_inflight_seconds", Type: Gauge, Labels: []Label{nodeID},
				Help: "Age of the oldest log store write (StoreLogs, with its fsync) still running on this node, 0 when none is: a hung disk shows here while it hangs.",
				Doc:  "age of the oldest log store write (StoreLogs, with its fsync) still running, 0 when none: a hung disk shows here while it hangs, where the append histogram records a write only once it returns",
			},
			{
				Name: "raft_snapshots_total", Type: Counter, Labels: []Label{nodeID, label("result", "success", "failure")},
				Help: "Snapshots this node took, by result: persisted (success) or failed while taking or persisting (failure).",
				Doc:  "snapshots taken",
			},
			{
				Name: "raft_snapshot_duration_seconds", Type: Histogram, Labels: []Label{nodeID},
				Help: "Time to persist one snapshot to the snapshot store.",
				Doc:  "time to persist one snapshot",
			},
			{
				Name: "raft_snapshot_last_duration_seconds", Type: Gauge, Labels: []Label{nodeID},
				Help: "Time the last snapshot this node persisted took (0 before the first).",
				Doc:  "time the last snapshot took to persist (0 before the first)",
			},
			{
				Name: "raft_snapshot_size_bytes", Type: Gauge, Labels: []Label{nodeID},
				Help: "Size of the last snapshot this node persisted (0 before the first).",
				Doc:  "size of the last snapshot persisted",
			},
			{
				Name: "raft_log_size_bytes", Type: Gauge, Labels: []Label{nodeID},
				Help: "Disk space taken by the raft log store files (allocated blocks).",
				Doc:  "raft log store size on disk (allocated blocks of its files)",
			},
			{
				Name: "raft_pre_vote_requests_total", Type: Counter, Labels: []Label{nodeID, direction},
				Help: "RequestPreVote RPCs (a would-be candidate checking it could win before starting an election), counted on the transport as this node sent or received them.",
				Doc:  "RequestPreVote RPCs: a would-be candidate checking it could win before it starts an election",
			},
		},
	},
	{
		Title:  "Broker",
		Column: "meaning",
		Job:    Job,
		Metrics: []Metric{
			{
				Name: "raftline_kafka_requests_total", Type: Counter, Labels: []Label{nodeID, api},
				Help: "Kafka requests handled, by API name.",
				Doc:  "Kafka requests handled, by API name (`Produce`, `Fetch`, ...)",
			},
			{
				Name: "raftline_kafka_request_errors_total", Type: Counter, Labels: []Label{nodeID, api, label("error_code")},
				Help: "Error codes returned at partition or topic level (one per failed partition or topic), by API name and Kafka error code name.",
				Doc:  "partition/topic level error codes returned (code name, e.g. `NOT_LEADER_OR_FOLLOWER`)",
			},
			{
				Name: "raftline_kafka_request_duration_seconds", Type: Histogram, Labels: []Label{nodeID, api},
				Help: "Kafka request latency from the request read to its response written, by API name.",
				Doc:  "request latency from read to response written; exemplars (OpenMetrics) carry a traced Produce or Fetch request's trace id",
			},
			{
				Name: "raftline_produce_partition_requests_total", Type: Counter, Labels: []Label{nodeID, label("error_code")},
				Help: "Partitions of answered Produce requests (acks 1 or all), by the error code each was answered with: NONE for a partition written.",
				Doc:  "the produce availability SLI: every partition of every answered Produce request (acks 1 or all), by its answer's error code, `NONE` when written (exported at 0 from start); acks=0 produces have no answer and are not counted",
			},
			{
				Name: "raftline_produce_duration_seconds", Type: Histogram, Labels: []Label{nodeID},
				Help: "Latency of answered Produce requests (acks 1 or all) whose every partition was written, from the request read to its response written.",
				Doc:  "the produce latency SLI: answered Produce requests whose every partition was written (with acks=all, through the Raft commit), from read to response written; the latency objective's threshold is a bucket boundary",
			},
			{
				Name: "raftline_produced_records_total", Type: Counter, Labels: []Label{nodeID, topic},
				Help: "Records accepted by Produce on this node, by topic.",
				Doc:  "records accepted by Produce on this node",
			},
			{
				Name: "raftline_produced_bytes_total", Type: Counter, Labels: []Label{nodeID, topic},
				Help: "Record batch bytes accepted by Produce on this node, by topic.",
				Doc:  "record batch bytes accepted by Produce",
			},
			{
				Name: "raftline_fetched_records_total", Type: Counter, Labels: []Label{nodeID, topic},
				Help: "Records returned by Fetch on this node, by topic.",
				Doc:  "records returned by Fetch",
			},
			{
				Name: "raftline_fetched_bytes_total", Type: Counter, Labels: []Label{nodeID, topic},
				Help: "Record batch bytes returned by Fetch on this node, by topic.",
				Doc:  "record batch bytes returned by Fetch",
			},
			{
				Name: "raftline_partition_high_watermark", Type: Gauge, Labels: []Label{nodeID, topic, partition},
				Help: "Next offset to be written in each partition, as this node's replica holds it.",
				Doc:  "next offset to be written",
			},
			{
				Name: "raftline_partition_log_start_offset", Type: Gauge, Labels: []Label{nodeID, topic, partition},
				Help: "First offset each partition's replica on this node still holds: records below it were deleted by retention.",
				Doc:  "first offset still held (the log start offset); high watermark minus it is the offsets retained",
			},
			{
				Name: "raftline_connections", Type: Gauge, Labels: []Label{nodeID},
				Help: "Open Kafka client connections.",
				Doc:  "open Kafka client connections",
			},
			{
				Name: "raftline_kafka_rejected_requests_total", Type: Counter,
				Labels: []Label{nodeID, label("reason", "unknown_api_key", "unsupported_version", "malformed", "frame_too_large",
					"first_request_timeout", "frame_timeout", "idle_timeout", "write_timeout", "budget")},
				Help: "Kafka connections the broker closed, by reason: a request it refuses (unknown_api_key, unsupported_version, malformed, frame_too_large) or a limit the client went past (first_request_timeout, frame_timeout, idle_timeout, write_timeout, budget).",
				Doc:  "Kafka connections the broker closed, by reason: a request it does not serve or cannot parse, a timeout (`--kafka-first-request-timeout`, `--kafka-frame-timeout`, `--kafka-idle-timeout`; `write_timeout` is a response unread for the frame timeout), or `budget` (closed to make room, or waited past its frame timeout, at `--kafka-node-max-inflight-bytes`). The log shows the first per peer host and reason, then a summary per reason every `--kafka-reject-log-interval`",
			},
			{
				Name: "raftline_kafka_budget_waits_total", Type: Counter,
				Labels: []Label{nodeID, label("scope", "connection", "node")},
				Help:   "Kafka requests that waited before being read because the request bytes in flight were at their limit, by scope: connection (its own earlier requests) or node.",
				Doc:    "requests that waited before being read: `connection`, behind the connection's own earlier requests (`--kafka-max-inflight-bytes`); `node`, at `--kafka-node-max-inflight-bytes`",
			},
			{
				Name: "raftline_kafka_inflight_request_bytes", Type: Gauge, Labels: []Label{nodeID},
				Help: "Kafka request bytes the broker holds: frames being read, counted as they arrive, and requests read and not yet handled.",
				Doc:  "request bytes held: frames being read (as they arrive) and requests not yet handled; at most `--kafka-node-max-inflight-bytes`",
			},
			{
				Name: "raftline_storage_errors_total", Type: Counter,
				Labels: []Label{nodeID, label("op", "partition_write", "raft_log_write", "raft_log_read", "raft_state_write", "snapshot_write", "data_dir")},
				Help:   "Storage errors this node met, by what it was doing: partition_write, raft_log_write, raft_log_read, raft_state_write, snapshot_write, data_dir. The first stops the node: it stops leading and serving, /readyz says why, and the process exits.",
				Doc:    "storage errors, by what the node was doing: a partition's segment files (`partition_write`), the Raft log (`raft_log_write`, `raft_log_read`), its term and vote (`raft_state_write`), a snapshot (`snapshot_write`), the data directory removed, replaced or refusing a probe write (`data_dir`). The first stops the node (one ERROR line `storage fault` names the operation, path and error; `/readyz` says why; the process exits with status 3 after `--storage-fault-exit-delay`); exported at 0 from start",
			},
			{
				Name: "raftline_memory_limit_bytes", Type: Gauge, Labels: []Label{nodeID},
				Help: "Memory this process may use: the smaller of its cgroup's limit (memory.max) and GOMEMLIMIT. +Inf when neither is set.",
				Doc:  "memory the process may use: the smaller of its cgroup's limit (`memory.max`, v1 `memory.limit_in_bytes`) and `GOMEMLIMIT`, read when scraped; `+Inf` when neither is set",
			},
			{
				Name: "raftline_node_time_seconds", Type: Gauge, Labels: []Label{nodeID},
				Help: "The node's wall clock as Unix seconds, read when scraped: minus the sample's timestamp it is the node's clock offset from Prometheus.",
				Doc:  "the node's wall clock, read when scraped; `raftline_node_time_seconds - timestamp(raftline_node_time_seconds)` is its offset from Prometheus, and the leader's offset minus a follower's their skew (RaftLeaderClockSkew)",
			},
			{
				Name: "raftline_build_info", Type: Gauge,
				Labels: []Label{nodeID, label("version"), label("role", "leader", "follower", "candidate")},
				Help:   "Always 1; labels carry the version and the node's current raft role.",
				Doc:    "always 1",
			},
		},
	},
	{
		Title: "Storage",
		Intro: "Where a node keeps its data: the filesystem holding `--data-dir`, the free-space floor (`--storage-min-free-bytes`), " +
			"what raftline's files take there and what each partition holds. The segment and sync metrics exist with `--storage disk` only. " +
			"There is no cache hit ratio: raftline keeps no record cache of its own, Fetch reads segment files through the kernel's page cache " +
			"with positioned reads, and whether a read hit that cache is not visible to the reader. What the process had to read from the device " +
			"is (`raftline_storage_read_bytes_total`, from Linux's /proc/self/io): against `raftline_fetched_bytes_total` it shows how much of what " +
			"consumers read came from the disk rather than from memory.",
		Column: "meaning",
		Job:    Job,
		Metrics: []Metric{
			{
				Name: "raftline_storage_free_bytes", Type: Gauge, Labels: []Label{nodeID},
				Help: "Bytes free on the filesystem holding the data directory, for a process without root's reserve (statfs f_bavail, df's Avail), read once a second.",
				Doc:  "free space of the filesystem holding `--data-dir` (df's Avail), read once a second",
			},
			{
				Name: "raftline_storage_capacity_bytes", Type: Gauge, Labels: []Label{nodeID},
				Help: "Size of the filesystem holding the data directory.",
				Doc:  "size of the filesystem holding `--data-dir`",
			},
			{
				Name: "raftline_storage_min_free_bytes", Type: Gauge, Labels: []Label{nodeID},
				Help: "The free-space floor (--storage-min-free-bytes): while free space is below it, this node refuses the produces it leads; 0 when there is none.",
				Doc:  "the free-space floor, `--storage-min-free-bytes` (0: none). While `raftline_storage_free_bytes` is below it the node refuses the produces it leads with KAFKA_STORAGE_ERROR, logging once on entering and once on leaving",
			},
			{
				Name: "raftline_storage_used_bytes", Type: Gauge, Labels: []Label{nodeID, label("kind", "partitions", "raft_log", "snapshots")},
				Help: "Disk space raftline's files take in the data directory, by kind: partitions (segment and index files, with --storage disk), raft_log (the Raft log store) and snapshots.",
				Doc:  "space raftline's files take in `--data-dir`: `partitions` (segment and index file lengths, 0 with `--storage memory`), `raft_log` (allocated blocks, as `raft_log_size_bytes`), `snapshots` (allocated blocks; a file a snapshot shares with a partition by a hard link counts under `partitions`)",
			},
			{
				Name: "raftline_produce_refusals_total", Type: Counter, Labels: []Label{nodeID, label("reason", "disk_below_floor")},
				Help: "Partition produces this node refused before proposing them, by reason: disk_below_floor (free space under --storage-min-free-bytes; answered KAFKA_STORAGE_ERROR).",
				Doc:  "partition produces refused before they were proposed (one per partition), by reason: `disk_below_floor`, free space under `--storage-min-free-bytes`, answered KAFKA_STORAGE_ERROR (NOT_LEADER_OR_FOLLOWER before Produce v4); clients retry",
			},
			{
				Name: "raftline_partition_size_bytes", Type: Gauge, Labels: []Label{nodeID, topic, partition},
				Help: "Record batch bytes each partition's replica holds on this node, in memory or in segment files: what retention.bytes is measured against.",
				Doc:  "record batch bytes the partition's replica holds, in memory or in segment files: what `retention.bytes` is measured against",
			},
			{
				Name: "raftline_partition_segments", Type: Gauge, Labels: []Label{nodeID, topic, partition},
				Help: "Segments of each partition's replica on this node, each a log file and three index files (with --storage disk).",
				Doc:  "segments of the partition's replica, each a `.log` file and three index files (disk only); four open files each",
			},
			{
				Name: "raftline_partition_index_size_bytes", Type: Gauge, Labels: []Label{nodeID, topic, partition},
				Help: "Bytes of each partition's offset, time and append-time index files on this node (with --storage disk).",
				Doc:  "bytes of the partition's offset, time and append-time index files (disk only)",
			},
			{
				Name: "raftline_storage_sync_duration_seconds", Type: Histogram, Labels: []Label{nodeID},
				Help: "Time to make one partition's segment files durable: the fsyncs of the files written since its last sync, of its directory and of its checkpoint (with --storage disk).",
				Doc:  "time to make one partition's segment files durable (fsync of what was written since its last sync, its directory, its checkpoint), disk only: when a snapshot is restored and at shutdown, and for every snapshot that lists segments (`seglog.Manifest`). Snapshot time as a whole is `raft_snapshot_duration_seconds`",
			},
			{
				Name: "raftline_storage_sync_last_duration_seconds", Type: Gauge, Labels: []Label{nodeID},
				Help: "Time the last segment sync on this node took (0 before the first; with --storage disk).",
				Doc:  "time the last segment sync took (0 before the first): syncs come with snapshots, restores and shutdown, minutes apart, too rare for a rate of the histogram to draw",
			},
			{
				Name: "raftline_storage_read_bytes_total", Type: Counter, Labels: []Label{nodeID},
				Help: "Bytes this process had read from the storage device (Linux /proc/self/io read_bytes): its reads the page cache did not serve.",
				Doc:  "bytes the process read from the device (Linux only): what the page cache did not serve. Process-wide: segment reads, Raft log reads, snapshots",
			},
			{
				Name: "raftline_storage_written_bytes_total", Type: Counter, Labels: []Label{nodeID},
				Help: "Bytes this process caused to be written to the storage device (Linux /proc/self/io write_bytes).",
				Doc:  "bytes the process caused to be written to the device (Linux only): Raft log, segments and snapshots together",
			},
		},
	},
	{
		Title: "Consumer groups",
		Intro: "Consumer lag computed by the brokers from the replicated state: no exporter polls them. Every node exports the same values, " +
			"read at scrape time from the groups and offsets it has applied, so a query takes the `max` over `node_id` " +
			"(`max by (group, topic, partition) (raftline_consumer_group_lag)`): summing would count each group once per node, and one node " +
			"down leaves no gap. Per-partition series (lag, lag seconds, committed offset) are capped at `--consumer-lag-max-series` " +
			"group-partitions per scrape (10000 by default): beyond it those with the smallest lag are left out and counted in " +
			"`raftline_consumer_group_series_dropped_total`. Per-group series are not capped.",
		Column: "meaning",
		Job:    Job,
		Metrics: []Metric{
			{
				Name: "raftline_consumer_group_lag", Type: Gauge, Labels: []Label{nodeID, group, topic, partition},
				Help: "Records each consumer group has yet to consume in each partition it committed an offset for: the partition's high watermark minus the committed offset (0 when caught up).",
				Doc:  "records the group has yet to consume in the partition: high watermark minus committed offset (0 when caught up), for every partition the group committed an offset for",
			},
			{
				Name: "raftline_consumer_group_lag_seconds", Type: Gauge, Labels: []Label{nodeID, group, topic, partition},
				Help: "Age of the oldest record each consumer group has yet to consume in each partition: now minus the first timestamp of the batch holding the committed offset (0 when caught up).",
				Doc:  "age of the oldest record the group has yet to consume: now minus the first timestamp of the batch holding the committed offset (the log start's when retention deleted it), 0 when caught up. A committed offset inside a batch reads as old as the batch's first record. Grows by a second per second while the group commits nothing",
			},
			{
				Name: "raftline_consumer_group_committed_offset", Type: Gauge, Labels: []Label{nodeID, group, topic, partition},
				Help: "Offset each consumer group last committed for each partition: the next record it will consume.",
				Doc:  "offset the group last committed for the partition (the next record it will consume)",
			},
			{
				Name: "raftline_consumer_group_members", Type: Gauge, Labels: []Label{nodeID, group},
				Help: "Members of each consumer group.",
				Doc:  "members of the group",
			},
			{
				Name: "raftline_consumer_group_state", Type: Gauge,
				Labels: []Label{nodeID, group, label("state", "Empty", "PreparingRebalance", "CompletingRebalance", "Stable", "Dead")},
				Help:   "1 for each consumer group's current state (Empty, PreparingRebalance, CompletingRebalance, Stable, Dead), 0 for the others.",
				Doc:    "1 for the group's current state (Kafka's names), 0 for the other four",
			},
			{
				Name: "raftline_consumer_group_rebalances_total", Type: Counter, Labels: []Label{nodeID, group},
				Help: "Rebalances of each consumer group: its generation, which every completed join round raises.",
				Doc:  "rebalances of the group: its generation, raised by every completed join round (a deleted and re-created group starts again, which rate() takes as a reset)",
			},
			{
				Name: "raftline_consumer_group_offset_commits_total", Type: Counter, Labels: []Label{nodeID, group},
				Help: "Offset commits applied for each consumer group.",
				Doc:  "offset commits applied for the group (replicated: every node counts the same)",
			},
			{
				Name: "raftline_consumer_group_series_dropped_total", Type: Counter, Labels: []Label{nodeID},
				Help: "Consumer group partitions left out of a scrape's per-partition series (lag, lag seconds, committed offset) because more than --consumer-lag-max-series had committed offsets; those with the smallest lag are left out.",
				Doc:  "group-partitions left out of a scrape's per-partition series for being over `--consumer-lag-max-series`, those with the smallest lag first; counted at every scrape, so any increase means the lag panels and per-partition queries miss partitions (raise the cap). Exported at 0 from start",
			},
		},
	},
	{
		Title:  "Trace export",
		Intro:  "Present on every node, at 0 while no OTLP endpoint is configured.",
		Column: "meaning",
		Job:    Job,
		Metrics: []Metric{
			{
				Name: "raftline_trace_spans_exported_total", Type: Counter, Labels: []Label{nodeID},
				Help: "Finished spans the OTLP receiver accepted.",
				Doc:  "finished spans the OTLP receiver accepted",
			},
			{
				Name: "raftline_trace_spans_dropped_total", Type: Counter,
				Labels: []Label{nodeID, label("reason", "queue_full", "export_failed")},
				Help:   "Finished spans dropped instead of exported, by reason: queue_full (the receiver is down or slower than spans are made) or export_failed.",
				Doc:    "finished spans dropped instead of exported: the bounded export queue was full (receiver down or slower than spans are made) or their export failed",
			},
			{
				Name: "raftline_trace_queue_spans", Type: Gauge, Labels: []Label{nodeID},
				Help: "Finished spans waiting in the export queue.",
				Doc:  "finished spans waiting in the export queue",
			},
		},
	},
	{
		Title:  "Load generator (`loadgen --metrics-addr`)",
		Column: "meaning",
		Job:    LoadgenJob,
		Metrics: []Metric{
			{
				Name: "loadgen_records_sent_total", Type: Counter, Labels: []Label{topic},
				Help: "Records handed to the client.",
				Doc:  "records handed to the client",
			},
			{
				Name: "loadgen_records_acked_total", Type: Counter, Labels: []Label{topic},
				Help: "Records acknowledged by the broker.",
				Doc:  "records acknowledged by the broker",
			},
			{
				Name: "loadgen_records_failed_total", Type: Counter, Labels: []Label{topic, label("kind")},
				Help: "Records that failed, by error kind.",
				Doc:  "records that failed, by error kind",
			},
			{
				Name: "loadgen_records_consumed_total", Type: Counter, Labels: []Label{topic},
				Help: "Records consumed.",
				Doc:  "records consumed",
			},
			{
				Name: "loadgen_publish_latency_seconds", Type: Histogram, Labels: []Label{topic},
				Help: "Send (intended send time in fixed-rate mode) to acknowledgement.",
				Doc:  "send (intended send time in fixed-rate mode) to acknowledgement",
			},
			{
				Name: "loadgen_e2e_latency_seconds", Type: Histogram, Labels: []Label{topic},
				Help: "Produce timestamp to consume.",
				Doc:  "produce timestamp to consume",
			},
			{
				Name: "loadgen_consumer_lag_records", Type: Gauge, Labels: []Label{topic},
				Help: "Records acknowledged to this run that its consumers have not read yet (e2e).",
				Doc:  "records acknowledged to this run that its consumers have not read yet, at each progress interval (e2e only)",
			},
			{
				Name: "loadgen_consumer_group_committed_lag_records", Type: Gauge, Labels: []Label{topic, label("group")},
				Help: "The consumer group's lag by its committed offsets, as the broker reports it.",
				Doc:  "the consumer group's lag by its committed offsets (end offset minus committed offset, summed over the topic's partitions), read from the broker every progress interval (`--group` only)",
			},
		},
	},
	{
		Title:  "Canary (`loadgen canary`)",
		Intro:  "A few records a second produced (acks=all) to the canary topic and read back by the canary's own consumer, forever: the black-box SLI that the **raftline / Produce SLOs** dashboard draws beside the broker's. Served on `--metrics-addr` (9701), scraped as job `canary`. Every result is exported at 0 from start.",
		Column: "meaning",
		Job:    CanaryJob,
		Metrics: []Metric{
			{
				Name: "loadgen_canary_produced_total", Type: Counter, Labels: []Label{label("result", "success", "failure")},
				Help: "Canary records produced with acks=all, by result: success (acknowledged) or failure (an error, or no acknowledgement within the probe timeout).",
				Doc:  "canary records produced with acks=all: `success` acknowledged, `failure` an error or no acknowledgement within `--timeout`",
			},
			{
				Name: "loadgen_canary_consumed_total", Type: Counter, Labels: []Label{label("result", "success", "timeout")},
				Help: "Acknowledged canary records, by result: success (read back by the canary's consumer) or timeout (not read back within the probe timeout).",
				Doc:  "acknowledged canary records: `success` read back by the canary's consumer, `timeout` not read back within `--timeout` of their send",
			},
			{
				Name: "loadgen_canary_publish_latency_seconds", Type: Histogram,
				Help: "Canary records' time from send to acknowledgement (acks=all).",
				Doc:  "a canary record's send to its acknowledgement, the client's view of the produce latency SLI (same buckets as the broker's)",
			},
			{
				Name: "loadgen_canary_e2e_latency_seconds", Type: Histogram,
				Help: "Canary records' time from send to being read back by the canary's consumer.",
				Doc:  "a canary record's send to its being read back",
			},
		},
	},
}
