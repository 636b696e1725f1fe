package telemetry_test

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/raftline/raftline/broker/clustertest"
	"github.com/raftline/raftline/broker/fsm"
	"github.com/raftline/raftline/broker/server"
	"github.com/raftline/raftline/telemetry/catalog"
)

// onlyOnLeader are the catalogued metrics a node exports only once it has
// led or served clients as the leader.
var onlyOnLeader = map[string]bool{
	"raft_follower_lag_entries":    true,
	"raft_commit_duration_seconds": true,
	"raft_replication_rtt_seconds": true,
	// Only proposals this node made as leader queue.
	"raft_proposal_queue_duration_seconds": true,
	"raftline_produced_records_total":      true,
	"raftline_produced_bytes_total":        true,
	"raftline_fetched_records_total":       true,
	"raftline_fetched_bytes_total":         true,
	// Only written produces are timed; followers answer none.
	"raftline_produce_duration_seconds": true,
}

// onlyOnDisk are the catalogued metrics of partitions kept in segment
// files: a node with --storage memory exports none of them.
var onlyOnDisk = map[string]bool{
	"raftline_partition_segments":            true,
	"raftline_partition_index_size_bytes":    true,
	"raftline_storage_sync_duration_seconds": true,
}

// onlyAfterSync are exported once a node has synced a partition's segments:
// by a snapshot's restore, or at shutdown.
var onlyAfterSync = map[string]bool{"raftline_storage_sync_duration_seconds": true}

// exercise drives a cluster through what makes every catalogued series
// exist: a topic, produces and fetches through a consumer group that
// commits, an error answer on every node, and a snapshot on every node.
func exercise(t *testing.T, c *clustertest.Cluster, topic string, records int) {
	t.Helper()
	c.CreateTopic(topic, 2)
	ctx, cancel := context.WithTimeout(clustertest.Ctx(t), 30*time.Second)
	defer cancel()
	cl := c.Client(kgo.DefaultProduceTopic(topic), kgo.RequiredAcks(kgo.AllISRAcks()))
	var rs []*kgo.Record
	for i := range records {
		rs = append(rs, &kgo.Record{Value: []byte(strings.Repeat("x", 100) + strconv.Itoa(i))})
	}
	if err := cl.ProduceSync(ctx, rs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	// Through a consumer group that commits, so the group metrics exist.
	consumer := c.Client(kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.ConsumerGroup(topic+"-group"), kgo.DisableAutoCommit())
	got := 0
	for got < records {
		fs := consumer.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("consumed %d of %d records", got, records)
		}
		got += fs.NumRecords()
	}
	if err := consumer.CommitUncommittedOffsets(ctx); err != nil {
		t.Fatalf("commit: %v", err)
	}
	clustertest.Wait(t, 30*time.Second, "every node to apply the group's commit", func() error {
		for _, n := range c.Nodes {
			gs := n.Server().Cluster.ConsumerGroups()
			if len(gs) != 1 || len(gs[0].Offsets) == 0 {
				return fmt.Errorf("node %d holds groups %+v", n.ID, gs)
			}
		}
		return nil
	})
	// A produce to a partition that does not exist, sent to every node:
	// followers answer NOT_LEADER_OR_FOLLOWER, the leader
	// UNKNOWN_TOPIC_OR_PARTITION.
	for _, n := range c.Nodes {
		req := kmsg.NewPtrProduceRequest()
		req.Acks, req.TimeoutMillis = -1, 5000
		rt := kmsg.NewProduceRequestTopic()
		rt.Topic = topic
		rp := kmsg.NewProduceRequestTopicPartition()
		rp.Partition = 99
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		if _, err := req.RequestWith(ctx, cl.Broker(int(n.ID))); err != nil {
			t.Fatalf("produce to node %d: %v", n.ID, err)
		}
	}
	for _, n := range c.Nodes {
		if err := n.Server().Node.Snapshot(); err != nil {
			t.Fatalf("snapshot on node %d: %v", n.ID, err)
		}
	}
}

