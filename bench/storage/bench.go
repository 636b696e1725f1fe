//go:build linux

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/raftline/raftline/internal/clusterspec"
)

const (
	recordSize = 1024
	// topicBytes is one topic's share of what is written: 1 GiB of 1 KiB
	// values (loadgen counts key plus value bytes; there are no keys).
	topicBytes   = 1 << 30
	topicRecords = topicBytes / recordSize

	startTimeout    = 2 * time.Minute
	restartTimeout  = 15 * time.Minute // a restart that replays the whole Raft log
	stopTimeout     = time.Minute
	snapshotTimeout = 10 * time.Minute
)

// bench holds what every phase shares.
type bench struct {
	cfg  config
	work string
	ctx  context.Context
}

// loadgenResult is the part of `loadgen --json` read here.
type loadgenResult struct {
	Produce        *throughput `json:"produce"`
	Consume        *throughput `json:"consume"`
	PublishLatency *struct {
		P50 float64 `json:"p50_us"`
		P99 float64 `json:"p99_us"`
	} `json:"publish_latency"`
}

type throughput struct {
	Records       int64            `json:"records"`
	RecordsPerSec float64          `json:"records_per_sec"`
	MiBPerSec     float64          `json:"mib_per_sec"`
	Errors        map[string]int64 `json:"errors"`
}

func (t *throughput) errorCount() int64 {
	var n int64
	for _, v := range t.Errors {
		n += v
	}
	return n
}

func (b *bench) loadgen(jsonPath string, args ...string) (loadgenResult, error) {
	var r loadgenResult
	args = append(args, "--quiet", "--json", jsonPath)
	if err := runLogged(b.ctx, filepath.Join(b.work, "loadgen.log"), b.cfg.Loadgen, args...); err != nil {
		return r, err
	}
	raw, err := os.ReadFile(jsonPath)
	if err != nil {
		return r, err
	}
	if err := json.Unmarshal(raw, &r); err != nil {
		return r, fmt.Errorf("%s: %w", jsonPath, err)
	}
	return r, nil
}

// coreRun is one run of the bench-core workload.
type coreRun struct {
	Storage       string  `json:"storage"`
	Run           int     `json:"run"`
	RecordsPerSec float64 `json:"records_per_sec"`
	MBPerSec      float64 `json:"mb_per_sec"`
	P50Ms         float64 `json:"publish_p50_ms"`
	P99Ms         float64 `json:"publish_p99_ms"`
	Errors        int64   `json:"errors"`
}

// core runs scripts/bench-core.sh's workload on a fresh `raftline dev` with
// each storage (dev's defaults otherwise), the storages' order alternating
// between runs so both see the same machine noise.
func (b *bench) core() ([]coreRun, error) {
	var out []coreRun
	for i := 1; i <= b.cfg.Runs; i++ {
		order := slices.Clone(b.cfg.Storages)
		if i%2 == 0 {
			slices.Reverse(order)
		}
		for _, s := range order {
			progress("core: run %d of %d, --storage %s", i, b.cfg.Runs, s)
			r, err := b.coreRun(s, i)
			if err != nil {
				return out, fmt.Errorf("core run %d, --storage %s: %w", i, s, err)
			}
			out = append(out, r)
		}
	}
	return out, nil
}

