package fsm

import (
	"strings"
	"testing"

	"github.com/raftline/raftline/broker/seglog"
	"github.com/raftline/raftline/broker/topicrules"
)

func TestSegmentOptions_TopicConfigsOverTheDefaults(t *testing.T) {
	defaults := seglog.Options{SegmentBytes: 400, SegmentMs: 50, IndexIntervalBytes: 10}
	for _, tc := range []struct {
		configs map[string]string
		want    seglog.Options
	}{
		{nil, defaults},
		{map[string]string{topicrules.ConfigRetentionMs: "1000"}, defaults},
		{map[string]string{topicrules.ConfigSegmentBytes: "1048576"}, seglog.Options{SegmentBytes: 1 << 20, SegmentMs: 50, IndexIntervalBytes: 10}},
		{map[string]string{topicrules.ConfigSegmentBytes: "2147483647", topicrules.ConfigSegmentMs: "60000"}, seglog.Options{SegmentBytes: 1<<31 - 1, SegmentMs: 60000, IndexIntervalBytes: 10}},
		// Outside the bounds (only a snapshot could carry them): ignored.
		{map[string]string{topicrules.ConfigSegmentBytes: "1", topicrules.ConfigSegmentMs: "1"}, defaults},
		{map[string]string{topicrules.ConfigSegmentBytes: "2147483648", topicrules.ConfigSegmentMs: "x"}, defaults},
	} {
		if got := (&Topic{Configs: tc.configs}).SegmentOptions(defaults); !sameShape(got, tc.want) {
			t.Errorf("SegmentOptions with %v = %+v, want %+v", tc.configs, got, tc.want)
		}
	}
	if got := (&Topic{}).SegmentOptions(seglog.Options{}); !sameShape(got, seglog.Options{}) {
		t.Errorf("no configs and no defaults: %+v, want zero (seglog's own defaults)", got)
	}
}

// A topic created with segment.bytes=1 MiB rolls its partitions' segments at
// about 1 MiB on disk, while a topic without it keeps seglog's default (128
// MiB): one segment for the same bytes. A snapshot restored on disk keeps
// the topic's segment size, so the replicas roll at the same offsets after.
func TestDiskSegmentBytes_TopicConfig_RollsAtOneMiB(t *testing.T) {
	r := &replica{t: t, s: openDisk(t, seglog.Options{})} // seglog's defaults
	r.createTopic("small", 1, map[string]string{topicrules.ConfigSegmentBytes: "1048576"})
	r.createTopic("default", 1, nil)
	value := strings.Repeat("v", 100<<10)
	var size int
	for i := range int64(35) { // about 3.5 MiB
		b := plain(i, value)
		size = len(b)
		r.mustProduce(1000+i, "small", 0, b)
		r.mustProduce(1000+i, "default", 0, b)
	}
	segs := r.log("small", 0).(diskLog).l.Segments()
	if len(segs) != 4 {
		t.Fatalf("small: %d segments, want 4 of about 1 MiB for 35 batches of %d bytes: %+v", len(segs), size, segs)
	}
	for i, s := range segs {
		if s.Bytes > 1<<20 || (i < len(segs)-1 && s.Bytes <= 1<<20-int64(size)) {
			t.Errorf("small: segment %d holds %d bytes, want at most 1 MiB and within a batch (%d bytes) of it", s.Base, s.Bytes, size)
		}
	}
	if segs := r.log("default", 0).(diskLog).l.Segments(); len(segs) != 1 {
		t.Fatalf("default: %d segments, want 1 (128 MiB segments)", len(segs))
	}

	got := &replica{t: t, s: openDisk(t, seglog.Options{})}
	if err := takeSnapshot(t, r.s).restore(got); err != nil {
		t.Fatal(err)
	}
	for _, x := range []*replica{r, got} {
		for i := range int64(12) {
			x.mustProduce(2000+i, "small", 0, plain(100+i, value))
		}
	}
	if a, b := segmentsOf(t, r, "small", 0), segmentsOf(t, got, "small", 0); a != b {
		t.Fatalf("restored replica rolled elsewhere:\n%s\nwant\n%s", b, a)
	}
}

// segment.ms rolls a segment once an append comes more than that after the
// segment's first batch, by the entries' time.
func TestDiskSegmentMs_TopicConfig_RollsByAppendTime(t *testing.T) {
	r := &replica{t: t, s: openDisk(t, seglog.Options{})}
	r.createTopic("t", 1, map[string]string{topicrules.ConfigSegmentMs: "60000"})
	for _, at := range []int64{1_000, 31_000, 61_000, 61_001, 100_000, 121_002} {
		r.mustProduce(at, "t", 0, plain(at, "v"))
	}
	var bases []int64
	for _, s := range r.log("t", 0).(diskLog).l.Segments() {
		bases = append(bases, s.Base)
	}
	// 61_001 is 60_001 ms after the first batch; 121_002 is 60_001 after it.
	if want := []int64{0, 3, 5}; !equalInts(bases, want) {
		t.Fatalf("segments at %v, want %v", bases, want)
	}
}

// The memory store has no segments: the configs are accepted and kept with
// the topic, and change nothing.
func TestSegmentConfigs_Memory_KeptWithTheTopic(t *testing.T) {
	r := newReplica(t, storages[0])
	r.createTopic("t", 1, map[string]string{topicrules.ConfigSegmentBytes: "1048576", topicrules.ConfigSegmentMs: "60000"})
	if c := r.s.Topic("t").Configs; c[topicrules.ConfigSegmentBytes] != "1048576" || c[topicrules.ConfigSegmentMs] != "60000" {
		t.Fatalf("configs %v", c)
	}
	got := restored(t, storages[0], takeSnapshot(t, r.s))
	if c := got.s.Topic("t").Configs; c[topicrules.ConfigSegmentBytes] != "1048576" {
		t.Fatalf("restored configs %v", c)
	}
}

// sameShape compares the options that decide the segments' shape.
func sameShape(a, b seglog.Options) bool {
	return a.SegmentBytes == b.SegmentBytes && a.SegmentMs == b.SegmentMs && a.IndexIntervalBytes == b.IndexIntervalBytes
}

// DescribeConfigs describes seglog's defaults through topicrules, which
// cannot import seglog.
func TestSegmentDefaults_DescribedAsSeglogs(t *testing.T) {
	if topicrules.DefaultSegmentBytes != seglog.DefaultSegmentBytes || topicrules.DefaultSegmentMs != seglog.DefaultSegmentMs {
		t.Fatalf("topicrules describes segment defaults %d and %d, seglog uses %d and %d",
			topicrules.DefaultSegmentBytes, topicrules.DefaultSegmentMs, seglog.DefaultSegmentBytes, seglog.DefaultSegmentMs)
	}
	for _, c := range topicrules.TopicConfigs() {
		if err := topicrules.ValidateConfigs(map[string]string{c.Name: c.Default}); err != nil {
			t.Errorf("default of %s: %v", c.Name, err)
		}
	}
}
