package snapstore

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
)

// frameMagic starts the stream Open returns.
const frameMagic = "RLSNAPF1"

// maxFrame bounds the frame a receiver allocates for: a frame lists files,
// about a hundred bytes each.
const maxFrame = 256 << 20

// Frame is what precedes a snapshot's head in its stream.
type Frame struct {
	// ID is the snapshot's id in the store that opened it: the state
	// machine restoring from the stream opens the files through it.
	ID         string `json:"id"`
	HeadLength int64  `json:"head_length"`
	// HeadCRC32C is nil for a snapshot FileSnapshotStore wrote.
	HeadCRC32C *uint32 `json:"head_crc32c,omitempty"`
	Files      []File  `json:"files,omitempty"`
}

func frameOf(m *meta) Frame {
	f := Frame{ID: m.ID, HeadLength: m.HeadLength, Files: m.Files}
	if m.Format != 0 {
		crc := m.HeadCRC32C
		f.HeadCRC32C = &crc
	}
	return f
}

func encodeFrame(m *meta) []byte {
	js, _ := json.Marshal(frameOf(m))
	b := append([]byte(frameMagic), binary.BigEndian.AppendUint32(nil, uint32(len(js)))...)
	return append(b, js...)
}

// frameSize is the length of the stream Open returns for m.
func frameSize(m *meta) int64 {
	n := int64(len(encodeFrame(m))) + m.HeadLength
	for _, f := range m.Files {
		n += f.Length
	}
	return n
}

// ReadFrame reads the frame at the start of a snapshot stream and returns it
// with a reader of the head that follows; the head reader fails at its end
// if the head does not match its checksum. The files after the head are
// left unread: a state machine opens them with Store.OpenFile(frame.ID, …).
func ReadFrame(r io.Reader) (Frame, io.Reader, error) {
	var hdr [len(frameMagic) + 4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return Frame{}, nil, fmt.Errorf("snapstore: %w: read snapshot frame: %w", ErrBadStream, err)
	}
	if string(hdr[:len(frameMagic)]) != frameMagic {
		return Frame{}, nil, fmt.Errorf("snapstore: %w: the stream is not a snapshot (no frame)", ErrBadStream)
	}
	n := binary.BigEndian.Uint32(hdr[len(frameMagic):])
	if n > maxFrame {
		return Frame{}, nil, fmt.Errorf("snapstore: %w: snapshot frame of %d bytes", ErrBadStream, n)
	}
	js := make([]byte, n)
	if _, err := io.ReadFull(r, js); err != nil {
		return Frame{}, nil, fmt.Errorf("snapstore: %w: read snapshot frame: %w", ErrBadStream, err)
	}
	var f Frame
	if err := json.Unmarshal(js, &f); err != nil {
		return Frame{}, nil, fmt.Errorf("snapstore: %w: snapshot frame: %w", ErrBadStream, err)
	}
	if f.HeadLength < 0 {
		return Frame{}, nil, fmt.Errorf("snapstore: %w: snapshot head of %d bytes", ErrBadStream, f.HeadLength)
	}
	seen := map[string]bool{}
	for _, file := range f.Files {
		if err := checkName(file.Name); err != nil {
			return Frame{}, nil, fmt.Errorf("%w: %w", ErrBadStream, err)
		}
		if seen[file.Name] {
			return Frame{}, nil, fmt.Errorf("snapstore: %w: snapshot lists %q twice", ErrBadStream, file.Name)
		}
		seen[file.Name] = true
		if file.Length < 0 {
			return Frame{}, nil, fmt.Errorf("snapstore: %w: snapshot file %q of %d bytes", ErrBadStream, file.Name, file.Length)
		}
	}
	head := io.Reader(&exactReader{r: r, n: f.HeadLength, name: "the snapshot head"})
	if f.HeadCRC32C != nil {
		head = &checkedReader{r: head, want: *f.HeadCRC32C, name: "the snapshot head", crc: crc32.New(castagnoli)}
	}
	return f, head, nil
}

// startReceiving takes apart a stream another node sent: frame, head,
// files, each checked against the frame as it arrives.
func (k *Sink) startReceiving() {
	pr, pw := io.Pipe()
	k.pw, k.recv = pw, make(chan error, 1)
	go func() {
		err := k.receive(pr)
		if err != nil {
			pr.CloseWithError(err)
		} else {
			pr.Close()
		}
		k.recv <- err
	}()
}

func (k *Sink) receive(r io.Reader) error {
	f, head, err := ReadFrame(r)
	if err != nil {
		return err
	}
	// The sum is kept whether or not the sender recorded one (a snapshot
	// FileSnapshotStore wrote has none), so the head is checked when read.
	crc := crc32.New(castagnoli)
	if _, err := io.Copy(io.MultiWriter(k.head, crc), head); err != nil {
		return fmt.Errorf("snapstore: receive snapshot head: %w", err)
	}
	k.meta.HeadLength, k.meta.HeadCRC32C = f.HeadLength, crc.Sum32()
	for _, file := range f.Files {
		if err := k.receiveFile(r, file); err != nil {
			return err
		}
	}
	k.meta.Files = f.Files
	var one [1]byte
	if n, _ := io.ReadFull(r, one[:]); n > 0 {
		return fmt.Errorf("snapstore: %w: received snapshot runs past the files its frame lists", ErrBadStream)
	}
	return nil
}

