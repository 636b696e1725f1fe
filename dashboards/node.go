package dashboards

import (
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/units"
)

// node shows one broker process as the operating system and the Go runtime
// see it, for telling a raftline problem from a resource problem.
func node() *dashboard.DashboardBuilder {
	return newDashboard(UIDNode, "raftline / Node",
		"Process CPU, memory, file descriptors, Go runtime, and disk per node: free space against the free-space floor, what raftline's files take, segment syncs, reads and writes.").
		WithRow(dashboard.NewRowBuilder("Process")).
		WithPanel(statPanel("Uptime", units.Seconds,
			"Time since each selected process started. Orange below 10 minutes: the node restarted recently.",
			query(`time() - process_start_time_seconds{job="$job", cluster=~"$cluster", node_id=~"$node"}`, "{{node_id}}")).
			Thresholds(thresholds("orange", step{600, "green"})).
			TextMode(common.BigValueTextModeValueAndName).
			Span(halfWidth)).
		WithPanel(statPanel("File descriptors used", units.PercentUnit,
			"Open file descriptors as a share of the process limit: four per partition segment, one per connection. At the limit the next file the node opens fails, a storage fault that stops it. Orange from 80 %, red from 90 %; FileDescriptorsNearLimit files a ticket above 80 % for 10 minutes.",
			query(`process_open_fds{job="$job", cluster=~"$cluster", node_id=~"$node"} / process_max_fds{job="$job", cluster=~"$cluster", node_id=~"$node"}`, "{{node_id}}")).
			Thresholds(limits(0.8, 0.9)).
			TextMode(common.BigValueTextModeValueAndName).
			Span(halfWidth)).
		WithPanel(timeseriesPanel("CPU", units.PercentUnit,
			"CPU time used per second of wall time; 100 % is one full core.",
			query(`rate(process_cpu_seconds_total{job="$job", cluster=~"$cluster", node_id=~"$node"}[$__rate_interval])`, "{{node_id}}")).
			Span(thirdWidth)).
		WithPanel(timeseriesPanel("Resident memory", units.BytesIEC,
			"Resident set size of each process.",
			query(`process_resident_memory_bytes{job="$job", cluster=~"$cluster", node_id=~"$node"}`, "{{node_id}}")).
			Span(thirdWidth)).
		WithPanel(timeseriesPanel("Open file descriptors", units.Short,
			"Open file descriptors per process: client connections, raft peers and log files.",
			query(`process_open_fds{job="$job", cluster=~"$cluster", node_id=~"$node"}`, "{{node_id}}")).
			Span(thirdWidth)).
		WithPanel(withAlertLimit(timeseriesPanel("Clock skew from the leader", units.Seconds,
			"How far each selected follower's wall clock is from the raft leader's, in either direction (node_id:raftline_leader_clock_skew_seconds:diff, recorded from raftline_node_time_seconds; the recorded series is positive when the leader is ahead). The leader's clock stamps LogAppendTime and decides retention.ms and segment.ms; the leader itself has no line."+
				alertLimitText("RaftLeaderClockSkew", alertLimit.ClockSkew, fmtSeconds),
			query(`abs(node_id:raftline_leader_clock_skew_seconds:diff{job="$job", cluster=~"$cluster", node_id=~"$node"})`, "{{node_id}}")).
			Span(thirdWidth), alertLimit.ClockSkew)).
		WithRow(dashboard.NewRowBuilder("Go runtime")).
		WithPanel(timeseriesPanel("Goroutines", units.Short,
			"Live goroutines. A count that only grows is a leak, typically per connection or per request.",
			query(`go_goroutines{job="$job", cluster=~"$cluster", node_id=~"$node"}`, "{{node_id}}")).
			Span(thirdWidth)).
		WithPanel(timeseriesPanel("Heap", units.BytesIEC,
			"Heap bytes in use and the heap size at which the next GC starts.",
			query(`go_memstats_heap_inuse_bytes{job="$job", cluster=~"$cluster", node_id=~"$node"}`, "{{node_id}} in use"),
			query(`go_memstats_next_gc_bytes{job="$job", cluster=~"$cluster", node_id=~"$node"}`, "{{node_id}} GC goal")).
			Span(thirdWidth)).
		WithPanel(timeseriesPanel("Allocation rate", units.BytesPerSecondIEC,
			"Heap bytes allocated per second. High allocation rates drive GC work and tail latency.",
			query(`rate(go_memstats_alloc_bytes_total{job="$job", cluster=~"$cluster", node_id=~"$node"}[$__rate_interval])`, "{{node_id}}")).
			Span(thirdWidth)).
		WithPanel(withLimits(timeseriesPanel("GC pause time", units.PercentUnit,
			"Share of wall time spent in stop-the-world GC pauses. Dashed lines: 5 % (orange), 10 % (red).",
			query(`rate(go_gc_duration_seconds_sum{job="$job", cluster=~"$cluster", node_id=~"$node"}[$__rate_interval])`, "{{node_id}}")).
			Span(thirdWidth),
			0.05, 0.1)).
		WithPanel(timeseriesPanel("GC cycles", units.OpsPerSecond,
			"Completed GC cycles per second.",
			query(`rate(go_gc_duration_seconds_count{job="$job", cluster=~"$cluster", node_id=~"$node"}[$__rate_interval])`, "{{node_id}}")).
			Span(thirdWidth)).
		WithPanel(timeseriesPanel("OS threads", units.Short,
			"OS threads created by the Go runtime. Growth usually means goroutines blocked in system calls such as fsync.",
			query(`go_threads{job="$job", cluster=~"$cluster", node_id=~"$node"}`, "{{node_id}}")).
			Span(thirdWidth)).
		WithPanel(timeseriesPanel("Scheduler latency", units.Seconds,
			"How long runnable goroutines waited for a CPU before running, p50 and p99 (go_sched_latencies_seconds, from the Go runtime). Every request and every raft step pays it on top of its own work: a p99 in milliseconds means the process is short of CPU (other processes on the cores, GOMAXPROCS, a CPU limit), and shows in every latency the broker reports.",
			query(`histogram_quantile(0.5, sum by (node_id, le) (rate(go_sched_latencies_seconds_bucket{job="$job", cluster=~"$cluster", node_id=~"$node"}[$__rate_interval])))`, "{{node_id}} p50"),
			query(`histogram_quantile(0.99, sum by (node_id, le) (rate(go_sched_latencies_seconds_bucket{job="$job", cluster=~"$cluster", node_id=~"$node"}[$__rate_interval])))`, "{{node_id}} p99")).
			Span(halfWidth)).
		WithPanel(timeseriesPanel("GC stop-the-world pauses", units.Seconds,
			"Longest and p99 stop-the-world pause of the garbage collector (go_sched_pauses_total_gc_seconds, from the Go runtime): every goroutine, the raft loop and every request included, stops for it. GC pause time above is their share of wall time.",
			query(`histogram_quantile(0.99, sum by (node_id, le) (rate(go_sched_pauses_total_gc_seconds_bucket{job="$job", cluster=~"$cluster", node_id=~"$node"}[$__rate_interval])))`, "{{node_id}} p99"),
			query(`histogram_quantile(1, sum by (node_id, le) (rate(go_sched_pauses_total_gc_seconds_bucket{job="$job", cluster=~"$cluster", node_id=~"$node"}[$__rate_interval])))`, "{{node_id}} max")).
			Span(halfWidth)).
		WithRow(dashboard.NewRowBuilder("Disk")).
		WithPanel(timeseriesPanel("Free space and floor", units.BytesIEC,
			"Free space of the filesystem holding each node's --data-dir (df's Avail), and the node's free-space floor (--storage-min-free-bytes, red). Under the floor the node refuses the produces it leads with KAFKA_STORAGE_ERROR, and DiskFreeSpaceBelowFloor pages; a steady fall towards it is DiskFillingUp.",
			query(`raftline_storage_free_bytes{job="$job", cluster=~"$cluster", node_id=~"$node"}`, "{{node_id}} free"),
			query(`raftline_storage_min_free_bytes{job="$job", cluster=~"$cluster", node_id=~"$node"}`, "{{node_id}} floor")).
			OverrideByRegexp(".*floor", fixedColor("red"))).
		WithPanel(timeseriesPanel("Storage faults", units.Short,
			"Storage errors each node met per interval, by what it was doing (raftline_storage_errors_total{op}): "+
				"partition_write, a partition's segment files (a write, a segment created, renamed or removed); "+
				"raft_log_write, the Raft log (an append and its fsync, a new segment, a truncation); "+
				"raft_log_read, a Raft log entry that could not be read back; "+
				"raft_state_write, the Raft term or vote; "+
				"snapshot_write, a snapshot taken or received from the leader; "+
				"data_dir, the data directory removed or replaced, or its once-a-second probe write failing. "+
				"Anything above 0 is a fault: the node stops leading and serving at its first error and exits after --storage-fault-exit-delay (15s), "+
				"so a fault is one short rise just before the node's lines end. StorageFault files a ticket; "+
				"its runbook (docs/runbooks/StorageFault.md) says what to check for each op and error.",
			query(`sum by (node_id, op) (increase(raftline_storage_errors_total{job="$job", cluster=~"$cluster", node_id=~"$node"}[$__rate_interval]))`, "{{node_id}} {{op}}"))).
		WithPanel(timeseriesPanel("Space used by raftline", units.BytesIEC,
			"Disk space raftline's files take in each node's --data-dir, by kind: partitions (segment and index files, with --storage disk), raft_log (compacted after snapshots) and snapshots. Whatever else the filesystem holds is its size minus free space minus these.",
			query(`sum by (node_id, kind) (raftline_storage_used_bytes{job="$job", cluster=~"$cluster", node_id=~"$node"})`, "{{node_id}} {{kind}}"))).
		WithPanel(withLimits(timeseriesPanel("Last segment sync", units.Seconds,
			"Time the last sync of a partition's segment files took on each node (0 before the first; --storage disk only): the fsync of what the partition wrote since its last sync, its directory and its checkpoint, when a snapshot is restored, at shutdown, and for every snapshot that lists segments. The write path never syncs segments: the raft log's fsync is on Raft internals. Syncs are minutes apart, so the last one is shown; raftline_storage_sync_duration_seconds has their distribution. Dashed lines: 100 ms (orange), 1 s (red).",
			query(`max by (node_id) (raftline_storage_sync_last_duration_seconds{job="$job", cluster=~"$cluster", node_id=~"$node"})`, "{{node_id}}")),
			0.1, 1)).
		WithPanel(timeseriesPanel("Disk reads and writes", units.BytesPerSecondIEC,
			"Bytes each process read from and wrote to the device per second (Linux), and the bytes Fetch served. raftline has no record cache of its own: consumers are served from the page cache, and reads here while consumers fetch are what it did not hold. Writes are the raft log, segments and snapshots together.",
			query(`rate(raftline_storage_read_bytes_total{job="$job", cluster=~"$cluster", node_id=~"$node"}[$__rate_interval])`, "{{node_id}} read"),
			query(`rate(raftline_storage_written_bytes_total{job="$job", cluster=~"$cluster", node_id=~"$node"}[$__rate_interval])`, "{{node_id}} written"),
			query(`sum by (node_id) (rate(raftline_fetched_bytes_total{job="$job", cluster=~"$cluster", node_id=~"$node"}[$__rate_interval]))`, "{{node_id}} fetched"))).
		WithPanel(timeseriesPanel("Raft log size on disk", units.BytesIEC,
			"Size of the raft log store on disk per node. Should level off as snapshots compact the log.",
			query(`raft_log_size_bytes{job="$job", cluster=~"$cluster", node_id=~"$node"}`, "{{node_id}}"))).
		WithPanel(timeseriesPanel("Last snapshot size", units.BytesIEC,
			"Size of the last snapshot each node persisted; snapshots live next to the log on the same disk.",
			query(`raft_snapshot_size_bytes{job="$job", cluster=~"$cluster", node_id=~"$node"}`, "{{node_id}}")))
}