// TestCluster_Metrics_ExportsExactlyTheCatalogue holds every node's
// /metrics to the metric catalogue (telemetry/catalog, docs/METRICS.md):
// every catalogued metric with its type, HELP text and label names, label
// values from the catalogue's fixed sets, node_id on every series, and
// nothing of raftline's own that the catalogue does not list.
//
// It runs with each storage: with --storage memory the segment metrics must
// be absent; with --storage disk a follower is restarted, so that restoring
// its snapshot syncs segments and the sync histogram exists there.
func TestCluster_Metrics_ExportsExactlyTheCatalogue(t *testing.T) {
	for _, storage := range []fsm.Storage{fsm.Memory, fsm.Disk} {
		t.Run(string(storage), func(t *testing.T) { exportsExactlyTheCatalogue(t, storage) })
	}
}

func exportsExactlyTheCatalogue(t *testing.T, storage fsm.Storage) {
	c, _ := startClusterWith(t, 3, nil, func(cfg *server.Config) { cfg.Storage = storage })
	exercise(t, c, "metrics", 50)
	synced := map[int32]bool{}
	if storage == fsm.Disk {
		f := c.Followers()[0]
		c.Restart(f)
		c.WaitReplicasIdentical()
		synced[f.ID] = true
	}
	leader := c.Leader()
	cat := catalog.ByJob(catalog.Job)

	for _, n := range c.Nodes {
		fams := scrape(t, n)
		id := strconv.Itoa(int(n.ID))
		for _, d := range cat {
			f := fams[d.Name]
			if onlyOnDisk[d.Name] && storage == fsm.Memory {
				if f != nil {
					t.Errorf("node %d: %s exported with --storage memory", n.ID, d.Name)
				}
				continue
			}
			if f == nil {
				if (n == leader || !onlyOnLeader[d.Name]) && (synced[n.ID] || !onlyAfterSync[d.Name]) {
					t.Errorf("node %d: %s missing from /metrics", n.ID, d.Name)
				}
				continue
			}
			if got := strings.ToLower(f.GetType().String()); got != string(d.Type) {
				t.Errorf("node %d: %s is a %s, the catalogue says %s", n.ID, d.Name, got, d.Type)
			}
			if f.GetHelp() != d.Help {
				t.Errorf("node %d: %s has help text\n\t%q\nthe catalogue says\n\t%q", n.ID, d.Name, f.GetHelp(), d.Help)
			}
			want := d.LabelNames()
			for _, m := range f.Metric {
				ls := labels(m)
				var names []string
				for k := range ls {
					names = append(names, k)
				}
				slices.Sort(names)
				if !slices.Equal(names, want) {
					t.Errorf("node %d: %s has labels %v, the catalogue says %v", n.ID, d.Name, names, want)
				}
				if got := ls["node_id"]; got != id {
					t.Errorf("node %d: %s has node_id %q", n.ID, d.Name, got)
				}
				for _, l := range d.Labels {
					if v, ok := ls[l.Name]; ok && l.Values != nil && !slices.Contains(l.Values, v) {
						t.Errorf("node %d: %s has %s=%q, the catalogue says it is one of %v", n.ID, d.Name, l.Name, v, l.Values)
					}
				}
			}
			if d.Type == catalog.Histogram {
				checkBuckets(t, n.ID, f)
			}
		}
		for name := range fams {
			if !slices.ContainsFunc(cat, func(m catalog.Metric) bool { return m.Name == name }) && !catalog.IsRuntime(name) {
				t.Errorf("node %d exports %s, which the metric catalogue does not list", n.ID, name)
			}
		}
		for name, f := range fams {
			for _, m := range f.Metric {
				if labels(m)["node_id"] != id {
					t.Errorf("node %d: %s series %v lacks node_id=%s", n.ID, name, labels(m), id)
				}
				for k := range labels(m) {
					if strings.HasPrefix(k, "otel_") {
						t.Errorf("node %d: %s carries the exporter label %s", n.ID, name, k)
					}
				}
			}
		}
		// The descriptor pair is what FileDescriptorsNearLimit divides.
		for _, name := range []string{"go_goroutines", "go_memstats_heap_alloc_bytes", "process_cpu_seconds_total", "process_resident_memory_bytes",
			"process_open_fds", "process_max_fds"} {
			if fams[name] == nil {
				t.Errorf("node %d: runtime/process metric %s missing", n.ID, name)
			}
		}
		if fams["target_info"] != nil {
			t.Errorf("node %d exports target_info", n.ID)
		}
		if v := value(fams, "raft_snapshots_total", map[string]string{"result": "failure"}); v != 0 {
			t.Errorf("node %d: raft_snapshots_total{result=failure} = %v", n.ID, v)
		}
		if v := value(fams, "raft_snapshots_total", map[string]string{"result": "success"}); v < 1 {
			t.Errorf("node %d: raft_snapshots_total{result=success} = %v after a snapshot", n.ID, v)
		}
		if v := value(fams, "raft_snapshot_size_bytes", nil); v <= 0 {
			t.Errorf("node %d: raft_snapshot_size_bytes = %v after a snapshot", n.ID, v)
		}
		if v := value(fams, "raft_log_size_bytes", nil); v <= 0 {
			t.Errorf("node %d: raft_log_size_bytes = %v", n.ID, v)
		}
		wantCode := "NOT_LEADER_OR_FOLLOWER"
		if n == leader {
			wantCode = "UNKNOWN_TOPIC_OR_PARTITION"
		}
		if v := value(fams, "raftline_kafka_request_errors_total", map[string]string{"api": "Produce", "error_code": wantCode}); v < 1 {
			t.Errorf("node %d: no Produce %s counted", n.ID, wantCode)
		}
		// follower_id values are node ids, as the alert rules join them.
		if n == leader {
			var want []string
			for _, f := range c.Followers() {
				want = append(want, strconv.Itoa(int(f.ID)))
			}
			slices.Sort(want)
			for _, name := range []string{"raft_follower_lag_entries", "raft_replication_rtt_seconds"} {
				var ids []string
				for _, m := range fams[name].GetMetric() {
					ids = append(ids, labels(m)["follower_id"])
				}
				slices.Sort(ids)
				if !slices.Equal(ids, want) {
					t.Errorf("%s follower_id values %v, want %v", name, ids, want)
				}
			}
		}
	}
}