func (b *bench) coreRun(storage string, run int) (coreRun, error) {
	dir := filepath.Join(b.work, "core-"+storage)
	defer os.RemoveAll(dir)
	c := b.cluster(dir, nil)
	c.serveArgs = []string{"--storage", storage}
	if err := c.start(); err != nil {
		return coreRun{}, err
	}
	defer c.stop(stopTimeout)
	if _, err := c.waitReady(time.Now(), startTimeout); err != nil {
		return coreRun{}, err
	}
	r, err := b.loadgen(filepath.Join(b.work, fmt.Sprintf("core-%s-%d.json", storage, run)), "produce",
		"--brokers", c.brokers(), "--topic", "core", "--partitions", "3", "--size", strconv.Itoa(recordSize), "--acks", "all",
		"--warmup", "5s", "--duration", fmt.Sprintf("%ds", b.cfg.CoreSeconds))
	if err != nil {
		return coreRun{}, err
	}
	if r.Produce == nil || r.PublishLatency == nil {
		return coreRun{}, fmt.Errorf("loadgen wrote no produce results")
	}
	if err := c.stop(stopTimeout); err != nil {
		return coreRun{}, err
	}
	return coreRun{Storage: storage, Run: run,
		RecordsPerSec: r.Produce.RecordsPerSec, MBPerSec: r.Produce.MiBPerSec * 1.048576,
		P50Ms: r.PublishLatency.P50 / 1000, P99Ms: r.PublishLatency.P99 / 1000,
		Errors: r.Produce.errorCount()}, nil
}

func (b *bench) cluster(dataDir string, devArgs []string) *devCluster {
	return newDevCluster(b.ctx, b.cfg.Raftline, dataDir, filepath.Join(b.work, "dev.log"),
		b.cfg.KafkaPort, b.cfg.HTTPPort, b.cfg.RaftPort, devArgs)
}

// setup is one cluster configuration measured on its own data.
type setup struct {
	Name    string `json:"name"`
	Storage string `json:"storage"`
	GiB     int    `json:"gib"`
	// ServeArgs are given to every node besides --storage, while writing
	// and at the restarts.
	ServeArgs []string `json:"serve_args"`
}

// snapshotArgs have the nodes snapshot once their log is threshold entries
// past the last snapshot, checked every second (so Raft replays at most
// about that many entries at a restart); compactArgs also keep only that
// many entries after a snapshot, so the Raft log on disk stays short.
func snapshotArgs(threshold int) []string {
	return []string{"--snapshot-threshold", strconv.Itoa(threshold), "--snapshot-interval", "1s"}
}

func compactArgs(threshold int) []string {
	return append(snapshotArgs(threshold), "--trailing-logs", strconv.Itoa(threshold))
}

// setups are the configurations cfg asks for, in its storages' order: disk
// with the serve defaults and with the Raft log compacted, memory with the
// serve defaults.
func setups(cfg config) []setup {
	var out []setup
	for _, s := range cfg.Storages {
		switch s {
		case "disk":
			out = append(out, setup{Name: "disk", Storage: s, GiB: cfg.DiskGiB})
			if cfg.Compacted {
				out = append(out, setup{Name: "disk, Raft log compacted", Storage: s, GiB: cfg.DiskGiB, ServeArgs: compactArgs(cfg.SnapshotThreshold)})
			}
		case "memory":
			out = append(out, setup{Name: "memory", Storage: s, GiB: cfg.MemoryGiB})
		}
	}
	return out
}

// snapshots reports whether args have the nodes snapshot every threshold
// entries.
func (s setup) snapshots() bool {
	return slices.Contains(s.ServeArgs, "--snapshot-threshold")
}

// setupResult is what one setup measured.
type setupResult struct {
	setup
	// WrittenBytes were produced; RaftEntries is how many Raft entries
	// that took (the leader's last index after writing minus before).
	WrittenBytes   int64        `json:"written_bytes"`
	RaftEntries    uint64       `json:"raft_entries"`
	Write          []throughput `json:"write"`
	AfterWrite     []memory     `json:"memory_after_write"`
	DiskAfterWrite []usage      `json:"disk_after_write"`
	Hot            fetch        `json:"hot_fetch"`
	Cold           fetch        `json:"cold_fetch"`
	AfterFetch     []memory     `json:"memory_after_fetch"`
	Restarts       []restart    `json:"restarts"`
	AfterRestart   []memory     `json:"memory_after_restart"`
}

// bytesPerEntry is the mean size of the Raft entries the writes took.
func (s setupResult) bytesPerEntry() float64 {
	if s.RaftEntries == 0 {
		return 0
	}
	return float64(s.WrittenBytes) / float64(s.RaftEntries)
}

