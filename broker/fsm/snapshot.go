package fsm

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/raftline/raftline/broker/groups"
	"github.com/raftline/raftline/broker/seglog"
)

// Snapshot layout, version 1 (partitions in memory):
//
//	"RLSNAP1\n"
//	u32 length, then JSON meta: nodes, topics (configs, partition offsets and
//	batch counts), producers, next producer id
//	for every topic in name order, every partition, every batch:
//	i64 base offset, i64 last offset, i64 max timestamp, i64 append time,
//	u32 length, bytes
//
// Version 2 (partitions on disk) is the magic and the meta alone: each
// partition carries its manifest (seglog.Manifest) instead of batches, and
// the files the manifests list travel beside the head (Snapshot.Files,
// OpenFile; see disk_snapshot.go).
//
// The version is in the magic: a new layout gets a new magic and Restore keeps
// reading the old ones.
const (
	snapshotMagic      = "RLSNAP1\n"
	snapshotFilesMagic = "RLSNAP2\n"
)

// maxBatchSize bounds one batch a restore will allocate for: no Kafka request
// that large is ever accepted.
const maxBatchSize = 1 << 30

// maxMetaSize bounds the JSON header a restore will allocate for.
const maxMetaSize = 1 << 30

type snapMeta struct {
	Brokers        []Broker       `json:"nodes"` // the key predates the name
	Topics         []snapTopic    `json:"topics"`
	Producers      []snapProducer `json:"producers"`
	NextProducerID int64          `json:"next_producer_id"`
	// Groups are the consumer groups (groups.Groups' JSON); absent from
	// snapshots written before them, which restore with none.
	Groups json.RawMessage `json:"groups,omitempty"`
}

type snapTopic struct {
	Name       string            `json:"name"`
	ID         [16]byte          `json:"id"`
	Configs    map[string]string `json:"configs,omitempty"`
	Partitions []snapPartition   `json:"partitions"`
}

type snapPartition struct {
	Start   int64 `json:"start"`
	Next    int64 `json:"next"`
	Batches int   `json:"batches"`
	// Manifest lists the partition's files, in a version 2 snapshot.
	Manifest *seglog.Manifest `json:"manifest,omitempty"`
}

type snapProducer struct {
	ID    int64          `json:"id"`
	Epoch int16          `json:"epoch"`
	Parts []snapSequence `json:"parts,omitempty"`
}

type snapSequence struct {
	Topic     string     `json:"topic"`
	Partition int32      `json:"partition"`
	Recent    [][3]int64 `json:"recent"`
}

// Snapshot is a point-in-time copy of the state that can be written out while
// the FSM keeps applying entries. It shares batch bytes with the live logs
// in memory, and pins the segment files on disk; Release lets go.
type Snapshot struct {
	meta   snapMeta
	parts  []frozenLog // per partition, in meta order
	frozen freezer
	files  bool   // version 2: the partitions are files
	state  *State // failed by a sync that fails
}

// Snapshot captures the state. In memory it is cheap: it copies slice
// headers and small maps, never record bytes; batch counts and bytes are
// read when the snapshot is written. On disk it hard-links every
// partition's segment files (two links per segment, removed at Release)
// and leaves their fsyncs to Sync.
func (s *State) Snapshot() (*Snapshot, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	fz, err := s.store.freezing()
	if err != nil {
		return nil, err
	}
	snap := &Snapshot{frozen: fz, state: s}
	m := &snap.meta
	m.NextProducerID = s.nextProducerID
	m.Brokers = s.brokersSortedLocked()
	if err := s.snapshotGroups(m); err != nil {
		snap.Release()
		return nil, err
	}
	for _, name := range s.topicNamesLocked() {
		t := s.topics[name]
		st := snapTopic{Name: t.Name, ID: t.ID, Configs: t.Configs}
		for i, log := range t.Partitions {
			f, err := fz.freeze(t.Name, i, log)
			if err != nil {
				snap.Release()
				return nil, err
			}
			start, next := f.offsets()
			sp := snapPartition{Start: start, Next: next}
			if fs, ok := f.(*frozenSegments); ok {
				sp.Manifest = &fs.m
				snap.files = true
			}
			st.Partitions = append(st.Partitions, sp)
			snap.parts = append(snap.parts, f)
		}
		m.Topics = append(m.Topics, st)
	}
	for _, id := range sortedKeys(s.producers) {
		p := s.producers[id]
		sp := snapProducer{ID: id, Epoch: p.epoch}
		for _, tp := range sortedTopicPartitions(p.parts) {
			ss := snapSequence{Topic: tp.topic, Partition: tp.partition}
			for _, b := range p.parts[tp].recent {
				ss.Recent = append(ss.Recent, [3]int64{int64(b.firstSeq), int64(b.lastSeq), b.baseOffset})
			}
			sp.Parts = append(sp.Parts, ss)
		}
		m.Producers = append(m.Producers, sp)
	}
	return snap, nil
}