func checkBuckets(t *testing.T, node int32, f *dto.MetricFamily) {
	t.Helper()
	for _, m := range f.Metric {
		var bounds []float64
		for _, b := range m.GetHistogram().GetBucket() {
			bounds = append(bounds, b.GetUpperBound())
		}
		if len(bounds) < 10 || bounds[0] > 0.0001 || !slices.Contains(bounds, 0.001) || !slices.Contains(bounds, 10) {
			t.Errorf("node %d: %s buckets %v do not resolve sub-millisecond latencies up to 10s", node, f.GetName(), bounds)
		}
	}
}

func TestCluster_Metrics_RaftCountersRiseWithIdleTimeAndProduces(t *testing.T) {
	c, _ := startCluster(t, 3, nil)
	c.CreateTopic("rise", 1)
	leader := c.Leader()
	followers := c.Followers()
	sent := map[string]string{"direction": "sent"}
	received := map[string]string{"direction": "received"}

	// Idle: the leader's heartbeats go on.
	hb := value(scrape(t, leader), "raft_heartbeats_total", sent)
	hbf := map[int32]float64{}
	for _, f := range followers {
		hbf[f.ID] = value(scrape(t, f), "raft_heartbeats_total", received)
	}
	clustertest.WaitFor(t, 10*time.Second, "heartbeats to rise while idle", func() bool {
		if value(scrape(t, leader), "raft_heartbeats_total", sent) <= hb {
			return false
		}
		for _, f := range followers {
			if value(scrape(t, f), "raft_heartbeats_total", received) <= hbf[f.ID] {
				return false
			}
		}
		return true
	})

	before := map[int32]map[string]*dto.MetricFamily{}
	for _, n := range c.Nodes {
		before[n.ID] = scrape(t, n)
	}
	const records = 20
	cl := c.Client(kgo.DefaultProduceTopic("rise"), kgo.RequiredAcks(kgo.AllISRAcks()))
	ctx, cancel := context.WithTimeout(clustertest.Ctx(t), 30*time.Second)
	defer cancel()
	for i := range records {
		// One at a time: each produce is its own Raft entry.
		if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte("r" + strconv.Itoa(i))}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	c.WaitReplicasIdentical()
	topic := map[string]string{"topic": "rise"}
	clustertest.WaitFor(t, 10*time.Second, "produce counters and gauges to rise", func() bool {
		for _, n := range c.Nodes {
			b, a := before[n.ID], scrape(t, n)
			dir := received
			if n == leader {
				dir = sent
			}
			if value(a, "raft_append_entries_total", dir)-value(b, "raft_append_entries_total", dir) < 1 ||
				value(a, "raft_commit_index", nil)-value(b, "raft_commit_index", nil) < records ||
				value(a, "raft_applied_index", nil)-value(b, "raft_applied_index", nil) < records ||
				value(a, "raft_log_entries", nil)-value(b, "raft_log_entries", nil) < records ||
				value(a, "raft_fsm_apply_duration_seconds", nil)-value(b, "raft_fsm_apply_duration_seconds", nil) < records ||
				value(a, "raft_log_store_append_duration_seconds", nil) <= value(b, "raft_log_store_append_duration_seconds", nil) ||
				value(a, "raftline_partition_high_watermark", topic) != records {
				return false
			}
		}
		return true
	})
	a, b := scrape(t, leader), before[leader.ID]
	if got := value(a, "raftline_produced_records_total", topic); got != records {
		t.Errorf("raftline_produced_records_total{topic=rise} = %v, want %d", got, records)
	}
	if got := value(a, "raftline_produced_bytes_total", topic); got < records*61 {
		t.Errorf("raftline_produced_bytes_total{topic=rise} = %v, want at least %d batch headers' worth", got, records*61)
	}
	produce := map[string]string{"api": "Produce"}
	if d := value(a, "raftline_kafka_requests_total", produce) - value(b, "raftline_kafka_requests_total", produce); d < records {
		t.Errorf("raftline_kafka_requests_total{api=Produce} rose by %v, want at least %d", d, records)
	}
	if d := value(a, "raftline_kafka_request_duration_seconds", produce) - value(b, "raftline_kafka_request_duration_seconds", produce); d < records {
		t.Errorf("raftline_kafka_request_duration_seconds{api=Produce} observed %v more requests, want at least %d", d, records)
	}
	if d := value(a, "raft_commit_duration_seconds", nil) - value(b, "raft_commit_duration_seconds", nil); d < records {
		t.Errorf("raft_commit_duration_seconds observed %v more commits, want at least %d", d, records)
	}
	// Every entry the leader proposed queued before its write; a
	// follower proposes nothing.
	if d := value(a, "raft_proposal_queue_duration_seconds", nil) - value(b, "raft_proposal_queue_duration_seconds", nil); d < records {
		t.Errorf("raft_proposal_queue_duration_seconds observed %v more proposals, want at least %d", d, records)
	}
	for _, f := range c.Followers() {
		if v := value(scrape(t, f), "raft_proposal_queue_duration_seconds", nil); v != 0 {
			t.Errorf("follower %d timed %v proposals' queue wait, want none", f.ID, v)
		}
	}
	// The node's clock, read as it answers: between the scrape's start and
	// its end here.
	t0 := time.Now()
	clock := value(scrape(t, leader), "raftline_node_time_seconds", nil)
	if t1 := time.Now(); clock < float64(t0.UnixNano())/1e9 || clock > float64(t1.UnixNano())/1e9 {
		t.Errorf("raftline_node_time_seconds = %.3f, want between %.3f and %.3f", clock, float64(t0.UnixNano())/1e9, float64(t1.UnixNano())/1e9)
	}
	for _, f := range c.Followers() {
		fid := map[string]string{"follower_id": strconv.Itoa(int(f.ID))}
		if d := value(a, "raft_replication_rtt_seconds", fid) - value(b, "raft_replication_rtt_seconds", fid); d < 1 {
			t.Errorf("raft_replication_rtt_seconds{follower_id=%d} timed %v more AppendEntries after produces, want at least 1", f.ID, d)
		}
	}
	if v := value(a, "raftline_connections", nil); v < 1 {
		t.Errorf("raftline_connections = %v on the leader with a client connected", v)
	}
}

