// Package fsm is raftline's replicated state machine: the topics, their
// partition logs, the registered brokers and the idempotent producers. Every
// change arrives as a Raft log entry (see command.go) and is applied in log
// order on every node, so replicas end up byte-identical.
//
// The package knows nothing about Raft itself; raftnode adapts it to
// raft.FSM. That keeps replay testable without a running node.
package fsm

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/raftline/raftline/broker/groups"
	"github.com/raftline/raftline/broker/recordbatch"
	"github.com/raftline/raftline/broker/topicrules"
)

// Topic is one topic's state.
type Topic struct {
	Name       string
	ID         [16]byte
	Configs    map[string]string
	Partitions []PartitionLog
}

// RetentionMs is the topic's retention.ms (-1: keep forever).
func (t *Topic) RetentionMs() int64 {
	return t.configInt(topicrules.ConfigRetentionMs, topicrules.DefaultRetentionMs)
}

// RetentionBytes is the topic's retention.bytes per partition (-1: no limit).
func (t *Topic) RetentionBytes() int64 {
	return t.configInt(topicrules.ConfigRetentionBytes, topicrules.DefaultRetentionBytes)
}

// MaxMessageBytes is the largest record batch the topic accepts.
func (t *Topic) MaxMessageBytes() int64 {
	return t.configInt(topicrules.ConfigMaxMessageBytes, topicrules.DefaultMaxMessageBytes)
}

// Partition returns the topic's partition p, or kerr.UnknownTopicOrPartition
// when there is no such partition or no such topic (t is nil). It is the one
// place a partition number from a client or an entry is checked.
func (t *Topic) Partition(p int32) (PartitionLog, error) {
	if t == nil || p < 0 || int(p) >= len(t.Partitions) {
		return nil, kerr.UnknownTopicOrPartition
	}
	return t.Partitions[p], nil
}

func (t *Topic) configInt(key string, def int64) int64 {
	if v, ok := t.Configs[key]; ok {
		if n, err := strconv.ParseInt(v, 10, 64); err == nil {
			return n
		}
	}
	return def
}

// PartitionResult is the outcome of a produce for one partition.
type PartitionResult struct {
	Topic      string
	Partition  int32
	BaseOffset int64
	LogStart   int64
	Err        error // a kerr error, or nil
}

// ApplyResult is what applying an entry returns to the proposer.
type ApplyResult struct {
	// Partitions are OpProduce's and OpDeleteRecords' outcomes, one per
	// partition of the command, in its order. For OpDeleteRecords LogStart
	// is the partition's new log start offset (Kafka's low watermark).
	Partitions []PartitionResult
	ProducerID int64 // OpInitProducer
	Err        error // OpCreateTopic, OpDeleteTopic, OpAlterConfigs, OpCreatePartitions, OpGroup: a kerr error, or nil
	// Group is OpGroup's outcome.
	Group *groups.Result
}

// State is the whole replicated state.
type State struct {
	store store

	mu             sync.RWMutex
	brokers        map[int32]Broker
	topics         map[string]*Topic
	producers      map[int64]*producer
	nextProducerID int64
	epochs         map[topicPartition][]EpochStart // see epochs.go

	// groups are the consumer groups, under their own lock so that
	// reading them never waits for a produce. Lock order: mu, then
	// groupsMu.
	groupsMu      sync.RWMutex
	groups        *groups.Groups
	groupsChanged chan struct{} // nil until someone waits; under notifyMu

	failMu sync.Mutex
	failed error // the storage error that stopped the state (ErrStorage)

	notifyMu sync.Mutex
	appended chan struct{} // nil until a long poll waits

	// onAppend, when set, is told about each batch appended (for metrics).
	onAppend func(topic string, partition int32, records int64, bytes int)
}

// New returns an empty state that keeps its partitions in memory.
func New() *State {
	return newState(memoryStore{})
}

func newState(st store) *State {
	return &State{
		store:     st,
		brokers:   map[int32]Broker{},
		topics:    map[string]*Topic{},
		producers: map[int64]*producer{},
		groups:    groups.New(),
		epochs:    map[topicPartition][]EpochStart{},
	}
}