// Release lets go of what the snapshot holds of the partitions' logs. The
// snapshot cannot be written after it.
func (snap *Snapshot) Release() {
	for _, f := range snap.parts {
		f.release()
	}
	snap.parts = nil
	if snap.frozen != nil {
		snap.frozen.release()
		snap.frozen = nil
	}
}

// Files are the files the snapshot holds besides what WriteTo writes: the
// segment files of disk partitions, pinned until Release. The snapshot
// store must keep them (raftnode attaches them to the snapshot), and
// Restore opens them by name.
func (snap *Snapshot) Files() []SnapshotFile {
	var out []SnapshotFile
	for _, f := range snap.parts {
		if fs, ok := f.(*frozenSegments); ok {
			for _, pf := range fs.files {
				out = append(out, pf.SnapshotFile)
			}
		}
	}
	return out
}

// Sync makes the snapshot's files durable: the fsyncs of what each disk
// partition wrote since its last sync, which Snapshot leaves to the
// snapshot's writer so the state machine's goroutine does not wait for the
// disk. It must succeed before the snapshot is kept (an error is
// ErrStorage, and fails the partition's log); memory snapshots have
// nothing to sync.
func (snap *Snapshot) Sync() error {
	for _, f := range snap.parts {
		if fs, ok := f.(*frozenSegments); ok {
			if err := fs.sync(); err != nil {
				err = fmt.Errorf("sync a snapshot's partition files: %w", err)
				snap.state.fail(err)
				return err
			}
		}
	}
	return nil
}

// counted fills in the meta's batch counts, which precede the batches, and
// returns the batches' total size.
func (snap *Snapshot) counted() (int64, error) {
	var total int64
	if snap.files {
		return 0, nil
	}
	i := 0
	for ti := range snap.meta.Topics {
		for pi := range snap.meta.Topics[ti].Partitions {
			n, bytes, err := snap.parts[i].count()
			if err != nil {
				return 0, err
			}
			snap.meta.Topics[ti].Partitions[pi].Batches = n
			total += int64(n)*batchHeaderSize + bytes
			i++
		}
	}
	return total, nil
}

// batchHeaderSize is the snapshot's header before each batch's bytes.
const batchHeaderSize = 36

// Size is the number of bytes WriteTo will write (the files not included),
// or -1 when the logs cannot be read.
func (snap *Snapshot) Size() int64 {
	n, err := snap.counted()
	if err != nil {
		return -1
	}
	js, _ := json.Marshal(snap.meta)
	return int64(len(snapshotMagic)+4+len(js)) + n
}

// WriteTo writes the snapshot.
func (snap *Snapshot) WriteTo(w io.Writer) (int64, error) {
	if _, err := snap.counted(); err != nil {
		return 0, err
	}
	bw := bufio.NewWriterSize(w, 1<<20)
	cw := &countWriter{w: bw}
	js, err := json.Marshal(snap.meta)
	if err != nil {
		return 0, err
	}
	magic := snapshotMagic
	if snap.files {
		magic = snapshotFilesMagic
	}
	cw.Write([]byte(magic))
	cw.Write(binary.BigEndian.AppendUint32(nil, uint32(len(js))))
	cw.Write(js)
	if snap.files {
		if cw.err != nil {
			return cw.n, cw.err
		}
		return cw.n, bw.Flush()
	}
	var hdr [batchHeaderSize]byte
	for _, f := range snap.parts {
		err := f.each(func(b snapBatch) error {
			binary.BigEndian.PutUint64(hdr[0:], uint64(b.BaseOffset))
			binary.BigEndian.PutUint64(hdr[8:], uint64(b.LastOffset))
			binary.BigEndian.PutUint64(hdr[16:], uint64(b.MaxTimestamp))
			binary.BigEndian.PutUint64(hdr[24:], uint64(b.AppendTimeMs))
			binary.BigEndian.PutUint32(hdr[32:], uint32(len(b.Data)))
			cw.Write(hdr[:])
			_, err := cw.Write(b.Data)
			return err
		})
		if err != nil {
			return cw.n, err
		}
	}
	if cw.err != nil {
		return cw.n, cw.err
	}
	return cw.n, bw.Flush()
}

