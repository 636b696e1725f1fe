package seglog

import "path/filepath"

// Holds reports whether the log already holds what m describes, so that a
// node restarting from a snapshot of its own can keep its files (cutting
// what follows with TruncateTo) instead of copying the snapshot's: the high
// watermark is at or past m.Next, the start offset is not before m.Start,
// and every file m lists of a segment still held is there under the same
// base offset, at least as long, beginning with the same bytes. The CRC-32C
// kept in memory settles a file at m's length; a file that grew since (the
// segment that was active) has its first bytes read to compare. Segments
// that retention deleted after m was taken are not required: replaying the
// Raft log deletes them again.
func (l *Log) Holds(m Manifest) (bool, error) {
	l.wmu.Lock()
	defer l.wmu.Unlock()
	if err := l.writable(); err != nil {
		return false, err
	}
	l.ioMu.RLock()
	defer l.ioMu.RUnlock()
	if l.next < m.Next || l.start < m.Start {
		return false, nil
	}
	first := l.segs[0].base
	for _, mf := range m.Files {
		if mf.Base < first {
			continue
		}
		var s *segment
		for _, c := range l.segs {
			if c.base == mf.Base {
				s = c
				break
			}
		}
		if s == nil {
			return false, nil
		}
		var f *file
		for _, c := range []*file{s.log, s.appendTime} {
			if filepath.Base(c.path) == mf.Name {
				f = c
			}
		}
		if f == nil || f.size < mf.Length {
			return false, nil
		}
		crc := f.crc
		if f.size > mf.Length {
			var err error
			if crc, err = f.checksum(mf.Length); err != nil {
				return false, err
			}
		}
		if crc != mf.CRC32C {
			return false, nil
		}
	}
	return true, nil
}