// Open returns an empty state that keeps its partitions as opts says. With
// Disk the partitions' files in opts.Dir stay until a snapshot is restored
// (Restore keeps those it lists, cut back to its offsets, and removes the
// others) or the Raft log replayed from its start creates them afresh.
func Open(opts Options) (*State, error) {
	switch opts.Storage {
	case "", Memory:
		return New(), nil
	case Disk:
		if opts.Dir == "" {
			return nil, errors.New("fsm: disk storage needs a directory")
		}
		d := diskStore{dir: opts.Dir, opts: opts.Segments}
		if err := d.prepare(); err != nil {
			return nil, err
		}
		return newState(d), nil
	}
	return nil, fmt.Errorf("fsm: storage %q is not memory or disk", opts.Storage)
}

// Close releases the partitions' logs (their files, on disk). The state
// must not be used after it.
func (s *State) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var errs []error
	for _, t := range s.topics {
		for _, p := range t.Partitions {
			errs = append(errs, p.close())
		}
	}
	return errors.Join(errs...)
}

// Err is the storage error that stopped the state, or nil.
func (s *State) Err() error {
	s.failMu.Lock()
	defer s.failMu.Unlock()
	return s.failed
}

// fail records err, a storage error, as the state's failure; the first one
// stays.
func (s *State) fail(err error) {
	s.failMu.Lock()
	defer s.failMu.Unlock()
	if s.failed == nil {
		s.failed = err
	}
}

// OnAppend sets a callback run for every batch appended to a partition.
func (s *State) OnAppend(f func(topic string, partition int32, records int64, bytes int)) {
	s.onAppend = f
}

// Apply applies one encoded entry at the given Raft index. It returns an
// error for an entry it cannot interpret, and for one whose partition store
// failed under it (ErrStorage): either must stop the node rather than be
// skipped, or replicas would diverge. After a storage failure every entry
// is refused.
func (s *State) Apply(index uint64, data []byte) (ApplyResult, error) {
	return s.ApplyTerm(index, 0, data)
}

// ApplyTerm is Apply for an entry of a Raft term: the term is the leader
// epoch of the records the entry writes (epochs.go).
func (s *State) ApplyTerm(index, term uint64, data []byte) (ApplyResult, error) {
	if err := s.Err(); err != nil {
		return ApplyResult{}, err
	}
	c, err := Decode(data)
	if err != nil {
		return ApplyResult{}, err
	}
	c.Term = term
	res := s.ApplyCommand(index, c)
	return res, s.Err()
}

// ApplyCommand applies a decoded command. A partition store's failure is
// answered as KAFKA_STORAGE_ERROR and stops the state (Err, Apply).
func (s *State) ApplyCommand(index uint64, c Command) ApplyResult {
	if err := s.Err(); err != nil {
		return ApplyResult{Err: err}
	}
	switch c.Op {
	case OpRegisterNode:
		s.mu.Lock()
		s.brokers[c.Broker.ID] = *c.Broker
		s.mu.Unlock()
	case OpCreateTopic:
		return ApplyResult{Err: s.createTopic(index, c.Topic)}
	case OpDeleteTopic:
		s.mu.Lock()
		defer s.mu.Unlock()
		t, ok := s.topics[c.Delete]
		if !ok {
			return ApplyResult{Err: kerr.UnknownTopicOrPartition}
		}
		delete(s.topics, c.Delete)
		s.groupsMu.Lock()
		s.groups.DeleteTopic(c.Delete)
		s.groupsMu.Unlock()
		s.notifyGroups()
		s.dropEpochs(t)
		if err := s.store.drop(t); err != nil {
			s.fail(fmt.Errorf("delete topic %s: %w", t.Name, err))
			return ApplyResult{Err: kerr.KafkaStorageError}
		}
	case OpProduce:
		res := ApplyResult{Partitions: s.produce(c.TimeMs, c.Term, c.Produce)}
		s.notifyAppended()
		return res
	case OpRetention:
		s.retention(c.TimeMs)
	case OpDeleteRecords:
		var parts []DeleteRecordsPartition
		if c.Records != nil {
			parts = c.Records.Partitions
		}
		return ApplyResult{Partitions: s.deleteRecords(parts)}
	case OpGroup:
		return s.applyGroup(c)
	case OpAlterConfigs:
		return ApplyResult{Err: s.alterConfigs(c.Configs)}
	case OpCreatePartitions:
		return ApplyResult{Err: s.createPartitions(c.Grow)}
	case OpInitProducer:
		s.mu.Lock()
		defer s.mu.Unlock()
		id := s.nextProducerID
		s.nextProducerID++
		s.producers[id] = newProducer(0)
		return ApplyResult{ProducerID: id}
	}
	return ApplyResult{}
}

