package seglog

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// leader is a log of several segments with a start offset inside the first
// one held, as a snapshot would find it.
func leader(t *testing.T) *fixture {
	f := newFixture(t, Options{SegmentBytes: 400, IndexIntervalBytes: 100})
	for i := range 20 {
		f.append(batch(int64(1000+i), fmt.Sprintf("value %d", i), "more"), int64(100+i))
	}
	if err := f.l.SetStart(9); err != nil {
		t.Fatal(err)
	}
	return f
}

// dirState hashes every file in dir by name.
func dirState(t *testing.T, dir string) string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	var b strings.Builder
	for _, n := range names {
		data, _ := os.ReadFile(filepath.Join(dir, n))
		fmt.Fprintf(&b, "%s %x\n", n, sha256.Sum256(data))
	}
	return b.String()
}

func TestInstall_FromManifest_ReplicaEqualsLeader(t *testing.T) {
	src := leader(t)
	m, err := src.l.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Files) != 2*len(src.l.Segments()) || m.Start != 9 || m.Next != 40 {
		t.Fatalf("manifest %+v", m)
	}
	// The leader goes on appending while the follower copies: the manifest's
	// lengths bound what is sent.
	src.append(batch(5000, "after the manifest"), 500)

	dst := newFixture(t, Options{SegmentBytes: 400})
	dst.append(batch(1, "what the follower had before"), 1)
	if err := dst.l.Install(m, func(name string) (io.Reader, error) { return src.l.OpenSegment(name) }); err != nil {
		t.Fatalf("Install: %v", err)
	}
	if start, next := dst.l.Offsets(); start != 9 || next != 40 {
		t.Fatalf("installed Offsets() = %d, %d; want 9, 40", start, next)
	}
	if _, err := os.Stat(dst.dir + ".staging"); !os.IsNotExist(err) {
		t.Fatalf("staging directory left behind: %v", err)
	}
	dst.want, dst.last = src.want, src.last
	dst.forget(40)
	dst.checkAll()
	// Same appends from here: same digest, same segments, same decisions.
	src2 := leader(t)
	d1, _ := src2.l.Digest()
	d2, _ := dst.l.Digest()
	if d1 != d2 {
		t.Fatalf("digests differ:\n%+v\n%+v", d1, d2)
	}
	if a, b := fmt.Sprint(src2.l.Segments()), fmt.Sprint(dst.l.Segments()); a != b {
		t.Fatalf("segments differ:\n%s\n%s", a, b)
	}
	for _, f := range []*fixture{src2, dst} {
		f.append(batch(5000, "x"), 500)
	}
	d1, _ = src2.l.Digest()
	d2, _ = dst.l.Digest()
	if d1 != d2 {
		t.Fatalf("digests differ after the same append")
	}
	dst.reopen()
	dst.checkAll()
}

func TestInstall_ChecksumMismatch_RefusedLiveFilesUntouched(t *testing.T) {
	src := leader(t)
	m, err := src.l.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	honest := func(name string) (io.Reader, error) { return src.l.OpenSegment(name) }
	target := m.Files[2].Name // the second segment's log file
	tests := []struct {
		name string
		m    func() Manifest
		open func(name string) (io.Reader, error)
		want error
	}{
		{"a flipped byte in transit", func() Manifest { return m }, func(name string) (io.Reader, error) {
			r, err := src.l.OpenSegment(name)
			if err != nil || name != target {
				return r, err
			}
			data, _ := io.ReadAll(r)
			r.Close()
			data[len(data)/2] ^= 1
			return bytes.NewReader(data), nil
		}, ErrChecksum},
		{"a file cut short", func() Manifest { return m }, func(name string) (io.Reader, error) {
			r, err := src.l.OpenSegment(name)
			if err != nil || name != target {
				return r, err
			}
			data, _ := io.ReadAll(r)
			r.Close()
			return bytes.NewReader(data[:len(data)-1]), nil
		}, ErrChecksum},
		{"a manifest checksum that does not match", func() Manifest {
			mm := m
			mm.Files = append([]File(nil), m.Files...)
			mm.Files[3].CRC32C++
			return mm
		}, honest, ErrChecksum},
		{"consistent checksums over a corrupt batch", func() Manifest {
			mm := m
			mm.Files = append([]File(nil), m.Files...)
			mm.Files[2].Length -= 10 // the sender's bytes stop inside a batch
			r, _ := src.l.OpenSegment(target)
			data, _ := io.ReadAll(io.LimitReader(r, mm.Files[2].Length))
			r.Close()
			mm.Files[2].CRC32C = crc32c(data)
			return mm
		}, honest, ErrCorrupt},
		{"a segment missing its append-time index", func() Manifest {
			mm := m
			mm.Files = append([]File(nil), m.Files[:3]...)
			return mm
		}, honest, ErrBadManifest},
		{"a file name that is a path", func() Manifest {
			mm := m
			mm.Files = append([]File(nil), m.Files...)
			mm.Files[0].Name = "../" + mm.Files[0].Name
			return mm
		}, honest, ErrBadManifest},
		{"a gap between segments", func() Manifest {
			mm := m
			mm.Files = append(append([]File(nil), m.Files[:2]...), m.Files[4:]...)
			return mm
		}, honest, ErrBadManifest},
		{"the wrong next offset", func() Manifest {
			mm := m
			mm.Next++
			return mm
		}, honest, ErrBadManifest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dst := newFixture(t, Options{})
			dst.append(batch(1, "live", "data"), 1)
			if err := dst.l.Sync(); err != nil {
				t.Fatal(err)
			}
			before := dirState(t, dst.dir)
			err := dst.l.Install(tt.m(), tt.open)
			mustErr(t, err, tt.want)
			if after := dirState(t, dst.dir); after != before {
				t.Fatalf("live files changed:\n%s\nwas\n%s", after, before)
			}
			if _, err := os.Stat(dst.dir + ".staging"); !os.IsNotExist(err) {
				t.Fatalf("staging directory left behind: %v", err)
			}
			if dst.l.Err() != nil {
				t.Fatalf("a refused install failed the log: %v", dst.l.Err())
			}
			dst.checkAll()
			dst.append(batch(2, "still writable"), 2)
		})
	}
}

