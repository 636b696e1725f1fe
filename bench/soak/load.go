package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/raftline/raftline/loadgen"
	"github.com/raftline/raftline/loadgen/kafka"
	"github.com/raftline/raftline/loadgen/ledger"
	"github.com/raftline/raftline/loadgen/report"
)

const (
	soakTopic = "soak"
	soakGroup = "soak"
)

// loadConfig is the steady load: e2e at a fixed rate through a consumer
// group, verified. The delivery timeout outlasts a restart of the leader,
// so no record fails for want of patience.
func loadConfig(cfg config, brokers []string) loadgen.Config {
	return loadgen.Config{
		Command: loadgen.CmdE2E, Brokers: brokers, Topic: soakTopic,
		Partitions: int32(cfg.Partitions), Replication: 3,
		Size: cfg.Size, Producers: 1, Acks: "all", Idempotent: true, Compression: "none",
		Linger: 5 * time.Millisecond, BatchMaxBytes: 1000012, DeliveryTimeout: 2 * time.Minute, MaxBuffered: 10000,
		Rate: cfg.Rate, Consumers: 2, Group: soakGroup,
		Duration: cfg.Duration, Verify: true, DrainTimeout: 2 * time.Minute,
	}
}

// createTopic creates the soak topic with small segments and retention, so
// that retention deletes segments all through the run and the data
// directory reaches a steady size: a soak without retention would only
// show the disk filling.
func createTopic(ctx context.Context, cfg config, brokers []string) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		return err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	seg, ret := strconv.FormatInt(cfg.SegmentBytes, 10), strconv.FormatInt(cfg.RetentionBytes, 10)
	configs := map[string]*string{"segment.bytes": &seg, "retention.bytes": &ret}
	return poll(ctx, time.Minute, 200*time.Millisecond, func() error {
		resp, err := adm.CreateTopic(ctx, int32(cfg.Partitions), 3, configs, soakTopic)
		if err == nil {
			err = resp.Err
		}
		if errors.Is(err, kerr.TopicAlreadyExists) {
			return nil
		}
		return err
	})
}

// runLoad runs the load until its duration ends (or ctx does) and returns
// loadgen's result. Progress is printed every progressEvery.
func runLoad(ctx context.Context, lc loadgen.Config, led *ledger.Ledger, stdout io.Writer) (loadgen.Result, error) {
	clients, err := kafka.New(lc)
	if err != nil {
		return loadgen.Result{}, err
	}
	defer clients.Close()
	if _, err := clients.EnsureTopic(ctx); err != nil {
		return loadgen.Result{}, fmt.Errorf("topic %s: %w", lc.Topic, err)
	}
	opts := loadgen.Options{
		Ledger:           led,
		ProgressInterval: progressEvery,
		Progress:         func(s loadgen.Sample) { fmt.Fprintln(stdout, report.Progress(lc.Command, s)) },
	}
	return loadgen.New(lc, clients, opts).Run(ctx)
}

const progressEvery = 30 * time.Second

// verifyFailures are the ledger's findings that fail a soak. A record the
// group delivered twice from one offset (Redelivered) is at-least-once
// delivery around a coordinator's restart, not a fault of the log.
func verifyFailures(v ledger.Report) []string {
	var out []string
	add := func(n int64, what string) {
		if n > 0 {
			out = append(out, fmt.Sprintf("%d acknowledged record(s) %s", n, what))
		}
	}
	add(v.Lost, "lost")
	add(v.Duplicated-v.Redelivered, "written to the log more than once")
	add(v.Reordered, "reordered")
	add(v.Misplaced, "consumed away from their acknowledged offset")
	add(v.Conflicts, "offsets holding more than one record")
	if len(out) > 0 {
		out = append(out, v.Examples...)
	}
	return out
}
