package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/raftline/raftline/loadgen/canary"
)

const canaryUsage = `usage: loadgen canary [flags]

Produce and consume a few records a second to a canary topic, forever (until
interrupted), exporting each probe's success and latency on --metrics-addr as
the loadgen_canary_* metrics: a black-box view of the cluster beside the
broker's own SLIs (raftline / Produce SLOs).
`

// parseCanaryFlags parses the canary command's flags.
func parseCanaryFlags(args []string, stdout io.Writer) (canary.Config, error) {
	cfg := canary.DefaultConfig()
	fs := flag.NewFlagSet("loadgen canary", flag.ContinueOnError)
	fs.SetOutput(stdout)
	fs.Usage = func() {
		fmt.Fprint(stdout, canaryUsage)
		fs.PrintDefaults()
	}
	brokers := "127.0.0.1:9092"
	if env := os.Getenv("RAFTLINE_BROKERS"); env != "" {
		brokers = env
	}
	fs.StringVar(&brokers, "brokers", brokers, "comma-separated seed brokers (env RAFTLINE_BROKERS)")
	fs.StringVar(&cfg.Topic, "topic", cfg.Topic, "canary topic (created with one partition if missing)")
	fs.Float64Var(&cfg.Rate, "rate", cfg.Rate, "probes (records) per second")
	fs.DurationVar(&cfg.Timeout, "timeout", cfg.Timeout, "a probe fails if not acknowledged, or not read back, within this")
	fs.StringVar(&cfg.MetricsAddr, "metrics-addr", ":9701", "serve Prometheus metrics at this address's /metrics")
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected arguments %v", fs.Args())
	}
	for _, b := range strings.Split(brokers, ",") {
		if b = strings.TrimSpace(b); b != "" {
			cfg.Brokers = append(cfg.Brokers, b)
		}
	}
	var errs []error
	if len(cfg.Brokers) == 0 {
		errs = append(errs, errors.New("--brokers: none given"))
	}
	if cfg.Rate <= 0 {
		errs = append(errs, fmt.Errorf("--rate %v: must be positive", cfg.Rate))
	}
	if cfg.Timeout <= 0 {
		errs = append(errs, fmt.Errorf("--timeout %v: must be positive", cfg.Timeout))
	}
	if cfg.MetricsAddr == "" {
		errs = append(errs, errors.New("--metrics-addr: the canary's results are its metrics"))
	}
	return cfg, errors.Join(errs...)
}

// runCanary runs the canary until an interrupt.
func runCanary(cfg canary.Config, stderr io.Writer, interrupts <-chan os.Signal) int {
	m, srv, err := canary.Serve(cfg.MetricsAddr)
	if err != nil {
		fmt.Fprintf(stderr, "loadgen canary: --metrics-addr: %v\n", err)
		return exitFailed
	}
	defer srv.Close()
	fmt.Fprintf(stderr, "metrics at http://%s/metrics\n", srv.Addr)
	c, err := canary.New(cfg, m)
	if err != nil {
		fmt.Fprintf(stderr, "loadgen canary: %v\n", err)
		return exitUsage
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-interrupts:
			cancel()
		case <-ctx.Done():
		}
	}()
	fmt.Fprintf(stderr, "loadgen canary: topic %s, %v probes/s, brokers %v\n", cfg.Topic, cfg.Rate, cfg.Brokers)
	if err := c.Run(ctx); err != nil {
		fmt.Fprintf(stderr, "loadgen canary: %v\n", err)
		return exitFailed
	}
	return exitOK
}