func TestInstall_InterruptedSwap_OpenFinishesOrUndoesIt(t *testing.T) {
	build := func(t *testing.T, values ...string) string {
		dir := t.TempDir() + "/p"
		l, err := Open(dir, Options{})
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range values {
			if _, err := l.Append(batch(1, v), 1, 1, 1); err != nil {
				t.Fatal(err)
			}
		}
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	next := func(t *testing.T, dir string) int64 {
		l, err := Open(dir, Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		for _, p := range []string{dir + ".staging", dir + ".old"} {
			if _, err := os.Stat(p); !os.IsNotExist(err) {
				t.Errorf("%s left behind", p)
			}
		}
		_, n := l.Offsets()
		return n
	}
	t.Run("crash between the renames: the staged log is complete", func(t *testing.T) {
		dir := build(t, "old")
		staged := build(t, "new", "new", "new")
		os.Rename(dir, dir+".old")
		os.Rename(staged, dir+".staging")
		if n := next(t, dir); n != 3 {
			t.Fatalf("opened log ends at %d, want the installed 3", n)
		}
	})
	t.Run("crash while staging: the live log stays", func(t *testing.T) {
		dir := build(t, "old")
		os.Mkdir(dir+".staging", 0o755)
		os.WriteFile(filepath.Join(dir+".staging", segmentName(0, extLog)), []byte("partial"), 0o644)
		if n := next(t, dir); n != 1 {
			t.Fatalf("opened log ends at %d, want the live 1", n)
		}
	})
	t.Run("crash after the swap: the old copy is removed", func(t *testing.T) {
		dir := build(t, "new", "new")
		old := build(t, "old")
		os.Rename(old, dir+".old")
		if n := next(t, dir); n != 2 {
			t.Fatalf("opened log ends at %d, want 2", n)
		}
	})
}

func TestOpenSegment_OnlyFilesOfHeldSegments(t *testing.T) {
	f := tenSegments(t)
	for _, name := range []string{"checkpoint", "../x.log", segmentName(0, extIndex), segmentName(1, extLog)} {
		if r, err := f.l.OpenSegment(name); err == nil {
			r.Close()
			t.Errorf("OpenSegment(%q) succeeded", name)
		}
	}
	r, err := f.l.OpenSegment(segmentName(0, extLog))
	if err != nil {
		t.Fatal(err)
	}
	// Retention deletes the segment; the reader already open still reads it.
	if _, err := f.l.Retain(func(s SegmentInfo, _ int64) bool { return s.Base > 0 }); err != nil {
		t.Fatal(err)
	}
	data, err := io.ReadAll(r)
	r.Close()
	if err != nil || len(data) != 300 {
		t.Fatalf("read %d bytes, %v; want 300", len(data), err)
	}
	if _, err := f.l.OpenSegment(segmentName(0, extLog)); err == nil || !strings.Contains(err.Error(), "no longer held") {
		t.Fatalf("OpenSegment of a deleted segment: %v", err)
	}
}

func TestManifest_ChecksumsMatchFiles(t *testing.T) {
	f := leader(t)
	f.crash() // checksums of files read through after a crash, too
	f.append(batch(1, "after"), 1000)
	m, err := f.l.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	for _, file := range m.Files {
		data, err := os.ReadFile(filepath.Join(f.dir, file.Name))
		if err != nil {
			t.Fatal(err)
		}
		if int64(len(data)) != file.Length || crc32c(data) != file.CRC32C {
			t.Errorf("%s: manifest %d bytes %08x, file %d bytes %08x", file.Name, file.Length, file.CRC32C, len(data), crc32c(data))
		}
	}
}
