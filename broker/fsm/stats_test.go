package fsm

import "testing"

// Stats reports a partition's bytes in either store, and its segments and
// index bytes on disk, following appends and retention.
func TestStats_FollowsAppendsAndRetention(t *testing.T) {
	eachStorage(t, func(t *testing.T, st storage) {
		r := newReplica(t, st)
		r.createTopic("events", 1, map[string]string{"retention.ms": "1000"})
		if got := Stats(r.log("events", 0)); got.Bytes != 0 {
			t.Fatalf("new partition: %+v", got)
		}
		var total int64
		for i := range 5 {
			b := plain(int64(1000+i), "value", "another value")
			total += int64(len(b))
			r.mustProduce(int64(1000+i*1000), "events", 0, b)
		}
		log := r.log("events", 0)
		got := Stats(log)
		if got.Bytes != total || got.Bytes != log.Size() {
			t.Fatalf("after 5 batches of %d bytes in all: %+v, Size %d", total, got, log.Size())
		}
		switch st.name {
		case "memory":
			if got.OnDisk || got.Segments != 0 || got.IndexBytes != 0 {
				t.Fatalf("in memory: %+v, want no segments or index", got)
			}
		case "disk":
			// One segment per batch here (see storages), plus the
			// active one after each roll.
			if !got.OnDisk || got.Segments != len(log.(diskLog).l.Segments()) || got.Segments < 5 || got.IndexBytes == 0 {
				t.Fatalf("on disk: %+v", got)
			}
		}
		r.apply(Command{Op: OpRetention, TimeMs: 1000 + 4*1000 + 500}) // keeps only the last batch
		after := Stats(r.log("events", 0))
		if after.Bytes >= got.Bytes || after.Bytes != r.log("events", 0).Size() {
			t.Fatalf("after retention: %+v, before %+v", after, got)
		}
		if st.name == "disk" && after.Segments >= got.Segments {
			t.Fatalf("after retention: %d segments, before %d", after.Segments, got.Segments)
		}
	})
}
