package fsm

import (
	"errors"
	"maps"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/raftline/raftline/broker/seglog"
	"github.com/raftline/raftline/broker/topicrules"
)

func TestAlterConfigs_ReplacesTheTopicsConfigs_OldReadersUnchanged(t *testing.T) {
	eachStorage(t, func(t *testing.T, st storage) {
		r := newReplica(t, st)
		r.createTopic("t", 2, map[string]string{topicrules.ConfigRetentionMs: "1000"})
		before := r.s.Topic("t")
		res := r.apply(Command{Op: OpAlterConfigs, Configs: &AlterConfigs{Topic: "t", Replace: true, Set: map[string]string{topicrules.ConfigRetentionBytes: "5"}}})
		if res.Err != nil {
			t.Fatalf("alter: %v", res.Err)
		}
		after := r.s.Topic("t")
		if after.RetentionBytes() != 5 || after.RetentionMs() != topicrules.DefaultRetentionMs {
			t.Errorf("after: retention.bytes %d, retention.ms %d; want 5 and the default", after.RetentionBytes(), after.RetentionMs())
		}
		if before.RetentionMs() != 1000 || len(before.Configs) != 1 {
			t.Errorf("the topic read before the alter changed: %v", before.Configs)
		}
		if after.ID != before.ID || len(after.Partitions) != 2 || after.Partitions[0] != before.Partitions[0] {
			t.Errorf("the alter changed the topic's id or partitions")
		}
	})
}

func TestAlterConfigs_Apply_ReplaceDeleteSetDefaults(t *testing.T) {
	current := map[string]string{"a": "1", "b": "2", "retention.bytes": "7"}
	for _, tc := range []struct {
		ac   AlterConfigs
		want map[string]string
	}{
		{AlterConfigs{Set: map[string]string{"c": "3"}}, map[string]string{"a": "1", "b": "2", "c": "3", "retention.bytes": "7"}},
		{AlterConfigs{Delete: []string{"a", "retention.bytes"}, Defaults: map[string]string{"retention.bytes": "9"}}, map[string]string{"b": "2", "retention.bytes": "9"}},
		{AlterConfigs{Replace: true, Set: map[string]string{"a": "5"}}, map[string]string{"a": "5"}},
		{AlterConfigs{Replace: true, Defaults: map[string]string{"retention.bytes": "9"}}, map[string]string{"retention.bytes": "9"}},
	} {
		if got := tc.ac.Apply(current); !maps.Equal(got, tc.want) {
			t.Errorf("%+v: %v, want %v", tc.ac, got, tc.want)
		}
	}
	if current["a"] != "1" || len(current) != 3 {
		t.Errorf("Apply modified the current configs: %v", current)
	}
}

func TestAlterConfigs_Refusals(t *testing.T) {
	r := newReplica(t, storages[0])
	r.createTopic("t", 1, map[string]string{topicrules.ConfigRetentionMs: "1000"})
	for _, tc := range []struct {
		ac   AlterConfigs
		want error
	}{
		{AlterConfigs{Topic: "nope"}, kerr.UnknownTopicOrPartition},
		{AlterConfigs{Topic: "t", Set: map[string]string{topicrules.ConfigSegmentBytes: "1"}}, kerr.InvalidConfig},
		{AlterConfigs{Topic: "t", Set: map[string]string{"compression.type": "zstd"}}, kerr.InvalidConfig},
	} {
		if res := r.apply(Command{Op: OpAlterConfigs, Configs: &tc.ac}); !errors.Is(res.Err, tc.want) {
			t.Errorf("%+v: %v, want %v", tc.ac, res.Err, tc.want)
		}
	}
	if got := r.s.Topic("t").RetentionMs(); got != 1000 {
		t.Errorf("a refused alter changed retention.ms to %d", got)
	}
}

