package fsm

import (
	"encoding/binary"
	"errors"
	"reflect"
	"testing"

	"github.com/raftline/raftline/broker/groups"
	"github.com/raftline/raftline/broker/topicrules"
)

// everyOp has one command of each op, with every field set.
func everyOp() []Command {
	return []Command{
		{Op: OpRegisterNode, TimeMs: 1_700_000_000_001, Broker: &Broker{ID: 3, KafkaAddr: "10.0.0.3:9092", HTTPAddr: "10.0.0.3:9644", RaftAddr: "10.0.0.3:9192"}},
		{Op: OpCreateTopic, TimeMs: 1_700_000_000_002, Topic: &CreateTopic{Name: "orders", Partitions: 12, Configs: map[string]string{topicrules.ConfigRetentionMs: "60000", topicrules.ConfigCleanupPolicy: "delete"}}},
		{Op: OpCreateTopic, TimeMs: 3, Topic: &CreateTopic{Name: "no-configs", Partitions: 1}},
		{Op: OpDeleteTopic, TimeMs: 4, Delete: "orders"},
		{Op: OpProduce, TimeMs: 1_700_000_000_005, Produce: []ProducePartition{
			{Topic: "orders", Partition: 0, Batches: [][]byte{plain(10, "a"), plain(11, "b", "c")}},
			{Topic: "orders", Partition: 11, Batches: [][]byte{batch(7, 2, 40, 12, "d")}},
			{Topic: "payments", Partition: 2, Batches: [][]byte{plain(13, "e", "f", "g")}},
		}},
		{Op: OpRetention, TimeMs: 1_700_000_000_006},
		{Op: OpInitProducer, TimeMs: -1, Producer: &InitProducer{}},
		{Op: OpDeleteRecords, TimeMs: 1_700_000_000_007, Records: &DeleteRecords{Partitions: []DeleteRecordsPartition{
			{Topic: "orders", Partition: 0, Offset: 2},
			{Topic: "orders", Partition: 11, Offset: -1},
		}}},
		{Op: OpGroup, TimeMs: 1_700_000_000_008, Group: &groups.Command{Kind: groups.KindJoin, Group: "g", Join: &groups.Join{
			MemberID: "c-1", NewMember: true, InstanceID: "i", ClientID: "c", ClientHost: "/10.0.0.9", SessionTimeoutMs: 45000,
			RebalanceTimeoutMs: 60000, ProtocolType: "consumer", Protocols: []groups.Protocol{{Name: "range", Metadata: []byte{0, 1}}}, InitialDelay: true,
		}}},
		{Op: OpGroup, TimeMs: 9, Group: &groups.Command{Kind: groups.KindCommit, Group: "g", Commit: &groups.Commit{
			MemberID: "c-1", Generation: 1, Offsets: []groups.PartitionOffset{{Topic: "orders", Partition: 1, Offset: 5, LeaderEpoch: 2, Metadata: "m"}},
		}}},
	}
}

func TestEncodeDecode_EveryOp_RoundTrips(t *testing.T) {
	for _, c := range everyOp() {
		t.Run(c.Op.String(), func(t *testing.T) {
			data, err := Encode(c)
			if err != nil {
				t.Fatalf("Encode: %v", err)
			}
			if Op(data[0]) != c.Op || int64(binary.BigEndian.Uint64(data[1:9])) != c.TimeMs {
				t.Fatalf("envelope is op %d time %d", data[0], int64(binary.BigEndian.Uint64(data[1:9])))
			}
			got, err := Decode(data)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if !reflect.DeepEqual(got, c) {
				t.Fatalf("round trip:\n got %+v\nwant %+v", got, c)
			}
		})
	}
}

func TestEncode_ProduceSizeIsExact(t *testing.T) {
	for _, c := range everyOp() {
		if c.Op != OpProduce {
			continue
		}
		data, err := Encode(c)
		if err != nil {
			t.Fatal(err)
		}
		if n := ProduceSize(c.Produce); n != len(data) {
			t.Fatalf("ProduceSize = %d, encoded %d bytes", n, len(data))
		}
	}
}

