// Package storagemetrics exports where a node keeps its data, as the
// storage metrics of docs/METRICS.md: the data directory's filesystem (free
// and total bytes), the free-space floor and the produces it refused, the
// space raftline's own files take there (partitions, Raft log, snapshots),
// each partition's bytes, segments and index bytes, how long segment syncs
// take, and the bytes the process reads from and writes to the disk.
//
// Gauges are read at scrape time from what the node keeps in memory (the
// partitions' sizes, the free space the monitor read within the last second)
// plus a walk of the Raft log and snapshot directories, which hold a few
// files each. Sync durations come from seglog (Options.OnSync).
//
// No page-cache hit ratio is exported: raftline keeps no record cache of
// its own, reads go through the kernel's page cache, and whether a read hit
// it is not visible to a positioned read. What the process had to read from
// the device is (raftline_storage_read_bytes_total); against the bytes
// Fetch served it shows how much of what consumers read came from the disk.
package storagemetrics

import (
	"context"
	"math"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/raftline/raftline/broker/cluster/raftcluster"
	"github.com/raftline/raftline/broker/freespace"
	"github.com/raftline/raftline/telemetry/internal/instr"
)

// Partitions are the partitions a node holds and what each holds;
// *raftcluster.Cluster is one.
type Partitions interface {
	// PartitionsWithin lists the partitions, or reports false when the
	// replicated state stayed locked for the wait given.
	PartitionsWithin(wait time.Duration) ([]raftcluster.PartitionState, bool)
}

var _ Partitions = (*raftcluster.Cluster)(nil)

// Source is the running node the gauges read.
type Source struct {
	Partitions Partitions
	// Space watches the data directory's filesystem and holds the floor.
	Space *freespace.Monitor
	// RaftLogDir holds the Raft log store's files, SnapshotDir the
	// snapshot store's.
	RaftLogDir, SnapshotDir string
}

// Reasons a produce is refused before it is proposed
// (raftline_produce_refusals_total's reason label).
const ReasonDiskBelowFloor = "disk_below_floor"

// Kinds of raftline's files in the data directory
// (raftline_storage_used_bytes' kind label).
const (
	KindPartitions = "partitions"
	KindRaftLog    = "raft_log"
	KindSnapshots  = "snapshots"
)

// Metrics holds one node's storage instruments.
type Metrics struct {
	syncDur metric.Float64Histogram
	// syncLast holds the last sync's duration in seconds, as float64
	// bits: syncs come with snapshots, restores and shutdown, minutes
	// apart, too rare for a rate of the histogram to show on a dashboard.
	syncLast atomic.Uint64

	parts    *instr.OptCache[topicPartition]
	kinds    map[string]instr.Opt
	belowOpt instr.Opt

	mu  sync.Mutex
	src *Source
	// refusedBefore is what monitors of earlier runs of the node (an
	// in-process restart) refused, so the counter never goes down.
	refusedBefore int64
}

type topicPartition struct {
	topic     string
	partition int32
}

