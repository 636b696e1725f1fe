// Package freespace watches the free space of the filesystem that holds a
// node's data directory, and keeps the floor below which the node refuses
// produces before the disk fills.
//
// A disk that fills stops a node the hard way: the Raft log store, a segment
// or a snapshot write fails, and the node must stop rather than go on with a
// hole. The floor stops writes while there is still room for what is already
// under way. The leader asks Check before it proposes each produce (see
// raftcluster.Cluster.GateProduces); below the floor the produce is refused
// with cluster.ErrNoSpace, which Kafka clients are answered as the retriable
// KAFKA_STORAGE_ERROR, and nothing reaches Raft. Retention and deleted topics
// free space while produces wait, and the node takes them again by itself.
//
// Free space is read with statfs once a second on a goroutine of its own,
// never on a request's path: Check reads one atomic flag. Entering and
// leaving the state are each logged once.
package freespace

import (
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/raftline/raftline/broker/cluster"
)

// DefaultMinFreeBytes is `raftline serve`'s floor: 1 GiB. It must hold what
// a node writes after refusing starts: the produces already accepted (up to
// --kafka-node-max-inflight-bytes, 256 MiB by default, on the leader), the
// Raft log segment raft-wal preallocates next (64 MiB), the replicas'
// copies of the same entries on each follower, and the metadata entries and
// retention passes that go on. A quarter of the floor covers the first two;
// the rest is margin for the other files on the filesystem, which go on
// growing. A percentage would be too little on a small volume and tens of
// gigabytes held back on a large one; Redpanda's storage_min_free_bytes is a
// byte count too (5 GiB by default).
const DefaultMinFreeBytes = 1 << 30

// DefaultInterval is how often free space is read.
const DefaultInterval = time.Second

// Config configures a Monitor.
type Config struct {
	// Dir is the data directory; the filesystem holding it is watched.
	Dir string
	// MinFreeBytes is the floor: below it, Check refuses. 0: no floor.
	MinFreeBytes int64
	// Interval is how often free space is read (DefaultInterval when 0).
	Interval time.Duration
	// Logger gets one line when the node goes below the floor and one when
	// it is back above it (default: discard).
	Logger *slog.Logger
}

// Usage is the data directory's filesystem as last read.
type Usage struct {
	// Free is the bytes available to unprivileged writers (statfs
	// f_bavail; df's "Avail"), Capacity the filesystem's size.
	Free, Capacity int64
	// MinFree is the floor (0: none); Below whether Free is under it.
	MinFree int64
	Below   bool
	// Err is the last read's error, nil when it worked. Free, Capacity
	// and Below are then those of the last read that worked.
	Err error
}

// Monitor watches one data directory's filesystem. Its methods are safe for
// concurrent use.
type Monitor struct {
	dir      string
	interval time.Duration
	log      *slog.Logger

	minFree atomic.Int64
	below   atomic.Bool
	refused atomic.Int64

	mu    sync.Mutex // one read at a time; guards usage
	usage Usage

	stop      chan struct{}
	done      chan struct{}
	closeOnce sync.Once
}

// Start reads the filesystem's free space once, failing when it cannot
// (a directory that does not exist), and then again every Interval until
// Close.
func Start(cfg Config) (*Monitor, error) {
	if cfg.Dir == "" {
		return nil, errors.New("freespace: no directory to watch")
	}
	if cfg.MinFreeBytes < 0 {
		return nil, fmt.Errorf("freespace: floor %d is negative", cfg.MinFreeBytes)
	}
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultInterval
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	m := &Monitor{dir: cfg.Dir, interval: cfg.Interval, log: cfg.Logger, stop: make(chan struct{}), done: make(chan struct{})}
	m.minFree.Store(cfg.MinFreeBytes)
	if _, _, err := statfs(cfg.Dir); err != nil && !errors.Is(err, errors.ErrUnsupported) {
		return nil, fmt.Errorf("freespace: read the free space of %s: %w", cfg.Dir, err)
	}
	m.refresh()
	go m.run()
	return m, nil
}

func (m *Monitor) run() {
	defer close(m.done)
	t := time.NewTicker(m.interval)
	defer t.Stop()
	for {
		select {
		case <-m.stop:
			return
		case <-t.C:
			m.refresh()
		}
	}
}

// Close stops reading. Check keeps answering from the last read.
func (m *Monitor) Close() {
	m.closeOnce.Do(func() { close(m.stop) })
	<-m.done
}

// Check is nil while free space is at or above the floor. Below it, it
// counts a refusal and returns an error that matches cluster.ErrNoSpace,
// naming the directory, the free space and the floor. It reads no file.
func (m *Monitor) Check() error {
	if !m.below.Load() {
		return nil
	}
	m.refused.Add(1)
	u := m.Usage()
	return fmt.Errorf("%w: %s has %s free, under the floor of %s", cluster.ErrNoSpace, m.dir, IEC(u.Free), IEC(u.MinFree))
}

// Refused is how many times Check has refused since Start.
func (m *Monitor) Refused() int64 { return m.refused.Load() }

// Usage is the filesystem as last read.
func (m *Monitor) Usage() Usage {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.usage
}

// Dir is the directory watched.
func (m *Monitor) Dir() string { return m.dir }

// SetMinFreeBytes changes the floor (0: none; negative is taken as 0) and
// decides at once, from a fresh read, whether free space is below it.
func (m *Monitor) SetMinFreeBytes(n int64) {
	m.minFree.Store(max(n, 0))
	m.refresh()
}

// refresh reads the free space and decides whether it is below the floor,
// logging a change either way.
func (m *Monitor) refresh() {
	free, capacity, err := statfs(m.dir)
	m.mu.Lock()
	defer m.mu.Unlock()
	u := m.usage
	switch {
	case err != nil && u.Err == nil:
		m.log.Warn("cannot read the free disk space of the data directory; the free-space floor keeps its last decision",
			"dir", m.dir, "err", err)
	case err == nil && u.Err != nil:
		m.log.Info("free disk space of the data directory can be read again", "dir", m.dir)
	}
	u.Err = err
	if err == nil {
		u.Free, u.Capacity = free, capacity
	}
	u.MinFree = m.minFree.Load()
	u.Below = u.MinFree > 0 && u.Free < u.MinFree
	if err != nil {
		u.Below = m.below.Load()
	}
	switch was := m.below.Load(); {
	case u.Below && !was:
		m.log.Warn("free disk space is below the floor: refusing produces (KAFKA_STORAGE_ERROR) while this node leads, until space is freed",
			"dir", m.dir, "free", IEC(u.Free), "floor", IEC(u.MinFree), "capacity", IEC(u.Capacity))
	case !u.Below && was:
		m.log.Info("free disk space is back above the floor: taking produces again",
			"dir", m.dir, "free", IEC(u.Free), "floor", IEC(u.MinFree))
	}
	m.below.Store(u.Below)
	m.usage = u
}

// IEC renders a byte count in binary units, as 1.5GiB.
func IEC(n int64) string {
	const unit = 1024
	if n < unit && n > -unit {
		return fmt.Sprintf("%dB", n)
	}
	f, i := float64(n), -1
	for ; (f >= unit || f <= -unit) && i < 5; i++ {
		f /= unit
	}
	return fmt.Sprintf("%.1f%ciB", f, "KMGTPE"[i])
}