func (k *Sink) receiveFile(r io.Reader, file File) error {
	dst := filepath.Join(k.dir, filesDir, filepath.FromSlash(file.Name))
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return fmt.Errorf("snapstore: %w", err)
	}
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return fmt.Errorf("snapstore: %w", err)
	}
	defer out.Close()
	in := &checkedReader{r: &exactReader{r: r, n: file.Length, name: file.Name}, want: file.CRC32C, name: file.Name, crc: crc32.New(castagnoli)}
	if _, err := io.Copy(out, in); err != nil {
		return fmt.Errorf("snapstore: receive snapshot file: %w", err)
	}
	if err := out.Sync(); err != nil {
		return fmt.Errorf("snapstore: sync %s: %w", dst, err)
	}
	return nil
}

var (
	// ErrBadStream is a snapshot stream whose bytes are not what its
	// frame promises: no frame, a file or head short of its length or not
	// matching its checksum (ErrChecksum), bytes past the end. It says
	// nothing about the receiver's disk; what the receiver could not
	// write is an error of its own (an *os.PathError).
	ErrBadStream = errors.New("bad snapshot stream")
	// ErrChecksum is a snapshot file or head whose bytes do not match the
	// checksum its snapshot recorded.
	ErrChecksum = errors.New("checksum mismatch")
)

// exactReader reads exactly n bytes of r: fewer is an error, not an EOF.
type exactReader struct {
	r    io.Reader
	n    int64
	name string
}

func (e *exactReader) Read(p []byte) (int, error) {
	if e.n <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > e.n {
		p = p[:e.n]
	}
	n, err := e.r.Read(p)
	e.n -= int64(n)
	if err == io.EOF {
		if e.n > 0 {
			return n, fmt.Errorf("snapstore: %w: %s ends %d bytes short of its recorded length", ErrBadStream, e.name, e.n)
		}
		err = nil
	}
	return n, err
}

// checkedReader checks the CRC-32C of what it reads when it reaches EOF.
type checkedReader struct {
	r    io.Reader
	want uint32
	name string
	crc  interface {
		io.Writer
		Sum32() uint32
	}
}

func (c *checkedReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.crc.Write(p[:n])
	if err == io.EOF {
		if got := c.crc.Sum32(); got != c.want {
			return n, fmt.Errorf("snapstore: %w: %s: %w: CRC-32C %08x, recorded %08x", ErrBadStream, c.name, ErrChecksum, got, c.want)
		}
	}
	return n, err
}

// reader is the stream of one snapshot, as Open returns it.
type reader struct {
	store  *Store
	id     string
	meta   *meta
	head   *os.File
	r      io.Reader
	cur    *os.File // the file being read
	closed bool
}

func (r *reader) Read(p []byte) (int, error) { return r.r.Read(p) }

func (r *reader) Close() error {
	if r.closed {
		return nil
	}
	r.closed = true
	r.head.Close()
	if r.cur != nil {
		r.cur.Close()
	}
	r.store.release(r.id)
	return nil
}

// filesReader reads the snapshot's files one after another, opening each
// when it is reached, so a snapshot of thousands of segments does not hold
// thousands of descriptors.
type filesReader struct {
	r    *reader
	next int
	cur  io.Reader
}

func (fr *filesReader) Read(p []byte) (int, error) {
	for {
		if fr.cur != nil {
			n, err := fr.cur.Read(p)
			if err != io.EOF {
				return n, err
			}
			fr.r.cur.Close()
			fr.r.cur, fr.cur = nil, nil
			if n > 0 {
				return n, nil
			}
		}
		if fr.next >= len(fr.r.meta.Files) {
			return 0, io.EOF
		}
		file := fr.r.meta.Files[fr.next]
		fr.next++
		f, err := os.Open(filepath.Join(fr.r.store.dir, fr.r.id, filesDir, filepath.FromSlash(file.Name)))
		if err != nil {
			return 0, fmt.Errorf("snapstore: snapshot %s: %w", fr.r.id, err)
		}
		fr.r.cur = f
		fr.cur = &exactReader{r: f, n: file.Length, name: file.Name}
	}
}

// fileReader is one file of a snapshot (Store.OpenFile).
type fileReader struct {
	exactReader
	f       *os.File
	release func()
	closed  bool
}

func (f *fileReader) Close() error {
	if f.closed {
		return nil
	}
	f.closed = true
	f.release()
	return f.f.Close()
}
