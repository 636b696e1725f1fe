package seglog

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Open opens the log in dir, creating an empty one (first offset 0) when
// dir holds none, and recovers what a crash left:
//
//   - segments the last sync described, still at their synced length, are
//     trusted: their index files are checked against the checksums the sync
//     recorded (and rebuilt from the log when they differ); their log files
//     are not read;
//   - every other segment (the unsynced tail) is read batch by batch, length,
//     magic, CRC-32C and offsets checked; the first bad or partial batch and
//     everything after it are cut, and the segment's indexes are rebuilt.
//
// Synced bytes that turn out missing or damaged are an ErrCorrupt: dropping
// them would leave a hole the other replicas do not have. Open also finishes
// or rolls back an Install that a crash interrupted.
func Open(dir string, opts Options) (*Log, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	if err := finishInstall(dir); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, ioError("create", dir, err)
	}
	l := &Log{dir: dir, opts: opts}
	if err := l.load(); err != nil {
		return nil, err
	}
	return l, nil
}

// load reads the log's state from its directory into l.
func (l *Log) load() (err error) {
	ck, err := readCheckpoint(l.dir)
	if err != nil {
		return err
	}
	bases, err := l.listSegments()
	if err != nil {
		return err
	}
	var segs []*segment
	defer func() {
		if err != nil {
			closeFiles(segs)
		}
	}()
	synced := map[int64]checkpointSegment{}
	if ck != nil {
		for _, cs := range ck.Segments {
			synced[cs.Base] = cs
		}
	}
	// Retention deletes synced segments from the front; one missing after
	// the first still present was lost.
	for _, cs := range synced {
		if (len(bases) == 0 || cs.Base > bases[0]) && !slices.Contains(bases, cs.Base) {
			return corrupt(filepath.Join(l.dir, segmentName(cs.Base, extLog)), 0, "synced segment missing")
		}
	}
	if len(bases) == 0 {
		s, err := l.newSegment(0)
		if err != nil {
			return err
		}
		segs = append(segs, s)
		l.dirDirty = true
	}
loop:
	for i, base := range bases {
		cs, inCk := synced[base]
		if n := len(segs); n > 0 && segs[n-1].next != base {
			// A hole: what follows cannot be served. Only an unsynced tail
			// may be dropped.
			if err := l.dropTail(bases[i:], synced); err != nil {
				return err
			}
			break
		}
		s, err := l.openSegment(base, false)
		if err != nil {
			return err
		}
		segs = append(segs, s)
		switch {
		case inCk && s.log.size < cs.Files[0].Length:
			return corrupt(s.log.path, s.log.size, "%d bytes were synced", cs.Files[0].Length)
		case inCk && s.log.size == cs.Files[0].Length:
			if err := l.loadSynced(s, cs); err != nil {
				return err
			}
		default:
			fill := int64(0)
			if len(segs) > 1 {
				fill = max(segs[len(segs)-2].maxAppend, 0)
			}
			keep := int64(0) // synced bytes a recovery must not cut
			if inCk {
				keep = cs.Files[0].Length
				if err := checkSyncedPrefix(s.appendTime, cs.Files[3]); err != nil {
					return err
				}
			}
			cut, err := l.rebuild(s, recoverTail, keep, fill)
			if err != nil {
				return err
			}
			if cut {
				// Nothing after a cut continues its offsets.
				if err := l.dropTail(bases[i+1:], synced); err != nil {
					return err
				}
				break loop
			}
		}
	}
	l.segs = segs
	last := segs[len(segs)-1]
	l.next = last.next
	l.start = segs[0].base
	if ck != nil {
		l.start = min(max(ck.Start, segs[0].base), l.next)
	}
	l.bytes = 0
	for _, s := range segs {
		l.bytes += s.size
	}
	return nil
}

// listSegments returns the base offsets of the segments in the directory,
// in order, and removes what a crash can leave behind: index files whose log
// file is gone (a segment half deleted) and temporary files.
func (l *Log) listSegments() ([]int64, error) {
	entries, err := os.ReadDir(l.dir)
	if err != nil {
		return nil, ioError("read", l.dir, err)
	}
	logs := map[int64]bool{}
	for _, e := range entries {
		if base, ext, ok := parseSegmentName(e.Name()); ok && ext == extLog {
			logs[base] = true
		}
	}
	for _, e := range entries {
		name := e.Name()
		base, ext, ok := parseSegmentName(name)
		orphan := ok && ext != extLog && !logs[base]
		if orphan || strings.HasSuffix(name, ".tmp") {
			if err := removeFile(filepath.Join(l.dir, name)); err != nil {
				return nil, err
			}
			l.dirDirty = true
		}
	}
	bases := make([]int64, 0, len(logs))
	for b := range logs {
		bases = append(bases, b)
	}
	slices.Sort(bases)
	return bases, nil
}

