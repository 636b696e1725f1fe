package seglog

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"slices"
	"sort"
	"sync"

	"github.com/raftline/raftline/broker/recordbatch"
)

// Batch is one stored batch as Read returns it.
type Batch struct {
	BaseOffset   int64
	LastOffset   int64
	MaxTimestamp int64
	Data         []byte // as served: base offset written in
}

// segView is a reader's copy of a segment's published state, taken under
// mu; the files it names stay open while the reader holds ioMu.
type segView struct {
	s            *segment
	base, next   int64
	size         int64
	indexEntries int64
	timeEntries  int64
	lastIndexRel uint32
	lastIndexPos int64
	maxTs        int64
}

func (s *segment) view() segView {
	return segView{s: s, base: s.base, next: s.next, size: s.size, indexEntries: s.indexEntries, timeEntries: s.timeEntries,
		lastIndexRel: s.lastIndexRel, lastIndexPos: s.lastIndexPos, maxTs: s.maxTs}
}

// AppendBatches appends to dst the batches from the one holding offset on,
// as served to clients, and returns the extended slice. It stops before the
// batch that would take what it appends past maxBytes, but the first batch is
// appended whole whatever its size, so a consumer always makes progress, as
// Kafka does. At the high watermark it appends nothing; below the log start
// offset or past the high watermark it returns ErrOffsetOutOfRange.
//
// Every batch is checked (length, magic, CRC-32C, offsets continuing) before
// it is returned: damaged bytes give ErrCorrupt, never a wrong batch. The
// bytes are read with positioned reads straight into dst. On an error dst is
// returned as it came.
func (l *Log) AppendBatches(dst []byte, offset int64, maxBytes int) ([]byte, error) {
	out, err := l.appendBatches(dst, offset, maxBytes)
	if err != nil {
		return dst, err
	}
	return out, nil
}

func (l *Log) appendBatches(dst []byte, offset int64, maxBytes int) ([]byte, error) {
	l.ioMu.RLock()
	defer l.ioMu.RUnlock()
	views, err := l.viewsFor(offset, int64(max(maxBytes, 0)))
	if err != nil || len(views) == 0 {
		return dst, err
	}
	total := int64(0)
	var expect int64
	for i, v := range views {
		var pos, firstLen int64
		if i == 0 {
			p, h, err := l.locate(v, offset)
			if err != nil {
				return dst, err
			}
			pos, firstLen, expect = p, h.length, h.base
		} else if v.base != expect {
			return dst, corrupt(v.s.log.path, 0, "segment starts at offset %d, the previous one ends before %d", v.base, expect)
		}
		var done bool
		dst, expect, total, done, err = readRun(dst, v, pos, expect, int64(max(maxBytes, 0)), total, i == 0, firstLen)
		if err != nil || !done {
			return dst, err
		}
	}
	return dst, nil
}

// viewsFor checks offset against the log's bounds and returns views of the
// segment holding it and of the following ones a read of maxBytes may reach;
// none at the high watermark.
func (l *Log) viewsFor(offset, maxBytes int64) ([]segView, error) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.closed {
		return nil, ErrClosed
	}
	if offset < l.start || offset > l.next {
		return nil, fmt.Errorf("seglog: %s: %w: offset %d outside %d..%d", l.dir, ErrOffsetOutOfRange, offset, l.start, l.next)
	}
	if offset == l.next {
		return nil, nil
	}
	i := sort.Search(len(l.segs), func(i int) bool { return l.segs[i].base > offset }) - 1
	views := []segView{l.segs[i].view()}
	for reach := int64(0); i+1 < len(l.segs) && reach < maxBytes; i++ {
		v := l.segs[i+1].view()
		views = append(views, v)
		reach += v.size
	}
	return views, nil
}

// locate finds the batch holding offset in a segment: the offset index
// gives the last indexed batch at or before it (the segment's last entry is
// in memory, so reads near the end touch no index file), then headers are
// read forward from there.
func (l *Log) locate(v segView, offset int64) (int64, batchHeader, error) {
	rel := offset - v.base
	var entRel uint32
	var entPos int64
	switch {
	case v.indexEntries > 0 && rel >= int64(v.lastIndexRel):
		entRel, entPos = v.lastIndexRel, v.lastIndexPos
	case v.indexEntries > 0:
		slot, e, err := searchIndex(v.s.index.f, v.indexEntries, indexEntrySize, offsetKey, rel)
		if err != nil {
			return 0, batchHeader{}, ioError("read", v.s.index.path, err)
		}
		if slot >= 0 {
			r, p := indexEntry(e)
			entRel, entPos = r, int64(p)
		}
	}
	sc := newScanner(v)
	defer sc.release()
	pos, expect := entPos, v.base+int64(entRel)
	for {
		h, err := sc.header(pos, expect)
		if err != nil {
			return 0, h, err
		}
		if h.last >= offset {
			return pos, h, nil
		}
		pos, expect = pos+h.length, h.last+1
	}
}

