package seglog

import (
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// Sync makes everything appended so far durable: it fsyncs every segment
// written since the last sync (log and index files) and the directory, then
// writes the checkpoint that Open trusts. A snapshot calls it; nothing else
// has to, because until then the Raft log holds every write.
func (l *Log) Sync() error {
	l.wmu.Lock()
	defer l.wmu.Unlock()
	if err := l.writable(); err != nil {
		return err
	}
	return l.fail(l.sync())
}

func (l *Log) sync() error {
	defer l.observeSync(time.Now())
	if err := l.seal(l.active()); err != nil {
		return err
	}
	for _, s := range l.segs {
		if !s.dirty {
			continue
		}
		for _, f := range s.files() {
			if err := f.sync(); err != nil {
				return err
			}
		}
		s.dirty = false
	}
	if l.dirDirty {
		if err := syncDir(l.dir); err != nil {
			return err
		}
		l.dirDirty = false
	}
	l.syncSeq++
	if err := writeCheckpoint(l.dir, checkpointOf(l.start, l.next, l.segs)); err != nil {
		return err
	}
	l.ckSeq = l.syncSeq
	return nil
}

// Manifest lists what another node needs to rebuild this log: for every
// segment its log file and append-time index, each with its length and the
// CRC-32C of those bytes. Index files are left out; the receiver rebuilds
// them while it checks every batch. The log is synced first, so the files
// listed are durable at those lengths; the checksums were kept up to date as
// the files were written, so nothing is read to compute them.
type Manifest struct {
	Start int64  `json:"start"`
	Next  int64  `json:"next"`
	Files []File `json:"files"`
}

// File is one file of a Manifest.
type File struct {
	Base   int64  `json:"base"` // its segment's base offset
	Name   string `json:"name"`
	Length int64  `json:"length"`
	CRC32C uint32 `json:"crc32c"`
}

// Manifest syncs the log and describes it.
func (l *Log) Manifest() (Manifest, error) {
	l.wmu.Lock()
	defer l.wmu.Unlock()
	if err := l.writable(); err != nil {
		return Manifest{}, err
	}
	if err := l.fail(l.sync()); err != nil {
		return Manifest{}, err
	}
	m := Manifest{Start: l.start, Next: l.next}
	for _, s := range l.segs {
		for _, f := range []*file{s.log, s.appendTime} {
			m.Files = append(m.Files, File{Base: s.base, Name: filepath.Base(f.path), Length: f.size, CRC32C: f.crc})
		}
	}
	return m, nil
}

// OpenSegment opens one file a Manifest names, for streaming it to another
// node: the receiver reads the manifest's length from it (an active segment
// may have grown since). It fails for a file no longer held, such as a
// segment retention deleted after the manifest was taken; a file already
// open stays readable until closed.
func (l *Log) OpenSegment(name string) (io.ReadCloser, error) {
	base, ext, ok := parseSegmentName(name)
	if !ok || (ext != extLog && ext != extAppendTime) {
		return nil, fmt.Errorf("seglog: %s: %q is not a segment file a manifest lists", l.dir, name)
	}
	l.mu.RLock()
	closed := l.closed
	held := slices.ContainsFunc(l.segs, func(s *segment) bool { return s.base == base })
	l.mu.RUnlock()
	if closed {
		return nil, ErrClosed
	}
	if !held {
		return nil, fmt.Errorf("seglog: %s: segment %s is no longer held", l.dir, name)
	}
	f, err := os.Open(filepath.Join(l.dir, name))
	if err != nil {
		return nil, ioError("open", filepath.Join(l.dir, name), err)
	}
	return f, nil
}

// Install replaces the log with the one m describes, reading each file with
// open (closing what it returns, when it is an io.Closer). The files go to
// a staging directory beside the log's (<dir>.staging); each must have the
// manifest's length and CRC-32C, and every batch is checked and the indexes
// rebuilt, before anything live is touched. A mismatch is refused with
// ErrChecksum or ErrCorrupt and the live log stays as it was. Then the
// staging directory is synced and swapped in by renaming (<dir> to
// <dir>.old, staging to <dir>); Open completes or undoes a swap a crash
// interrupted. Readers wait for the swap.
func (l *Log) Install(m Manifest, open func(name string) (io.Reader, error)) error {
	l.wmu.Lock()
	defer l.wmu.Unlock()
	if err := l.writable(); err != nil {
		return err
	}
	bases, err := checkManifest(m)
	if err != nil {
		return err
	}
	staging := l.dir + ".staging"
	if err := os.RemoveAll(staging); err != nil {
		return l.fail(ioError("remove", staging, err))
	}
	if err := os.Mkdir(staging, 0o755); err != nil {
		return l.fail(ioError("create", staging, err))
	}
	swapped := false
	defer func() {
		if !swapped {
			os.RemoveAll(staging)
		}
	}()
	for _, f := range m.Files {
		if err := receive(staging, f, open); err != nil {
			return l.fail(err)
		}
	}
	st := &Log{dir: staging, opts: l.opts}
	err = st.loadReceived(m, bases)
	if err == nil {
		err = st.sync()
	}
	if cerr := closeFiles(st.segs); err == nil {
		err = cerr
	}
	if err != nil {
		return l.fail(err)
	}

	l.ioMu.Lock()
	defer l.ioMu.Unlock()
	swapped = true
	failed := func(err error) error {
		l.mu.Lock()
		defer l.mu.Unlock()
		if l.failed == nil {
			l.failed = err
		}
		return err
	}
	if err := closeFiles(l.segs); err != nil {
		return failed(err)
	}
	old := l.dir + ".old"
	if err := os.RemoveAll(old); err != nil {
		return failed(ioError("remove", old, err))
	}
	if err := os.Rename(l.dir, old); err != nil {
		return failed(ioError("rename", l.dir, err))
	}
	if err := os.Rename(staging, l.dir); err != nil {
		return failed(ioError("rename", staging, err))
	}
	if err := syncDir(filepath.Dir(l.dir)); err != nil {
		return failed(err)
	}
	if err := os.RemoveAll(old); err != nil {
		return failed(ioError("remove", old, err))
	}
	nl := &Log{dir: l.dir, opts: l.opts}
	if err := nl.load(); err != nil {
		return failed(err)
	}
	l.mu.Lock()
	l.segs, l.start, l.next, l.bytes, l.dirDirty = nl.segs, nl.start, nl.next, nl.bytes, nl.dirDirty
	l.mu.Unlock()
	// The installed checkpoint supersedes any a capture has yet to write.
	l.syncSeq++
	l.ckSeq = l.syncSeq
	return nil
}

// checkManifest returns the segment bases of a manifest that names, for
// each segment, its log file and its append-time index under their own
// names, with offsets that make sense.
func checkManifest(m Manifest) ([]int64, error) {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("seglog: install: %w: %s", ErrBadManifest, fmt.Sprintf(format, args...))
	}
	files := map[int64]int{}
	seen := map[string]bool{}
	for _, f := range m.Files {
		base, ext, ok := parseSegmentName(f.Name)
		switch {
		case !ok || (ext != extLog && ext != extAppendTime):
			return nil, bad("%q is not a segment's log file or append-time index", f.Name)
		case base != f.Base:
			return nil, bad("%s listed with base offset %d", f.Name, f.Base)
		case seen[f.Name]:
			return nil, bad("%s listed twice", f.Name)
		case f.Length < 0:
			return nil, bad("%s has length %d", f.Name, f.Length)
		}
		seen[f.Name] = true
		files[base]++
	}
	var bases []int64
	for b, n := range files {
		if n != 2 {
			return nil, bad("segment %d lacks its log file or append-time index", b)
		}
		bases = append(bases, b)
	}
	slices.Sort(bases)
	if len(bases) == 0 {
		return nil, bad("no segments")
	}
	if m.Start < bases[0] || m.Start > m.Next || m.Next < bases[len(bases)-1] {
		return nil, bad("start %d and next %d do not fit segments from %d to %d", m.Start, m.Next, bases[0], bases[len(bases)-1])
	}
	return bases, nil
}

