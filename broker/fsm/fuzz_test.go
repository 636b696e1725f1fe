package fsm

import (
	"errors"
	"reflect"
	"testing"
)

// normalized makes the forms JSON cannot tell apart equal: an empty configs
// map and a missing one.
func normalized(c Command) Command {
	if c.Topic != nil && len(c.Topic.Configs) == 0 {
		t := *c.Topic
		t.Configs = nil
		c.Topic = &t
	}
	if c.Configs != nil {
		a := *c.Configs
		if len(a.Set) == 0 {
			a.Set = nil
		}
		if len(a.Defaults) == 0 {
			a.Defaults = nil
		}
		if len(a.Delete) == 0 {
			a.Delete = nil
		}
		c.Configs = &a
	}
	return c
}

func FuzzDecodeCommand(f *testing.F) {
	for _, c := range everyOp() {
		data, err := Encode(c)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
		f.Add(data[:len(data)/2])
	}
	// Admin entries whose apply takes each branch: a bad config, an
	// unknown topic, a shrink, a grow past the bound.
	for _, c := range []Command{
		{Op: OpAlterConfigs, Configs: &AlterConfigs{Topic: "t", Set: map[string]string{"segment.bytes": "1"}}},
		{Op: OpAlterConfigs, Configs: &AlterConfigs{Topic: "t", Replace: true, Delete: []string{"retention.ms"}, Defaults: map[string]string{"retention.bytes": "10"}}},
		{Op: OpAlterConfigs, Configs: &AlterConfigs{Topic: "nope"}},
		{Op: OpCreatePartitions, Grow: &CreatePartitions{Topic: "t", Count: 1}},
		{Op: OpCreatePartitions, Grow: &CreatePartitions{Topic: "t", Count: 10001}},
	} {
		data, err := Encode(c)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte{})
	f.Add([]byte{byte(OpProduce), 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Decode(data)
		if err != nil {
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrUnknownOp) {
				t.Fatalf("Decode error %v is neither ErrMalformed nor ErrUnknownOp", err)
			}
			return
		}
		again, err := Encode(c)
		if err != nil {
			t.Fatalf("decoded command does not encode: %v", err)
		}
		c2, err := Decode(again)
		if err != nil {
			t.Fatalf("re-encoded command does not decode: %v", err)
		}
		if !reflect.DeepEqual(normalized(c2), normalized(c)) {
			t.Fatalf("re-encoded command differs:\n got %+v\nwant %+v", c2, c)
		}

		// An entry that decodes must also apply without panicking: a
		// panic in Apply stops every replica at the same entry.
		r := newReplica(t, storages[0]) // memory: a fuzz run applies thousands of entries
		r.createTopic("t", 2, nil)
		r.initProducer()
		r.s.Apply(r.index+1, data)
	})
}
