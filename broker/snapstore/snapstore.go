// Package snapstore is raftline's raft.SnapshotStore. A snapshot is a small
// head the state machine writes (topics, offsets, producers, and for disk
// partitions the list of their segment files) plus the files the head
// names, which are attached by path instead of being copied: the store
// hard-links them into the snapshot's directory, so a snapshot of gigabytes
// of partition data costs a few link calls, and the files outlive retention
// for as long as the snapshot is kept.
//
// Towards Raft a snapshot is one stream (Open): a frame listing the files
// with their lengths and CRC-32C checksums, the head, then every file's
// bytes. hashicorp/raft sends that stream to a follower that needs it
// (InstallSnapshot), and the follower's sink (Create, then Write) takes it
// apart again: the head into its own file, each file into the snapshot's
// directory, checked against its length and checksum before the snapshot
// is accepted. The state machine's Restore reads only the frame and the
// head from the stream and opens the files it needs through OpenFile.
//
// Layout: <dir>/<id>/meta.json, <dir>/<id>/state.bin (the head),
// <dir>/<id>/files/<name>; a snapshot being written is <dir>/<id>.tmp. The
// meta and head file names are hashicorp/raft's FileSnapshotStore's, so a
// snapshot that store wrote is read as a head without files.
package snapstore

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/raft"
)

const (
	metaName  = "meta.json"
	headName  = "state.bin"
	filesDir  = "files"
	tmpSuffix = ".tmp"
	// format marks a snapshot this store wrote (FileSnapshotStore's have
	// none).
	format = 2
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func newCRC() hash.Hash32 { return crc32.New(castagnoli) }

// File is one file a snapshot carries besides its head.
type File struct {
	// Name is a relative, slash-separated path, unique in the snapshot
	// (raftline uses <topic>/<partition>/<segment file>).
	Name   string `json:"name"`
	Length int64  `json:"length"`
	CRC32C uint32 `json:"crc32c"`
}

// Attachment is a file to attach to a snapshot: where it is on disk now,
// and how many of its bytes the snapshot holds (a file may go on growing
// after it is attached; only its first Length bytes are sent).
type Attachment struct {
	File
	Path string
}

// meta is what meta.json holds: hashicorp/raft's metadata (Size is the
// length of the stream Open returns) and the snapshot's files.
type meta struct {
	raft.SnapshotMeta
	Format     int    `json:",omitempty"`
	HeadLength int64  `json:",omitempty"`
	HeadCRC32C uint32 `json:",omitempty"`
	Files      []File `json:",omitempty"`
}

// Store keeps snapshots in a directory, retaining the newest few.
type Store struct {
	dir    string
	retain int
	log    func(msg string, args ...any)

	mu   sync.Mutex
	open map[string]int // readers per snapshot id: not reaped while read
}

var _ raft.SnapshotStore = (*Store)(nil)

// New opens (creating) the store in dir, keeping the newest retain
// snapshots. warn, if not nil, is told of snapshots it skips or cannot
// remove. Snapshots left half-written by a crash are removed.
func New(dir string, retain int, warn func(msg string, args ...any)) (*Store, error) {
	if retain < 1 {
		return nil, fmt.Errorf("snapstore: must retain at least one snapshot, not %d", retain)
	}
	if warn == nil {
		warn = func(string, ...any) {}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("snapstore: create %s: %w", dir, err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("snapstore: read %s: %w", dir, err)
	}
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), tmpSuffix) {
			if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
				warn("cannot remove an unfinished snapshot", "path", filepath.Join(dir, e.Name()), "err", err)
			}
		}
	}
	return &Store{dir: dir, retain: retain, log: warn, open: map[string]int{}}, nil
}