func TestOpCodes_AreStable(t *testing.T) {
	// Op codes are in every Raft log and snapshot already written.
	want := map[Op]uint8{OpRegisterNode: 1, OpCreateTopic: 2, OpDeleteTopic: 3, OpProduce: 4, OpRetention: 5, OpInitProducer: 6, OpDeleteRecords: 7}
	for op, code := range want {
		if uint8(op) != code {
			t.Errorf("%s is %d, was %d", op, uint8(op), code)
		}
	}
}

func TestDecode_UnknownOp_IsAHardError(t *testing.T) {
	for _, op := range []Op{0, 8, 200, 255} {
		data := make([]byte, envelopeSize)
		data[0] = byte(op)
		if _, err := Decode(data); !errors.Is(err, ErrUnknownOp) {
			t.Errorf("Decode op %d: got %v, want ErrUnknownOp", op, err)
		}
		if _, err := Encode(Command{Op: op}); !errors.Is(err, ErrUnknownOp) {
			t.Errorf("Encode op %d: got %v, want ErrUnknownOp", op, err)
		}
		s := New()
		if _, err := s.Apply(1, data); !errors.Is(err, ErrUnknownOp) {
			t.Errorf("Apply op %d: got %v, want ErrUnknownOp", op, err)
		}
	}
}

func TestDecode_MalformedEntries_ReturnErrMalformed(t *testing.T) {
	produce, err := Encode(everyOp()[4])
	if err != nil {
		t.Fatal(err)
	}
	envelope := func(op Op, payload ...byte) []byte {
		return append([]byte{byte(op), 0, 0, 0, 0, 0, 0, 0, 0}, payload...)
	}
	tests := []struct {
		name string
		data []byte
	}{
		{"empty", nil},
		{"envelope cut short", []byte{byte(OpRetention), 0, 0, 0}},
		{"produce cut in a batch", produce[:len(produce)-1]},
		{"produce cut in a partition header", produce[:envelopeSize+4+3]},
		{"produce with trailing bytes", append(append([]byte(nil), produce...), 0)},
		{"produce without a partition count", envelope(OpProduce)},
		{"produce partition count larger than the entry", envelope(OpProduce, 0xff, 0xff, 0xff, 0xff)},
		{"produce batch count larger than the entry", envelope(OpProduce, 0, 0, 0, 1, 0, 1, 't', 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff)},
		{"produce batch length larger than the entry", envelope(OpProduce, 0, 0, 0, 1, 0, 1, 't', 0, 0, 0, 0, 0, 0, 0, 1, 0x7f, 0xff, 0xff, 0xff)},
		{"create topic with broken JSON", envelope(OpCreateTopic, '{', '"')},
		{"create topic with a string partition count", envelope(OpCreateTopic, []byte(`{"name":"t","partitions":"3"}`)...)},
		{"register node with no payload", envelope(OpRegisterNode)},
		{"delete topic with a number", envelope(OpDeleteTopic, '4', '2')},
		{"delete records with no payload", envelope(OpDeleteRecords)},
		{"delete records with a string offset", envelope(OpDeleteRecords, []byte(`{"partitions":[{"topic":"t","partition":0,"offset":"5"}]}`)...)},
		{"delete records with a list for an object", envelope(OpDeleteRecords, []byte(`[{"topic":"t"}]`)...)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Decode(tt.data); !errors.Is(err, ErrMalformed) {
				t.Fatalf("Decode: got %v, want ErrMalformed", err)
			}
			if _, err := New().Apply(1, tt.data); !errors.Is(err, ErrMalformed) {
				t.Fatalf("Apply: got %v, want ErrMalformed", err)
			}
		})
	}
}

func TestDecode_ProduceBatchesAliasTheEntry(t *testing.T) {
	// Documented: decoded batches share the entry's bytes, which is why
	// the FSM must copy before rewriting offsets.
	data, err := Encode(everyOp()[4])
	if err != nil {
		t.Fatal(err)
	}
	c, err := Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	b := c.Produce[0].Batches[0]
	b[0] ^= 0xff
	again, _ := Decode(data)
	if again.Produce[0].Batches[0][0] != b[0] {
		t.Fatal("decoded batch does not alias the entry")
	}
	if cap(b) != len(b) {
		t.Fatalf("decoded batch has capacity %d beyond its length %d: an append would overwrite the next batch", cap(b), len(b))
	}
}
