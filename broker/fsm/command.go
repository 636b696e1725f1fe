package fsm

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/raftline/raftline/broker/groups"
)

// Op identifies a command in a Raft log entry.
//
// Op codes are written into the Raft log and into snapshots, so they are
// ONLY EVER ADDED TO THE END. Never renumber or reuse one.
type Op uint8

const (
	OpRegisterNode  Op = 1 // a node announces its Kafka and HTTP addresses
	OpCreateTopic   Op = 2
	OpDeleteTopic   Op = 3
	OpProduce       Op = 4 // record batches for one or more partitions
	OpRetention     Op = 5 // apply retention.ms / retention.bytes as of the entry's time
	OpInitProducer  Op = 6 // allocate an idempotent producer id
	OpDeleteRecords Op = 7 // move partitions' log start offsets up (DeleteRecords)
	// 8 and 9 are the admin APIs'.
	OpGroup Op = 10 // a change to consumer groups (groups.Command); 11-14 are reserved for groups
)

func (o Op) String() string {
	switch o {
	case OpRegisterNode:
		return "register_node"
	case OpCreateTopic:
		return "create_topic"
	case OpDeleteTopic:
		return "delete_topic"
	case OpProduce:
		return "produce"
	case OpRetention:
		return "retention"
	case OpInitProducer:
		return "init_producer"
	case OpDeleteRecords:
		return "delete_records"
	case OpGroup:
		return "group"
	}
	return fmt.Sprintf("op(%d)", uint8(o))
}

// envelopeSize is the op byte plus the proposer's wall clock in milliseconds.
// The clock travels in the entry so that every replica applies time-based
// decisions (retention, log append time) identically.
const envelopeSize = 1 + 8

// ErrUnknownOp is returned for an entry whose op code this version does not
// know. It is a hard error: applying the log past it would diverge.
var ErrUnknownOp = errors.New("unknown command op")

// ErrMalformed is returned for an entry that cannot be decoded.
var ErrMalformed = errors.New("malformed command")

// Command is a decoded Raft log entry.
type Command struct {
	Op     Op
	TimeMs int64
	// Exactly one of these is set, according to Op.
	Broker   *Broker
	Topic    *CreateTopic
	Delete   string
	Produce  []ProducePartition
	Producer *InitProducer
	Records  *DeleteRecords
	Group    *groups.Command
}

// Broker is a registered broker's addresses: each node registers its own
// through Raft, so every node answers Metadata and /v1/cluster with the same
// broker list.
type Broker struct {
	ID        int32  `json:"id"`
	KafkaAddr string `json:"kafka_addr"`
	// ExternalKafkaAddr is the address for clients outside the nodes'
	// own network (empty without an external listener).
	ExternalKafkaAddr string `json:"external_kafka_addr,omitempty"`
	HTTPAddr          string `json:"http_addr"`
	RaftAddr          string `json:"raft_addr"`
}

// CreateTopic creates a topic with a partition count and configs.
type CreateTopic struct {
	Name       string            `json:"name"`
	Partitions int32             `json:"partitions"`
	Configs    map[string]string `json:"configs,omitempty"`
}

// InitProducer asks for a new idempotent producer id.
type InitProducer struct{}

// DeleteRecords moves the log start offset of each partition listed up to
// its offset, as Kafka's DeleteRecords does: the records below are no longer
// served, and retention has less to delete. The JSON object leaves room for
// fields a later version adds; an older node ignores them.
type DeleteRecords struct {
	Partitions []DeleteRecordsPartition `json:"partitions"`
}

// DeleteRecordsPartition is one partition's new log start offset; -1 is its
// high watermark as of the entry (Kafka's DeleteRecordsRequest
// HIGH_WATERMARK), so every replica resolves it to the same offset.
type DeleteRecordsPartition struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	Offset    int64  `json:"offset"`
}

// ProducePartition carries the record batches for one partition, exactly as
// the producer sent them (already checked by the leader).
type ProducePartition struct {
	Topic     string
	Partition int32
	Batches   [][]byte
}

// Encode serialises a command. Produce uses a compact binary layout because it
// is the hot path; the rare metadata commands use JSON.
func Encode(c Command) ([]byte, error) {
	buf := make([]byte, envelopeSize, envelopeSize+64)
	buf[0] = byte(c.Op)
	binary.BigEndian.PutUint64(buf[1:9], uint64(c.TimeMs))
	var payload any
	switch c.Op {
	case OpProduce:
		for _, p := range c.Produce {
			if len(p.Topic) > 0xffff {
				return nil, fmt.Errorf("%w: topic name of %d bytes", ErrMalformed, len(p.Topic))
			}
		}
		return appendProduce(buf, c.Produce), nil
	case OpRegisterNode:
		payload = c.Broker
	case OpCreateTopic:
		payload = c.Topic
	case OpDeleteTopic:
		payload = c.Delete
	case OpDeleteRecords:
		if c.Records == nil {
			return nil, fmt.Errorf("%w: %s without partitions", ErrMalformed, c.Op)
		}
		payload = c.Records
	case OpGroup:
		if c.Group == nil {
			return nil, fmt.Errorf("%w: %s without its command", ErrMalformed, c.Op)
		}
		payload = c.Group
	case OpRetention:
		return buf, nil
	case OpInitProducer:
		return buf, nil
	default:
		return nil, fmt.Errorf("%w: %d", ErrUnknownOp, c.Op)
	}
	js, err := json.Marshal(payload)
	if err != nil {
		return nil, err
	}
	return append(buf, js...), nil
}

