package snapstore

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/raft"
)

func newStore(t *testing.T, retain int) *Store {
	t.Helper()
	s, err := New(filepath.Join(t.TempDir(), "snapshots"), retain, nil)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

var _, trans = raft.NewInmemTransport("")

func create(t testing.TB, s *Store, index uint64) *Sink {
	t.Helper()
	k, err := s.Create(raft.SnapshotVersionMax, index, 1, raft.Configuration{}, 1, trans)
	if err != nil {
		t.Fatal(err)
	}
	return k.(*Sink)
}

// attachedFile writes content to a file outside the store and describes it.
func attachedFile(t *testing.T, name string, content []byte) Attachment {
	t.Helper()
	p := filepath.Join(t.TempDir(), filepath.Base(name))
	if err := os.WriteFile(p, content, 0o644); err != nil {
		t.Fatal(err)
	}
	return Attachment{File: File{Name: name, Length: int64(len(content)), CRC32C: crc(content)}, Path: p}
}

func crc(b []byte) uint32 {
	h := newCRC()
	h.Write(b)
	return h.Sum32()
}

func readAll(t *testing.T, r io.Reader) []byte {
	t.Helper()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// localSnapshot takes a snapshot with a head and two attached files.
func localSnapshot(t *testing.T, s *Store, index uint64) (id string, head []byte, files []Attachment) {
	t.Helper()
	head = []byte("RLSNAP2\nthe head")
	files = []Attachment{
		attachedFile(t, "orders/0/00000000000000000000.log", bytes.Repeat([]byte("a"), 100000)),
		attachedFile(t, "orders/0/00000000000000000000.appendtime", []byte("0123456789ab")),
	}
	k := create(t, s, index)
	if err := k.Attach(files); err != nil {
		t.Fatal(err)
	}
	if _, err := k.Write(head); err != nil {
		t.Fatal(err)
	}
	if err := k.Close(); err != nil {
		t.Fatal(err)
	}
	return k.ID(), head, files
}

func TestLocalSnapshot_StreamsHeadAndFiles_AndReceiverChecksThem(t *testing.T) {
	src := newStore(t, 2)
	id, head, files := localSnapshot(t, src, 10)

	// A file attached goes on growing (an active segment): the snapshot
	// keeps the length it recorded.
	f, err := os.OpenFile(files[0].Path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte("grown after the snapshot"))
	f.Close()
	// And retention deleting the source leaves the snapshot whole.
	os.Remove(files[1].Path)

	meta, rc, err := src.Open(id)
	if err != nil {
		t.Fatal(err)
	}
	stream := readAll(t, rc)
	rc.Close()
	if int64(len(stream)) != meta.Size {
		t.Fatalf("stream of %d bytes, meta says %d", len(stream), meta.Size)
	}

	// Another node receives it as hashicorp/raft's InstallSnapshot does:
	// Create, copy the stream, Close.
	dst := newStore(t, 2)
	k := create(t, dst, meta.Index)
	if _, err := io.Copy(k, bytes.NewReader(stream)); err != nil {
		t.Fatal(err)
	}
	if err := k.Close(); err != nil {
		t.Fatal(err)
	}
	_, rc2, err := dst.Open(k.ID())
	if err != nil {
		t.Fatal(err)
	}
	defer rc2.Close()
	fr, hr, err := ReadFrame(rc2)
	if err != nil {
		t.Fatal(err)
	}
	if fr.ID != k.ID() {
		t.Fatalf("frame names snapshot %q, want the receiver's own %q", fr.ID, k.ID())
	}
	if got := readAll(t, hr); !bytes.Equal(got, head) {
		t.Fatalf("head %q, want %q", got, head)
	}
	if len(fr.Files) != 2 {
		t.Fatalf("files %+v", fr.Files)
	}
	for _, a := range files {
		r, err := dst.OpenFile(fr.ID, a.Name)
		if err != nil {
			t.Fatal(err)
		}
		got := readAll(t, r)
		r.Close()
		if int64(len(got)) != a.Length || crc(got) != a.CRC32C {
			t.Fatalf("%s: %d bytes crc %08x, want %d crc %08x", a.Name, len(got), crc(got), a.Length, a.CRC32C)
		}
	}
}

func TestReceive_RefusesDamagedOrShortStreams(t *testing.T) {
	src := newStore(t, 2)
	id, _, _ := localSnapshot(t, src, 10)
	_, rc, err := src.Open(id)
	if err != nil {
		t.Fatal(err)
	}
	stream := readAll(t, rc)
	rc.Close()

	for name, mutate := range map[string]func([]byte) []byte{
		"a flipped byte in a file": func(b []byte) []byte { b[len(b)-50] ^= 1; return b },
		"a flipped byte in the head": func(b []byte) []byte {
			i := bytes.Index(b, []byte("the head"))
			b[i] ^= 1
			return b
		},
		"cut short":   func(b []byte) []byte { return b[:len(b)-7] },
		"extra bytes": func(b []byte) []byte { return append(b, "more"...) },
	} {
		t.Run(name, func(t *testing.T) {
			dst := newStore(t, 2)
			k := create(t, dst, 10)
			_, werr := io.Copy(k, bytes.NewReader(mutate(bytes.Clone(stream))))
			var cerr error
			if werr == nil {
				cerr = k.Close()
			} else {
				k.Cancel()
			}
			if werr == nil && cerr == nil {
				t.Fatal("a damaged snapshot was accepted")
			}
			if strings.Contains(name, "flipped") && !errors.Is(errors.Join(werr, cerr), ErrChecksum) {
				t.Fatalf("error %v, %v: want a checksum mismatch", werr, cerr)
			}
			// The receiver's disk is not at fault: Raft sends it again.
			if !errors.Is(errors.Join(werr, cerr), ErrBadStream) {
				t.Fatalf("error %v, %v: want ErrBadStream", werr, cerr)
			}
			if l, _ := dst.List(); len(l) != 0 {
				t.Fatalf("a refused snapshot is listed: %+v", l)
			}
		})
	}
}

func TestOpen_FailsWhenAFileLostRecordedBytes(t *testing.T) {
	s := newStore(t, 2)
	id, _, files := localSnapshot(t, s, 10)
	// The snapshot's link and the source are one inode: cutting the
	// source cuts the snapshot's bytes.
	if err := os.Truncate(files[0].Path, 10); err != nil {
		t.Fatal(err)
	}
	_, rc, err := s.Open(id)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	if _, err := io.ReadAll(rc); err == nil || !strings.Contains(err.Error(), "short") {
		t.Fatalf("read a snapshot whose file lost bytes: err %v", err)
	}
}

func TestReap_KeepsTheNewestAndThoseBeingRead(t *testing.T) {
	s := newStore(t, 2)
	first, _, _ := localSnapshot(t, s, 1)
	_, rc, err := s.Open(first)
	if err != nil {
		t.Fatal(err)
	}
	localSnapshot(t, s, 2)
	localSnapshot(t, s, 3)
	if _, err := os.Stat(filepath.Join(s.dir, first)); err != nil {
		t.Fatalf("a snapshot being read was removed: %v", err)
	}
	readAll(t, rc)
	rc.Close()
	localSnapshot(t, s, 4)
	l, err := s.List()
	if err != nil {
		t.Fatal(err)
	}
	if len(l) != 2 || l[0].Index != 4 || l[1].Index != 3 {
		t.Fatalf("listed %+v, want indexes 4 and 3", l)
	}
	entries, _ := os.ReadDir(s.dir)
	if len(entries) != 2 {
		t.Fatalf("%d snapshot directories left, want 2", len(entries))
	}
}

func TestAttach_RefusesNamesOutsideTheSnapshot(t *testing.T) {
	s := newStore(t, 2)
	for _, name := range []string{"../x", "/etc/passwd", "a/../../b", "", "a//b", `a\b`} {
		k := create(t, s, 1)
		a := attachedFile(t, "x", []byte("x"))
		a.Name = name
		if err := k.Attach([]Attachment{a}); err == nil {
			t.Errorf("attached %q", name)
		}
		k.Cancel()
	}
}

func TestNew_RemovesUnfinishedSnapshots(t *testing.T) {
	s := newStore(t, 2)
	k := create(t, s, 1)
	k.Write([]byte("RLSNAP2\nhalf"))
	// A crash here leaves <id>.tmp behind.
	if _, err := New(s.dir, 2, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(k.dir); !os.IsNotExist(err) {
		t.Fatalf("unfinished snapshot still there: %v", err)
	}
}

func TestFileSnapshotStoreSnapshots_ReadAsHeads(t *testing.T) {
	dir := t.TempDir()
	fs, err := raft.NewFileSnapshotStore(dir, 2, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	k, err := fs.Create(raft.SnapshotVersionMax, 7, 1, raft.Configuration{}, 1, trans)
	if err != nil {
		t.Fatal(err)
	}
	k.Write([]byte("RLSNAP1\nold head"))
	k.Close()
	s, err := New(filepath.Join(dir, "snapshots"), 2, nil)
	if err != nil {
		t.Fatal(err)
	}
	l, err := s.List()
	if err != nil || len(l) != 1 || l[0].Index != 7 {
		t.Fatalf("list %+v, %v", l, err)
	}
	meta, rc, err := s.Open(l[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	stream := readAll(t, bytes.NewReader(readAll(t, rc)))
	if int64(len(stream)) != meta.Size {
		t.Fatalf("stream %d bytes, meta %d", len(stream), meta.Size)
	}
	_, hr, err := ReadFrame(bytes.NewReader(stream))
	if err != nil {
		t.Fatal(err)
	}
	if got := string(readAll(t, hr)); got != "RLSNAP1\nold head" {
		t.Fatalf("head %q", got)
	}
}
