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
		"Process CPU, memory, file descriptors, Go runtime and raft disk usage per node.").
		WithRow(dashboard.NewRowBuilder("Process")).
		WithPanel(statPanel("Uptime", units.Seconds,
			"Time since each selected process started. Orange below 10 minutes: the node restarted recently.",
			query(`time() - process_start_time_seconds{job="$job", node_id=~"$node"}`, "{{node_id}}")).
			Thresholds(thresholds("orange", step{600, "green"})).
			TextMode(common.BigValueTextModeValueAndName).
			Span(halfWidth)).
		WithPanel(statPanel("File descriptors used", units.PercentUnit,
			"Open file descriptors as a share of the process limit. At the limit the node cannot accept connections or open log segments. Orange from 80 %, red from 90 %.",
			query(`process_open_fds{job="$job", node_id=~"$node"} / process_max_fds{job="$job", node_id=~"$node"}`, "{{node_id}}")).
			Thresholds(limits(0.8, 0.9)).
			TextMode(common.BigValueTextModeValueAndName).
			Span(halfWidth)).
		WithPanel(timeseriesPanel("CPU", units.PercentUnit,
			"CPU time used per second of wall time; 100 % is one full core.",
			query(`rate(process_cpu_seconds_total{job="$job", node_id=~"$node"}[$__rate_interval])`, "{{node_id}}")).
			Span(thirdWidth)).
		WithPanel(timeseriesPanel("Resident memory", units.BytesIEC,
			"Resident set size of each process.",
			query(`process_resident_memory_bytes{job="$job", node_id=~"$node"}`, "{{node_id}}")).
			Span(thirdWidth)).
		WithPanel(timeseriesPanel("Open file descriptors", units.Short,
			"Open file descriptors per process: client connections, raft peers and log files.",
			query(`process_open_fds{job="$job", node_id=~"$node"}`, "{{node_id}}")).
			Span(thirdWidth)).
		WithRow(dashboard.NewRowBuilder("Go runtime")).
		WithPanel(timeseriesPanel("Goroutines", units.Short,
			"Live goroutines. A count that only grows is a leak, typically per connection or per request.",
			query(`go_goroutines{job="$job", node_id=~"$node"}`, "{{node_id}}")).
			Span(thirdWidth)).
		WithPanel(timeseriesPanel("Heap", units.BytesIEC,
			"Heap bytes in use and the heap size at which the next GC starts.",
			query(`go_memstats_heap_inuse_bytes{job="$job", node_id=~"$node"}`, "{{node_id}} in use"),
			query(`go_memstats_next_gc_bytes{job="$job", node_id=~"$node"}`, "{{node_id}} GC goal")).
			Span(thirdWidth)).
		WithPanel(timeseriesPanel("Allocation rate", units.BytesPerSecondIEC,
			"Heap bytes allocated per second. High allocation rates drive GC work and tail latency.",
			query(`rate(go_memstats_alloc_bytes_total{job="$job", node_id=~"$node"}[$__rate_interval])`, "{{node_id}}")).
			Span(thirdWidth)).
		WithPanel(withLimits(timeseriesPanel("GC pause time", units.PercentUnit,
			"Share of wall time spent in stop-the-world GC pauses. Dashed lines: 5 % (orange), 10 % (red).",
			query(`rate(go_gc_duration_seconds_sum{job="$job", node_id=~"$node"}[$__rate_interval])`, "{{node_id}}")).
			Span(thirdWidth),
			0.05, 0.1)).
		WithPanel(timeseriesPanel("GC cycles", units.OpsPerSecond,
			"Completed GC cycles per second.",
			query(`rate(go_gc_duration_seconds_count{job="$job", node_id=~"$node"}[$__rate_interval])`, "{{node_id}}")).
			Span(thirdWidth)).
		WithPanel(timeseriesPanel("OS threads", units.Short,
			"OS threads created by the Go runtime. Growth usually means goroutines blocked in system calls such as fsync.",
			query(`go_threads{job="$job", node_id=~"$node"}`, "{{node_id}}")).
			Span(thirdWidth)).
		WithRow(dashboard.NewRowBuilder("Disk")).
		WithPanel(timeseriesPanel("Raft log size on disk", units.BytesIEC,
			"Size of the raft log store on disk per node. Should level off as snapshots compact the log.",
			query(`raft_log_size_bytes{job="$job", node_id=~"$node"}`, "{{node_id}}"))).
		WithPanel(timeseriesPanel("Last snapshot size", units.BytesIEC,
			"Size of the last snapshot each node persisted; snapshots live next to the log on the same disk.",
			query(`raft_snapshot_size_bytes{job="$job", node_id=~"$node"}`, "{{node_id}}")))
}
