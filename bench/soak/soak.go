//go:build linux

package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/raftline/raftline/bench/soak/growth"
	"github.com/raftline/raftline/loadgen"
	"github.com/raftline/raftline/loadgen/ledger"
)

// restart is one node's stop and start during the run, in seconds since
// the start.
type restart struct {
	Node     int32
	Leader   bool
	From, To float64
	// Err is why the node was not ready again, or had to be killed.
	Err string
}

// outcome is everything a soak found.
type outcome struct {
	cfg      config
	load     loadgen.Result
	samples  []sample
	restarts []restart
	verdicts []growth.Verdict
	// replicas is empty when the nodes' digests agreed.
	replicas string
	digests  int // partitions compared
}

func (o outcome) failures() []string {
	var out []string
	for _, v := range o.verdicts {
		if v.Growing || v.Insufficient {
			out = append(out, v.String())
		}
	}
	if o.load.Verify == nil {
		out = append(out, "the load was not verified")
	} else {
		out = append(out, verifyFailures(*o.load.Verify)...)
	}
	if o.replicas != "" {
		out = append(out, "replicas differ: "+o.replicas)
	}
	for _, r := range o.restarts {
		if r.Err != "" {
			out = append(out, fmt.Sprintf("restart of node %d at %.0fs: %s", r.Node, r.From, r.Err))
		}
	}
	if o.load.Interrupted {
		out = append(out, "interrupted before the end of --duration")
	}
	return out
}

func (o outcome) ok() bool { return len(o.failures()) == 0 }

// notes are the figures a passing run reports.
func (o outcome) notes() []string {
	c := o.cfg
	out := []string{fmt.Sprintf("%v of %.0f records/s of %d bytes into %d partitions (retention %s, segments %s), read by a group of 2; a node restarted every %v (down %v), samples every %v",
		c.Duration, c.Rate, c.Size, c.Partitions, mib(c.RetentionBytes), mib(c.SegmentBytes), c.RestartEvery, c.Down, c.SampleEvery)}
	if v := o.load.Verify; v != nil {
		out = append(out, v.String())
	}
	if o.load.Produce != nil {
		out = append(out, fmt.Sprintf("produced %d records at %.1f/s, %d produce errors", o.load.Produce.Records, o.load.Produce.RecordsPerSec, o.load.Produce.ErrorCount()))
	}
	leaders := 0
	for _, r := range o.restarts {
		if r.Leader {
			leaders++
		}
	}
	out = append(out, fmt.Sprintf("%d restarts, %d of them of the leader", len(o.restarts), leaders))
	if o.replicas == "" {
		out = append(out, fmt.Sprintf("replicas identical: %d partition digests agree on all three nodes", o.digests))
	}
	out = append(out, fmt.Sprintf("growth rule: the peak of the last third may exceed the peak of the middle third by the tolerance; the first third is warm-up; a node's own samples from its restart until %v after it is ready are left out", c.Settle))
	for _, v := range o.verdicts {
		if !v.Growing && !v.Insufficient {
			out = append(out, v.String())
		}
	}
	return out
}

func (o outcome) print(w io.Writer) {
	for _, n := range o.notes() {
		fmt.Fprintln(w, n)
	}
	for _, f := range o.failures() {
		fmt.Fprintln(w, "FAILED:", f)
	}
}

