package alerts

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Job is the Prometheus job label raftline nodes are scraped under. Every
// selector is scoped to it so the rules can share a Prometheus with other
// systems exporting similarly named metrics.
const Job = "raftline"

// RunbookBaseURL is where each alert's runbook_url points; the runbook for
// alert X is docs/runbooks/X.md in the repository.
const RunbookBaseURL = "https://github.com/raftline/raftline/blob/main/docs/runbooks/"

// RunbookURL returns the runbook address for an alert.
func RunbookURL(alert string) string { return RunbookBaseURL + alert + ".md" }

// Severity values. Alertmanager pages on critical, files a ticket for
// warning and only records info.
const (
	SeverityCritical = "critical"
	SeverityWarning  = "warning"
	SeverityInfo     = "info"
)

var severities = map[string]bool{SeverityCritical: true, SeverityWarning: true, SeverityInfo: true}

// recordName enforces the level:metric:operations naming convention for
// recorded series.
var recordName = regexp.MustCompile(`^[a-z][a-z0-9_]*:[a-z][a-z0-9_]*:[a-z0-9_]+$`)

// Config holds the thresholds the rules are generated with. alerts/DESIGN.md
// explains each default.
type Config struct {
	// StormElections changes of the cluster's raft term within StormWindow,
	// while Produce requests fail, make an election storm (a page). A single
	// failover is one change; a healthy rolling restart of 3 nodes at most 3.
	StormElections int
	StormWindow    Duration
	// StormFor is how long the storm condition must hold before paging.
	StormFor Duration
	// ChurnChanges changes of the cluster's raft term within ChurnWindow,
	// held for ChurnFor, file a ticket (RaftLeaderChurn): etcd's mixin's
	// "4 leader changes in 15 minutes".
	ChurnChanges int
	ChurnWindow  Duration
	ChurnFor     Duration
	// QuorumVotersWindow is how far back the largest voting membership is
	// taken as the quorum's denominator.
	QuorumVotersWindow Duration
	// CrashLoopRestarts process restarts of one node within CrashLoopWindow
	// make it crash-looping.
	CrashLoopRestarts int
	CrashLoopWindow   Duration
	// AppendStall is how long one log store write on the leader may stay
	// in flight before its commits count as stalled.
	AppendStall time.Duration
	// MemoryShare is the share of its memory limit a node may hold
	// resident, sustained, before MemoryNearLimit fires.
	MemoryShare float64
	// ClockSkew is how far a follower's wall clock may be from the
	// leader's, held for ClockSkewFor, before RaftLeaderClockSkew fires.
	ClockSkew    time.Duration
	ClockSkewFor Duration

	// FollowerLagEntries is how many entries a live follower may trail the
	// leader by, sustained, before it is reported.
	FollowerLagEntries int

	// CommitLatencyP99 and FsyncP99 bound the p99 of raft commit and of log
	// store appends (which include the fsync).
	CommitLatencyP99 time.Duration
	FsyncP99         time.Duration

	// LastContact is how long a follower may go without hearing from its
	// leader, measured against hashicorp/raft's 1s default heartbeat timeout.
	LastContact time.Duration

	// ProduceErrorRatio is the tolerated share of Produce partition errors
	// per Produce request.
	ProduceErrorRatio float64

	// DiskFillShare is the share of the data filesystem that must already
	// be in use, with free space predicted to reach the node's floor within
	// a day, before DiskFillingUp fires: a trend on a mostly empty disk is
	// noise (node-exporter mixin's convention).
	DiskFillShare float64

	// FileDescriptorShare is the share of its descriptor limit a node may
	// hold open, sustained, before FileDescriptorsNearLimit fires.
	FileDescriptorShare float64

	// ConsumerLagGrowthWindow is the window over which a group's lag must
	// trend upwards (deriv), ConsumerLagGrowingFor how long it must keep
	// doing so, and ConsumerLagMinAge how old its oldest unconsumed record
	// must be, for ConsumerGroupLagGrowing: a group whose lag rises with
	// the traffic but stays seconds behind is keeping up.
	ConsumerLagGrowthWindow Duration
	ConsumerLagGrowingFor   Duration
	ConsumerLagMinAge       time.Duration
	// ConsumerNoMembersFor is how long a group may hold lag with no member
	// before ConsumerGroupLagNoMembers fires: longer than a restart.
	ConsumerNoMembersFor Duration
	// More than RebalanceStormCount rebalances of one group within
	// RebalanceStormWindow, in every window for RebalanceStormFor, is a
	// rebalance storm.
	RebalanceStormCount  int
	RebalanceStormWindow Duration
	RebalanceStormFor    Duration
}

