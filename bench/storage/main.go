//go:build linux

// Command storage measures the figures of raftline's storage engine on a
// local `raftline dev` cluster, with --storage disk and --storage memory side
// by side in one run, and prints them as the tables docs/BENCHMARKS.md
// shows (`make bench-storage`):
//
//   - the bench-core workload (1 KiB records, acks=all, fresh cluster per
//     run) on each storage, runs interleaved, medians;
//   - the resident memory of each node after writing many gigabytes, with
//     nothing deleted by retention (topics of 2 partitions, 1 KiB records);
//   - a consumer reading a 1 GiB topic from its beginning, hot (just
//     written, in the page cache) and cold (after dropping the page cache);
//   - a restart of the whole cluster (SIGTERM to `raftline dev`, which
//     passes it to every node; start again; until /readyz answers 200 on
//     all three), first with the serve defaults, then after a snapshot near
//     the end of the log, with the Raft log tail each replayed.
//
// The machine these run on is shared and noisy: every figure is run several
// times and the median reported, and the two storages are compared in the
// same run. Cold reads drop the whole machine's page cache, so the program
// needs root.
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
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// config is the command line.
type config struct {
	Raftline    string   `json:"-"`
	Loadgen     string   `json:"-"`
	Storages    []string `json:"storages"`
	DiskGiB     int      `json:"disk_gib"`
	MemoryGiB   int      `json:"memory_gib"`
	Runs        int      `json:"runs"`
	Compacted   bool     `json:"compacted"`
	CoreSeconds int      `json:"core_seconds"`
	// SnapshotThreshold is given to the nodes as --snapshot-threshold for
	// the restart after a snapshot (with --snapshot-interval 1s).
	SnapshotThreshold int    `json:"snapshot_threshold"`
	WorkDir           string `json:"-"`
	JSON              string `json:"-"`
	KafkaPort         int    `json:"kafka_port"`
	HTTPPort          int    `json:"http_port"`
	RaftPort          int    `json:"raft_port"`
}

const about = `Measures the storage engine's figures on a local raftline dev cluster, disk
and memory storage side by side: the bench-core workload, each node's resident
memory after writing --disk-gib (or --memory-gib) GiB with nothing deleted by
retention, a consumer reading 1 GiB hot and cold (dropping the page cache:
needs root), and whole-cluster restarts with the Raft log replayed from the
start and from a snapshot near its end. Prints markdown tables; --json keeps
every number. Takes about 30 minutes with the defaults and about
3 x (2.2 x --disk-gib) GiB of free disk under --work-dir.

Flags:`

func parseFlags(args []string, stderr io.Writer) (config, error) {
	c := config{}
	fs := flag.NewFlagSet("storage", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, about)
		fs.PrintDefaults()
	}
	storages := fs.String("storages", "disk,memory", "storages to measure, in this order")
	fs.StringVar(&c.Raftline, "raftline", "bin/raftline", "the raftline binary")
	fs.StringVar(&c.Loadgen, "loadgen", "bin/loadgen", "the loadgen binary")
	fs.IntVar(&c.DiskGiB, "disk-gib", 5, "GiB written with --storage disk, as topics of 1 GiB")
	fs.IntVar(&c.MemoryGiB, "memory-gib", 2, "GiB written with --storage memory (each node holds it all in memory, three times on one machine)")
	fs.BoolVar(&c.Compacted, "compacted", true, "also measure disk with the Raft log compacted: --snapshot-threshold and --trailing-logs of --snapshot-threshold entries, --snapshot-interval 1s")
	fs.IntVar(&c.Runs, "runs", 3, "runs of each measurement; the median is reported")
	fs.IntVar(&c.CoreSeconds, "core-seconds", 20, "measured seconds of each bench-core run (0 skips them)")
	fs.IntVar(&c.SnapshotThreshold, "snapshot-threshold", 64, "--snapshot-threshold of the nodes for the restarts after a snapshot (about the most Raft entries they replay), and their --trailing-logs with the Raft log compacted")
	fs.StringVar(&c.WorkDir, "work-dir", "", "directory for the clusters' data and logs (default: a new directory under $TMPDIR); removed at the end, but for the logs when the run failed")
	fs.StringVar(&c.JSON, "json", "", "write every measurement to this file")
	fs.IntVar(&c.KafkaPort, "kafka-port", 9092, "Kafka port of node 1 (raftline dev --kafka-port)")
	fs.IntVar(&c.HTTPPort, "http-port", 9644, "HTTP port of node 1 (raftline dev --http-port)")
	fs.IntVar(&c.RaftPort, "raft-port", 9192, "Raft port of node 1 (raftline dev --raft-port)")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	var errs []error
	for _, s := range strings.Split(*storages, ",") {
		if s = strings.TrimSpace(s); s != "disk" && s != "memory" {
			errs = append(errs, fmt.Errorf("--storages: %q is not disk or memory", s))
		} else if !slices.Contains(c.Storages, s) {
			c.Storages = append(c.Storages, s)
		}
	}
	if c.DiskGiB < 1 || c.MemoryGiB < 1 {
		errs = append(errs, fmt.Errorf("--disk-gib and --memory-gib must be at least 1 (one topic of 1 GiB), not %d and %d", c.DiskGiB, c.MemoryGiB))
	}
	if c.Runs < 1 {
		errs = append(errs, fmt.Errorf("--runs must be at least 1, not %d", c.Runs))
	}
	if c.CoreSeconds < 0 {
		errs = append(errs, fmt.Errorf("--core-seconds must not be negative, not %d", c.CoreSeconds))
	}
	if c.SnapshotThreshold < 1 {
		errs = append(errs, fmt.Errorf("--snapshot-threshold must be at least 1, not %d", c.SnapshotThreshold))
	}
	for _, b := range []string{c.Raftline, c.Loadgen} {
		if _, err := os.Stat(b); err != nil {
			errs = append(errs, fmt.Errorf("%v (make bench-storage builds bin/raftline and bin/loadgen)", err))
		}
	}
	return c, errors.Join(errs...)
}