type fetch struct {
	Topic string     `json:"topic"`
	Bytes int64      `json:"bytes"`
	Runs  []fetchRun `json:"runs"`
}

type fetchRun struct {
	MiBPerSec float64 `json:"mib_per_sec"`
	// Leader is the node the consumer read from (partitions' leader), and
	// PageCache how much of its segment files of the topic was in the page
	// cache just before the read.
	Leader    int32     `json:"leader"`
	PageCache residency `json:"page_cache_before"`
}

type restart struct {
	// Name says which restart this is; ServeArgs are the flags the nodes
	// ran with, besides --storage.
	Name      string       `json:"name"`
	ServeArgs []string     `json:"serve_args"`
	Runs      []restartRun `json:"runs"`
}

type restartRun struct {
	StopSeconds  float64 `json:"stop_seconds"`
	ReadySeconds float64 `json:"ready_seconds"`
	// Tail is each node's Raft log just before the stop: a restart
	// restores the newest snapshot and replays the entries after it.
	Tail []tail `json:"tail"`
}

type tail struct {
	Node          int32  `json:"node"`
	SnapshotIndex uint64 `json:"snapshot_index"`
	LastIndex     uint64 `json:"last_index"`
}

func (t tail) entries() uint64 { return t.LastIndex - min(t.SnapshotIndex, t.LastIndex) }

// measure writes su.GiB topics of 1 GiB into a fresh cluster (retention
// off, so all of it is kept), then measures memory, fetches and restarts on
// that data.
func (b *bench) measure(su setup) (setupResult, error) {
	sr := setupResult{setup: su}
	name := strings.ReplaceAll(strings.ReplaceAll(su.Name, ",", ""), " ", "-")
	dir := filepath.Join(b.work, name)
	defer os.RemoveAll(dir)
	c := b.cluster(dir, []string{"--default-retention-bytes", "-1"})
	c.serveArgs = append([]string{"--storage", su.Storage}, su.ServeArgs...)
	if err := c.start(); err != nil {
		return sr, err
	}
	defer c.stop(stopTimeout)
	if _, err := c.waitReady(time.Now(), startTimeout); err != nil {
		return sr, err
	}
	leader, err := c.leader(time.Minute)
	if err != nil {
		return sr, err
	}
	before, err := lastIndex(leader.HTTPAddr())
	if err != nil {
		return sr, err
	}

	for i := 1; i <= su.GiB; i++ {
		topic := fmt.Sprintf("fill-%d", i)
		progress("%s: writing %s (%d of %d GiB)", su.Name, topic, i, su.GiB)
		r, err := b.loadgen(filepath.Join(b.work, fmt.Sprintf("%s-write-%d.json", name, i)), "produce",
			"--brokers", c.brokers(), "--topic", topic, "--partitions", "2", "--size", strconv.Itoa(recordSize),
			"--acks", "all", "--records", strconv.Itoa(topicRecords))
		if err != nil {
			return sr, err
		}
		if r.Produce == nil {
			return sr, fmt.Errorf("loadgen wrote no produce results for %s", topic)
		}
		if n := r.Produce.errorCount(); n > 0 {
			return sr, fmt.Errorf("writing %s: %d records failed: %v", topic, n, r.Produce.Errors)
		}
		sr.Write = append(sr.Write, *r.Produce)
		sr.WrittenBytes += topicBytes
	}
	// Every node applied everything before anything is measured.
	if _, err := c.waitReady(time.Now(), startTimeout); err != nil {
		return sr, err
	}
	if leader, err = c.leader(time.Minute); err != nil {
		return sr, err
	}
	after, err := lastIndex(leader.HTTPAddr())
	if err != nil {
		return sr, err
	}
	sr.RaftEntries = after - before
	if sr.AfterWrite, err = c.memory(); err != nil {
		return sr, err
	}
	for _, n := range c.spec.Nodes {
		u, err := diskUsage(n.ID, n.DataDir)
		if err != nil {
			return sr, err
		}
		sr.DiskAfterWrite = append(sr.DiskAfterWrite, u)
	}

	// Hot: the topic written last, whose pages the writes just left in the
	// page cache. Cold: the topic written first, after dropping the cache.
	if sr.Hot, err = b.fetches(c, su, fmt.Sprintf("fill-%d", su.GiB), false); err != nil {
		return sr, err
	}
	if sr.Cold, err = b.fetches(c, su, "fill-1", true); err != nil {
		return sr, err
	}
	if sr.AfterFetch, err = c.memory(); err != nil {
		return sr, err
	}

	if su.snapshots() {
		if err := b.waitSnapshots(c); err != nil {
			return sr, err
		}
		rs, err := b.restarts(c, su, "after a snapshot", su.ServeArgs)
		sr.Restarts = append(sr.Restarts, rs)
		if err != nil {
			return sr, err
		}
	} else {
		// With the serve defaults, Raft snapshots every 8192 entries, so
		// writes of up to that many leave no snapshot: a restart replays
		// the whole Raft log.
		rs, err := b.restarts(c, su, "serve defaults", su.ServeArgs)
		sr.Restarts = append(sr.Restarts, rs)
		if err != nil {
			return sr, err
		}
		// Then on the same data with a snapshot near the end of the log.
		args := append(slices.Clone(su.ServeArgs), snapshotArgs(b.cfg.SnapshotThreshold)...)
		progress("%s: restarting with %v and waiting for every node to snapshot", su.Name, args)
		if err := c.stop(stopTimeout); err != nil {
			return sr, err
		}
		c.serveArgs = append([]string{"--storage", su.Storage}, args...)
		if err := c.start(); err != nil {
			return sr, err
		}
		if _, err := c.waitReady(time.Now(), restartTimeout); err != nil {
			return sr, err
		}
		if err := b.waitSnapshots(c); err != nil {
			return sr, err
		}
		rs, err = b.restarts(c, su, "after a snapshot", args)
		sr.Restarts = append(sr.Restarts, rs)
		if err != nil {
			return sr, err
		}
	}
	if sr.AfterRestart, err = c.memory(); err != nil {
		return sr, err
	}
	progress("%s: done; removing its data", su.Name)
	return sr, c.stop(stopTimeout)
}

