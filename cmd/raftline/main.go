// Command raftline is the raftline broker: `raftline serve` runs one node,
// `raftline dev` a local three-node cluster.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"go.opentelemetry.io/otel"

	"github.com/raftline/raftline/broker/server"
	"github.com/raftline/raftline/cmd/raftline/internal/cliflags"
	"github.com/raftline/raftline/cmd/raftline/internal/devcluster"
	"github.com/raftline/raftline/cmd/raftline/internal/serveflags"
	"github.com/raftline/raftline/telemetry"
)

const usage = `raftline: a Kafka-compatible broker whose every write is replicated through Raft.

Usage:
  raftline serve [flags]   run one node (raftline serve -h lists the flags and their RAFTLINE_* variables)
  raftline dev [flags]     run a local 3-node cluster (Kafka 9092-9094, HTTP 9644-9646, Raft 9192-9194)
  raftline health --url U  exit 0 when U (a node's /readyz or /healthz) answers 200 (container healthchecks)
  raftline version         print the version (also --version, -v)
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "serve":
		return serve(args[1:], stdout, stderr)
	case "dev":
		return dev(args[1:], stdout, stderr)
	case "health":
		return health(args[1:], stdout, stderr)
	case "version":
		return version(args[1:], stdout, stderr)
	case "--version", "-version", "-v":
		fmt.Fprintln(stdout, server.Version)
		return 0
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "raftline: unknown command %q\n\n%s", args[0], usage)
	return 2
}

func serve(args []string, stdout, stderr io.Writer) int {
	cfg, err := serveflags.ParseServe(args, serveflags.Getenv, stdout)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		cliflags.Report(stderr, "raftline serve", "", err)
		return 2
	}
	service, tracing, err := telemetry.FromEnv(os.Getenv)
	if err != nil {
		fmt.Fprintf(stderr, "raftline serve: invalid OpenTelemetry environment:\n")
		for _, e := range unjoin(err) {
			fmt.Fprintf(stderr, "  %v\n", e)
		}
		return 2
	}
	tracing.Ratios = cfg.TraceSampleRatios
	log := cfg.Logger(stderr)
	cfg.Server.Logger = log
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) { log.Warn("telemetry", "err", err) }))
	// Metrics are always on (/metrics on --http-addr); spans are exported
	// only when an OTLP endpoint is configured.
	tel, err := telemetry.New(telemetry.Config{NodeID: cfg.Server.NodeID, Version: server.Version, ServiceName: service, Tracing: tracing,
		ConsumerLagMaxSeries: cfg.ConsumerLagMaxSeries})
	if err != nil {
		log.Error("cannot set up telemetry", "err", err)
		return 1
	}
	tel.Configure(&cfg.Server)
	if tel.Tracing() {
		log.Info("exporting traces", "endpoint", tracing.Endpoint, "protocol", tracing.Protocol, "sampler", tracing.Sampler, "sampler_arg", tracing.SamplerArg, "sample_ratios", tracing.Ratios)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	srv, err := server.Start(cfg.Server)
	if err != nil {
		log.Error("cannot start", "err", err)
		shutdownTelemetry(tel, log)
		return 1
	}
	select {
	case <-ctx.Done():
	case <-srv.Halted():
		return exitAfterFault(ctx, srv, tel, log, cfg.FaultExitDelay)
	}
	log.Info("shutting down")
	code := 0
	if err := srv.Close(); err != nil {
		log.Error("shutdown", "err", err)
		code = 1
	}
	shutdownTelemetry(tel, log)
	return code
}

// exitStorageFault is the exit status of a node that stopped on a storage
// fault: a supervisor can tell it from a crash (1) and, for example, keep
// the node down until its disk is seen to (systemd's
// RestartPreventExitStatus=3).
const exitStorageFault = 3

// exitAfterFault ends a node that stopped on a storage fault (the fault was
// logged where it happened): it leads nothing and serves no Kafka client
// any more, and HTTP keeps answering for delay, or until SIGTERM, so that
// /readyz names the fault and a Prometheus scrape reads
// raftline_storage_errors_total before the process exits. Kafka halts a
// broker whose only log directory failed, etcd exits on a WAL error: the
// other nodes carry on either way.
func exitAfterFault(ctx context.Context, srv *server.Server, tel *telemetry.Telemetry, log *slog.Logger, delay time.Duration) int {
	log.Info("exiting after the storage fault", "in", delay, "status", exitStorageFault)
	t := time.NewTimer(delay)
	select {
	case <-t.C:
	case <-ctx.Done():
		t.Stop()
	}
	srv.Kill()
	shutdownTelemetry(tel, log)
	return exitStorageFault
}

// shutdownTelemetry exports the spans still queued, waiting at most a few
// seconds for a slow or absent receiver.
func shutdownTelemetry(tel *telemetry.Telemetry, log *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := tel.Shutdown(ctx); err != nil {
		log.Warn("telemetry shutdown", "err", err)
	}
}

func dev(args []string, stdout, stderr io.Writer) int {
	o, err := devcluster.ParseFlags(args, serveflags.Getenv, stdout)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		cliflags.Report(stderr, "raftline dev", "", err)
		return 2
	}
	o.Stdout, o.Stderr = stdout, stderr
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := devcluster.Run(ctx, o); err != nil {
		fmt.Fprintf(stderr, "raftline dev: %v\n", err)
		return 1
	}
	return 0
}

// health probes a node's HTTP endpoint. Images built FROM scratch have no
// curl, so container healthchecks run the binary itself.
func health(args []string, stdout, stderr io.Writer) int {
	fs := cliflags.New("raftline health", "raftline health [--url U] [--timeout D]",
		"Exits 0 when the URL answers 200, else prints why and exits 1. Images built\nFROM scratch have no curl, so container healthchecks run this.")
	url := fs.String("url", "http://127.0.0.1:9644/readyz", "URL to GET; healthy when it answers 200")
	timeout := fs.Duration("timeout", 2*time.Second, "how long to wait for the answer")
	if err := fs.Parse(args, nil); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.Help(stdout)
			return 0
		}
		fs.Report(stderr, err)
		return 2
	}
	if *timeout <= 0 {
		// A zero timeout would wait for ever: a healthcheck must end.
		fs.Report(stderr, fmt.Errorf("--timeout: %v is not a positive duration", *timeout))
		return 2
	}
	client := &http.Client{Timeout: *timeout}
	resp, err := client.Get(*url)
	if err != nil {
		fmt.Fprintf(stderr, "raftline health: %v\n", err)
		return 1
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode != http.StatusOK {
		fmt.Fprintf(stderr, "raftline health: %s: %s %s\n", *url, resp.Status, strings.TrimSpace(string(body)))
		return 1
	}
	fmt.Fprintf(stdout, "%s: %s", *url, body)
	return 0
}

// version prints the version; it takes no flags or arguments, and says so
// rather than ignore them.
func version(args []string, stdout, stderr io.Writer) int {
	fs := cliflags.New("raftline version", "raftline version (or raftline --version, raftline -v)", "Prints raftline's version.")
	fs.Hint = "usage: raftline version (it takes no flags or arguments)"
	if err := fs.Parse(args, nil); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.Help(stdout)
			return 0
		}
		fs.Report(stderr, err)
		return 2
	}
	fmt.Fprintln(stdout, server.Version)
	return 0
}

func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}