// readRun reads whole batches of one segment from pos into dst, within the
// budget, checking each. It returns the extended dst, the offset after the
// last batch read, the bytes appended so far in the call, and whether the
// segment was read to its end (so the next one may follow).
func readRun(dst []byte, v segView, pos, expect, maxBytes, total int64, first bool, firstLen int64) ([]byte, int64, int64, bool, error) {
	avail := v.size - pos
	want := maxBytes - total
	if first {
		want = max(firstLen, maxBytes)
	}
	want = min(want, avail)
	if want < headerSize {
		return dst, expect, total, avail == 0, nil
	}
	n := len(dst)
	dst = slices.Grow(dst, int(want))[:n+int(want)]
	if _, err := v.s.log.f.ReadAt(dst[n:], pos); err != nil {
		return dst[:n], expect, total, false, ioError("read", v.s.log.path, err)
	}
	buf := dst[n:]
	p := int64(0)
	for p+headerSize <= want {
		length := int64(int32(binary.BigEndian.Uint32(buf[p+8:p+12]))) + 12
		if length < headerSize || length > avail-p {
			return dst[:n], expect, total, false, corrupt(v.s.log.path, pos+p, "batch length %d", length)
		}
		if p+length > want || (!first && total+length > maxBytes) {
			break
		}
		b := buf[p : p+length]
		h, err := recordbatch.Parse(b)
		if err != nil {
			return dst[:n], expect, total, false, corrupt(v.s.log.path, pos+p, "%v", err)
		}
		if base := int64(binary.BigEndian.Uint64(b[0:8])); base != expect {
			return dst[:n], expect, total, false, corrupt(v.s.log.path, pos+p, "batch at offset %d, want %d", base, expect)
		}
		expect += int64(h.LastOffsetDelta) + 1
		total += length
		p += length
		first = false
	}
	return dst[:n+int(p)], expect, total, p == avail, nil
}

// Read returns the batches AppendBatches would append, split.
func (l *Log) Read(offset int64, maxBytes int) ([]Batch, error) {
	data, err := l.AppendBatches(nil, offset, maxBytes)
	if err != nil {
		return nil, err
	}
	var out []Batch
	for len(data) >= headerSize {
		h, herr := parseHeader(data)
		if herr != nil || h.length > int64(len(data)) {
			break // AppendBatches checked every batch it returned
		}
		out = append(out, Batch{BaseOffset: h.base, LastOffset: h.last, MaxTimestamp: h.maxTs, Data: data[:h.length:h.length]})
		data = data[h.length:]
	}
	return out, nil
}

// OffsetForTimestamp finds the first batch at or after the log start offset
// whose max timestamp is at least ts, and returns its base offset (the start
// offset when that is inside it) and its max timestamp; ok is false when no
// batch is that late. It picks the segment by its largest timestamp, then
// uses its time index as Kafka does: the last entry at or below ts names a
// batch before which every max timestamp is below ts, so the search reads
// headers forward from there.
func (l *Log) OffsetForTimestamp(ts int64) (offset, maxTimestamp int64, ok bool, err error) {
	l.ioMu.RLock()
	defer l.ioMu.RUnlock()
	l.mu.RLock()
	if l.closed {
		l.mu.RUnlock()
		return -1, -1, false, ErrClosed
	}
	start := l.start
	var views []segView
	for _, s := range l.segs {
		if s.next > start && s.maxTs >= ts {
			views = append(views, s.view())
		}
	}
	l.mu.RUnlock()
	for _, v := range views {
		from := v.base
		if v.timeEntries > 0 {
			slot, e, err := searchIndex(v.s.timeIndex.f, v.timeEntries, timeEntrySize, timeKey, ts)
			if err != nil {
				return -1, -1, false, ioError("read", v.s.timeIndex.path, err)
			}
			if slot >= 0 {
				_, rel := timeEntry(e)
				from = v.base + int64(rel)
			}
		}
		from = max(from, start)
		if from >= v.next {
			return -1, -1, false, corrupt(v.s.timeIndex.path, 0, "entry past the segment's last offset %d", v.next-1)
		}
		pos, h, err := l.locate(v, from)
		if err != nil {
			return -1, -1, false, err
		}
		sc := newScanner(v)
		for {
			if h.maxTs >= ts {
				sc.release()
				return max(h.base, start), h.maxTs, true, nil
			}
			pos += h.length
			if pos >= v.size {
				break
			}
			if h, err = sc.header(pos, h.last+1); err != nil {
				sc.release()
				return -1, -1, false, err
			}
		}
		sc.release()
	}
	return -1, -1, false, nil
}