// DefaultConfig returns the thresholds rules.yml is generated with.
func DefaultConfig() Config {
	return Config{
		StormElections:     4,
		StormWindow:        Duration(5 * time.Minute),
		StormFor:           Duration(30 * time.Second),
		ChurnChanges:       4,
		ChurnWindow:        Duration(15 * time.Minute),
		ChurnFor:           Duration(5 * time.Minute),
		QuorumVotersWindow: Duration(time.Hour),
		CrashLoopRestarts:  3,
		CrashLoopWindow:    Duration(15 * time.Minute),
		AppendStall:        5 * time.Second,
		MemoryShare:        0.9,
		ClockSkew:          time.Second,
		ClockSkewFor:       Duration(5 * time.Minute),
		FollowerLagEntries: 5000,
		CommitLatencyP99:   250 * time.Millisecond,
		FsyncP99:           100 * time.Millisecond,
		LastContact:        500 * time.Millisecond,
		ProduceErrorRatio:  0.05,
		DiskFillShare:      0.6,

		FileDescriptorShare: 0.8,

		ConsumerLagGrowthWindow: Duration(10 * time.Minute),
		ConsumerLagGrowingFor:   Duration(15 * time.Minute),
		ConsumerLagMinAge:       5 * time.Minute,
		ConsumerNoMembersFor:    Duration(15 * time.Minute),
		RebalanceStormCount:     5,
		RebalanceStormWindow:    Duration(10 * time.Minute),
		RebalanceStormFor:       Duration(20 * time.Minute),
	}
}

// Recorded series names. Alerts read these rather than repeating the raw
// expressions, and dashboards may use them too.
const (
	recCommitP99  = "node_id:raft_commit_duration_seconds:p99_rate5m"
	recFsyncP99   = "node_id:raft_log_store_append_duration_seconds:p99_rate5m"
	recRequests   = "api:raftline_kafka_requests:rate5m"
	recErrors     = "api:raftline_kafka_request_errors:rate5m"
	recErrorRatio = "api:raftline_kafka_request_errors_per_requests:ratio_rate5m"
	// Consumer group series are the same on every node: the max over
	// nodes of each group-partition, then per group.
	recGroupLag     = "job_group:raftline_consumer_group_lag:sum"
	recGroupLagAge  = "job_group:raftline_consumer_group_lag_seconds:max"
	recGroupMembers = "job_group:raftline_consumer_group_members:max"
	// recClockOffset is each node's wall clock minus Prometheus' at the
	// scrape; recLeaderSkew the leader's offset minus each follower's.
	recClockOffset = "node_id:raftline_node_time_seconds:offset"
	recLeaderSkew  = "node_id:raftline_leader_clock_skew_seconds:diff"
)

// recTermMax is the cluster's raft term: the highest any node reports. The
// term is persisted with the vote, so a restarted node reports the term it
// had and the maximum never falls when a node restarts or disappears, unlike
// a per-process counter that starts again at 0 and that increase() reads
// as new elections.
const recTermMax = "job:raft_current_term:max"

// termChanges counts the steps the cluster's term took within window: one
// per leader change, however many terms a split vote burnt between two
// evaluations.
func termChanges(window Duration) string {
	return fmt.Sprintf("changes(%s[%s])", recTermMax, window)
}

// produceRequests is the Produce requests the cluster answered within
// window: clients writing, whose writes every election stalls.
func produceRequests(window string) string {
	return fmt.Sprintf(`sum by (job, cluster) (increase(raftline_kafka_requests_total{job=%q, api="Produce"}[%s]))`, Job, window)
}

// quorumVoters is the largest voting membership any node reported within
// QuorumVotersWindow, or the scraped targets without one.
func quorumVoters(cfg Config) string {
	return fmt.Sprintf("(\n  max by (job, cluster) (max_over_time(raft_voters{job=%q}[%s]))\n  or\n  count by (job, cluster) (up{job=%q})\n)",
		Job, cfg.QuorumVotersWindow, Job)
}

// Groups returns raftline's rule groups for cfg.
func Groups(cfg Config) []Group {
	return append([]Group{
		{Name: "raftline.recording", Rules: recordingRules(cfg)},
		{Name: "raftline.alerts", Rules: alertingRules(cfg)},
	}, sloGroups(SLOs())...)
}