type countWriter struct {
	w   io.Writer
	n   int64
	err error
}

func (c *countWriter) Write(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	n, err := c.w.Write(p)
	c.n += int64(n)
	c.err = err
	return n, err
}

// ErrBadSnapshot is returned for a snapshot that cannot be read.
var ErrBadSnapshot = errors.New("bad snapshot")

// Restore replaces the state with the snapshot read from r. A snapshot of
// disk partitions (version 2) names files beside it, which open opens; it
// may be nil for a snapshot without files.
//
// A snapshot that cannot be read is ErrBadSnapshot and leaves the state as
// it was: version 1's partitions are built apart from the live ones and
// swapped in at the end, and version 2's head is checked whole before any
// partition is touched. A storage failure (ErrStorage) stops the state, as
// in Apply; so does a version 2 snapshot whose files turn out damaged once
// partitions were changed.
func (s *State) Restore(r io.Reader, open OpenFile) (err error) {
	if err := s.Err(); err != nil {
		return err
	}
	br := bufio.NewReaderSize(r, 1<<20)
	magic, _ := br.Peek(len(snapshotMagic))
	if string(magic) == snapshotFilesMagic {
		return s.restoreFiles(br, open)
	}
	rs, err := s.store.restoring()
	if err != nil {
		s.fail(err)
		return err
	}
	defer func() {
		if err != nil {
			rs.abort()
			if errors.Is(err, ErrStorage) {
				s.fail(fmt.Errorf("restore a snapshot: %w", err))
			}
		}
	}()
	brokers, topics, producers, next, gs, err := readSnapshot(br, rs)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := rs.commit(s.topics, topics); err != nil {
		// The live partitions may be gone: nothing is left to serve.
		s.fail(fmt.Errorf("restore a snapshot: %w", err))
		return err
	}
	s.brokers, s.topics, s.producers, s.nextProducerID = brokers, topics, producers, next
	s.restoreGroups(gs)
	return nil
}

// restoreFiles restores a version 2 snapshot.
func (s *State) restoreFiles(br *bufio.Reader, open OpenFile) error {
	m, err := readMeta(br, snapshotFilesMagic)
	if err != nil {
		return err
	}
	if err := checkManifests(m.Topics); err != nil {
		return err
	}
	if open == nil {
		return fmt.Errorf("%w: it lists partition files and none came with it", ErrBadSnapshot)
	}
	brokers, producers := m.brokersAndProducers()
	gs, err := m.groups()
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	topics, err := s.store.restoreFiles(s.topics, m.Topics, open)
	if errors.Is(err, ErrBadSnapshot) {
		return err
	}
	if err != nil {
		err = fmt.Errorf("restore a snapshot: %w", err)
		s.fail(err)
		return err
	}
	s.brokers, s.topics, s.producers, s.nextProducerID = brokers, topics, producers, m.NextProducerID
	s.restoreGroups(gs)
	return nil
}