// A topic whose segment.bytes is lowered rolls at the new size from the
// next append on, and a snapshot restored over open partitions (the same
// node catching up) takes the snapshot's size, so replicas roll alike.
func TestAlterConfigs_SegmentBytes_TakesEffectAndSurvivesRestore(t *testing.T) {
	r := &replica{t: t, s: openDisk(t, seglog.Options{})}
	r.createTopic("t", 1, nil)
	value := strings.Repeat("v", 100<<10)
	for i := range int64(15) {
		r.mustProduce(1000+i, "t", 0, plain(i, value))
	}
	if n := len(r.log("t", 0).(diskLog).l.Segments()); n != 1 {
		t.Fatalf("%d segments before the alter, want 1", n)
	}
	snap := takeSnapshot(t, r.s) // segment.bytes unset
	r.apply(Command{Op: OpAlterConfigs, Configs: &AlterConfigs{Topic: "t", Set: map[string]string{topicrules.ConfigSegmentBytes: "1048576"}}})
	for i := range int64(25) {
		r.mustProduce(2000+i, "t", 0, plain(i, value))
	}
	if n := len(r.log("t", 0).(diskLog).l.Segments()); n < 3 {
		t.Fatalf("%d segments after lowering segment.bytes to 1 MiB and 2.5 MiB more, want at least 3", n)
	}
	altered := takeSnapshot(t, r.s)

	// Restoring the older snapshot brings back 128 MiB segments ...
	if err := snap.restore(r); err != nil {
		t.Fatal(err)
	}
	if got := r.s.Topic("t").SegmentOptions(seglog.Options{}).SegmentBytes; got != 0 {
		t.Fatalf("restored topic's segment.bytes %d, want unset", got)
	}
	// ... and the newer one 1 MiB, on a fresh node too.
	fresh := &replica{t: t, s: openDisk(t, seglog.Options{})}
	if err := altered.restore(fresh); err != nil {
		t.Fatal(err)
	}
	before := len(fresh.log("t", 0).(diskLog).l.Segments())
	for i := range int64(15) {
		fresh.mustProduce(3000+i, "t", 0, plain(i, value))
	}
	if n := len(fresh.log("t", 0).(diskLog).l.Segments()); n < before+1 {
		t.Fatalf("restored node: %d segments after 1.5 MiB more, had %d; want it to roll at 1 MiB", n, before)
	}
}

func TestCreatePartitions_GrowsAndSurvivesSnapshot(t *testing.T) {
	eachStorage(t, func(t *testing.T, st storage) {
		r := newReplica(t, st)
		r.createTopic("t", 2, nil)
		r.mustProduce(1, "t", 1, plain(1, "a"))
		before := r.s.Topic("t")
		if res := r.apply(Command{Op: OpCreatePartitions, Grow: &CreatePartitions{Topic: "t", Count: 5}}); res.Err != nil {
			t.Fatalf("grow: %v", res.Err)
		}
		if len(before.Partitions) != 2 {
			t.Fatalf("the topic read before the grow has %d partitions", len(before.Partitions))
		}
		if n := len(r.s.Topic("t").Partitions); n != 5 {
			t.Fatalf("%d partitions, want 5", n)
		}
		if off := r.mustProduce(2, "t", 4, plain(2, "b"), plain(3, "c")); off != 0 {
			t.Fatalf("first offset of a new partition %d, want 0", off)
		}
		for _, tc := range []struct {
			count int32
			want  error
		}{{5, kerr.InvalidPartitions}, {3, kerr.InvalidPartitions}, {topicrules.MaxPartitions + 1, kerr.InvalidPartitions}} {
			if res := r.apply(Command{Op: OpCreatePartitions, Grow: &CreatePartitions{Topic: "t", Count: tc.count}}); !errors.Is(res.Err, tc.want) {
				t.Errorf("grow to %d: %v, want %v", tc.count, res.Err, tc.want)
			}
		}
		if res := r.apply(Command{Op: OpCreatePartitions, Grow: &CreatePartitions{Topic: "nope", Count: 3}}); !errors.Is(res.Err, kerr.UnknownTopicOrPartition) {
			t.Errorf("grow an unknown topic: %v", res.Err)
		}
		want := describe(r.s)
		snap := takeSnapshot(t, r.s)
		fresh := newReplica(t, st)
		if err := snap.restore(fresh); err != nil {
			t.Fatal(err)
		}
		if got := describe(fresh.s); got != want {
			t.Fatalf("restored:\n%s\nwant:\n%s", got, want)
		}
	})
}