func recordingRules(cfg Config) []Rule {
	return []Rule{
		{
			// Restart-proof and cluster-level: see recTermMax.
			Record: recTermMax,
			Expr:   fmt.Sprintf(`max by (job, cluster) (raft_current_term{job=%q})`, Job),
		},
		{
			Record: recCommitP99,
			Expr: fmt.Sprintf(`histogram_quantile(0.99, sum by (job, cluster, node_id, le) (rate(raft_commit_duration_seconds_bucket{job=%q}[5m])))`,
				Job),
		},
		{
			Record: recFsyncP99,
			Expr: fmt.Sprintf(`histogram_quantile(0.99, sum by (job, cluster, node_id, le) (rate(raft_log_store_append_duration_seconds_bucket{job=%q}[5m])))`,
				Job),
		},
		{
			Record: recRequests,
			Expr:   fmt.Sprintf(`sum by (job, cluster, api) (rate(raftline_kafka_requests_total{job=%q}[5m]))`, Job),
		},
		{
			Record: recErrors,
			Expr:   fmt.Sprintf(`sum by (job, cluster, api) (rate(raftline_kafka_request_errors_total{job=%q}[5m]))`, Job),
		},
		{
			// Errors are counted per partition, requests per request, so
			// this is errors per request and can exceed 1.
			Record: recErrorRatio,
			Expr:   recErrors + " / " + recRequests,
		},
		{
			// Every node exports the same lag: the max over nodes per
			// partition, never the sum, then the group's partitions added.
			Record: recGroupLag,
			Expr: fmt.Sprintf(`sum by (job, cluster, group) (max by (job, cluster, group, topic, partition) (raftline_consumer_group_lag{job=%q}))`,
				Job),
		},
		{
			Record: recGroupLagAge,
			Expr:   fmt.Sprintf(`max by (job, cluster, group) (raftline_consumer_group_lag_seconds{job=%q})`, Job),
		},
		{
			Record: recGroupMembers,
			Expr:   fmt.Sprintf(`max by (job, cluster, group) (raftline_consumer_group_members{job=%q})`, Job),
		},
		{
			// The sample's value is the node's clock as it answered the
			// scrape, its timestamp Prometheus' clock as the scrape began.
			Record: recClockOffset,
			Expr:   fmt.Sprintf(`raftline_node_time_seconds{job=%[1]q} - timestamp(raftline_node_time_seconds{job=%[1]q})`, Job),
		},
		{
			// Per follower (its labels), positive when the leader's clock
			// is ahead. Prometheus' own clock cancels out.
			Record: recLeaderSkew,
			Expr: fmt.Sprintf("max by (job, cluster) (\n  %[1]s\n  and on (job, cluster, node_id)\n  raft_state{job=%[2]q, state=\"leader\"} == 1\n)\n"+
				"- on (job, cluster) group_right ()\n%[1]s\nunless on (job, cluster, node_id)\nraft_state{job=%[2]q, state=\"leader\"} == 1",
				recClockOffset, Job),
		},
	}
}

