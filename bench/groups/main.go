//go:build linux

// Command groups measures raftline's consumer-group figures on a local
// three-node cluster (`make bench-groups`) and prints the tables
// docs/BENCHMARKS.md shows:
//
//   - rebalance time of a group of three members: a member leaves (3 -> 2),
//     a member joins (2 -> 3), and the leader, which coordinates every
//     group, is SIGKILLed; each from the event to every member of the
//     resulting group reading records again under its new assignment, with
//     1,000 records/s flowing into the topic. The leader failover also
//     reports the kill to an agreed new leader, the cluster's share;
//   - end-to-end latency (p50, p99; loadgen e2e, fixed rate, from the
//     intended send time) at each --rates, through a consumer group beside
//     the same without one (each consumer reading its partitions directly),
//     runs interleaved, each on a fresh topic.
//
// Every figure is measured --runs times and the median reported; the
// machine these run on is shared and noisy.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// config is the command line.
type config struct {
	Raftline string         `json:"-"`
	Runs     int            `json:"runs"`
	Rates    []float64      `json:"rates"`
	Seconds  int            `json:"seconds"`
	Warmup   int            `json:"warmup_seconds"`
	Client   clientSettings `json:"client"`
	// Rebalance and Latency choose the parts to run.
	Rebalance bool   `json:"rebalance"`
	Latency   bool   `json:"latency"`
	WorkDir   string `json:"-"`
	JSON      string `json:"-"`
	KafkaPort int    `json:"kafka_port"`
	HTTPPort  int    `json:"http_port"`
	RaftPort  int    `json:"raft_port"`
}

const about = `Measures raftline's consumer-group figures on a local three-node cluster:
rebalance time of a three-member group on a leave, a join and a leader failover,
and end-to-end latency through a group beside the same without one. Prints
markdown tables; --json keeps every number. About 8 minutes with the defaults.

Flags:`

func parseFlags(args []string, stderr io.Writer) (config, error) {
	c := config{}
	fs := flag.NewFlagSet("groups", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, about)
		fs.PrintDefaults()
	}
	rates := fs.String("rates", "1000,20000", "records per second of the latency runs, comma-separated")
	fs.StringVar(&c.Raftline, "raftline", "bin/raftline", "the raftline binary")
	fs.IntVar(&c.Runs, "runs", 5, "runs of each measurement; the median is reported")
	fs.IntVar(&c.Seconds, "seconds", 20, "measured seconds of each latency run")
	fs.IntVar(&c.Warmup, "warmup", 5, "warmup seconds of each latency run (the group's first join falls in it)")
	fs.BoolVar(&c.Rebalance, "rebalance", true, "measure rebalance times")
	fs.BoolVar(&c.Latency, "latency", true, "measure end-to-end latency with and without a group")
	fs.DurationVar(&c.Client.Heartbeat, "heartbeat", 500*time.Millisecond, "members' heartbeat interval (franz-go's default is 3s): a member learns of a rebalance at its next heartbeat")
	fs.DurationVar(&c.Client.SessionTimeout, "session-timeout", 10*time.Second, "members' session timeout")
	fs.DurationVar(&c.Client.RebalanceTimeout, "rebalance-timeout", 10*time.Second, "members' rebalance timeout")
	fs.StringVar(&c.WorkDir, "work-dir", "", "directory for the cluster's data and logs (default: a new directory under $TMPDIR); removed at the end unless the run failed")
	fs.StringVar(&c.JSON, "json", "", "write every measurement to this file")
	fs.IntVar(&c.KafkaPort, "kafka-port", 19592, "Kafka port of node 1 (nodes 2 and 3 take the next ones)")
	fs.IntVar(&c.HTTPPort, "http-port", 19692, "HTTP port of node 1")
	fs.IntVar(&c.RaftPort, "raft-port", 19792, "Raft port of node 1")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	c.Client.FetchMaxWait, c.Client.MetadataMinAge, c.Client.RetryBackoff = 100*time.Millisecond, 100*time.Millisecond, 50*time.Millisecond
	var errs []error
	if fs.NArg() > 0 {
		errs = append(errs, fmt.Errorf("unexpected arguments %q", fs.Args()))
	}
	for _, r := range strings.Split(*rates, ",") {
		v, err := strconv.ParseFloat(strings.TrimSpace(r), 64)
		if err != nil || v <= 0 {
			errs = append(errs, fmt.Errorf("--rates: %q is not a positive number", r))
			continue
		}
		c.Rates = append(c.Rates, v)
	}
	if c.Runs < 1 || c.Seconds < 1 || c.Warmup < 0 {
		errs = append(errs, fmt.Errorf("--runs and --seconds must be at least 1 and --warmup not negative"))
	}
	if _, err := os.Stat(c.Raftline); err != nil {
		errs = append(errs, fmt.Errorf("%v (make bench-groups builds bin/raftline)", err))
	}
	return c, errors.Join(errs...)
}