func main() {
	cfg, err := parseFlags(os.Args[1:], os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "storage:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	res, err := run(ctx, cfg)
	if res != nil {
		report(os.Stdout, cfg, res)
		if cfg.JSON != "" {
			if werr := writeJSON(cfg.JSON, res); werr != nil {
				fmt.Fprintln(os.Stderr, "storage:", werr)
			}
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "storage:", err)
		os.Exit(1)
	}
}

// result is everything measured, as --json writes it.
type result struct {
	Started time.Time     `json:"started"`
	Machine machine       `json:"machine"`
	Config  config        `json:"config"`
	Core    []coreRun     `json:"core,omitempty"`
	Setups  []setupResult `json:"setups"`
}

type machine struct {
	CPUs        int        `json:"cpus"`
	MemoryBytes int64      `json:"memory_bytes"`
	Kernel      string     `json:"kernel"`
	LoadAverage [3]float64 `json:"load_average_at_start"`
	GoVersion   string     `json:"go_version"`
}

func describeMachine() machine {
	m := machine{CPUs: runtime.NumCPU(), GoVersion: runtime.Version()}
	var si unix.Sysinfo_t
	if unix.Sysinfo(&si) == nil {
		m.MemoryBytes = int64(si.Totalram) * int64(si.Unit)
		for i := range 3 {
			m.LoadAverage[i] = float64(si.Loads[i]) / 65536
		}
	}
	var u unix.Utsname
	if unix.Uname(&u) == nil {
		m.Kernel = unix.ByteSliceToString(u.Release[:])
	}
	return m
}

func run(ctx context.Context, cfg config) (res *result, err error) {
	if err := canDropCaches(); err != nil {
		return nil, err
	}
	work := cfg.WorkDir
	if work == "" {
		var err error
		if work, err = os.MkdirTemp("", "raftline-bench-storage-"); err != nil {
			return nil, err
		}
	} else if err := os.MkdirAll(work, 0o755); err != nil {
		return nil, err
	}
	// The clusters' data is removed as each is done with; the logs of
	// raftline dev and loadgen are kept when something failed.
	defer func() {
		if err == nil {
			os.RemoveAll(work)
		} else {
			err = fmt.Errorf("%w\n(raftline dev's and loadgen's logs: %s)", err, work)
		}
	}()
	if err := checkFreeSpace(work, cfg); err != nil {
		return nil, err
	}
	res = &result{Started: time.Now().UTC(), Machine: describeMachine(), Config: cfg}
	b := &bench{cfg: cfg, work: work, ctx: ctx}
	if cfg.CoreSeconds > 0 {
		core, err := b.core()
		res.Core = core
		if err != nil {
			return res, err
		}
	}
	for _, su := range setups(cfg) {
		sr, err := b.measure(su)
		res.Setups = append(res.Setups, sr)
		if err != nil {
			return res, fmt.Errorf("%s: %w", su.Name, err)
		}
	}
	return res, nil
}

// checkFreeSpace refuses to start a run that would fill the disk: each node
// keeps the data written twice (segment files or snapshots, and the Raft log
// until a snapshot compacts it), with room to spare.
func checkFreeSpace(dir string, cfg config) error {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return err
	}
	free := int64(st.Bavail) * int64(st.Bsize)
	var need int64
	for _, s := range cfg.Storages {
		gib := cfg.DiskGiB
		if s == "memory" {
			gib = cfg.MemoryGiB
		}
		need = max(need, int64(3*gib)<<30*22/10)
	}
	if free < need {
		return fmt.Errorf("%s has %.1f GiB free; writing %d GiB to three nodes needs about %.1f GiB (lower --disk-gib or --memory-gib, or use another --work-dir)",
			dir, gib(free), cfg.DiskGiB, gib(need))
	}
	return nil
}

func gib(b int64) float64 { return float64(b) / (1 << 30) }
func mib(b int64) float64 { return float64(b) / (1 << 20) }

func writeJSON(path string, res *result) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	b, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// progress goes to stderr as the run goes, so a long run shows where it is.
func progress(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s  %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}