// ProduceSize is the encoded size of a produce command, for sizing checks.
func ProduceSize(parts []ProducePartition) int {
	n := envelopeSize + 4
	for _, p := range parts {
		n += 2 + len(p.Topic) + 4 + 4
		for _, b := range p.Batches {
			n += 4 + len(b)
		}
	}
	return n
}

func appendProduce(buf []byte, parts []ProducePartition) []byte {
	out := make([]byte, 0, ProduceSize(parts))
	out = append(out, buf...)
	out = binary.BigEndian.AppendUint32(out, uint32(len(parts)))
	for _, p := range parts {
		out = binary.BigEndian.AppendUint16(out, uint16(len(p.Topic)))
		out = append(out, p.Topic...)
		out = binary.BigEndian.AppendUint32(out, uint32(p.Partition))
		out = binary.BigEndian.AppendUint32(out, uint32(len(p.Batches)))
		for _, b := range p.Batches {
			out = binary.BigEndian.AppendUint32(out, uint32(len(b)))
			out = append(out, b...)
		}
	}
	return out
}

// Decode parses an entry. Batches in a decoded produce command alias data.
func Decode(data []byte) (Command, error) {
	var c Command
	if len(data) < envelopeSize {
		return c, fmt.Errorf("%w: %d bytes is shorter than the envelope", ErrMalformed, len(data))
	}
	c.Op = Op(data[0])
	c.TimeMs = int64(binary.BigEndian.Uint64(data[1:9]))
	payload := data[envelopeSize:]
	var err error
	switch c.Op {
	case OpProduce:
		c.Produce, err = decodeProduce(payload)
	case OpRegisterNode:
		c.Broker = new(Broker)
		err = json.Unmarshal(payload, c.Broker)
	case OpCreateTopic:
		c.Topic = new(CreateTopic)
		err = json.Unmarshal(payload, c.Topic)
	case OpDeleteTopic:
		err = json.Unmarshal(payload, &c.Delete)
	case OpRetention:
	case OpInitProducer:
		c.Producer = &InitProducer{}
	case OpDeleteRecords:
		c.Records = new(DeleteRecords)
		err = json.Unmarshal(payload, c.Records)
	case OpGroup:
		c.Group = new(groups.Command)
		err = json.Unmarshal(payload, c.Group)
	default:
		return c, fmt.Errorf("%w: %d", ErrUnknownOp, c.Op)
	}
	if err != nil {
		return c, fmt.Errorf("%w: %s: %v", ErrMalformed, c.Op, err)
	}
	return c, nil
}

func decodeProduce(b []byte) ([]ProducePartition, error) {
	r := reader{b: b}
	n := r.u32()
	if n > uint32(len(b)) {
		return nil, errors.New("partition count exceeds entry")
	}
	parts := make([]ProducePartition, 0, n)
	for i := uint32(0); i < n && r.err == nil; i++ {
		var p ProducePartition
		p.Topic = string(r.bytes(int(r.u16())))
		p.Partition = int32(r.u32())
		nb := r.u32()
		if nb > uint32(len(b)) {
			return nil, errors.New("batch count exceeds entry")
		}
		for j := uint32(0); j < nb && r.err == nil; j++ {
			p.Batches = append(p.Batches, r.bytes(int(r.u32())))
		}
		parts = append(parts, p)
	}
	if r.err != nil {
		return nil, r.err
	}
	if len(r.b) != 0 {
		return nil, fmt.Errorf("%d trailing bytes", len(r.b))
	}
	return parts, nil
}

type reader struct {
	b   []byte
	err error
}

func (r *reader) take(n int) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || n > len(r.b) {
		r.err = fmt.Errorf("want %d bytes, have %d", n, len(r.b))
		return nil
	}
	out := r.b[:n:n]
	r.b = r.b[n:]
	return out
}

func (r *reader) u16() uint16 {
	if b := r.take(2); b != nil {
		return binary.BigEndian.Uint16(b)
	}
	return 0
}

func (r *reader) u32() uint32 {
	if b := r.take(4); b != nil {
		return binary.BigEndian.Uint32(b)
	}
	return 0
}

func (r *reader) bytes(n int) []byte { return r.take(n) }