func (s *State) createTopic(index uint64, ct *CreateTopic) error {
	if err := topicrules.ValidateTopicName(ct.Name); err != nil {
		return kerr.InvalidTopicException
	}
	if ct.Partitions <= 0 || ct.Partitions > topicrules.MaxPartitions {
		return kerr.InvalidPartitions
	}
	if err := topicrules.ValidateConfigs(ct.Configs); err != nil {
		return kerr.InvalidConfig
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.topics[ct.Name]; ok {
		return kerr.TopicAlreadyExists
	}
	t := &Topic{Name: ct.Name, ID: topicID(ct.Name, index), Configs: ct.Configs}
	for i := range int(ct.Partitions) {
		log, err := s.store.create(t, i)
		if err != nil {
			s.fail(fmt.Errorf("create topic %s partition %d: %w", ct.Name, i, err))
			s.store.drop(t)
			return kerr.KafkaStorageError
		}
		t.Partitions = append(t.Partitions, log)
	}
	s.topics[ct.Name] = t
	return nil
}

// topicID derives the topic's UUID from its name and the index of the entry
// that created it, so every replica gives it the same id and a re-created
// topic gets a new one.
func topicID(name string, index uint64) [16]byte {
	sum := sha256.Sum256([]byte(name + "\x00" + strconv.FormatUint(index, 10)))
	var id [16]byte
	copy(id[:], sum[:16])
	id[6] = id[6]&0x0f | 0x40 // version 4 layout, as Kafka's ids
	id[8] = id[8]&0x3f | 0x80
	return id
}

func (s *State) produce(timeMs int64, term uint64, parts []ProducePartition) []PartitionResult {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]PartitionResult, len(parts))
	for i, p := range parts {
		r := &out[i]
		r.Topic, r.Partition, r.BaseOffset, r.LogStart = p.Topic, p.Partition, -1, -1
		t := s.topics[p.Topic]
		log, err := t.Partition(p.Partition)
		if err != nil {
			r.Err = err
			continue
		}
		_, before := log.Offsets()
		for j, b := range p.Batches {
			base, err := s.appendBatch(t, p.Partition, log, b, timeMs)
			if errors.Is(err, ErrStorage) {
				s.fail(fmt.Errorf("append to %s/%d: %w", p.Topic, p.Partition, err))
				err = kerr.KafkaStorageError
			}
			if err != nil {
				r.Err = err
				break
			}
			if j == 0 {
				r.BaseOffset = base
			}
		}
		var after int64
		r.LogStart, after = log.Offsets()
		if after > before {
			s.noteEpoch(p.Topic, p.Partition, term, before)
		}
	}
	return out
}

// appendBatch appends one batch, deduplicating idempotent producers' retries.
// The entry's bytes are never written to: Raft may still be sending them to
// followers. The CRC was checked by the leader before proposing.
func (s *State) appendBatch(t *Topic, partition int32, log PartitionLog, b []byte, timeMs int64) (int64, error) {
	h, err := recordbatch.ParseHeader(b)
	if err != nil {
		return -1, kerr.CorruptMessage
	}
	var seq *sequences
	if h.ProducerID >= 0 {
		var dup int64
		seq, dup, err = s.checkSequence(t.Name, partition, h)
		if err != nil {
			return -1, err
		}
		if dup >= 0 {
			return dup, nil
		}
	}
	data := b[:h.Length:h.Length]
	base, err := log.append(data, int64(h.RecordCount), h.MaxTimestamp, timeMs)
	if err != nil {
		return -1, err
	}
	if seq != nil {
		seq.record(h, base)
	}
	if s.onAppend != nil {
		s.onAppend(t.Name, partition, int64(h.RecordCount), len(data))
	}
	return base, nil
}