// readSnapshot reads a snapshot, building its partitions with rs.
func readSnapshot(br *bufio.Reader, rs restoration) (map[int32]Broker, map[string]*Topic, map[int64]*producer, int64, *groups.Groups, error) {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrBadSnapshot, fmt.Sprintf(format, args...))
	}
	m, err := readMeta(br, snapshotMagic)
	if err != nil {
		return nil, nil, nil, 0, nil, err
	}
	topics := map[string]*Topic{}
	var hdr [batchHeaderSize]byte
	for _, st := range m.Topics {
		t := &Topic{Name: st.Name, ID: st.ID, Configs: st.Configs}
		for i, sp := range st.Partitions {
			if sp.Batches < 0 {
				return nil, nil, nil, 0, nil, bad("topic %q: %d batches", st.Name, sp.Batches)
			}
			pb, err := rs.partition(t, i, sp.Start, sp.Next)
			if err != nil {
				return nil, nil, nil, 0, nil, err
			}
			// The count is not trusted for allocation: the batches it
			// promises must still be read.
			for range sp.Batches {
				if _, err := io.ReadFull(br, hdr[:]); err != nil {
					return nil, nil, nil, 0, nil, bad("%v", err)
				}
				b := snapBatch{
					BaseOffset:   int64(binary.BigEndian.Uint64(hdr[0:])),
					LastOffset:   int64(binary.BigEndian.Uint64(hdr[8:])),
					MaxTimestamp: int64(binary.BigEndian.Uint64(hdr[16:])),
					AppendTimeMs: int64(binary.BigEndian.Uint64(hdr[24:])),
				}
				size := binary.BigEndian.Uint32(hdr[32:])
				if size > maxBatchSize {
					return nil, nil, nil, 0, nil, bad("batch of %d bytes", size)
				}
				b.Data = pb.buffer(int(size))
				if _, err := io.ReadFull(br, b.Data); err != nil {
					return nil, nil, nil, 0, nil, bad("%v", err)
				}
				if err := pb.add(b); err != nil {
					return nil, nil, nil, 0, nil, err
				}
			}
			log, err := pb.finish()
			if err != nil {
				return nil, nil, nil, 0, nil, err
			}
			t.Partitions = append(t.Partitions, log)
		}
		topics[t.Name] = t
	}
	brokers, producers := m.brokersAndProducers()
	gs, err := m.groups()
	if err != nil {
		return nil, nil, nil, 0, nil, err
	}
	return brokers, topics, producers, m.NextProducerID, gs, nil
}

// readMeta reads a snapshot's magic, which must be magic, and its meta.
func readMeta(br *bufio.Reader, magic string) (*snapMeta, error) {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrBadSnapshot, fmt.Sprintf(format, args...))
	}
	got := make([]byte, len(magic))
	if _, err := io.ReadFull(br, got); err != nil || string(got) != magic {
		return nil, bad("missing header")
	}
	var lenBuf [4]byte
	if _, err := io.ReadFull(br, lenBuf[:]); err != nil {
		return nil, bad("%v", err)
	}
	metaLen := binary.BigEndian.Uint32(lenBuf[:])
	if metaLen > maxMetaSize {
		return nil, bad("meta of %d bytes", metaLen)
	}
	js := make([]byte, metaLen)
	if _, err := io.ReadFull(br, js); err != nil {
		return nil, bad("%v", err)
	}
	var m snapMeta
	if err := json.Unmarshal(js, &m); err != nil {
		return nil, bad("%v", err)
	}
	return &m, nil
}

// brokersAndProducers builds the state's brokers and producers from the
// meta.
func (m *snapMeta) brokersAndProducers() (map[int32]Broker, map[int64]*producer) {
	brokers := map[int32]Broker{}
	for _, b := range m.Brokers {
		brokers[b.ID] = b
	}
	producers := map[int64]*producer{}
	for _, sp := range m.Producers {
		p := newProducer(sp.Epoch)
		for _, ss := range sp.Parts {
			q := &sequences{}
			for _, r := range ss.Recent {
				q.recent = append(q.recent, sentBatch{int32(r[0]), int32(r[1]), r[2]})
			}
			p.parts[topicPartition{ss.Topic, ss.Partition}] = q
		}
		producers[sp.ID] = p
	}
	return brokers, producers
}

func (s *State) brokersSortedLocked() []Broker {
	out := make([]Broker, 0, len(s.brokers))
	for _, id := range sortedKeys(s.brokers) {
		out = append(out, s.brokers[id])
	}
	return out
}

// snapshotGroups writes the consumer groups into the meta, as JSON taken
// now: the snapshot is written later, while entries go on being applied.
func (s *State) snapshotGroups(m *snapMeta) error {
	s.groupsMu.RLock()
	defer s.groupsMu.RUnlock()
	if s.groups.Len() == 0 {
		return nil
	}
	js, err := json.Marshal(s.groups)
	if err != nil {
		return err
	}
	m.Groups = js
	return nil
}

// groups reads the meta's consumer groups; a snapshot without any has none.
func (m *snapMeta) groups() (*groups.Groups, error) {
	gs := groups.New()
	if len(m.Groups) == 0 {
		return gs, nil
	}
	if err := json.Unmarshal(m.Groups, gs); err != nil {
		return nil, fmt.Errorf("%w: consumer groups: %v", ErrBadSnapshot, err)
	}
	return gs, nil
}

// restoreGroups makes gs the consumer groups; the caller holds mu.
func (s *State) restoreGroups(gs *groups.Groups) {
	s.groupsMu.Lock()
	s.groups = gs
	s.groupsMu.Unlock()
	s.notifyGroups()
}