func lastIndex(httpAddr string) (uint64, error) {
	v, err := clusterspec.View(httpAddr)
	return v.LastIndex, err
}

// fetches reads the whole of topic from its beginning with one consumer,
// cfg.Runs times, dropping the page cache before each read when cold.
func (b *bench) fetches(c *devCluster, su setup, topic string, cold bool) (fetch, error) {
	f := fetch{Topic: topic, Bytes: topicBytes}
	kind := "hot"
	if cold {
		kind = "cold"
	}
	for i := 1; i <= b.cfg.Runs; i++ {
		progress("%s: %s read of %s, run %d of %d", su.Name, kind, topic, i, b.cfg.Runs)
		if cold {
			if err := dropCaches(); err != nil {
				return f, err
			}
		}
		leader, err := c.leader(time.Minute)
		if err != nil {
			return f, err
		}
		var run fetchRun
		run.Leader = leader.ID
		if su.Storage == "disk" {
			if run.PageCache, err = resident(leader.DataDir, topic); err != nil {
				return f, err
			}
		}
		r, err := b.loadgen(filepath.Join(b.work, fmt.Sprintf("%s-%s-%d.json", strings.ReplaceAll(su.Name, " ", "-"), kind, i)), "consume",
			"--brokers", c.brokers(), "--topic", topic, "--from", "start", "--records", strconv.Itoa(topicRecords))
		if err != nil {
			return f, err
		}
		if r.Consume == nil || r.Consume.Records != topicRecords {
			return f, fmt.Errorf("%s read of %s: loadgen consumed %v, want %d records", kind, topic, r.Consume, topicRecords)
		}
		if n := r.Consume.errorCount(); n > 0 {
			return f, fmt.Errorf("%s read of %s: %d errors: %v", kind, topic, n, r.Consume.Errors)
		}
		run.MiBPerSec = r.Consume.MiBPerSec
		f.Runs = append(f.Runs, run)
	}
	return f, nil
}

