//go:build linux

package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/raftline/raftline/loadgen"
	"github.com/raftline/raftline/loadgen/kafka"
)

// latencyRun is one loadgen e2e run.
type latencyRun struct {
	Rate     float64 `json:"rate"`
	Group    bool    `json:"group"`
	Run      int     `json:"run"`
	Topic    string  `json:"topic"`
	P50Ms    float64 `json:"e2e_p50_ms"`
	P99Ms    float64 `json:"e2e_p99_ms"`
	PubP50Ms float64 `json:"publish_p50_ms"`
	PubP99Ms float64 `json:"publish_p99_ms"`
	Count    int64   `json:"count"`
	// Verified says every acknowledged record was consumed exactly once.
	Verified bool   `json:"verified"`
	LagMax   int64  `json:"lag_max"`
	Err      string `json:"error,omitempty"`
}

// latencyConsumers and latencyPartitions: three consumers, one partition
// each, with or without a group.
const latencyConsumers, latencyPartitions = 3, 3

// latencies runs loadgen e2e at every rate, with and without a group, runs
// interleaved so that the machine's moods fall on both alike.
func latencies(ctx context.Context, c *cluster, cfg config) ([]latencyRun, error) {
	var out []latencyRun
	for _, rate := range cfg.Rates {
		for i := range cfg.Runs {
			for _, group := range []bool{false, true} {
				r, err := latencyOnce(ctx, c, cfg, rate, group, i)
				out = append(out, r)
				fmt.Fprintf(os.Stderr, "groups: e2e %.0f/s group=%v run %d: p50 %.2f ms p99 %.2f ms (publish p99 %.2f ms), verified %v %s\n",
					rate, group, i+1, r.P50Ms, r.P99Ms, r.PubP99Ms, r.Verified, r.Err)
				if err != nil {
					return out, err
				}
			}
		}
	}
	return out, nil
}

func latencyOnce(ctx context.Context, c *cluster, cfg config, rate float64, group bool, i int) (latencyRun, error) {
	mode := "direct"
	if group {
		mode = "group"
	}
	r := latencyRun{Rate: rate, Group: group, Run: i + 1, Topic: fmt.Sprintf("bench-groups-e2e-%.0f-%s-%d", rate, mode, i+1)}
	lc := loadgen.Config{
		Command: loadgen.CmdE2E, Brokers: c.brokers(), Topic: r.Topic,
		Partitions: latencyPartitions, Replication: -1,
		Size: 100, Producers: 1, Acks: "all", Idempotent: true, Compression: "none",
		Linger: 5 * time.Millisecond, BatchMaxBytes: 1000012, DeliveryTimeout: 30 * time.Second, MaxBuffered: 10000,
		Rate: rate, Consumers: latencyConsumers,
		Duration: time.Duration(cfg.Seconds) * time.Second, Warmup: time.Duration(cfg.Warmup) * time.Second,
		Verify: true, DrainTimeout: 30 * time.Second,
	}
	if group {
		lc.Group = r.Topic
	}
	clients, err := kafka.New(lc)
	if err != nil {
		return r, err
	}
	defer clients.Close()
	setup, cancel := context.WithTimeout(ctx, 30*time.Second)
	_, err = clients.EnsureTopic(setup)
	cancel()
	if err != nil {
		r.Err = err.Error()
		return r, err
	}
	res, err := loadgen.New(lc, clients, loadgen.Options{}).Run(ctx)
	if err != nil {
		r.Err = err.Error()
		return r, err
	}
	if res.EndToEnd != nil {
		r.P50Ms, r.P99Ms, r.Count = float64(res.EndToEnd.P50Micros)/1000, float64(res.EndToEnd.P99Micros)/1000, res.EndToEnd.Count
	}
	if res.Publish != nil {
		r.PubP50Ms, r.PubP99Ms = float64(res.Publish.P50Micros)/1000, float64(res.Publish.P99Micros)/1000
	}
	r.Verified = res.Verify != nil && res.Verify.OK()
	if !r.Verified && res.Verify != nil {
		r.Err = res.Verify.String()
	}
	if res.Lag != nil && res.Lag.Records != nil {
		r.LagMax = res.Lag.Records.Max
	}
	return r, ctx.Err()
}
