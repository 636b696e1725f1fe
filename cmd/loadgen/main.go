// Command loadgen measures a Kafka-compatible broker (raftline or any other):
// throughput, publish and end-to-end latency, errors by kind, and with
// --verify that every acknowledged record is consumed exactly once, in order.
// It also compares two saved results to catch regressions.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/raftline/raftline/loadgen"
	"github.com/raftline/raftline/loadgen/kafka"
	"github.com/raftline/raftline/loadgen/metrics"
	"github.com/raftline/raftline/loadgen/report"
)

// Exit statuses.
const (
	exitOK          = 0
	exitFailed      = 1 // the run failed, verification failed, or compare found a regression
	exitUsage       = 2
	exitInterrupted = 130
)

// setupTimeout bounds connecting to the brokers and preparing the topic.
const setupTimeout = 30 * time.Second

const usage = `loadgen measures a Kafka-compatible broker.

usage:
  loadgen produce [flags]   produce records; throughput and publish latency
  loadgen consume [flags]   consume records; throughput and end-to-end latency
  loadgen e2e [flags]       produce and consume at once; both latencies
  loadgen canary [flags]    produce and consume a few records/s forever;
                            success and latency on --metrics-addr
  loadgen compare [flags] BASE.json NEW.json
                            compare two --json results; exit 1 on a regression
  loadgen report [flags] RESULT.json
                            write the HTML report of a --json result

Run 'loadgen COMMAND -h' for a command's flags.
`

func main() {
	interrupts := make(chan os.Signal, 2)
	signal.Notify(interrupts, os.Interrupt, syscall.SIGTERM)
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr, interrupts))
}

// run is the whole program, apart from the process, for tests.
func run(args []string, stdout, stderr io.Writer, interrupts <-chan os.Signal) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	switch cmd := args[0]; cmd {
	case loadgen.CmdProduce, loadgen.CmdConsume, loadgen.CmdE2E:
		o, err := parseLoadFlags(cmd, args[1:], stdout)
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		if err != nil {
			return usageError(stderr, cmd, err)
		}
		return load(o, stdout, stderr, interrupts)
	case "compare":
		return compare(args[1:], stdout, stderr)
	case "report":
		return htmlReport(args[1:], stdout, stderr)
	case "canary":
		cfg, err := parseCanaryFlags(args[1:], stdout)
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		if err != nil {
			return usageError(stderr, cmd, err)
		}
		return runCanary(cfg, stderr, interrupts)
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, usage)
		return exitOK
	default:
		fmt.Fprintf(stderr, "loadgen: unknown command %q\n\n%s", cmd, usage)
		return exitUsage
	}
}

// usageError prints each problem with the command line on its own line.
func usageError(stderr io.Writer, cmd string, err error) int {
	for _, line := range splitJoined(err) {
		fmt.Fprintf(stderr, "loadgen %s: %s\n", cmd, line)
	}
	fmt.Fprintf(stderr, "Run 'loadgen %s -h' for usage.\n", cmd)
	return exitUsage
}

// splitJoined lists the errors inside errors.Join trees.
func splitJoined(err error) []string {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []string
		for _, e := range j.Unwrap() {
			out = append(out, splitJoined(e)...)
		}
		return out
	}
	return []string{err.Error()}
}