func alertingRules(cfg Config) []Rule {
	sel := fmt.Sprintf(`{job=%q}`, Job)
	freeNow := `{{ with printf "raftline_storage_free_bytes{job=%q,node_id=%q}" $labels.job $labels.node_id | query }}{{ . | first | value | humanize1024 }}B{{ end }}`
	window := cfg.StormWindow.String()
	count := `{{ printf "%.0f" $value }}`
	return []Rule{
		// A storm pages only when it hurts writes: at least StormElections
		// leader changes within StormWindow (more than a healthy 3-node
		// rolling restart can make) while clients produce, each election
		// stalling their writes. Churn with no write to stall is
		// RaftLeaderChurn's ticket. (Produce errors were tried as the
		// impact and missed a live storm: clients meeting no leader are
		// told so by Metadata, per partition, and time out, while the
		// brokers return no Produce error.)
		alert("RaftElectionStorm", SeverityCritical, cfg.StormFor,
			fmt.Sprintf("(\n  %s\n  and on (job, cluster)\n  %s > 0\n)\n>= %d",
				termChanges(cfg.StormWindow), produceRequests(window), cfg.StormElections),
			"Raft leader election storm: "+count+" leader changes in "+window+" while clients produce.",
			"The raft leader of job {{ $labels.job }} changed "+count+" times in the last "+window+
				fmt.Sprintf(" (pages at %d; a single failover is 1, a rolling restart of 3 nodes at most 3), ", cfg.StormElections)+
				"while clients sent "+
				`{{ with printf "sum(increase(raftline_kafka_requests_total{job=%q,api=\"Produce\"}[`+window+`]))" $labels.job | query }}{{ . | first | value | printf "%.0f" }}{{ end }}`+
				" Produce requests. Every election stalls all writes until the new leader commits, and producers time out: "+
				"a crash loop, an overloaded node, a slow disk or a flapping network."),

		// etcd's mixin: 4 leader changes in 15 minutes is a warning, as a
		// healthy rolling restart of 3 nodes makes at most 3.
		alert("RaftLeaderChurn", SeverityWarning, cfg.ChurnFor,
			fmt.Sprintf("%s >= %d", termChanges(cfg.ChurnWindow), cfg.ChurnChanges),
			"Raft leadership changed "+count+" times in "+cfg.ChurnWindow.String()+".",
			"The raft leader of job {{ $labels.job }} changed "+count+" times in the last "+cfg.ChurnWindow.String()+
				fmt.Sprintf(" (threshold %d; a rolling restart of 3 nodes makes at most 3). ", cfg.ChurnChanges)+
				"Leadership is unstable; each change stalls writes for an election. RaftElectionStorm pages at 4 in 5m while clients produce."),

		alert("RaftLeaderChanged", SeverityInfo, 0,
			fmt.Sprintf("%s >= 1", termChanges(cfg.StormWindow)),
			"Raft leadership changed in the last "+window+".",
			"The raft leader of job {{ $labels.job }} changed "+count+" time(s) in the last "+window+
				". One is an ordinary failover and needs no action"+
				fmt.Sprintf("; RaftLeaderChurn files a ticket at %d in %s.", cfg.ChurnChanges, cfg.ChurnWindow)),

		alert("RaftNoLeader", SeverityCritical, Duration(time.Minute),
			fmt.Sprintf("count by (job, cluster) (raft_has_leader%s == 0)\n==\ncount by (job, cluster) (raft_has_leader%s)", sel, sel),
			"No raft leader in {{ $labels.job }} for 1m.",
			"None of the {{ $value }} reachable raftline nodes in job {{ $labels.job }} has known a leader for 1m. "+
				"Produce requests fail and nothing commits until a leader is elected."),

		// The majority is of the voting membership, the largest any node
		// reported in the last hour, not of the scraped targets: a target
		// that service discovery drops leaves count(up) and would shrink
		// the majority with it. count(up) is the fallback for a cluster
		// that exported no raft_voters in the last hour.
		alert("RaftQuorumLost", SeverityCritical, Duration(time.Minute),
			fmt.Sprintf("sum by (job, cluster) (up%s)\n<\nfloor(%s / 2) + 1", sel, quorumVoters(cfg)),
			"raftline has lost quorum: {{ $value }} node(s) up.",
			"Only {{ $value }} of "+
				`{{ with printf "max(max_over_time(raft_voters{job=%q}[`+cfg.QuorumVotersWindow.String()+`])) or count(up{job=%q})" $labels.job $labels.job | query }}{{ . | first | value }}{{ end }}`+
				" raftline voters in job {{ $labels.job }} have been up for 1m, fewer than a majority. "+
				"Without a majority no leader can be elected and no write can commit: produce is unavailable."),

		// A leader whose disk hangs keeps its leadership (heartbeats go out
		// from other goroutines) while nothing commits: the append
		// histogram records a write only once it returns and commit latency
		// only on commit, so neither shows it. The age of the write still in
		// flight does. The leader writes only entries proposed to it, so a
		// write in flight means writes arrive and wait.
		alert("RaftCommitsStalled", SeverityCritical, Duration(30*time.Second),
			fmt.Sprintf("raft_log_store_append_oldest_inflight_seconds%s > %s\nand on (job, cluster, node_id)\nraft_state{job=%q, state=\"leader\"} == 1",
				sel, seconds(cfg.AppendStall), Job),
			"Commits stalled on leader {{ $labels.node_id }}: a log write has hung for {{ $value | humanizeDuration }}.",
			"The raft leader, node {{ $labels.node_id }} ({{ $labels.instance }}), has had a log store write (with its fsync) in flight for {{ $value | humanizeDuration }}"+
				fmt.Sprintf(" (threshold %v, for 30s). ", cfg.AppendStall)+
				"Nothing it leads commits meanwhile, and it keeps its leadership: every produce waits until its client times out. "+
				"The disk under its data directory is hung or failing."),

		// With no raftline target at all (discovery lost them, a relabelling
		// or job rename, a Prometheus that lost its configuration) every
		// other raftline alert is silent, RaftQuorumLost included.
		alert("RaftlineTargetsAbsent", SeverityCritical, Duration(5*time.Minute),
			fmt.Sprintf("absent(up%s)", sel),
			"Prometheus scrapes no raftline target.",
			"Prometheus has had no target in job "+Job+" for 5m: every raftline alert is blind, quorum loss included. "+
				"Check service discovery and the scrape configuration."),

		// A node that crashes and is restarted (by its supervisor) again
		// and again is out of the cluster half the time and makes an
		// election whenever it led; each restart replays its log. A deploy
		// restarts each node once.
		alert("RaftNodeCrashLooping", SeverityCritical, 0,
			fmt.Sprintf("changes(process_start_time_seconds%s[%s]) >= %d", sel, cfg.CrashLoopWindow, cfg.CrashLoopRestarts),
			"raftline node {{ $labels.instance }} is crash-looping.",
			"raftline node {{ $labels.instance }}{{ with $labels.node_id }} (node_id {{ . }}){{ end }} has restarted "+count+
				" times in the last "+cfg.CrashLoopWindow.String()+fmt.Sprintf(" (pages at %d; a deploy restarts a node once). ", cfg.CrashLoopRestarts)+
				"While it is down the cluster has no redundancy, and every restart of a leader costs an election. Its log says why it exits."),

		// Always firing: Alertmanager forwards it to a dead man's switch,
		// which pages when it stops arriving (Prometheus, its rules or its
		// path to Alertmanager are down).
		alert("Watchdog", SeverityInfo, 0, "vector(1)",
			"Alerting pipeline heartbeat.",
			"Always firing, so that a dead man's switch outside this stack pages when it stops hearing from Alertmanager: "+
				"then Prometheus, its rule evaluation or its notifications are down."),

		alert("RaftMemberDown", SeverityWarning, Duration(2*time.Minute),
			fmt.Sprintf("up%s == 0\nor\nraft_has_leader%s == 0", sel, sel),
			"raftline node {{ $labels.instance }} is down or has no leader.",
			"raftline node {{ $labels.instance }}{{ with $labels.node_id }} (node_id {{ . }}){{ end }} "+
				"has been unreachable by Prometheus, or running without a known leader, for 2m. "+
				"The cluster serves while a majority is healthy, but a 3-node cluster now survives no further failure."),

		// Lag is only reported for followers that are up and following: a
		// dead follower's lag grows without bound and is RaftMemberDown's
		// to report. This relies on follower_id values being node ids.
		alert("RaftFollowerLagging", SeverityWarning, Duration(5*time.Minute),
			fmt.Sprintf("raft_follower_lag_entries%s > %d\nand on (job, cluster, follower_id)\n"+
				`label_replace(raft_has_leader%s == 1, "follower_id", "$1", "node_id", "(.*)")`,
				sel, cfg.FollowerLagEntries, sel),
			"raft follower {{ $labels.follower_id }} is lagging behind the leader.",
			"Follower {{ $labels.follower_id }} is {{ $value | humanize }} entries behind leader {{ $labels.node_id }}"+
				fmt.Sprintf(" (threshold %d) and has been for 5m while still following. ", cfg.FollowerLagEntries)+
				"If it falls past the entries the leader keeps after a snapshot it needs a full snapshot install, "+
				"and it cannot take over leadership promptly."),

		alert("RaftCommitLatencyHigh", SeverityWarning, Duration(5*time.Minute),
			fmt.Sprintf("%s > %s", recCommitP99, seconds(cfg.CommitLatencyP99)),
			"Slow raft commits on leader {{ $labels.node_id }}.",
			"p99 propose-to-commit latency on leader {{ $labels.node_id }} is {{ $value | humanizeDuration }} over 5m"+
				fmt.Sprintf(" (threshold %v). ", cfg.CommitLatencyP99)+
				"Every acknowledged produce waits for a commit."),

		alert("RaftFsyncSlow", SeverityWarning, Duration(10*time.Minute),
			fmt.Sprintf("%s > %s", recFsyncP99, seconds(cfg.FsyncP99)),
			"Slow raft log fsync on node {{ $labels.node_id }}.",
			"p99 raft log store append (including fsync) on node {{ $labels.node_id }} is {{ $value | humanizeDuration }} over 5m"+
				fmt.Sprintf(" (threshold %v). ", cfg.FsyncP99)+
				"A slow disk delays commits on the leader and acknowledgements from followers, and can push the cluster into elections."),

		// max_over_time catches contact that keeps dipping towards the
		// election timeout between scrapes; the has_leader guard leaves
		// nodes that lost their leader entirely to RaftMemberDown.
		alert("RaftLastContactHigh", SeverityWarning, Duration(5*time.Minute),
			fmt.Sprintf("max_over_time(raft_last_contact_seconds%s[1m]) > %s\nand on (job, cluster, node_id)\nraft_has_leader%s == 1",
				sel, seconds(cfg.LastContact), sel),
			"Node {{ $labels.node_id }} hears from its raft leader late.",
			"Node {{ $labels.node_id }} has gone up to {{ $value | humanizeDuration }} without contact from its leader, "+
				fmt.Sprintf("above %v in every minute for 5m. ", cfg.LastContact)+
				"At the heartbeat timeout (1s by default) the follower starts an election."),

		alert("BrokerProduceErrorRate", SeverityWarning, Duration(5*time.Minute),
			fmt.Sprintf(`%s{api="Produce"} > %s`, recErrorRatio, num(cfg.ProduceErrorRatio)),
			"raftline Produce requests are failing.",
			"Produce requests in job {{ $labels.job }} returned {{ $value | humanizePercentage }} partition errors per request over 5m"+
				fmt.Sprintf(" (threshold %s).", percent(cfg.ProduceErrorRatio))),

		// Any node-scope wait means the node held --kafka-node-max-inflight-bytes:
		// an honest request waited and, while it did, connections whose frame
		// was silent for a second were closed (reason="budget"). Every such
		// closure comes from a frame that waits, counted when its wait began
		// (at most a frame timeout, 30s by default, before), so the waits
		// alone see every episode. The default budget is far above what
		// honest traffic holds at healthy commit latency, so the threshold
		// is any wait. The 5m window lets a lull in client traffic
		// (a wait needs a request arriving) and a slow scrape pass; with
		// `for: 10m` a burst, such as producers flushing their buffers after
		// a failover, stays quiet unless waits recur for 5 minutes or more.
		// Per-connection waits are one client's own back-pressure, and
		// refused requests (unknown_api_key) a client's misconfiguration
		// that the reject log summarises: neither is read here.
		alert("KafkaRequestBudgetSaturated", SeverityWarning, Duration(10*time.Minute),
			fmt.Sprintf(`sum by (job, cluster, node_id) (increase(raftline_kafka_budget_waits_total{job=%q, scope=%q}[5m])) > 0`,
				Job, "node"),
			"Kafka request bytes budget saturated on node {{ $labels.node_id }}.",
			"Node {{ $labels.node_id }} has reached its --kafka-node-max-inflight-bytes limit of request bytes in every 5m for 10m: "+
				count+" requests waited for room in the last 5m, and "+
				`{{ with printf "sum(increase(raftline_kafka_rejected_requests_total{job=%q, node_id=%q, reason=%q}[5m]))" $labels.job $labels.node_id "budget" | query }}{{ . | first | value | printf "%.0f" }}{{ else }}0{{ end }}`+
				" connections whose frame had gone silent were closed to make room. "+
				"Honest clients' requests are delayed: clients hold frames open without finishing them, "+
				"or requests arrive faster than the node handles them."),

		// Free space is what fills, whatever takes it: partitions, the
		// raft log, snapshots and everything else on the filesystem. The
		// node stops taking produces at its floor, so that is the line the
		// prediction is held to (0 without one: the disk is full).
		alert("DiskFillingUp", SeverityWarning, Duration(time.Hour),
			fmt.Sprintf("predict_linear(raftline_storage_free_bytes%s[6h], 24 * 3600)\n< raftline_storage_min_free_bytes%s\nand\n"+
				"raftline_storage_free_bytes%s < %s * raftline_storage_capacity_bytes%s",
				sel, sel, sel, num(1-cfg.DiskFillShare), sel),
			"Disk on node {{ $labels.node_id }} will reach its free-space floor within 24h.",
			"At its trend over the last 6h, free space on the filesystem holding node {{ $labels.node_id }}'s data directory (now "+
				freeNow+") would be {{ $value | humanize1024 }}B in 24h: it reaches the node's free-space floor of "+
				`{{ with printf "raftline_storage_min_free_bytes{job=%q,node_id=%q}" $labels.job $labels.node_id | query }}{{ . | first | value | humanize1024 }}B{{ end }}`+
				" within a day. There the node refuses produces while it leads, and a disk that fills stops it."),

		// Below the floor the node refuses every produce it leads; a
		// follower below it refuses them once it leads, and fills first.
		// Either way writes stop unless space is freed: a page.
		alert("DiskFreeSpaceBelowFloor", SeverityCritical, Duration(time.Minute),
			fmt.Sprintf("raftline_storage_free_bytes%s\n< raftline_storage_min_free_bytes%s", sel, sel),
			"Node {{ $labels.node_id }} is below its free-space floor: produces are refused.",
			"Free space on the filesystem holding node {{ $labels.node_id }}'s data directory is {{ $value | humanize1024 }}B, under its floor of "+
				`{{ with printf "raftline_storage_min_free_bytes{job=%q,node_id=%q}" $labels.job $labels.node_id | query }}{{ . | first | value | humanize1024 }}B{{ end }}`+
				" (--storage-min-free-bytes), and has been for 1m. While it leads, the node refuses every produce with KAFKA_STORAGE_ERROR ("+
				`{{ with printf "sum(increase(raftline_produce_refusals_total{job=%q,node_id=%q}[5m]))" $labels.job $labels.node_id | query }}{{ . | first | value | printf "%.0f" }}{{ end }}`+
				" refused in the last 5m); clients retry until their delivery timeout. Free space or raise capacity; lowering the floor only delays a full disk."),

		alert("SnapshotFailing", SeverityWarning, 0,
			fmt.Sprintf(`sum by (job, cluster, node_id) (increase(raft_snapshots_total{job=%q, result="failure"}[30m])) > 0`, Job),
			"raft snapshots are failing on node {{ $labels.node_id }}.",
			count+" snapshot(s) failed on node {{ $labels.node_id }} in the last 30m. "+
				"Until one succeeds the raft log cannot be compacted: it keeps growing on disk and restarts replay more of it."),

		// A node stops on its first storage error and exits after
		// --storage-fault-exit-delay (15s by default), so the counter is
		// seen at 1 by the scrapes in that window, after 0 from start.
		// increase() over an hour keeps the alert for an hour after, across
		// the process's exit (range vectors skip staleness markers) and a
		// restart (a reset). A node that exits before any scrape sees the
		// counter is RaftMemberDown's alone.
		alert("StorageFault", SeverityWarning, 0,
			fmt.Sprintf(`increase(raftline_storage_errors_total{job=%q}[1h]) > 0`, Job),
			"Node {{ $labels.node_id }} stopped on a storage fault ({{ $labels.op }}).",
			"raftline node {{ $labels.node_id }} ({{ $labels.instance }}) met a storage error ({{ $labels.op }}) in the last hour: "+
				"it stopped leading and serving, and exited so the others carry on. Its log names the path and the error. "+
				"A 3-node cluster now survives no further failure; if the disk is full, the other nodes hold the same data: check their free space too."),

		// A node holds four descriptors per partition segment, the same
		// segments on every node, plus its connections and its Raft log.
		// Segments go only when retention deletes them or their topic is
		// deleted; connections come and go. At the limit the next file the
		// node opens fails (a new segment, or the data directory probe
		// within a second): a storage fault, and the node stops. 80% leaves
		// a fifth of the limit for what arrives before someone acts: 13107
		// of 65536 descriptors is about 3300 segments, 400 GiB written at
		// the default 128 MiB segment.bytes but only 3.3 GiB at 1 MiB, and
		// the connections of a node that stops move to the others. `for:
		// 10m` lets a connection surge pass (clients reconnecting after a
		// failover, a burst of short-lived producers), while segments,
		// which stay, keep it firing.
		alert("FileDescriptorsNearLimit", SeverityWarning, Duration(10*time.Minute),
			fmt.Sprintf("process_open_fds%s\n/ process_max_fds%s\n> %s", sel, sel, num(cfg.FileDescriptorShare)),
			"Node {{ $labels.node_id }} has {{ $value | humanizePercentage }} of its file descriptor limit open.",
			"raftline node {{ $labels.node_id }} ({{ $labels.instance }}) has held more than "+percent(cfg.FileDescriptorShare)+
				" of its file descriptor limit for 10m: "+
				`{{ with printf "process_open_fds{job=%q,node_id=%q}" $labels.job $labels.node_id | query }}{{ . | first | value | printf "%.0f" }}{{ end }}`+
				" of "+
				`{{ with printf "process_max_fds{job=%q,node_id=%q}" $labels.job $labels.node_id | query }}{{ . | first | value | printf "%.0f" }}{{ end }}`+
				", of which partition segments hold "+
				`{{ with printf "4 * sum(raftline_partition_segments{job=%q,node_id=%q})" $labels.job $labels.node_id | query }}{{ . | first | value | printf "%.0f" }}{{ else }}none{{ end }}`+
				" (four per segment). At the limit the next file it opens fails, a new segment or its data directory probe within a second: a storage fault, and the node stops. "+
				"Every node holds the same segments, so the others are likely close too."),

		// A group falls behind when its lag keeps rising while members
		// are there to consume it. Lag in records also rises with the
		// traffic (lag is about the records written between two commits),
		// so the rule also wants the oldest unconsumed record to be minutes
		// old: a group that keeps up stays seconds behind however busy the
		// topic. A deploy restarts members and lets lag build for a minute
		// or two, then drains it: `for` is far longer. Groups without
		// members are ConsumerGroupLagNoMembers'.
		alert("ConsumerGroupLagGrowing", SeverityWarning, cfg.ConsumerLagGrowingFor,
			fmt.Sprintf("deriv(%s[%s]) > 0\nand on (job, cluster, group)\n%s > %s\nand on (job, cluster, group)\n%s > 0",
				recGroupLag, cfg.ConsumerLagGrowthWindow, recGroupLagAge, seconds(cfg.ConsumerLagMinAge), recGroupMembers),
			"Consumer group {{ $labels.group }} is falling behind.",
			"The lag of consumer group {{ $labels.group }} has grown for "+cfg.ConsumerLagGrowingFor.String()+
				" (by {{ $value | humanize }} records/s over the last "+cfg.ConsumerLagGrowthWindow.String()+") while it has members: it is "+
				groupQuery(recGroupLag, "%.0f")+" records behind, its oldest unconsumed record "+
				groupQuery(recGroupLagAge, "humanizeDuration")+" old, with "+groupQuery(recGroupMembers, "%.0f")+
				" member(s). Its consumers are slower than its producers or stuck; records it has not consumed are deleted once retention passes them."),

		// Lag nobody consumes: the consumers stopped or crashed, or the
		// group was abandoned with its offsets. A deploy that restarts
		// every member at once leaves a group empty for a rebalance or
		// two, far less than `for`.
		alert("ConsumerGroupLagNoMembers", SeverityWarning, cfg.ConsumerNoMembersFor,
			fmt.Sprintf("%s > 0\nand on (job, cluster, group)\n%s == 0", recGroupLag, recGroupMembers),
			"Consumer group {{ $labels.group }} has lag and no members.",
			"Consumer group {{ $labels.group }} has had no members for "+cfg.ConsumerNoMembersFor.String()+
				" while {{ $value | printf \"%.0f\" }} records wait for it; its oldest unconsumed record is "+
				groupQuery(recGroupLagAge, "humanizeDuration")+
				" old. Nothing consumes them until a consumer joins; records it has not consumed are deleted once retention passes them. "+
				"A group no application uses any more keeps its offsets until offsets.retention.minutes after it emptied: delete it."),

		// A member that is thrown out and rejoins (poll loop slower than
		// max.poll.interval.ms, session timeouts, a crash loop) makes the
		// group rebalance again and again, and with the classic protocol no
		// member consumes during a rebalance. A rolling deploy rebalances
		// about twice per restarted member, in a burst: the count must stay
		// over the threshold in every window for `for`, so churn lasted
		// window + for (30 minutes).
		alert("ConsumerGroupRebalanceStorm", SeverityWarning, cfg.RebalanceStormFor,
			fmt.Sprintf(`max by (job, cluster, group) (increase(raftline_consumer_group_rebalances_total{job=%q}[%s])) > %d`,
				Job, cfg.RebalanceStormWindow, cfg.RebalanceStormCount),
			"Consumer group {{ $labels.group }} keeps rebalancing.",
			"Consumer group {{ $labels.group }} rebalanced "+count+" times in the last "+cfg.RebalanceStormWindow.String()+
				fmt.Sprintf(" (threshold %d), in every window for %s. ", cfg.RebalanceStormCount, cfg.RebalanceStormFor)+
				"Members are leaving and rejoining, typically a poll loop slower than max.poll.interval.ms, missed heartbeats or a crash loop; "+
				"while it rebalances the group consumes nothing."),

		// Resident memory against the limit the process runs under (its
		// cgroup's memory.max, or GOMEMLIMIT): at the cgroup limit the
		// kernel kills it, at GOMEMLIMIT the Go runtime spends its CPU on
		// garbage collection. A node without a limit exports +Inf and
		// this stays silent.
		alert("MemoryNearLimit", SeverityWarning, Duration(10*time.Minute),
			fmt.Sprintf("process_resident_memory_bytes%s\n/ on (job, cluster, instance, node_id)\nraftline_memory_limit_bytes%s\n> %s",
				sel, sel, num(cfg.MemoryShare)),
			"Node {{ $labels.node_id }} uses {{ $value | humanizePercentage }} of its memory limit.",
			"raftline node {{ $labels.node_id }} ({{ $labels.instance }}) has held more than "+percent(cfg.MemoryShare)+
				" of its memory limit resident for 10m ("+
				`{{ with printf "raftline_memory_limit_bytes{job=%q,node_id=%q}" $labels.job $labels.node_id | query }}{{ . | first | value | humanize1024 }}B{{ end }}`+
				", the smaller of its cgroup's memory.max and GOMEMLIMIT). At the cgroup limit the kernel kills it (an OOM kill, then a restart); "+
				"near GOMEMLIMIT the Go runtime collects garbage constantly and every request slows."),

		// The leader's clock stamps LogAppendTime and decides time-based
		// retention and segment rolls: ahead of its followers', it deletes
		// early, and timestamps move backwards when leadership moves to a
		// follower. etcd warns at a 1s drift between members, as here.
		alert("RaftLeaderClockSkew", SeverityWarning, cfg.ClockSkewFor,
			fmt.Sprintf("abs(%s) > %s", recLeaderSkew, seconds(cfg.ClockSkew)),
			"Node {{ $labels.node_id }}'s clock is {{ $value | humanizeDuration }} off the leader's.",
			"The wall clock of raftline node {{ $labels.node_id }} ({{ $labels.instance }}) has been more than "+cfg.ClockSkew.String()+
				" off the raft leader's for "+cfg.ClockSkewFor.String()+" (now "+
				`{{ with printf "`+recLeaderSkew+`{job=%q,node_id=%q}" $labels.job $labels.node_id | query }}{{ . | first | value | printf "%+.3f" }}s, positive when the leader is ahead{{ end }}`+
				"). The leader's clock stamps LogAppendTime and drives retention.ms and segment.ms: record timestamps jump when leadership moves, "+
				"and a leader ahead of the others deletes segments early. NTP (chrony, systemd-timesyncd) is not keeping the clocks in step."),

		// Spans the node made and dropped: traces of produces are missing
		// in Jaeger, nothing else. A ticket, after the drops lasted long
		// enough to be more than a collector restart.
		alert("TraceSpansDropped", SeverityWarning, Duration(15*time.Minute),
			fmt.Sprintf(`sum by (job, cluster, instance, node_id, reason) (increase(raftline_trace_spans_dropped_total{job=%q}[10m])) > 0`, Job),
			"Node {{ $labels.node_id }} is dropping trace spans ({{ $labels.reason }}).",
			"raftline node {{ $labels.node_id }} dropped "+count+" finished spans in the last 10m ({{ $labels.reason }}), in every 10m for 15m: "+
				"queue_full means the OTLP receiver is down or slower than spans are made, export_failed that it refuses them. "+
				"Traces of the affected requests are missing; producing and consuming are not affected."),

		alert("ScrapeTargetDown", SeverityWarning, Duration(3*time.Minute),
			`up{job=~"raftline|loadgen|canary|otelcol"} == 0`,
			"Prometheus cannot scrape {{ $labels.instance }}.",
			"Prometheus has failed to scrape {{ $labels.instance }} (job {{ $labels.job }}) for 3m. "+
				"Its metrics are missing from dashboards and from every other alert; "+
				"for a raftline node, RaftMemberDown says whether the cluster lost it too."),
	}
}

// alert builds an alerting rule with the labels and annotations every
// raftline alert carries.
func alert(name, severity string, forDur Duration, expr, summary, description string) Rule {
	return Rule{
		Alert:  name,
		Expr:   expr,
		For:    forDur,
		Labels: map[string]string{"severity": severity},
		Annotations: &Annotations{
			Summary:     summary,
			Description: description,
			RunbookURL:  RunbookURL(name),
		},
	}
}

// groupQuery renders, in an alert's annotation, the value of a per-group
// recorded series for the alert's group: format is a printf verb or a
// Prometheus template function (humanizeDuration).
func groupQuery(record, format string) string {
	render := `printf "` + format + `"`
	if !strings.HasPrefix(format, "%") {
		render = format
	}
	return `{{ with printf "` + record + `{job=%q,group=%q}" $labels.job $labels.group | query }}{{ . | first | value | ` + render + ` }}{{ else }}0{{ end }}`
}

// seconds renders d as a PromQL number of seconds.
func seconds(d time.Duration) string { return num(d.Seconds()) }

func num(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

func percent(f float64) string { return num(f*100) + "%" }
