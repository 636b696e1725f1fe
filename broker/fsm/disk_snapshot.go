package fsm

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/raftline/raftline/broker/seglog"
	"github.com/raftline/raftline/broker/topicrules"
)

// Snapshots of disk partitions copy no data. Freezing a partition takes its
// manifest (seglog.Capture: every segment's log and append-time files with
// their lengths and checksums) and hard-links those files into
// <dir>.pin/<n>/<topic>/<partition>/, because retention may delete a
// segment before the snapshot is written; it is cheap, because the state
// machine's goroutine does it. The fsyncs that make the files durable run
// when the snapshot is written (Snapshot.Sync, on Raft's snapshot
// goroutine), before the snapshot is kept. The snapshot's head
// lists the manifests; raftnode attaches the pinned files to the snapshot,
// whose store links them again and sends them to a node that needs the
// snapshot (InstallSnapshot). Then the pins go.
//
// Restoring (restoreFiles) keeps a partition's own files whenever they hold
// what the manifest lists (seglog.Log.Holds) — always the case when a node
// restarts from its own snapshot — and cuts them back to the snapshot's
// offsets (TruncateTo); the Raft log after the snapshot is then applied
// again. Otherwise the files are copied in from the snapshot
// (seglog.Log.Install checks every length, checksum and batch before it
// swaps them in).

// pinDir holds the files of snapshots being taken.
func (d diskStore) pinDir() string { return d.dir + ".pin" }

var pinSeq atomic.Int64

func (d diskStore) freezing() (freezer, error) {
	dir := filepath.Join(d.pinDir(), strconv.FormatInt(pinSeq.Add(1), 10))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("%w: create %s: %w", ErrStorage, dir, err)
	}
	return diskFreezer{dir: dir}, nil
}

type diskFreezer struct{ dir string }

// freeze captures the partition (seglog.Capture: its manifest now, the
// fsyncs for later, off the apply goroutine) and pins its files.
func (f diskFreezer) freeze(topic string, partition int, log PartitionLog) (frozenLog, error) {
	l := log.(diskLog).l
	m, pending, err := l.Capture()
	if err != nil {
		return nil, storageErr(err)
	}
	fs := &frozenSegments{m: m, pending: pending}
	pdir := filepath.Join(f.dir, topic, strconv.Itoa(partition))
	if err := os.MkdirAll(pdir, 0o755); err != nil {
		return nil, fmt.Errorf("%w: create %s: %w", ErrStorage, pdir, err)
	}
	for _, mf := range m.Files {
		pinned := filepath.Join(pdir, mf.Name)
		if err := os.Link(filepath.Join(l.Dir(), mf.Name), pinned); err != nil {
			return nil, fmt.Errorf("%w: pin a segment file for a snapshot: %w", ErrStorage, err)
		}
		fs.files = append(fs.files, pinnedFile{SnapshotFile{
			Name: path.Join(topic, strconv.Itoa(partition), mf.Name), Path: pinned,
			Length: mf.Length, CRC32C: mf.CRC32C,
		}, mf.Base})
	}
	return fs, nil
}

func (f diskFreezer) release() { os.RemoveAll(f.dir) }

// frozenSegments is a disk partition as a snapshot lists it, with the sync
// that makes its files durable still to run (Snapshot.Sync).
type frozenSegments struct {
	m       seglog.Manifest
	files   []pinnedFile
	pending *seglog.PendingSync
}

// pinnedFile is a segment file pinned for a snapshot, with its segment's
// base offset.
type pinnedFile struct {
	SnapshotFile
	base int64
}

func (f *frozenSegments) offsets() (start, next int64) { return f.m.Start, f.m.Next }

func (f *frozenSegments) count() (int, int64, error) {
	return 0, 0, errors.New("fsm: a disk partition's snapshot lists files, not batches")
}

func (f *frozenSegments) each(func(snapBatch) error) error {
	return errors.New("fsm: a disk partition's snapshot lists files, not batches")
}

// sync runs the capture's fsyncs; a segment retention deleted before they
// ran is synced through the snapshot's own links to its files.
func (f *frozenSegments) sync() error {
	if err := f.pending.Run(); err != nil {
		return storageErr(err)
	}
	for _, base := range f.pending.Dropped() {
		for _, sf := range f.files {
			if sf.base != base {
				continue
			}
			if err := syncFile(sf.Path); err != nil {
				return fmt.Errorf("%w: %w", ErrStorage, err)
			}
		}
	}
	return nil
}

func (f *frozenSegments) release() {}

func syncFile(path string) error {
	fl, err := os.Open(path)
	if err != nil {
		return err
	}
	defer fl.Close()
	return fl.Sync()
}