// Digest summarises the log like partlog.Digest: offsets, size and a SHA-256
// over every batch held, as served, in order. Replicas with equal digests
// hold byte-identical segment files. It reads the whole log, holding off
// truncation and retention meanwhile.
type Digest struct {
	Start, Next, Bytes int64
	SHA256             string
}

// Digest computes the log's digest.
func (l *Log) Digest() (Digest, error) {
	l.ioMu.RLock()
	defer l.ioMu.RUnlock()
	l.mu.RLock()
	if l.closed {
		l.mu.RUnlock()
		return Digest{}, ErrClosed
	}
	d := Digest{Start: l.start, Next: l.next, Bytes: l.bytes}
	views := make([]segView, len(l.segs))
	for i, s := range l.segs {
		views[i] = s.view()
	}
	l.mu.RUnlock()
	h := sha256.New()
	buf := make([]byte, 64<<10)
	for _, v := range views {
		if _, err := io.CopyBuffer(h, io.NewSectionReader(v.s.log.f, 0, v.size), buf); err != nil {
			return Digest{}, ioError("read", v.s.log.path, err)
		}
	}
	d.SHA256 = hex.EncodeToString(h.Sum(nil))
	return d, nil
}

// scanner reads batch headers forward through a segment, a chunk at a time,
// so that walking many small batches costs one read per chunk.
type scanner struct {
	v      segView
	bp     *[]byte
	buf    []byte // bytes from bufPos
	bufPos int64
}

const scanChunk = 8 << 10

var scanBufs = sync.Pool{New: func() any { b := make([]byte, scanChunk); return &b }}

func newScanner(v segView) *scanner {
	return &scanner{v: v, bp: scanBufs.Get().(*[]byte)}
}

func (sc *scanner) release() {
	if sc.bp != nil {
		scanBufs.Put(sc.bp)
		sc.bp = nil
	}
}

// header reads and checks the header of the batch at pos, which must hold
// offset expect and lie wholly inside the segment.
func (sc *scanner) header(pos, expect int64) (batchHeader, error) {
	path := sc.v.s.log.path
	if pos < 0 || sc.v.size-pos < headerSize {
		return batchHeader{}, corrupt(path, pos, "no batch holding offset %d before the segment's end at byte %d", expect, sc.v.size)
	}
	if pos < sc.bufPos || pos+headerSize > sc.bufPos+int64(len(sc.buf)) {
		n := min(int64(scanChunk), sc.v.size-pos)
		sc.buf = (*sc.bp)[:n]
		if _, err := sc.v.s.log.f.ReadAt(sc.buf, pos); err != nil {
			sc.buf = nil
			return batchHeader{}, ioError("read", path, err)
		}
		sc.bufPos = pos
	}
	h, err := parseHeader(sc.buf[pos-sc.bufPos:])
	switch {
	case err != nil:
		return h, corrupt(path, pos, "%v", err)
	case h.length > sc.v.size-pos:
		return h, corrupt(path, pos, "batch of %d bytes runs past the segment's end at byte %d", h.length, sc.v.size)
	case h.base != expect:
		return h, corrupt(path, pos, "batch at offset %d, want %d", h.base, expect)
	}
	return h, nil
}

// MaxTimestamp is the largest batch max timestamp among the segments that
// hold offsets at or after the log start offset, for ListOffsets'
// MAX_TIMESTAMP; ok is false for a log without such batches. It reads only
// what the segments keep in memory. A segment the start offset cuts into
// counts whole, as Kafka's segments do.
func (l *Log) MaxTimestamp() (ts int64, ok bool, err error) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.closed {
		return -1, false, ErrClosed
	}
	ts = noTimestamp
	for _, s := range l.segs {
		if s.next > l.start && s.maxTs > ts {
			ts = s.maxTs
		}
	}
	if ts == noTimestamp {
		return -1, false, nil
	}
	return ts, true, nil
}