// load runs produce, consume or e2e against the brokers.
func load(o options, stdout, stderr io.Writer, interrupts <-chan os.Signal) int {
	cfg := o.cfg
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	clients, err := kafka.New(cfg)
	if err != nil {
		fmt.Fprintf(stderr, "loadgen %s: %v\n", cfg.Command, err)
		return exitFailed
	}
	defer clients.Close()

	// The first Ctrl-C ends the run but still collects the records in
	// flight; the second gives up on them.
	stop := make(chan struct{})
	go func() {
		select {
		case <-interrupts:
		case <-ctx.Done():
			return
		}
		close(stop)
		fmt.Fprintln(stderr, "stopping: waiting for records in flight (Ctrl-C again to stop at once)")
		select {
		case <-interrupts:
			cancel()
		case <-ctx.Done():
		}
	}()

	// Brokers that are still starting are waited for, within setupTimeout,
	// unless Ctrl-C comes first.
	setup, cancelSetup := context.WithTimeout(ctx, setupTimeout)
	go func() {
		select {
		case <-stop:
			cancelSetup()
		case <-setup.Done():
		}
	}()
	slow := time.AfterFunc(2*time.Second, func() {
		fmt.Fprintf(stderr, "loadgen %s: waiting for brokers %v (up to %v)\n", cfg.Command, cfg.Brokers, setupTimeout)
	})
	n, err := clients.EnsureTopic(setup)
	slow.Stop()
	cancelSetup()
	if err != nil {
		fmt.Fprintf(stderr, "loadgen %s: brokers %v: %v\n", cfg.Command, cfg.Brokers, err)
		select {
		case <-stop:
			return exitInterrupted
		default:
			return exitFailed
		}
	}
	if o.partitionsSet && n != int(cfg.Partitions) {
		fmt.Fprintf(stderr, "loadgen %s: topic %s already exists with %d partitions; --partitions %d ignored\n",
			cfg.Command, cfg.Topic, n, cfg.Partitions)
	}

	opts := loadgen.Options{}
	if !o.quiet {
		opts.Progress = func(s loadgen.Sample) { fmt.Fprintln(stdout, report.Progress(cfg.Command, s)) }
	}
	if o.metricsAddr != "" {
		m, srv, err := metrics.Serve(o.metricsAddr, cfg.Topic, cfg.Group)
		if err != nil {
			fmt.Fprintf(stderr, "loadgen %s: --metrics-addr: %v\n", cfg.Command, err)
			return exitFailed
		}
		defer srv.Close()
		opts.Observer = m
		fmt.Fprintf(stderr, "metrics at http://%s/metrics\n", srv.Addr)
	}

	runner := loadgen.New(cfg, clients, opts)
	go func() {
		select {
		case <-stop:
			runner.Stop()
		case <-ctx.Done():
		}
	}()

	fmt.Fprintf(stderr, "loadgen %s: topic %s (%d partitions), brokers %v\n", cfg.Command, cfg.Topic, n, cfg.Brokers)
	res, err := runner.Run(ctx)
	if err != nil {
		fmt.Fprintf(stderr, "loadgen %s: %v\n", cfg.Command, err)
		return exitFailed
	}
	report.Write(stdout, res)

	status := exitOK
	if o.jsonPath != "" {
		if err := writeJSON(o.jsonPath, res); err != nil {
			fmt.Fprintf(stderr, "loadgen %s: --json: %v\n", cfg.Command, err)
			status = exitFailed
		}
		runs := []report.Run{{Label: "this run", Result: res}}
		if o.baseline != nil {
			runs = []report.Run{{Label: "base", Result: *o.baseline}, {Label: "new", Result: res}}
		}
		if err := writeHTML(htmlPath(o.jsonPath), report.DefaultThresholds, runs...); err != nil {
			fmt.Fprintf(stderr, "loadgen %s: HTML report: %v\n", cfg.Command, err)
			status = exitFailed
		}
	}
	switch {
	case status != exitOK:
		return status
	case verifyFailed(res):
		return exitFailed
	case res.Interrupted:
		return exitInterrupted
	}
	return exitOK
}

// verifyFailed reports whether verification found a fault. In an
// interrupted run, records not yet consumed are not known to be lost, so
// only the other anomalies count.
func verifyFailed(res loadgen.Result) bool {
	if res.Verify == nil {
		return false
	}
	v := *res.Verify
	if res.Interrupted {
		v.Lost = 0
	}
	return !v.OK()
}

func writeJSON(path string, res loadgen.Result) error {
	b, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// htmlPath is where the HTML report of a --json file goes: beside it, with
// the extension .html.
func htmlPath(jsonPath string) string {
	base := strings.TrimSuffix(jsonPath, filepath.Ext(jsonPath))
	if base+".html" == jsonPath {
		return jsonPath + ".html"
	}
	return base + ".html"
}

func writeHTML(path string, th report.Thresholds, runs ...report.Run) error {
	var b bytes.Buffer
	if err := report.WriteHTML(&b, th, runs...); err != nil {
		return err
	}
	return os.WriteFile(path, b.Bytes(), 0o644)
}

func readResult(path string) (loadgen.Result, error) {
	var res loadgen.Result
	b, err := os.ReadFile(path)
	if err != nil {
		return res, err
	}
	if err := json.Unmarshal(b, &res); err != nil {
		return res, fmt.Errorf("%s: not a loadgen result: %w", path, err)
	}
	if res.Version != loadgen.ResultVersion {
		return res, fmt.Errorf("%s: result layout version %d, this loadgen reads version %d", path, res.Version, loadgen.ResultVersion)
	}
	return res, nil
}