// restoreFiles makes the partitions the snapshot lists the live ones:
// each partition's own log where it holds the snapshot's files (cut back to
// the snapshot's offsets), else the snapshot's files installed over it.
// Live topics the snapshot does not hold, or holds under another id (a
// topic deleted and created again), are removed, as is every directory no
// restored partition owns.
//
// The snapshot's head was checked before (its topic names, its manifests'
// offsets): an error here is the disk's, or files that no longer match
// their checksums, and leaves the partitions part restored, so the caller
// fails the state.
func (d diskStore) restoreFiles(live map[string]*Topic, topics []snapTopic, open OpenFile) (map[string]*Topic, error) {
	wanted := map[string]*snapTopic{}
	for i := range topics {
		wanted[topics[i].Name] = &topics[i]
	}
	for name, t := range live {
		if st := wanted[name]; st == nil || st.ID != t.ID || len(st.Partitions) != len(t.Partitions) {
			if err := d.drop(t); err != nil {
				return nil, err
			}
			delete(live, name)
		}
	}
	restored := map[string]*Topic{}
	for _, st := range topics {
		t := &Topic{Name: st.Name, ID: st.ID, Configs: st.Configs}
		lt := live[st.Name]
		for i, sp := range st.Partitions {
			var l *seglog.Log
			if lt != nil {
				l = lt.Partitions[i].(diskLog).l
			}
			l, err := d.restorePartition(l, st.Name, i, t.SegmentOptions(d.opts), *sp.Manifest, open)
			if err != nil {
				return nil, err
			}
			t.Partitions = append(t.Partitions, diskLog{l})
		}
		restored[t.Name] = t
	}
	return restored, d.removeStrays(restored)
}

// restorePartition brings one partition to the manifest m: l is its live
// log, or nil at start-up, when its directory is opened with opts (the
// topic's).
func (d diskStore) restorePartition(l *seglog.Log, topic string, partition int, opts seglog.Options, m seglog.Manifest, open OpenFile) (*seglog.Log, error) {
	dir := d.partitionDir(d.dir, topic, partition)
	if l == nil {
		var err error
		if l, err = seglog.Open(dir, opts); err != nil {
			var serr *seglog.Error
			if errors.As(err, &serr) {
				return nil, storageErr(err)
			}
			// Files a crash or a fault left unreadable: the snapshot
			// has the partition whole.
			if l, err = seglog.Create(dir, m.Start, opts); err != nil {
				return nil, storageErr(err)
			}
		}
	}
	holds, err := l.Holds(m)
	if err != nil {
		l.Close()
		return nil, storageErr(err)
	}
	if holds {
		err = l.TruncateTo(m.Next)
	} else {
		prefix := path.Join(topic, strconv.Itoa(partition)) + "/"
		err = l.Install(m, func(name string) (io.Reader, error) { return open(prefix + name) })
	}
	if err != nil {
		l.Close()
		return nil, storageErr(fmt.Errorf("restore partition %s/%d from a snapshot: %w", topic, partition, err))
	}
	return l, nil
}

// removeStrays removes the directories in d.dir no restored partition owns:
// topics deleted since, partitions of a topic created again with fewer.
func (d diskStore) removeStrays(restored map[string]*Topic) error {
	topics, err := os.ReadDir(d.dir)
	if err != nil {
		return fmt.Errorf("%w: read %s: %w", ErrStorage, d.dir, err)
	}
	var errs []error
	remove := func(p string) {
		if err := os.RemoveAll(p); err != nil {
			errs = append(errs, fmt.Errorf("%w: remove %s: %w", ErrStorage, p, err))
		}
	}
	for _, te := range topics {
		t := restored[te.Name()]
		if t == nil {
			remove(filepath.Join(d.dir, te.Name()))
			continue
		}
		parts, err := os.ReadDir(filepath.Join(d.dir, te.Name()))
		if err != nil {
			errs = append(errs, fmt.Errorf("%w: read %s: %w", ErrStorage, te.Name(), err))
			continue
		}
		for _, pe := range parts {
			// <partition>, or seglog's <partition>.staging / .old
			num, _, _ := strings.Cut(pe.Name(), ".")
			if p, err := strconv.Atoi(num); err != nil || p < 0 || p >= len(t.Partitions) {
				remove(filepath.Join(d.dir, te.Name(), pe.Name()))
			}
		}
	}
	return errors.Join(errs...)
}

// checkManifests checks what a format 2 snapshot says of its partitions
// before anything is changed: topic names that are safe directory names,
// one manifest per partition with offsets that make sense. seglog checks
// the rest as it installs.
func checkManifests(topics []snapTopic) error {
	seen := map[string]bool{}
	for _, st := range topics {
		if err := topicrules.ValidateTopicName(st.Name); err != nil {
			return fmt.Errorf("%w: %v", ErrBadSnapshot, err)
		}
		if seen[st.Name] {
			return fmt.Errorf("%w: topic %q listed twice", ErrBadSnapshot, st.Name)
		}
		seen[st.Name] = true
		for i, sp := range st.Partitions {
			m := sp.Manifest
			if m == nil {
				return fmt.Errorf("%w: %s/%d has no file list", ErrBadSnapshot, st.Name, i)
			}
			if m.Start < 0 || m.Start > m.Next || len(m.Files) == 0 {
				return fmt.Errorf("%w: %s/%d: offsets %d to %d in %d files", ErrBadSnapshot, st.Name, i, m.Start, m.Next, len(m.Files))
			}
		}
	}
	return nil
}