// dropTail removes the segments at bases, which follow a hole or a cut. They
// must all be unsynced: synced data is never dropped.
func (l *Log) dropTail(bases []int64, synced map[int64]checkpointSegment) error {
	for _, b := range bases {
		if _, ok := synced[b]; ok {
			return corrupt(filepath.Join(l.dir, segmentName(b, extLog)), 0, "synced segment follows a gap in the offsets")
		}
	}
	for _, b := range bases {
		if err := l.removeSegmentFiles(b); err != nil {
			return err
		}
	}
	l.dirDirty = true
	return nil
}

// removeSegmentFiles deletes a segment's files, the log file first, so that
// a crash part way leaves only orphans that Open removes.
func (l *Log) removeSegmentFiles(base int64) error {
	for _, ext := range segmentExts {
		if err := removeFile(filepath.Join(l.dir, segmentName(base, ext))); err != nil {
			return err
		}
	}
	return nil
}

// openSegment opens an existing segment's files, creating missing index
// files empty (they are then rebuilt or found wrong against the checkpoint),
// and the log file too when create is set.
func (l *Log) openSegment(base int64, create bool) (*segment, error) {
	s := &segment{base: base, next: base, maxTs: noTimestamp, maxTsOffset: base, firstAppend: noTimestamp, maxAppend: noTimestamp, lastTimeT: noTimestamp}
	ptrs := []**file{&s.log, &s.index, &s.timeIndex, &s.appendTime}
	for i, ext := range segmentExts {
		f, err := openFile(filepath.Join(l.dir, segmentName(base, ext)), create || i > 0)
		if err != nil {
			closeFiles([]*segment{s})
			return nil, err
		}
		*ptrs[i] = f
	}
	return s, nil
}

// newSegment creates an empty segment at base, replacing any stale files.
func (l *Log) newSegment(base int64) (*segment, error) {
	if err := l.removeSegmentFiles(base); err != nil {
		return nil, err
	}
	s, err := l.openSegment(base, true)
	if err != nil {
		return nil, err
	}
	s.dirty = true
	l.dirDirty = true
	return s, nil
}

// loadSynced takes a segment the checkpoint describes at its current length:
// its index files must still match the checksums recorded, or are rebuilt
// from the log, which must then reproduce the synced length and checksum. The
// append-time index cannot be rebuilt, so a mismatch there is an error.
func (l *Log) loadSynced(s *segment, cs checkpointSegment) error {
	if cs.Next < s.base || cs.LastIndexPos < 0 || cs.LastIndexPos > s.log.size {
		return corrupt(filepath.Join(l.dir, checkpointName), 0, "segment %d: next %d, last index position %d", s.base, cs.Next, cs.LastIndexPos)
	}
	intact := func(f *file, sum fileSum) (bool, error) {
		if f.size != sum.Length {
			return false, nil
		}
		crc, err := f.checksum(f.size)
		if err != nil {
			return false, err
		}
		f.crc = crc
		return crc == sum.CRC32C, nil
	}
	ok, err := intact(s.appendTime, cs.Files[3])
	if err != nil {
		return err
	}
	if !ok {
		return corrupt(s.appendTime.path, 0, "does not match its synced length %d and checksum %08x", cs.Files[3].Length, cs.Files[3].CRC32C)
	}
	indexOK, err := intact(s.index, cs.Files[1])
	if err != nil {
		return err
	}
	timeOK, err := intact(s.timeIndex, cs.Files[2])
	if err != nil {
		return err
	}
	if !indexOK || !timeOK {
		if _, err := l.rebuild(s, verifyAll, s.log.size, 0); err != nil {
			return err
		}
		if s.next != cs.Next || s.log.crc != cs.Files[0].CRC32C {
			return corrupt(s.log.path, 0, "rebuilt to next offset %d checksum %08x; %d and %08x were synced", s.next, s.log.crc, cs.Next, cs.Files[0].CRC32C)
		}
		s.dirty = true
		return nil
	}
	s.log.crc = cs.Files[0].CRC32C
	s.next = cs.Next
	s.size = s.log.size
	s.indexEntries = s.index.size / indexEntrySize
	s.timeEntries = s.timeIndex.size / timeEntrySize
	s.lastIndexRel, s.lastIndexPos = cs.LastIndexRel, cs.LastIndexPos
	s.maxTs, s.maxTsOffset, s.lastTimeT = cs.MaxTimestamp, cs.MaxTimestampOffset, cs.LastTimeIndexTs
	s.firstAppend, s.maxAppend = cs.FirstAppendTimeMs, cs.MaxAppendTimeMs
	s.indexBytes = s.indexFileBytes()
	return nil
}

// checkSyncedPrefix checks that f still begins with the bytes a sync
// recorded: entries that cannot be rebuilt must not have changed.
func checkSyncedPrefix(f *file, sum fileSum) error {
	if f.size < sum.Length {
		return corrupt(f.path, f.size, "%d bytes were synced", sum.Length)
	}
	crc, err := f.checksum(sum.Length)
	if err != nil {
		return err
	}
	if crc != sum.CRC32C {
		return corrupt(f.path, 0, "the %d bytes synced no longer match their checksum", sum.Length)
	}
	return nil
}