// restarts stops the whole cluster and starts it again cfg.Runs times,
// with serveArgs, timing each start until every node is ready, and checks
// that the partitions' high watermarks came back unchanged.
func (b *bench) restarts(c *devCluster, su setup, name string, serveArgs []string) (restart, error) {
	rs := restart{Name: name, ServeArgs: serveArgs}
	c.serveArgs = append([]string{"--storage", su.Storage}, serveArgs...)
	for i := 1; i <= b.cfg.Runs; i++ {
		leader, err := c.leader(time.Minute)
		if err != nil {
			return rs, err
		}
		hw, err := metric(leader.HTTPAddr(), "raftline_partition_high_watermark")
		if err != nil {
			return rs, err
		}
		var run restartRun
		for _, n := range c.spec.Nodes {
			v, err := clusterspec.View(n.HTTPAddr())
			if err != nil {
				return rs, err
			}
			snap, err := snapshotIndex(n.DataDir)
			if err != nil {
				return rs, err
			}
			run.Tail = append(run.Tail, tail{Node: n.ID, SnapshotIndex: snap, LastIndex: v.LastIndex})
		}
		progress("%s: restart (%s), run %d of %d; Raft log tails %v", su.Name, name, i, b.cfg.Runs, run.Tail)
		t0 := time.Now()
		if err := c.stop(stopTimeout); err != nil {
			return rs, err
		}
		run.StopSeconds = time.Since(t0).Seconds()
		t1 := time.Now()
		if err := c.start(); err != nil {
			return rs, err
		}
		d, err := c.waitReady(t1, restartTimeout)
		if err != nil {
			return rs, err
		}
		run.ReadySeconds = d.Seconds()
		progress("%s: ready after %.2f s", su.Name, run.ReadySeconds)
		if err := c.waitHighWatermarks(hw); err != nil {
			return rs, err
		}
		rs.Runs = append(rs.Runs, run)
	}
	return rs, nil
}

// waitSnapshots waits until every node holds a snapshot within
// cfg.SnapshotThreshold entries of the leader's last index, so a restart
// replays only a short tail.
func (b *bench) waitSnapshots(c *devCluster) error {
	leader, err := c.leader(time.Minute)
	if err != nil {
		return err
	}
	target, err := lastIndex(leader.HTTPAddr())
	if err != nil {
		return err
	}
	if target > uint64(b.cfg.SnapshotThreshold) {
		target -= uint64(b.cfg.SnapshotThreshold)
	}
	deadline := time.Now().Add(snapshotTimeout)
	for {
		if err := c.exited(); err != nil {
			return err
		}
		var last error
		for _, n := range c.spec.Nodes {
			idx, err := snapshotIndex(n.DataDir)
			if err == nil && idx < target {
				err = fmt.Errorf("node %d's newest snapshot is at index %d, want at least %d", n.ID, idx, target)
			}
			if err != nil {
				last = err
				break
			}
		}
		if last == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no snapshot near the end of the log on every node within %v: %w", snapshotTimeout, last)
		}
		if err := b.ctx.Err(); err != nil {
			return err
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// waitHighWatermarks waits until the leader's partitions' high watermarks
// add up to want: the restarted cluster serves what it held before.
func (c *devCluster) waitHighWatermarks(want int64) error {
	var last error
	deadline := time.Now().Add(time.Minute)
	for {
		leader, err := c.leader(time.Minute)
		if err == nil {
			var got int64
			if got, err = metric(leader.HTTPAddr(), "raftline_partition_high_watermark"); err == nil && got != want {
				err = fmt.Errorf("node %d's high watermarks add up to %d, %d before the restart", leader.ID, got, want)
			}
		}
		if err == nil {
			return nil
		}
		last = err
		if time.Now().After(deadline) {
			return fmt.Errorf("after the restart: %w", last)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