// TestCluster_Metrics_GaugesAgreeWithClusterView compares each node's
// gauges with what its /v1/cluster says, at a moment no write moved the
// indexes between the two reads.
func TestCluster_Metrics_GaugesAgreeWithClusterView(t *testing.T) {
	c, _ := startCluster(t, 3, nil)
	exercise(t, c, "agree", 10)
	for _, n := range c.Nodes {
		var mismatch string
		clustertest.WaitFor(t, 20*time.Second, "node "+strconv.Itoa(int(n.ID))+"'s gauges to agree with /v1/cluster", func() bool {
			v1 := clusterView(t, n)
			fams := scrape(t, n)
			v2 := clusterView(t, n)
			if v1.CommitIndex != v2.CommitIndex || v1.AppliedIndex != v2.AppliedIndex || v1.Term != v2.Term || v1.LeaderID != v2.LeaderID {
				mismatch = "cluster moved during the scrape"
				return false
			}
			voters := 0
			for _, m := range v1.Members {
				if m.Suffrage == "voter" {
					voters++
				}
			}
			checks := []struct {
				name string
				got  float64
				want float64
			}{
				{"raft_current_term", value(fams, "raft_current_term", nil), float64(v1.Term)},
				{"raft_commit_index", value(fams, "raft_commit_index", nil), float64(v1.CommitIndex)},
				{"raft_applied_index", value(fams, "raft_applied_index", nil), float64(v1.AppliedIndex)},
				{"raft_state{state=" + v1.State + "}", value(fams, "raft_state", map[string]string{"state": v1.State}), 1},
				{"raft_state (sum)", value(fams, "raft_state", nil), 1},
				{"raft_has_leader", value(fams, "raft_has_leader", nil), 1},
				{"raft_leader_info{leader_id}", value(fams, "raft_leader_info", map[string]string{"leader_id": strconv.Itoa(int(v1.LeaderID))}), 1},
				{"raft_voters", value(fams, "raft_voters", nil), float64(voters)},
				{"raftline_build_info{role}", value(fams, "raftline_build_info", map[string]string{"role": v1.State}), 1},
			}
			mismatch = ""
			for _, ch := range checks {
				if ch.got != ch.want {
					mismatch += ch.name + " = " + strconv.FormatFloat(ch.got, 'f', -1, 64) + ", /v1/cluster says " + strconv.FormatFloat(ch.want, 'f', -1, 64) + "; "
				}
			}
			return mismatch == ""
		})
		if mismatch != "" {
			t.Errorf("node %d: %s", n.ID, mismatch)
		}
	}
}