// receive copies f's bytes from open into dir, checking length and CRC-32C.
func receive(dir string, f File, open func(name string) (io.Reader, error)) error {
	r, err := open(f.Name)
	if err != nil {
		return fmt.Errorf("seglog: install: open %s: %w", f.Name, err)
	}
	if c, ok := r.(io.Closer); ok {
		defer c.Close()
	}
	path := filepath.Join(dir, f.Name)
	out, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return ioError("create", path, err)
	}
	defer out.Close()
	w := &checkedWriter{f: out, path: path}
	h := crc32.New(castagnoli)
	n, err := io.CopyN(io.MultiWriter(w, h), r, f.Length)
	switch {
	case w.err != nil:
		return w.err
	case errors.Is(err, io.EOF):
		return fmt.Errorf("seglog: install: %s: %w: %d bytes received, the manifest lists %d", f.Name, ErrChecksum, n, f.Length)
	case err != nil:
		return fmt.Errorf("seglog: install: read %s: %w", f.Name, err)
	case h.Sum32() != f.CRC32C:
		return fmt.Errorf("seglog: install: %s: %w: CRC-32C %08x, the manifest lists %08x", f.Name, ErrChecksum, h.Sum32(), f.CRC32C)
	}
	return ioError("close", path, out.Close())
}