// Create starts a snapshot. The sink takes either a head written by the
// local state machine after Sink.Attach (with no files, for a snapshot
// that has none), or, when Attach was not called, a whole stream as Open
// returns it, received from another node.
func (s *Store) Create(version raft.SnapshotVersion, index, term uint64, configuration raft.Configuration,
	configurationIndex uint64, trans raft.Transport) (raft.SnapshotSink, error) {
	if version < raft.SnapshotVersionMin || version > raft.SnapshotVersionMax {
		return nil, fmt.Errorf("snapstore: unsupported snapshot version %d", version)
	}
	id := fmt.Sprintf("%d-%d-%d", term, index, time.Now().UnixMilli())
	dir := filepath.Join(s.dir, id+tmpSuffix)
	if err := os.MkdirAll(filepath.Join(dir, filesDir), 0o755); err != nil {
		return nil, fmt.Errorf("snapstore: create %s: %w", dir, err)
	}
	head, err := os.Create(filepath.Join(dir, headName))
	if err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("snapstore: create snapshot head: %w", err)
	}
	k := &Sink{store: s, dir: dir, head: head, headCRC: crc32.New(castagnoli)}
	k.meta = meta{
		SnapshotMeta: raft.SnapshotMeta{
			Version: version, ID: id, Index: index, Term: term,
			Peers:         encodePeers(configuration, trans),
			Configuration: configuration, ConfigurationIndex: configurationIndex,
		},
		Format: format,
	}
	k.headW = bufio.NewWriterSize(io.MultiWriter(head, k.headCRC), 1<<20)
	return k, nil
}

// encodePeers is the legacy peer list raft still sends with version 0
// snapshots (as FileSnapshotStore records it).
func encodePeers(c raft.Configuration, trans raft.Transport) []byte {
	var peers [][]byte
	for _, srv := range c.Servers {
		peers = append(peers, trans.EncodePeer(srv.ID, srv.Address))
	}
	b, _ := json.Marshal(peers)
	return b
}

// List returns the retained snapshots, newest first.
func (s *Store) List() ([]*raft.SnapshotMeta, error) {
	metas, err := s.list()
	if err != nil {
		return nil, err
	}
	out := make([]*raft.SnapshotMeta, 0, min(len(metas), s.retain))
	for _, m := range metas[:min(len(metas), s.retain)] {
		out = append(out, &m.SnapshotMeta)
	}
	return out, nil
}

// list reads every finished snapshot's meta, newest first.
func (s *Store) list() ([]*meta, error) {
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, fmt.Errorf("snapstore: read %s: %w", s.dir, err)
	}
	var metas []*meta
	for _, e := range entries {
		if !e.IsDir() || strings.HasSuffix(e.Name(), tmpSuffix) {
			continue
		}
		m, err := s.readMeta(e.Name())
		if err != nil {
			s.log("skipping a snapshot whose metadata cannot be read", "id", e.Name(), "err", err)
			continue
		}
		metas = append(metas, m)
	}
	slices.SortFunc(metas, func(a, b *meta) int {
		switch {
		case a.Term != b.Term:
			return cmpDesc(a.Term, b.Term)
		case a.Index != b.Index:
			return cmpDesc(a.Index, b.Index)
		}
		return strings.Compare(b.ID, a.ID)
	})
	return metas, nil
}

func cmpDesc(a, b uint64) int {
	if a > b {
		return -1
	}
	return 1
}

func (s *Store) readMeta(id string) (*meta, error) {
	b, err := os.ReadFile(filepath.Join(s.dir, id, metaName))
	if err != nil {
		return nil, err
	}
	var m meta
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	if m.ID != id {
		return nil, fmt.Errorf("meta names snapshot %q", m.ID)
	}
	if m.Format == 0 {
		// Written by FileSnapshotStore: a head without files, whose Size
		// is the head's.
		m.HeadLength = m.Size
		m.Size = frameSize(&m)
	}
	return &m, nil
}