func (s *State) retention(nowMs int64) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, name := range s.topicNamesLocked() {
		t := s.topics[name]
		ms, bytes := t.RetentionMs(), t.RetentionBytes()
		for i, log := range t.Partitions {
			if err := log.retain(nowMs, ms, bytes); err != nil {
				s.fail(fmt.Errorf("retention on %s/%d: %w", name, i, err))
				return
			}
		}
	}
}

// deleteRecords moves each partition's log start offset up, with Kafka's
// answers (Partition.deleteRecordsOnLeader, UnifiedLog.
// maybeIncrementLogStartOffset): -1 is the high watermark; another negative
// offset, or one past the high watermark, is OFFSET_OUT_OF_RANGE; one at or
// below the current start changes nothing and answers the current start.
// The high watermark is the entry's, the same on every replica.
func (s *State) deleteRecords(parts []DeleteRecordsPartition) []PartitionResult {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]PartitionResult, len(parts))
	for i, p := range parts {
		r := &out[i]
		r.Topic, r.Partition, r.BaseOffset, r.LogStart = p.Topic, p.Partition, -1, -1
		log, err := s.topics[p.Topic].Partition(p.Partition)
		if err != nil {
			r.Err = err
			continue
		}
		start, next := log.Offsets()
		offset := p.Offset
		if offset == -1 {
			offset = next
		}
		if offset < 0 || offset > next {
			r.Err = kerr.OffsetOutOfRange
			continue
		}
		if offset > start {
			if err := log.setStart(offset); err != nil {
				if errors.Is(err, ErrStorage) {
					s.fail(fmt.Errorf("delete records of %s/%d: %w", p.Topic, p.Partition, err))
					err = kerr.KafkaStorageError
				}
				r.Err = err
				continue
			}
		}
		r.LogStart, _ = log.Offsets()
	}
	return out
}

func (s *State) topicNamesLocked() []string {
	names := make([]string, 0, len(s.topics))
	for n := range s.topics {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Topic returns a topic, or nil.
func (s *State) Topic(name string) *Topic {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.topics[name]
}

// Topics returns every topic, sorted by name.
func (s *State) Topics() []*Topic {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]*Topic, 0, len(s.topics))
	for _, n := range s.topicNamesLocked() {
		out = append(out, s.topics[n])
	}
	return out
}

// TopicsWithin is Topics for readers that must not wait on an apply, such
// as a metrics scrape: a produce holds the state's lock while it writes to
// a partition's files, so on a hung disk Topics would wait as long as the
// disk does. TopicsWithin gives up after d and reports false. Topics are
// immutable once published (a change makes a new Topic sharing the logs),
// and each log has locks of its own that its writer holds only between
// writes, so what is returned can be read without the state's lock.
func (s *State) TopicsWithin(d time.Duration) ([]*Topic, bool) {
	deadline := time.Now().Add(d)
	for !s.mu.TryRLock() {
		if time.Now().After(deadline) {
			return nil, false
		}
		time.Sleep(time.Millisecond)
	}
	defer s.mu.RUnlock()
	out := make([]*Topic, 0, len(s.topics))
	for _, n := range s.topicNamesLocked() {
		out = append(out, s.topics[n])
	}
	return out, true
}

// Brokers returns the registered brokers, sorted by id.
func (s *State) Brokers() []Broker {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.brokersSortedLocked()
}

// Broker returns a registered broker.
func (s *State) Broker(id int32) (Broker, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	b, ok := s.brokers[id]
	return b, ok
}

// Appended returns a channel closed at the next batch appended to any
// partition, for Fetch long polls.
func (s *State) Appended() <-chan struct{} {
	s.notifyMu.Lock()
	defer s.notifyMu.Unlock()
	if s.appended == nil {
		s.appended = make(chan struct{})
	}
	return s.appended
}

func (s *State) notifyAppended() {
	s.notifyMu.Lock()
	if s.appended != nil {
		close(s.appended)
		s.appended = nil
	}
	s.notifyMu.Unlock()
}