func TestCluster_Metrics_LeaderKilled_ElectionAndVotesCounted(t *testing.T) {
	c, _ := startCluster(t, 3, nil)
	old := c.Leader()
	survivors := c.Followers()
	elections := map[int32]float64{}
	var votes float64
	for _, n := range survivors {
		fams := scrape(t, n)
		elections[n.ID] = value(fams, "raft_leader_elections_total", nil)
		votes += value(fams, "raft_vote_requests_total", nil)
	}
	c.Kill(old)
	nl := c.Leader()
	clustertest.WaitFor(t, 10*time.Second, "every survivor to count the election", func() bool {
		var v float64
		for _, n := range survivors {
			fams := scrape(t, n)
			if value(fams, "raft_leader_elections_total", nil) <= elections[n.ID] {
				return false
			}
			if value(fams, "raft_leader_info", map[string]string{"leader_id": strconv.Itoa(int(nl.ID))}) != 1 {
				return false
			}
			v += value(fams, "raft_vote_requests_total", nil)
		}
		return v > votes
	})
	fams := scrape(t, nl)
	if value(fams, "raft_vote_requests_total", map[string]string{"direction": "sent"}) < 1 {
		t.Errorf("new leader %d sent no RequestVote", nl.ID)
	}
	if value(fams, "raft_state", map[string]string{"state": "leader"}) != 1 {
		t.Errorf("new leader %d's raft_state{state=leader} is not 1", nl.ID)
	}
}

// TestCluster_Metrics_ElectionStorm_SteepRiseOnEveryNode moves leadership
// again and again; every node counts every election.
func TestCluster_Metrics_ElectionStorm_SteepRiseOnEveryNode(t *testing.T) {
	c, _ := startCluster(t, 3, nil)
	before := map[int32]float64{}
	for _, n := range c.Nodes {
		before[n.ID] = value(scrape(t, n), "raft_leader_elections_total", nil)
	}
	const rounds = 6
	for i := range rounds {
		l := c.Leader()
		if err := l.Server().Node.Raft().LeadershipTransfer().Error(); err != nil {
			t.Fatalf("round %d: leadership transfer: %v", i, err)
		}
		clustertest.WaitFor(t, 10*time.Second, "a new leader", func() bool {
			nl := c.Leader()
			return nl != l && nl.Server().Node.Leader() == nl.ID
		})
		c.WaitStable()
	}
	clustertest.WaitFor(t, 10*time.Second, "every node to count every election", func() bool {
		for _, n := range c.Nodes {
			if value(scrape(t, n), "raft_leader_elections_total", nil)-before[n.ID] < rounds {
				return false
			}
		}
		return true
	})
}
