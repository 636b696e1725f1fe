package seglog

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"

	"github.com/raftline/raftline/broker/recordbatch"
)

// Create makes an empty log in dir whose first record will get offset next,
// replacing whatever dir held. The state machine creates a partition with
// it, and rebuilds one from a snapshot whose log starts past offset 0, which
// Open cannot (an empty log it creates starts at 0, and TruncateTo only goes
// back). Nothing is synced, as for Append: Sync does.
func Create(dir string, next int64, opts Options) (*Log, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	if next < 0 {
		return nil, fmt.Errorf("seglog: create %s: first offset %d is negative", dir, next)
	}
	for _, p := range []string{dir, dir + ".staging", dir + ".old"} {
		if err := os.RemoveAll(p); err != nil {
			return nil, ioError("remove", p, err)
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, ioError("create", dir, err)
	}
	l := &Log{dir: dir, opts: opts}
	s, err := l.newSegment(next)
	if err != nil {
		return nil, err
	}
	l.segs = []*segment{s}
	l.start, l.next = next, next
	return l, nil
}

// Export is a log's batches as of one moment, held for copying them out
// while the log goes on: raftline's state machine writes them into its Raft
// snapshot. Appends made after it are not seen, and segments that retention
// or a truncation deletes meanwhile stay readable, because an Export holds
// its own open files (two per segment) until Close.
type Export struct {
	start, next int64
	segs        []exportSegment
}

type exportSegment struct {
	base, next int64
	log        *file // size: the bytes of whole batches when exported
	appendTime *file // size: the entries when exported
}

// Export captures the log as it is now. It reads nothing but the directory
// entries it opens; a failed or closed log cannot be exported.
func (l *Log) Export() (*Export, error) {
	l.wmu.Lock()
	defer l.wmu.Unlock()
	if err := l.writable(); err != nil {
		return nil, err
	}
	e := &Export{start: l.start, next: l.next}
	for _, s := range l.segs {
		lf, err := openReadOnly(s.log.path, s.size)
		if err != nil {
			e.Close()
			return nil, err
		}
		af, err := openReadOnly(s.appendTime.path, s.appendTime.size)
		if err != nil {
			lf.close()
			e.Close()
			return nil, err
		}
		e.segs = append(e.segs, exportSegment{base: s.base, next: s.next, log: lf, appendTime: af})
	}
	return e, nil
}

func openReadOnly(path string, size int64) (*file, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, ioError("open", path, err)
	}
	return &file{f: f, path: path, size: size}, nil
}

// Offsets are the log start offset and the high watermark when exported.
func (e *Export) Offsets() (start, next int64) { return e.start, e.next }

// Count returns the number of batches Batches calls its function with and
// their bytes. It reads only the batches' headers.
func (e *Export) Count() (batches int, bytes int64, err error) {
	for _, es := range e.segs {
		v := segView{s: &segment{log: es.log}, base: es.base, next: es.next, size: es.log.size}
		sc := newScanner(v)
		pos, expect := int64(0), es.base
		for pos < v.size {
			h, err := sc.header(pos, expect)
			if err != nil {
				sc.release()
				return 0, 0, err
			}
			batches++
			bytes += h.length
			pos, expect = pos+h.length, h.last+1
		}
		sc.release()
		if expect != es.next {
			return 0, 0, corrupt(es.log.path, pos, "batches end before offset %d, the segment before %d", expect, es.next)
		}
	}
	return batches, bytes, nil
}

// Batches calls fn with every batch the exported segments hold, oldest
// first, as served (base offset written in), each checked as a read checks
// it (length, magic, CRC-32C, offsets continuing), together with its append
// time: the largest append time of the batches up to it in its segment.
// That is the batch's own when the leader's clock did not go back, and
// appending every batch with it rebuilds the same segments and indexes, so
// a log rebuilt from an Export matches the original. The first segment's
// batches below the start offset (SetStart moves it inside a segment) are
// yielded too, so that the rebuilt segment is the same file; SetStart on
// the rebuilt log then puts its start back. b.Data is valid only during
// the call; an error fn returns ends the walk and is returned.
func (e *Export) Batches(fn func(b Batch, appendTimeMs int64) error) error {
	var buf []byte
	for _, es := range e.segs {
		var err error
		if buf, err = es.batches(buf, fn); err != nil {
			return err
		}
	}
	return nil
}