// soak starts the cluster in work, runs the load with restarts and
// sampling, and judges the run. An error means the soak could not run.
func soak(ctx context.Context, cfg config, work string, stdout io.Writer) (outcome, error) {
	o := outcome{cfg: cfg}
	args := []string{"--log-level", "warn", "--retention-check-interval", "5s"}
	c := newCluster(cfg.Raftline, work, cfg.KafkaPort, cfg.HTTPPort, cfg.RaftPort, args)
	defer c.stop()
	if err := c.startAll(ctx); err != nil {
		return o, fmt.Errorf("starting the cluster: %w", err)
	}
	if err := createTopic(ctx, cfg, c.brokers()); err != nil {
		return o, fmt.Errorf("creating topic %s: %w", soakTopic, err)
	}

	csvOut, err := createCSV(outPath(cfg, "soak.csv"))
	if err != nil {
		return o, err
	}
	defer csvOut.Close()
	s := &sampler{c: c, start: time.Now(), out: csvOut}
	stopSampling, samplingDone := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(samplingDone)
		s.every(cfg.SampleEvery, stopSampling, stdout)
	}()
	loadDone, restartsDone := make(chan struct{}), make(chan []restart, 1)
	go func() { restartsDone <- restarts(ctx, c, cfg, s.start, loadDone, stdout) }()

	res, err := runLoad(ctx, loadConfig(cfg, c.brokers()), ledger.New(), stdout)
	close(loadDone)
	// A restart under way is finished, and the node ready, before the
	// replicas are compared; sampling goes on through the comparison.
	o.restarts = <-restartsDone
	if err == nil && ctx.Err() != nil {
		err = fmt.Errorf("interrupted after %.0fs; soak.csv holds the samples so far", time.Since(s.start).Seconds())
	}
	if err != nil {
		close(stopSampling)
		<-samplingDone
		return o, fmt.Errorf("load: %w", err)
	}
	o.load = res
	digests, err := replicasIdentical(ctx, c, time.Minute)
	if err != nil {
		o.replicas = err.Error()
	}
	o.digests = len(digests)
	close(stopSampling)
	<-samplingDone
	if err := s.sampleAll(); err != nil {
		fmt.Fprintf(stdout, "last sample: %v\n", err)
	}
	o.samples = s.samples
	o.verdicts = judge(c, o.samples, o.restarts, cfg.Settle)
	return o, o.write(c)
}

// restarts restarts a node every cfg.RestartEvery until loadDone is
// closed: followers and the leader in turn. It returns when no restart is
// under way, every node running.
func restarts(ctx context.Context, c *cluster, cfg config, start time.Time, loadDone <-chan struct{}, stdout io.Writer) []restart {
	var out []restart
	if cfg.RestartEvery <= 0 {
		return out
	}
	tick := time.NewTicker(cfg.RestartEvery)
	defer tick.Stop()
	for i := 0; ; i++ {
		select {
		case <-ctx.Done():
			return out
		case <-loadDone:
			return out
		case <-tick.C:
		}
		r := restartOne(ctx, c, cfg, start, i%2 == 1)
		fmt.Fprintf(stdout, "restart %d: node %d (leader %v) down at %.0fs, ready at %.0fs %s\n", i+1, r.Node, r.Leader, r.From, r.To, r.Err)
		out = append(out, r)
	}
}

// restartOne stops a node with SIGTERM, the leader or else a follower,
// leaves it down for cfg.Down, starts it on its data and waits until every
// node is ready.
func restartOne(ctx context.Context, c *cluster, cfg config, start time.Time, leader bool) restart {
	since := func() float64 { return time.Since(start).Seconds() }
	lead, err := c.leader(30 * time.Second)
	if err != nil {
		return restart{From: since(), To: since(), Err: "no leader to choose by: " + err.Error()}
	}
	r := restart{Node: lead, Leader: true}
	if !leader {
		// The follower after the leader, so that each is stopped in turn.
		r.Node, r.Leader = lead%3+1, false
	}
	r.From = since()
	if !c.terminate(r.Node, 30*time.Second) {
		r.Err = "did not exit within 30s of SIGTERM; killed"
	}
	select {
	case <-ctx.Done():
	case <-time.After(cfg.Down):
	}
	if err := c.start(r.Node); err != nil {
		r.Err = err.Error()
	} else if err := c.waitReady(ctx, time.Minute); err != nil {
		r.Err = "not ready again: " + err.Error()
	}
	r.To = since()
	return r
}