// result is everything measured, as --json writes it.
type result struct {
	Started   time.Time      `json:"started"`
	CPUs      int            `json:"cpus"`
	GoVersion string         `json:"go_version"`
	Config    config         `json:"config"`
	Rebalance []rebalanceRun `json:"rebalance,omitempty"`
	Latency   []latencyRun   `json:"latency,omitempty"`
}

func main() {
	cfg, err := parseFlags(os.Args[1:], os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "groups:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	res, err := run(ctx, cfg)
	report(os.Stdout, res)
	if cfg.JSON != "" {
		if b, jerr := json.MarshalIndent(res, "", "  "); jerr == nil {
			if werr := os.WriteFile(cfg.JSON, append(b, '\n'), 0o644); werr != nil {
				fmt.Fprintln(os.Stderr, "groups:", werr)
			}
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "groups:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, cfg config) (*result, error) {
	res := &result{Started: time.Now(), CPUs: runtime.NumCPU(), GoVersion: runtime.Version(), Config: cfg}
	work := cfg.WorkDir
	if work == "" {
		var err error
		if work, err = os.MkdirTemp("", "raftline-bench-groups-"); err != nil {
			return res, err
		}
	} else if err := os.MkdirAll(work, 0o755); err != nil {
		return res, err
	}
	c := newCluster(cfg.Raftline, work, cfg.KafkaPort, cfg.HTTPPort, cfg.RaftPort)
	defer c.stop()
	fmt.Fprintf(os.Stderr, "groups: cluster in %s\n", work)
	if err := c.startAll(ctx); err != nil {
		return res, fmt.Errorf("starting the cluster: %w (logs in %s)", err, work)
	}
	var err error
	if cfg.Rebalance {
		for i := range cfg.Runs {
			r, rerr := rebalanceOnce(ctx, c, cfg.Client, i)
			res.Rebalance = append(res.Rebalance, r)
			fmt.Fprintf(os.Stderr, "groups: rebalance run %d: %s\n", i+1, r)
			if rerr != nil {
				err = fmt.Errorf("rebalance run %d: %w (logs in %s)", i+1, rerr, work)
				break
			}
		}
	}
	if cfg.Latency && err == nil {
		res.Latency, err = latencies(ctx, c, cfg)
		if err != nil {
			err = fmt.Errorf("%w (logs in %s)", err, work)
		}
	}
	c.stop()
	if err == nil && cfg.WorkDir == "" {
		os.RemoveAll(work)
	}
	return res, err
}

// median of the values that are set (positive).
func median(vs []float64) float64 {
	var set []float64
	for _, v := range vs {
		if v > 0 {
			set = append(set, v)
		}
	}
	if len(set) == 0 {
		return 0
	}
	slices.Sort(set)
	if n := len(set); n%2 == 1 {
		return set[n/2]
	} else {
		return (set[n/2-1] + set[n/2]) / 2
	}
}
