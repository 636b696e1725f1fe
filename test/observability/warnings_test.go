package observability

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/raftline/raftline/alerts"
	"github.com/raftline/raftline/broker/clustertest"
	"github.com/raftline/raftline/internal/clusterspec"
)

// memLimitedNode is the node started with a Go memory limit below what any
// raftline process holds resident.
const memLimitedNode = 3

// TestAlerts_LiveCluster_MemoryLimitAndSpanDropsAndClockSkew runs the rules
// whose `for` is too long to wait out (10 and 15 minutes; promtool proves
// those) against what real nodes export, scraped by a real Prometheus: a
// node whose GOMEMLIMIT is below its resident memory, and nodes whose trace
// exporter points at an OTLP address nobody listens on, must make
// MemoryNearLimit and TraceSpansDropped active (pending, then firing), for
// the limited node alone and for the nodes that drop spans; and the leader
// clock skew is recorded for both followers of healthy clocks, well under
// RaftLeaderClockSkew's threshold, which stays quiet.
func TestAlerts_LiveCluster_MemoryLimitAndSpanDropsAndClockSkew(t *testing.T) {
	dir := t.TempDir()
	ps := newProcs(t)
	ports := clustertest.FreePorts(t, 11)
	// An address that refuses connections: a port taken from the free
	// block and never listened on.
	deadOTLP := "http://" + hostPort(ports[10])
	env := []string{
		"OTEL_EXPORTER_OTLP_ENDPOINT=" + deadOTLP,
		// A small export queue, so that spans are dropped within seconds.
		"OTEL_BSP_MAX_QUEUE_SIZE=16", "OTEL_BSP_SCHEDULE_DELAY=100", "OTEL_BSP_EXPORT_TIMEOUT=500",
	}
	const memLimit = "16MiB"
	c := startClusterWith(t, ps, dir, ports[:9], env, func(sn clusterspec.Node, bin string, args []string) (string, []string) {
		if sn.ID != memLimitedNode {
			return bin, args
		}
		return "/usr/bin/env", append([]string{"GOMEMLIMIT=" + memLimit, bin}, args...)
	}, nodeFlags...)
	prom := c.startPrometheus(t, ps, dir, hostPort(ports[9]))

	// Traced produces make spans on the leader (the request, the write)
	// and on the followers (their store and apply of each entry).
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.kafkaAddrs()...), kgo.DefaultProduceTopic("warnings"),
		kgo.AllowAutoTopicCreation(), kgo.RequiredAcks(kgo.AllISRAcks()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	produced := make(chan error, 1)
	go func() {
		var last error
		for i := 0; ctx.Err() == nil; i++ {
			if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte(fmt.Sprint("r", i))}).FirstErr(); err != nil && ctx.Err() == nil {
				last = err
			}
		}
		produced <- last
	}()

	active := func(alert string) ([]string, error) {
		ss, err := prom.query(fmt.Sprintf(`ALERTS{alertname=%q}`, alert))
		if err != nil {
			return nil, err
		}
		var nodes []string
		for _, s := range ss {
			nodes = append(nodes, s.Metric["node_id"])
		}
		slices.Sort(nodes)
		return slices.Compact(nodes), nil
	}
	limited := fmt.Sprint(memLimitedNode)
	waitFor(t, 60*time.Second, "MemoryNearLimit to be active for node "+limited, func() error {
		nodes, err := active("MemoryNearLimit")
		if err != nil {
			return err
		}
		if !slices.Contains(nodes, limited) {
			share, _ := prom.query(`process_resident_memory_bytes{job="raftline"} / raftline_memory_limit_bytes{job="raftline"}`)
			return fmt.Errorf("MemoryNearLimit active for nodes %v; resident/limit: %v", nodes, share)
		}
		return nil
	})
	if nodes, _ := active("MemoryNearLimit"); !slices.Equal(nodes, []string{limited}) {
		t.Errorf("MemoryNearLimit active for nodes %v, want only the limited node %s (the others have no limit)", nodes, limited)
	}
	limit, err := prom.query(fmt.Sprintf(`raftline_memory_limit_bytes{job="raftline", node_id=%q}`, limited))
	if err != nil || len(limit) != 1 || limit[0].last() != 16<<20 {
		t.Errorf("raftline_memory_limit_bytes of node %s = %v (%v), want GOMEMLIMIT=%s", limited, limit, err, memLimit)
	}

	waitFor(t, 60*time.Second, "TraceSpansDropped to be active", func() error {
		nodes, err := active("TraceSpansDropped")
		if err != nil {
			return err
		}
		if len(nodes) == 0 {
			dropped, _ := prom.query(`raftline_trace_spans_dropped_total{job="raftline"}`)
			return fmt.Errorf("TraceSpansDropped not active; dropped: %v", dropped)
		}
		t.Logf("TraceSpansDropped active for nodes %v", nodes)
		return nil
	})

	// Healthy clocks: a recorded skew for each follower, far below the
	// threshold, and no alert.
	threshold := alerts.DefaultConfig().ClockSkew.Seconds()
	waitFor(t, 30*time.Second, "the leader clock skew of both followers to be recorded", func() error {
		ss, err := prom.query(`node_id:raftline_leader_clock_skew_seconds:diff`)
		if err != nil {
			return err
		}
		if len(ss) != 2 {
			return fmt.Errorf("recorded skew for %d nodes, want the two followers: %v", len(ss), ss)
		}
		for _, s := range ss {
			if v := s.last(); v < -threshold/2 || v > threshold/2 {
				t.Errorf("node %s: leader clock skew %.3fs on one host, want well under %vs", s.Metric["node_id"], v, threshold)
			}
		}
		return nil
	})
	if nodes, err := active("RaftLeaderClockSkew"); err != nil || len(nodes) > 0 {
		t.Errorf("RaftLeaderClockSkew active for %v (%v) with every node on one clock", nodes, err)
	}

	cancel()
	if err := <-produced; err != nil && !strings.Contains(err.Error(), "context canceled") {
		t.Errorf("producing while the alerts were checked: %v", err)
	}
}