func (es exportSegment) batches(buf []byte, fn func(Batch, int64) error) ([]byte, error) {
	lr := bufio.NewReaderSize(io.NewSectionReader(es.log.f, 0, es.log.size), 64<<10)
	at := &entryReader{br: bufio.NewReaderSize(io.NewSectionReader(es.appendTime.f, 0, es.appendTime.size), 4<<10), left: es.appendTime.size}
	atTs, atRel, atOK, err := at.next()
	if err != nil {
		return buf, ioError("read", es.appendTime.path, err)
	}
	appendTime := int64(noTimestamp)
	pos, expect := int64(0), es.base
	for pos < es.log.size {
		if es.log.size-pos < headerSize {
			return buf, corrupt(es.log.path, pos, "a partial batch header")
		}
		if cap(buf) < headerSize {
			buf = make([]byte, 0, 64<<10)
		}
		buf = buf[:headerSize]
		if _, err := io.ReadFull(lr, buf); err != nil {
			return buf, ioError("read", es.log.path, err)
		}
		length := int64(int32(binary.BigEndian.Uint32(buf[8:12]))) + 12
		if length < headerSize || length > es.log.size-pos {
			return buf, corrupt(es.log.path, pos, "batch length %d", length)
		}
		buf = slices.Grow(buf, int(length-headerSize))[:length]
		if _, err := io.ReadFull(lr, buf[headerSize:]); err != nil {
			return buf, ioError("read", es.log.path, err)
		}
		h, err := recordbatch.Parse(buf)
		if err != nil {
			return buf, corrupt(es.log.path, pos, "%v", err)
		}
		base := int64(binary.BigEndian.Uint64(buf))
		if base != expect {
			return buf, corrupt(es.log.path, pos, "batch at offset %d, want %d", base, expect)
		}
		for atOK && es.base+int64(atRel) <= base {
			appendTime = max(appendTime, atTs)
			if atTs, atRel, atOK, err = at.next(); err != nil {
				return buf, ioError("read", es.appendTime.path, err)
			}
		}
		if appendTime == noTimestamp {
			return buf, corrupt(es.appendTime.path, 0, "no append time for the batch at offset %d", base)
		}
		last := base + int64(h.LastOffsetDelta)
		if err := fn(Batch{BaseOffset: base, LastOffset: last, MaxTimestamp: h.MaxTimestamp, Data: buf}, appendTime); err != nil {
			return buf, err
		}
		pos, expect = pos+length, last+1
	}
	if expect != es.next {
		return buf, corrupt(es.log.path, pos, "batches end before offset %d, the segment before %d", expect, es.next)
	}
	return buf, nil
}

// Close releases the files the export holds.
func (e *Export) Close() error {
	var errs []error
	for _, es := range e.segs {
		errs = append(errs, es.log.close(), es.appendTime.close())
	}
	e.segs = nil
	return errors.Join(errs...)
}

// Remove closes the log without syncing it and deletes its directory: the
// partition is gone (its topic was deleted, or a snapshot replaces it), so
// nothing of it needs to be durable. Readers finish first; later calls on
// the log return ErrClosed. An Export taken before keeps its files readable.
func (l *Log) Remove() error {
	l.wmu.Lock()
	defer l.wmu.Unlock()
	l.ioMu.Lock()
	l.mu.Lock()
	wasClosed := l.closed
	l.closed = true
	var err error
	if !wasClosed {
		err = closeFiles(l.segs)
	}
	l.mu.Unlock()
	l.ioMu.Unlock()
	for _, p := range []string{l.dir, l.dir + ".staging", l.dir + ".old"} {
		if rerr := os.RemoveAll(p); rerr != nil && err == nil {
			err = ioError("remove", p, rerr)
		}
	}
	return err
}
