package seglog

import "time"

// Stats is what a log holds on disk, from the sizes it keeps in memory: no
// file is read or stat'ed, so a metrics scrape can ask every partition.
type Stats struct {
	// Segments is the number of segments, each a .log file with its three
	// index files. Never 0: an empty log has one empty segment.
	Segments int
	// LogBytes is the bytes of record batches in the .log files (Size).
	LogBytes int64
	// IndexBytes is the bytes of the offset, time and append-time index
	// files together.
	IndexBytes int64
}

// Stats reports the log's segments and the bytes of its files as of the
// last change a reader could see.
func (l *Log) Stats() Stats {
	l.mu.RLock()
	defer l.mu.RUnlock()
	st := Stats{Segments: len(l.segs), LogBytes: l.bytes}
	for _, s := range l.segs {
		st.IndexBytes += s.indexBytes
	}
	return st
}

// indexFileBytes is the length of the segment's three index files, to be
// published as indexBytes under the log's mu. Called by the writer.
func (s *segment) indexFileBytes() int64 {
	return s.index.size + s.timeIndex.size + s.appendTime.size
}

// observeSync reports a sync that began at start to Options.OnSync.
func (l *Log) observeSync(start time.Time) {
	if l.opts.OnSync != nil {
		l.opts.OnSync(time.Since(start))
	}
}