// checkedWriter keeps a write error apart from a read error, so that only a
// local disk failure fails the log.
type checkedWriter struct {
	f    *os.File
	path string
	err  error
}

func (w *checkedWriter) Write(b []byte) (int, error) {
	n, err := w.f.Write(b)
	if err != nil && w.err == nil {
		w.err = ioError("write", w.path, err)
	}
	return n, err
}

// loadReceived opens the staged segments and checks them as a whole: every
// batch valid to the end of its file, each segment continuing the previous
// one, the last ending at m.Next.
func (l *Log) loadReceived(m Manifest, bases []int64) error {
	for _, b := range bases {
		s, err := l.openSegment(b, false)
		if err != nil {
			return err
		}
		if n := len(l.segs); n > 0 && l.segs[n-1].next != b {
			closeFiles([]*segment{s})
			return fmt.Errorf("seglog: install: %w: segment %d does not continue the previous one, which ends before %d", ErrBadManifest, b, l.segs[n-1].next)
		}
		l.segs = append(l.segs, s)
		if _, err := l.rebuild(s, verifyAll, s.log.size, 0); err != nil {
			return err
		}
	}
	last := l.segs[len(l.segs)-1]
	if last.next != m.Next {
		return fmt.Errorf("seglog: install: %w: the segments end before offset %d, the manifest says %d", ErrBadManifest, last.next, m.Next)
	}
	l.start, l.next = m.Start, m.Next
	for _, s := range l.segs {
		l.bytes += s.size
	}
	l.dirDirty = true
	return nil
}

// finishInstall completes or undoes an Install a crash interrupted, before
// the log in dir is opened. The staging directory is complete once its
// checkpoint exists (written last); if dir itself is missing, the crash came
// between the two renames.
func finishInstall(dir string) error {
	staging, old := dir+".staging", dir+".old"
	if _, err := os.Stat(dir); os.IsNotExist(err) {
		_, serr := os.Stat(filepath.Join(staging, checkpointName))
		_, oerr := os.Stat(old)
		switch {
		case serr == nil:
			if err := os.Rename(staging, dir); err != nil {
				return ioError("rename", staging, err)
			}
		case oerr == nil:
			if err := os.Rename(old, dir); err != nil {
				return ioError("rename", old, err)
			}
		}
	}
	for _, p := range []string{staging, old} {
		if err := os.RemoveAll(p); err != nil {
			return ioError("remove", p, err)
		}
	}
	return nil
}
