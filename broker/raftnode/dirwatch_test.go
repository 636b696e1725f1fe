package raftnode

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// dirWatch finds a directory removed, or replaced by another at the same
// path, and passes while both are in place.
func TestDirWatch_Check_RemovedOrReplaced(t *testing.T) {
	for _, c := range []struct {
		name   string
		change func(t *testing.T, data, raft string)
		want   string
	}{
		{"in place", func(*testing.T, string, string) {}, ""},
		{"data dir removed", func(t *testing.T, data, _ string) {
			if err := os.RemoveAll(data); err != nil {
				t.Fatal(err)
			}
		}, "gone"},
		{"raft dir replaced", func(t *testing.T, _, raft string) {
			if err := os.Rename(raft, raft+".old"); err != nil {
				t.Fatal(err)
			}
			if err := os.MkdirAll(filepath.Join(raft, "wal"), 0o755); err != nil {
				t.Fatal(err)
			}
		}, "replaced"},
	} {
		t.Run(c.name, func(t *testing.T) {
			data := t.TempDir()
			raft := filepath.Join(data, "raft")
			if err := os.MkdirAll(filepath.Join(raft, "wal"), 0o755); err != nil {
				t.Fatal(err)
			}
			w, err := newDirWatch(&Node{cfg: Config{DataDir: data}}, data, raft, filepath.Join(raft, "wal"))
			if err != nil {
				t.Fatal(err)
			}
			c.change(t, data, raft)
			path, err := w.check()
			switch {
			case c.want == "" && err != nil:
				t.Fatalf("check: %s: %v", path, err)
			case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
				t.Fatalf("check: %s: %v, want an error saying %q", path, err, c.want)
			case c.want == "gone" && (path != data || !errors.Is(err, syscall.ENOENT)):
				t.Fatalf("check: %s: %v, want %s and ENOENT", path, err, data)
			case c.want == "replaced" && path != raft:
				t.Fatalf("check: %s: %v, want %s", path, err, raft)
			}
		})
	}
}

// The cost of one check, paid every second: three stats and the probe's
// open, 8-byte write, fsync and close.
func BenchmarkDirWatch_Check(b *testing.B) {
	data := b.TempDir()
	raft := filepath.Join(data, "raft")
	if err := os.MkdirAll(filepath.Join(raft, "wal"), 0o755); err != nil {
		b.Fatal(err)
	}
	w, err := newDirWatch(&Node{cfg: Config{DataDir: data}}, data, raft, filepath.Join(raft, "wal"))
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if path, err := w.check(); err != nil {
			b.Fatal(path, err)
		}
	}
}
