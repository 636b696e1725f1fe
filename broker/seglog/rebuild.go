package seglog

import (
	"bufio"
	"errors"
	"hash/crc32"
	"io"
	"math"
)

// rebuildMode says which faults a rebuild may repair and which are errors.
type rebuildMode struct {
	allowCut      bool // a bad or partial batch ends the segment there
	allowTrailing bool // append-time entries past the last batch are dropped
	repairAppend  bool // damaged or missing append-time entries are dropped or guessed
}

var (
	// recoverTail is for bytes never synced: keep the valid prefix.
	recoverTail = rebuildMode{allowCut: true, allowTrailing: true, repairAppend: true}
	// afterTruncate is for a segment cut at a batch boundary on purpose.
	afterTruncate = rebuildMode{allowTrailing: true}
	// verifyAll is for synced or received bytes: every fault is an error.
	verifyAll = rebuildMode{}
)

// rebuild reads the segment's log file from the start, checking every batch
// (whole, magic 2, CRC-32C intact, offsets continuing from the base), and
// rewrites the offset and time indexes from it, the way Kafka's
// LogSegment.recover does. A fault ends the scan: with allowCut the file is
// cut there, unless that would cut into the first keep bytes (synced data),
// which is an error. The append-time index is checked against the batches
// and trimmed to them. It reports whether the log file was cut; fill is the
// append time assumed for a recovered segment that lost its first entry.
//
// Callers hold the writer lock and, for a published segment, ioMu.
func (l *Log) rebuild(s *segment, mode rebuildMode, keep, fill int64) (cut bool, err error) {
	lf := s.log
	size := lf.size
	if err := s.index.truncate(0); err != nil {
		return false, err
	}
	if err := s.timeIndex.truncate(0); err != nil {
		return false, err
	}
	iw := bufio.NewWriterSize(appender{s.index}, 8<<10)
	tw := bufio.NewWriterSize(appender{s.timeIndex}, 8<<10)
	at := &entryReader{br: bufio.NewReaderSize(io.NewSectionReader(s.appendTime.f, 0, s.appendTime.size), 8<<10), left: s.appendTime.size}
	atTs, atRel, atOK, err := at.next()
	if err != nil {
		return false, ioError("read", s.appendTime.path, err)
	}

	var (
		br           = bufio.NewReaderSize(io.NewSectionReader(lf.f, 0, size), 64<<10)
		hdr          = make([]byte, headerSize)
		entry        = make([]byte, 0, timeEntrySize)
		pos          int64
		expect       = s.base
		fileCRC      uint32
		fault        string
		indexEntries int64
		lastIndexRel uint32
		lastIndexPos int64
		timeEntries  int64
		maxTs        = int64(noTimestamp)
		maxTsOffset  = s.base
		lastT        = int64(noTimestamp)
		atCount      int64
		atCRC        uint32
		atBad        bool
		firstAppend  = int64(noTimestamp)
		maxAppend    = int64(noTimestamp)
	)
	for pos < size {
		if size-pos < headerSize {
			fault = "a partial batch header"
			break
		}
		if _, err := io.ReadFull(br, hdr); err != nil {
			return false, ioError("read", lf.path, err)
		}
		h, herr := parseHeader(hdr)
		switch {
		case herr != nil:
			fault = herr.Error()
		case h.length > size-pos:
			fault = "a batch runs past the end of the file"
		case h.base != expect:
			fault = "base offset does not continue the segment"
		case h.last-s.base > math.MaxInt32 || pos > math.MaxInt32:
			fault = "a batch beyond the range of the segment's index"
		}
		if fault != "" {
			break
		}
		crc := crc32.Update(0, castagnoli, hdr[21:])
		fc := crc32.Update(fileCRC, castagnoli, hdr)
		for rem := h.length - headerSize; rem > 0; {
			b, err := br.Peek(int(min(rem, int64(br.Size()))))
			if err != nil {
				return false, ioError("read", lf.path, err)
			}
			crc = crc32.Update(crc, castagnoli, b)
			fc = crc32.Update(fc, castagnoli, b)
			br.Discard(len(b))
			rem -= int64(len(b))
		}
		if crc != h.crc {
			fault = "CRC-32C mismatch"
			break
		}
		fileCRC = fc

		// The same rule as Append, so a rebuilt index equals a written one.
		if h.maxTs > maxTs {
			maxTs, maxTsOffset = h.maxTs, h.base
		}
		if pos-lastIndexPos > l.opts.IndexIntervalBytes {
			lastIndexRel, lastIndexPos = uint32(h.base-s.base), pos
			if _, err := iw.Write(putIndexEntry(entry[:0], lastIndexRel, uint32(pos))); err != nil {
				return false, err
			}
			indexEntries++
			if maxTs > lastT {
				if _, err := tw.Write(putTimeEntry(entry[:0], maxTs, uint32(maxTsOffset-s.base))); err != nil {
					return false, err
				}
				lastT = maxTs
				timeEntries++
			}
		}
		if !atBad && atOK {
			switch eb := s.base + int64(atRel); {
			case eb == h.base && atTs > maxAppend:
				if atCount == 0 {
					firstAppend = atTs
				}
				maxAppend = atTs
				atCRC = crc32.Update(atCRC, castagnoli, putTimeEntry(entry[:0], atTs, atRel))
				atCount++
				if atTs, atRel, atOK, err = at.next(); err != nil {
					return false, ioError("read", s.appendTime.path, err)
				}
			case eb <= h.base:
				atBad = true // names no batch, or does not grow
			}
		}
		if pos == 0 && atCount == 0 {
			atBad = true // the first batch always has an entry
		}
		pos += h.length
		expect = h.last + 1
	}
	if fault != "" && (!mode.allowCut || pos < keep) {
		return false, corrupt(lf.path, pos, "%s", fault)
	}
	if maxTs > lastT {
		if _, err := tw.Write(putTimeEntry(entry[:0], maxTs, uint32(maxTsOffset-s.base))); err != nil {
			return false, err
		}
		lastT = maxTs
		timeEntries++
	}
	if err := errors.Join(iw.Flush(), tw.Flush()); err != nil {
		return false, err
	}
	if pos < size {
		if err := lf.f.Truncate(pos); err != nil {
			return false, ioError("truncate", lf.path, err)
		}
		lf.size = pos
		cut = true
	}
	lf.crc = fileCRC

	trailing := atOK || s.appendTime.size%timeEntrySize != 0
	switch {
	case atBad && !mode.repairAppend:
		return cut, corrupt(s.appendTime.path, atCount*timeEntrySize, "entry does not name a batch of the segment with a later append time")
	case trailing && !atBad && !mode.allowTrailing:
		return cut, corrupt(s.appendTime.path, atCount*timeEntrySize, "entries past the last batch")
	}
	if s.appendTime.size != atCount*timeEntrySize {
		if err := s.appendTime.f.Truncate(atCount * timeEntrySize); err != nil {
			return cut, ioError("truncate", s.appendTime.path, err)
		}
		s.appendTime.size = atCount * timeEntrySize
	}
	s.appendTime.crc = atCRC
	if pos > 0 && atCount == 0 {
		// Only a never-synced segment gets here: its append times are lost,
		// and it is cut on restart before the Raft log is replayed over it.
		if err := s.appendTime.append(putTimeEntry(entry[:0], fill, 0)); err != nil {
			return cut, err
		}
		firstAppend, maxAppend = fill, fill
	}

	l.mu.Lock()
	s.next, s.size = expect, pos
	s.indexEntries, s.lastIndexRel, s.lastIndexPos = indexEntries, lastIndexRel, lastIndexPos
	s.timeEntries, s.maxTs, s.maxTsOffset, s.lastTimeT = timeEntries, maxTs, maxTsOffset, lastT
	s.firstAppend, s.maxAppend = firstAppend, maxAppend
	s.indexBytes = s.indexFileBytes()
	s.dirty = true
	l.mu.Unlock()
	return cut, nil
}

// entryReader reads a time-index-layout file entry by entry.
type entryReader struct {
	br   *bufio.Reader
	left int64
	buf  [timeEntrySize]byte
}

// next returns the next whole entry; ok is false at the end (a partial
// entry at the end is not returned).
func (r *entryReader) next() (ts int64, rel uint32, ok bool, err error) {
	if r.left < timeEntrySize {
		return 0, 0, false, nil
	}
	if _, err := io.ReadFull(r.br, r.buf[:]); err != nil {
		return 0, 0, false, err
	}
	r.left -= timeEntrySize
	ts, rel = timeEntry(r.buf[:])
	return ts, rel, true, nil
}
