package seglog

import (
	"path/filepath"
	"sync"
	"time"
)

// Capture describes the log as Manifest does, without waiting for the disk:
// the fsyncs that make the listed bytes durable, and the checkpoint that
// records them, are left to the returned PendingSync, which the caller runs
// later on another goroutine while the writer goes on appending. raftline's
// state machine captures every partition for a snapshot on its apply
// goroutine, where an fsync of everything written since the last snapshot
// would hold up every write.
//
// Nothing waits for the PendingSync: retention may delete a captured
// segment before it runs, and then it is not synced (a caller that keeps
// such a segment's files, as a snapshot does with hard links, syncs its own
// copy: Dropped). Segments stay marked as written since the last sync, so a
// Sync, Close or later Capture syncs them again rather than trust a
// PendingSync that has not run yet.
func (l *Log) Capture() (Manifest, *PendingSync, error) {
	l.wmu.Lock()
	defer l.wmu.Unlock()
	if err := l.writable(); err != nil {
		return Manifest{}, nil, err
	}
	// A sealed time index ends with the segment's largest timestamp, as
	// a sync leaves it.
	if err := l.fail(l.seal(l.active())); err != nil {
		return Manifest{}, nil, err
	}
	p := &PendingSync{l: l, dir: l.dirDirty}
	m := Manifest{Start: l.start, Next: l.next}
	for _, s := range l.segs {
		if s.dirty {
			p.segs = append(p.segs, s)
		}
		for _, f := range []*file{s.log, s.appendTime} {
			m.Files = append(m.Files, File{Base: s.base, Name: filepath.Base(f.path), Length: f.size, CRC32C: f.crc})
		}
	}
	p.ck = checkpointOf(l.start, l.next, l.segs)
	l.syncSeq++
	p.seq = l.syncSeq
	return m, p, nil
}

// PendingSync makes a Capture's bytes durable; see Capture. Run it once;
// a capture not run holds nothing.
type PendingSync struct {
	l       *Log
	segs    []*segment // written since the last sync when captured
	dir     bool
	ck      checkpoint
	seq     uint64
	once    sync.Once
	dropped []int64
}

// Run fsyncs the files of the segments the capture found written since
// the last sync that the log still holds, and the directory, then records
// the captured state in the checkpoint unless a newer one was written
// meanwhile. An fsync error fails the log, as any write error does.
func (p *PendingSync) Run() error {
	l := p.l
	var err error
	p.once.Do(func() {
		start := time.Now()
		l.ioMu.RLock() // no file is closed while it is synced
		l.mu.RLock()
		held := map[*segment]bool{}
		for _, s := range l.segs {
			held[s] = true
		}
		closed := l.closed
		l.mu.RUnlock()
		for _, s := range p.segs {
			if closed {
				break
			}
			if !held[s] {
				p.dropped = append(p.dropped, s.base)
				continue
			}
			for _, f := range s.files() {
				if err = f.sync(); err != nil {
					break
				}
			}
			if err != nil {
				break
			}
		}
		if err == nil && p.dir && !closed {
			err = syncDir(l.dir)
		}
		l.ioMu.RUnlock()
		l.wmu.Lock()
		defer l.wmu.Unlock()
		if err != nil {
			err = l.fail(err)
			return
		}
		if werr := l.writable(); werr != nil || l.ckSeq >= p.seq {
			return // closed, failed, or a newer checkpoint is on disk
		}
		if err = l.fail(writeCheckpoint(l.dir, p.ck)); err == nil {
			l.ckSeq = p.seq
			l.observeSync(start)
		}
	})
	return err
}

// Dropped are the base offsets of the captured segments that were deleted
// (retention) before Run could sync them; known once Run has run.
func (p *PendingSync) Dropped() []int64 { return p.dropped }