// Open returns a snapshot as one stream: frame, head, files. The stream
// fails rather than come up short if a file no longer holds the bytes the
// snapshot recorded.
func (s *Store) Open(id string) (*raft.SnapshotMeta, io.ReadCloser, error) {
	m, err := s.readMeta(id)
	if err != nil {
		return nil, nil, fmt.Errorf("snapstore: open snapshot %s: %w", id, err)
	}
	head, err := os.Open(filepath.Join(s.dir, id, headName))
	if err != nil {
		return nil, nil, fmt.Errorf("snapstore: open snapshot %s: %w", id, err)
	}
	s.hold(id)
	r := &reader{store: s, id: id, meta: m, head: head}
	r.r = io.MultiReader(strings.NewReader(string(encodeFrame(m))), &exactReader{r: head, n: m.HeadLength, name: headName}, &filesReader{r: r})
	return &m.SnapshotMeta, r, nil
}

// OpenFile opens one file of a snapshot, for the state machine restoring
// from it. Only the snapshot's recorded length of it belongs to the
// snapshot (the file may have grown since); the reader stops there, and
// fails if the file is shorter.
func (s *Store) OpenFile(id, name string) (io.ReadCloser, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	m, err := s.readMeta(id)
	if err != nil {
		return nil, fmt.Errorf("snapstore: snapshot %s: %w", id, err)
	}
	i := slices.IndexFunc(m.Files, func(f File) bool { return f.Name == name })
	if i < 0 {
		return nil, fmt.Errorf("snapstore: snapshot %s has no file %q", id, name)
	}
	f, err := os.Open(filepath.Join(s.dir, id, filesDir, filepath.FromSlash(name)))
	if err != nil {
		return nil, fmt.Errorf("snapstore: snapshot %s: %w", id, err)
	}
	s.hold(id)
	return &fileReader{exactReader: exactReader{r: f, n: m.Files[i].Length, name: name}, f: f, release: func() { s.release(id) }}, nil
}

func (s *Store) hold(id string) {
	s.mu.Lock()
	s.open[id]++
	s.mu.Unlock()
}

func (s *Store) release(id string) {
	s.mu.Lock()
	if s.open[id]--; s.open[id] <= 0 {
		delete(s.open, id)
	}
	s.mu.Unlock()
}

// reap removes the snapshots past the newest retain, except those being
// read (they go at a later reap).
func (s *Store) reap() {
	metas, err := s.list()
	if err != nil {
		s.log("cannot list snapshots to remove old ones", "err", err)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, m := range metas[min(len(metas), s.retain):] {
		if s.open[m.ID] > 0 {
			continue
		}
		if err := os.RemoveAll(filepath.Join(s.dir, m.ID)); err != nil {
			s.log("cannot remove an old snapshot", "id", m.ID, "err", err)
		}
	}
}

// Sink is a snapshot being written; see Store.Create.
type Sink struct {
	store   *Store
	dir     string
	meta    meta
	head    *os.File
	headW   *bufio.Writer
	headCRC hash.Hash32

	attached    bool
	headWritten int64
	// receiving is set at the first Write of a stream from another node:
	// the stream is taken apart by a goroutine reading from pw.
	pw   *io.PipeWriter
	recv chan error

	done bool
}

var _ raft.SnapshotSink = (*Sink)(nil)

// ID is the snapshot's id.
func (k *Sink) ID() string { return k.meta.ID }

// Attach hard-links files into the snapshot, which is the local state
// machine's, and whose head is then written with Write. It must come
// before the first Write, even with no files: a sink written to without it
// takes a stream received from another node.
func (k *Sink) Attach(files []Attachment) error {
	if k.pw != nil || k.headLen() > 0 {
		return errors.New("snapstore: attach after the head was written")
	}
	k.attached = true
	for _, a := range files {
		if err := checkName(a.Name); err != nil {
			return err
		}
		if slices.ContainsFunc(k.meta.Files, func(f File) bool { return f.Name == a.Name }) {
			return fmt.Errorf("snapstore: file %q attached twice", a.Name)
		}
		dst := filepath.Join(k.dir, filesDir, filepath.FromSlash(a.Name))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return fmt.Errorf("snapstore: %w", err)
		}
		if err := os.Link(a.Path, dst); err != nil {
			return fmt.Errorf("snapstore: attach %s: %w", a.Path, err)
		}
		k.meta.Files = append(k.meta.Files, a.File)
	}
	return nil
}

