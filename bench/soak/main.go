//go:build linux

// Command soak runs a local three-node raftline cluster under a steady mixed
// load for a long time (`make soak SOAK_DURATION=1h`) and fails when the
// nodes leak, lose a record or diverge:
//
//   - load: loadgen e2e at a fixed rate, acks=all and idempotent, read back
//     by a consumer group, every record checked by loadgen's ledger;
//   - disturbance: every --restart-every one node is stopped with SIGTERM
//     and started again on its data, a follower and then the leader in
//     turn, so leadership and the group coordinator move;
//   - samples: every --sample-every each node's resident memory, Go heap in
//     use, goroutines, open file descriptors (from its /metrics) and the
//     size of its data directory, written to soak.csv as they are taken.
//
// It fails (exit 1) when
//
//   - a sampled series keeps growing: the peak of its last third exceeds
//     the peak of its middle third by more than the resource's tolerance
//     (the first third is warm-up; package growth says why), leaving out a
//     node's own samples from its restart until --settle after it is ready;
//   - the ledger finds an acknowledged record lost, reordered, misplaced,
//     or written twice to the log (a group's redelivery of a record read
//     once from the log is at-least-once delivery, reported, not failed);
//   - once the load has stopped, the nodes' partition digests
//     (GET /v1/partitions: SHA-256 of each replica's log) do not agree
//     within a minute;
//   - a restarted node is not ready again within a minute, or a series
//     has too few samples to judge.
//
// soak.html charts every series per node with the restarts shaded, and
// e2e.html is loadgen's report of the load (latency across the restarts).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/raftline/raftline/bench/soak/growth"
)

// config is the command line.
type config struct {
	Raftline     string
	Duration     time.Duration
	SampleEvery  time.Duration
	RestartEvery time.Duration
	Down         time.Duration
	Settle       time.Duration
	Rate         float64
	Size         int
	Partitions   int
	// RetentionBytes and SegmentBytes are the topic's: small, so that
	// the disk reaches its steady size early in the run.
	RetentionBytes, SegmentBytes int64
	Out, WorkDir                 string
	KafkaPort, HTTPPort          int
	RaftPort                     int
}

const about = `Runs a local three-node raftline cluster under steady produce and consume
load with a node restarted every few minutes, samples each node's memory,
goroutines, open files and data directory, and fails on growth that does not
level off, on a lost record, or on replicas that differ. Writes soak.csv,
soak.html and e2e.html to --out.

Flags:`

func parseFlags(args []string, stderr io.Writer) (config, error) {
	var c config
	fs := flag.NewFlagSet("soak", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, about)
		fs.PrintDefaults()
	}
	fs.StringVar(&c.Raftline, "raftline", "bin/raftline", "the raftline binary")
	fs.DurationVar(&c.Duration, "duration", time.Hour, "how long the load runs")
	fs.DurationVar(&c.SampleEvery, "sample-every", 5*time.Second, "how often every node is sampled")
	fs.DurationVar(&c.RestartEvery, "restart-every", 3*time.Minute, "how often a node is restarted, a follower and the leader in turn (0: never)")
	fs.DurationVar(&c.Down, "down", 5*time.Second, "how long a stopped node stays down before it is started again")
	fs.DurationVar(&c.Settle, "settle", 30*time.Second, "how long after a restarted node is ready its own samples are left out of the growth check (it is catching up)")
	fs.Float64Var(&c.Rate, "rate", 300, "records per second produced")
	fs.IntVar(&c.Size, "size", 512, "bytes of each record's value")
	fs.IntVar(&c.Partitions, "partitions", 3, "partitions of the soak topic (replication 3)")
	fs.Int64Var(&c.RetentionBytes, "retention-bytes", 16<<20, "the topic's retention.bytes, per partition")
	fs.Int64Var(&c.SegmentBytes, "segment-bytes", 1<<20, "the topic's segment.bytes")
	fs.StringVar(&c.Out, "out", "bench/results/soak", "directory for soak.csv, soak.html and e2e.html")
	fs.StringVar(&c.WorkDir, "work-dir", "", "directory for the cluster's data and logs (default: a new directory under $TMPDIR); removed at the end unless the run failed")
	fs.IntVar(&c.KafkaPort, "kafka-port", 19892, "Kafka port of node 1 (nodes 2 and 3 take the next ones)")
	fs.IntVar(&c.HTTPPort, "http-port", 19992, "HTTP port of node 1")
	fs.IntVar(&c.RaftPort, "raft-port", 20092, "Raft port of node 1")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	var errs []error
	if fs.NArg() > 0 {
		errs = append(errs, fmt.Errorf("unexpected arguments %q", fs.Args()))
	}
	if c.Duration <= 0 || c.SampleEvery <= 0 || c.RestartEvery < 0 || c.Rate <= 0 || c.Partitions < 1 {
		errs = append(errs, errors.New("--duration, --sample-every, --rate and --partitions must be positive, --restart-every not negative"))
	}
	if c.Duration < 6*c.SampleEvery {
		errs = append(errs, fmt.Errorf("--duration %v gives too few samples at --sample-every %v to judge growth (want at least 6)", c.Duration, c.SampleEvery))
	}
	if _, err := os.Stat(c.Raftline); err != nil {
		errs = append(errs, fmt.Errorf("%v (make soak builds bin/raftline)", err))
	}
	return c, errors.Join(errs...)
}

// tolerances are each resource's allowance in the growth check, by CSV
// column. Memory wobbles with the garbage collector and with which node
// leads; counts of goroutines and files move with connections and segments.
var tolerances = map[string]growth.Tolerance{
	"rss_bytes":        {Relative: 0.2, Absolute: 16 << 20},
	"heap_inuse_bytes": {Relative: 0.25, Absolute: 16 << 20},
	"goroutines":       {Relative: 0.2, Absolute: 20},
	"open_fds":         {Relative: 0.2, Absolute: 16},
	"data_dir_bytes":   {Relative: 0.2, Absolute: 16 << 20},
}

func main() {
	cfg, err := parseFlags(os.Args[1:], os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "soak: %v\n", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, cfg, os.Stdout, os.Stderr))
}

// run runs the soak and returns the exit status.
func run(ctx context.Context, cfg config, stdout, stderr io.Writer) int {
	work := cfg.WorkDir
	if work == "" {
		var err error
		if work, err = os.MkdirTemp("", "raftline-soak-"); err != nil {
			fmt.Fprintf(stderr, "soak: %v\n", err)
			return 1
		}
	}
	if err := errors.Join(os.MkdirAll(work, 0o755), os.MkdirAll(cfg.Out, 0o755)); err != nil {
		fmt.Fprintf(stderr, "soak: %v\n", err)
		return 1
	}
	out, err := soak(ctx, cfg, work, stdout)
	if err != nil {
		fmt.Fprintf(stderr, "soak: %v (cluster data and logs kept in %s)\n", err, work)
		return 1
	}
	out.print(stdout)
	if !out.ok() {
		fmt.Fprintf(stdout, "FAIL (cluster data and logs kept in %s)\n", work)
		return 1
	}
	fmt.Fprintln(stdout, "PASS")
	if cfg.WorkDir == "" {
		os.RemoveAll(work)
	}
	return 0
}

func mib(b int64) string { return strconv.FormatFloat(float64(b)/(1<<20), 'f', -1, 64) + " MiB" }

func outPath(cfg config, name string) string { return filepath.Join(cfg.Out, name) }
