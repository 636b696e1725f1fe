package fsm

import (
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/raftline/raftline/broker/topicrules"
)

// Topics change by copy: an altered or grown topic is a new *Topic in the
// map, sharing the partitions' logs with the old one, so a reader holding
// the old one (a Metadata answer being built, cluster.Topic's Configs)
// never sees it change under it, and nothing else takes the state's lock.

// alterConfigs changes a topic's configs (OpAlterConfigs). The resulting
// configs are checked with topicrules here as well as by the proposer, so
// every replica refuses the same entries. A changed segment.bytes or segment.ms
// applies to each partition's next roll; retention.* are read by the next
// retention entry; max.message.bytes by the next produce.
func (s *State) alterConfigs(ac *AlterConfigs) error {
	if ac == nil {
		return kerr.InvalidRequest
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	old, ok := s.topics[ac.Topic]
	if !ok {
		return kerr.UnknownTopicOrPartition
	}
	t := *old
	t.Configs = ac.Apply(old.Configs)
	if err := topicrules.ValidateConfigs(t.Configs); err != nil {
		return kerr.InvalidConfig
	}
	if err := s.store.reshape(&t); err != nil {
		s.fail(fmt.Errorf("alter configs of %s: %w", t.Name, err))
		return kerr.KafkaStorageError
	}
	s.topics[t.Name] = &t
	return nil
}

// createPartitions grows a topic (OpCreatePartitions), with Kafka's
// answers: a count at or below the current one, or past topicrules'
// bound, is INVALID_PARTITIONS.
func (s *State) createPartitions(cp *CreatePartitions) error {
	if cp == nil {
		return kerr.InvalidRequest
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	old, ok := s.topics[cp.Topic]
	if !ok {
		return kerr.UnknownTopicOrPartition
	}
	if int(cp.Count) <= len(old.Partitions) || cp.Count > topicrules.MaxPartitions {
		return kerr.InvalidPartitions
	}
	t := *old
	t.Partitions = append(old.Partitions[:len(old.Partitions):len(old.Partitions)], make([]PartitionLog, 0, int(cp.Count)-len(old.Partitions))...)
	for i := len(old.Partitions); i < int(cp.Count); i++ {
		log, err := s.store.create(&t, i)
		if err != nil {
			s.fail(fmt.Errorf("create partition %d of %s: %w", i, t.Name, err))
			for _, p := range t.Partitions[len(old.Partitions):] {
				p.remove()
			}
			return kerr.KafkaStorageError
		}
		t.Partitions = append(t.Partitions, log)
	}
	s.topics[t.Name] = &t
	return nil
}