func (k *Sink) headLen() int64 { return k.headWritten }

// Write takes the head (after Attach, or when the state machine attaches
// nothing) or a stream received from another node.
func (k *Sink) Write(p []byte) (int, error) {
	if k.done {
		return 0, errors.New("snapstore: write to a closed snapshot")
	}
	if k.pw == nil && !k.attached {
		k.startReceiving()
	}
	if k.pw != nil {
		return k.pw.Write(p)
	}
	n, err := k.headW.Write(p)
	k.headWritten += int64(n)
	return n, err
}

// Close finishes the snapshot: the head and files are synced, the meta
// written, the directory renamed into place, and older snapshots removed.
func (k *Sink) Close() error {
	if k.done {
		return nil
	}
	k.done = true
	err := k.finishHead()
	if err == nil {
		err = k.finishFiles()
	}
	if err == nil {
		err = k.commit()
	}
	if err != nil {
		os.RemoveAll(k.dir)
		return err
	}
	k.store.reap()
	return nil
}

func (k *Sink) finishHead() error {
	if k.pw != nil {
		k.pw.Close()
		if err := <-k.recv; err != nil {
			k.head.Close()
			return err
		}
	} else {
		if err := k.headW.Flush(); err != nil {
			k.head.Close()
			return fmt.Errorf("snapstore: write snapshot head: %w", err)
		}
		k.meta.HeadLength = k.headWritten
		k.meta.HeadCRC32C = k.headCRC.Sum32()
	}
	if err := k.head.Sync(); err != nil {
		k.head.Close()
		return fmt.Errorf("snapstore: sync snapshot head: %w", err)
	}
	return k.head.Close()
}

// finishFiles syncs the files: attached ones are hard links to files whose
// bytes up to the recorded length the state machine has synced; received
// ones were synced as they were written.
func (k *Sink) finishFiles() error {
	dirs := map[string]bool{filepath.Join(k.dir, filesDir): true}
	for _, f := range k.meta.Files {
		dirs[filepath.Dir(filepath.Join(k.dir, filesDir, filepath.FromSlash(f.Name)))] = true
	}
	for d := range dirs {
		if err := syncDir(d); err != nil {
			return err
		}
	}
	return nil
}

func (k *Sink) commit() error {
	k.meta.Size = frameSize(&k.meta)
	b, err := json.Marshal(k.meta)
	if err != nil {
		return err
	}
	if err := writeFileSync(filepath.Join(k.dir, metaName), b); err != nil {
		return err
	}
	if err := syncDir(k.dir); err != nil {
		return err
	}
	final := filepath.Join(k.store.dir, k.meta.ID)
	if err := os.Rename(k.dir, final); err != nil {
		return fmt.Errorf("snapstore: %w", err)
	}
	k.dir = final
	return syncDir(k.store.dir)
}

// Cancel abandons the snapshot.
func (k *Sink) Cancel() error {
	if k.done {
		return nil
	}
	k.done = true
	if k.pw != nil {
		k.pw.CloseWithError(errors.New("snapshot cancelled"))
		<-k.recv
	}
	k.head.Close()
	return os.RemoveAll(k.dir)
}

func writeFileSync(name string, b []byte) error {
	f, err := os.Create(name)
	if err != nil {
		return fmt.Errorf("snapstore: %w", err)
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return fmt.Errorf("snapstore: write %s: %w", name, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("snapstore: sync %s: %w", name, err)
	}
	return f.Close()
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("snapstore: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("snapstore: sync %s: %w", dir, err)
	}
	return nil
}

// checkName accepts a clean relative slash-separated path that stays
// inside the snapshot's directory.
func checkName(name string) error {
	if name == "" || len(name) > 4096 || strings.ContainsRune(name, 0) || strings.Contains(name, `\`) ||
		path.IsAbs(name) || path.Clean(name) != name || name == "." || name == ".." || strings.HasPrefix(name, "../") {
		return fmt.Errorf("snapstore: %q is not a file name a snapshot can hold", name)
	}
	return nil
}