// New creates the instruments on meter.
func New(meter metric.Meter) (*Metrics, error) {
	m := &Metrics{
		parts: instr.NewOptCache(func(k topicPartition) instr.Opt {
			return instr.NewOpt(attribute.String("topic", k.topic), attribute.String("partition", strconv.Itoa(int(k.partition))))
		}),
		kinds:    map[string]instr.Opt{},
		belowOpt: instr.NewOpt(attribute.String("reason", ReasonDiskBelowFloor)),
	}
	for _, k := range []string{KindPartitions, KindRaftLog, KindSnapshots} {
		m.kinds[k] = instr.NewOpt(attribute.String("kind", k))
	}
	reg := &instr.Registrar{Meter: meter}
	gauge := reg.Gauge
	m.syncDur = reg.Seconds("raftline_storage_sync_duration_seconds",
		"Time to make one partition's segment files durable: the fsyncs of the files written since its last sync, of its directory and of its checkpoint (with --storage disk).")
	partBytes := gauge("raftline_partition_size_bytes",
		"Record batch bytes each partition's replica holds on this node, in memory or in segment files: what retention.bytes is measured against.")
	partSegs := gauge("raftline_partition_segments",
		"Segments of each partition's replica on this node, each a log file and three index files (with --storage disk).")
	partIndex := gauge("raftline_partition_index_size_bytes",
		"Bytes of each partition's offset, time and append-time index files on this node (with --storage disk).")
	free := gauge("raftline_storage_free_bytes",
		"Bytes free on the filesystem holding the data directory, for a process without root's reserve (statfs f_bavail, df's Avail), read once a second.")
	capacity := gauge("raftline_storage_capacity_bytes", "Size of the filesystem holding the data directory.")
	floor := gauge("raftline_storage_min_free_bytes",
		"The free-space floor (--storage-min-free-bytes): while free space is below it, this node refuses the produces it leads; 0 when there is none.")
	used := gauge("raftline_storage_used_bytes",
		"Disk space raftline's files take in the data directory, by kind: partitions (segment and index files, with --storage disk), raft_log (the Raft log store) and snapshots.")
	syncLast := reg.SecondsGauge("raftline_storage_sync_last_duration_seconds",
		"Time the last segment sync on this node took (0 before the first; with --storage disk).")
	if reg.Err != nil {
		return nil, reg.Err
	}
	refused, err := meter.Int64ObservableCounter("raftline_produce_refusals_total",
		metric.WithDescription("Partition produces this node refused before proposing them, by reason: disk_below_floor (free space under --storage-min-free-bytes; answered KAFKA_STORAGE_ERROR)."))
	if err != nil {
		return nil, err
	}
	read, err := meter.Int64ObservableCounter("raftline_storage_read_bytes_total",
		metric.WithDescription("Bytes this process had read from the storage device (Linux /proc/self/io read_bytes): its reads the page cache did not serve."))
	if err != nil {
		return nil, err
	}
	written, err := meter.Int64ObservableCounter("raftline_storage_written_bytes_total",
		metric.WithDescription("Bytes this process caused to be written to the storage device (Linux /proc/self/io write_bytes)."))
	if err != nil {
		return nil, err
	}
	_, err = meter.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		m.mu.Lock()
		src, refusedBefore := m.src, m.refusedBefore
		m.mu.Unlock()
		o.ObserveFloat64(syncLast, math.Float64frombits(m.syncLast.Load()))
		if io, ok := readProcIO(); ok {
			o.ObserveInt64(read, io.read)
			o.ObserveInt64(written, io.written)
		}
		if src == nil {
			o.ObserveInt64(refused, refusedBefore, m.belowOpt.Obs...)
			return nil
		}
		u := src.Space.Usage()
		o.ObserveInt64(free, u.Free)
		o.ObserveInt64(capacity, u.Capacity)
		o.ObserveInt64(floor, u.MinFree)
		o.ObserveInt64(refused, refusedBefore+src.Space.Refused(), m.belowOpt.Obs...)

		// The partitions, unless an apply holds the state (a write to a
		// hung disk): then this scrape goes without their series rather
		// than hang with every other gauge.
		if ps, ok := src.Partitions.PartitionsWithin(instr.ScrapeWait); ok {
			var onDisk int64
			for _, p := range ps {
				st := p.Stats
				opt := m.parts.Get(topicPartition{p.Topic, p.Partition})
				o.ObserveInt64(partBytes, st.Bytes, opt.Obs...)
				if st.OnDisk {
					o.ObserveInt64(partSegs, int64(st.Segments), opt.Obs...)
					o.ObserveInt64(partIndex, st.IndexBytes, opt.Obs...)
					onDisk += st.Bytes + st.IndexBytes
				}
			}
			o.ObserveInt64(used, onDisk, m.kinds[KindPartitions].Obs...)
		}
		o.ObserveInt64(used, freespace.DirBytes(src.RaftLogDir), m.kinds[KindRaftLog].Obs...)
		o.ObserveInt64(used, freespace.DirBytes(src.SnapshotDir), m.kinds[KindSnapshots].Obs...)
		return nil
	}, partBytes, partSegs, partIndex, free, capacity, floor, used, refused, read, written, syncLast)
	if err != nil {
		return nil, err
	}
	return m, nil
}

// Attach points the gauges at a running node (again after a restart).
func (m *Metrics) Attach(src Source) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.src != nil && m.src.Space != src.Space {
		m.refusedBefore += m.src.Space.Refused()
	}
	m.src = &src
}

// Detach lets go of the node.
func (m *Metrics) Detach() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.src != nil {
		m.refusedBefore += m.src.Space.Refused()
	}
	m.src = nil
}

// SyncDone records one segment sync; it is seglog's Options.OnSync.
func (m *Metrics) SyncDone(d time.Duration) {
	m.syncDur.Record(context.Background(), d.Seconds())
	m.syncLast.Store(math.Float64bits(d.Seconds()))
}
