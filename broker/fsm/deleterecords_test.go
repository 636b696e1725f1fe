package fsm

import (
	"bytes"
	"errors"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
)

// deleteRecords applies one DeleteRecords entry and returns its results.
func (r *replica) deleteRecords(parts ...DeleteRecordsPartition) []PartitionResult {
	r.t.Helper()
	res := r.apply(Command{Op: OpDeleteRecords, TimeMs: 1, Records: &DeleteRecords{Partitions: parts}})
	if len(res.Partitions) != len(parts) {
		r.t.Fatalf("delete records returned %d results for %d partitions", len(res.Partitions), len(parts))
	}
	return res.Partitions
}

// threeBatches is a replica with topic "t" of two partitions; partition 0
// holds offsets 0-1, 2-3 and 4-5 in three batches with max timestamps 101,
// 201 and 301.
func threeBatches(t *testing.T, st storage) *replica {
	r := newReplica(t, st)
	r.createTopic("t", 2, nil)
	for i := range int64(3) {
		r.mustProduce(1000+i, "t", 0, plain(100*(i+1), "a", "b"))
	}
	return r
}

// Kafka's answers, partition by partition within one entry: the start moves
// up to the offset (inside a batch too), -1 is the high watermark, below
// the start is a no-op answered with the start, past the high watermark and
// other negatives are OFFSET_OUT_OF_RANGE, and unknown partitions
// UNKNOWN_TOPIC_OR_PARTITION; each answer carries the new low watermark.
func TestDeleteRecords_MovesTheStart_KafkasAnswersPerPartition(t *testing.T) {
	eachStorage(t, func(t *testing.T, st storage) {
		r := threeBatches(t, st)
		got := r.deleteRecords(
			DeleteRecordsPartition{Topic: "t", Partition: 0, Offset: 3},
			DeleteRecordsPartition{Topic: "t", Partition: 1, Offset: 1}, // an empty partition
			DeleteRecordsPartition{Topic: "t", Partition: 2, Offset: 0},
			DeleteRecordsPartition{Topic: "nope", Partition: 0, Offset: 0},
			DeleteRecordsPartition{Topic: "t", Partition: 0, Offset: -2},
		)
		want := []struct {
			logStart int64
			err      error
		}{{3, nil}, {-1, kerr.OffsetOutOfRange}, {-1, kerr.UnknownTopicOrPartition}, {-1, kerr.UnknownTopicOrPartition}, {-1, kerr.OffsetOutOfRange}}
		for i, w := range want {
			if got[i].LogStart != w.logStart || !errors.Is(got[i].Err, w.err) || (w.err == nil) != (got[i].Err == nil) {
				t.Errorf("partition %d: low watermark %d, %v; want %d, %v", i, got[i].LogStart, got[i].Err, w.logStart, w.err)
			}
		}
		log := r.log("t", 0)
		if start, next := log.Offsets(); start != 3 || next != 6 {
			t.Fatalf("Offsets() = %d, %d; want 3, 6", start, next)
		}
		// Nothing below the start is served; from it, the batch holding it
		// whole, as Kafka serves the batch holding a fetch offset.
		if data, _ := log.AppendBatches(nil, 2, 1<<20); len(data) != 0 {
			t.Fatalf("served %d bytes from offset 2, below the start", len(data))
		}
		if b := served(t, log, 3); len(b) != 2 || b[0].BaseOffset != 2 || b[1].BaseOffset != 4 {
			t.Fatalf("served from the start: %+v, want the batches at 2 and 4", b)
		}
		// A timestamp lookup answers no offset below the start.
		if off, ts, ok, err := log.OffsetForTimestamp(0); err != nil || !ok || off != 3 || ts != 201 {
			t.Fatalf("OffsetForTimestamp(0) = %d, %d, %v, %v; want 3, 201", off, ts, ok, err)
		}

		// Below or at the start: nothing moves, the answer is the start.
		before := r.digest("t", 0)
		for _, off := range []int64{0, 3} {
			if res := r.deleteRecords(DeleteRecordsPartition{Topic: "t", Partition: 0, Offset: off}); res[0].Err != nil || res[0].LogStart != 3 {
				t.Fatalf("delete records below the start (%d): %d, %v; want 3", off, res[0].LogStart, res[0].Err)
			}
		}
		if r.digest("t", 0) != before {
			t.Fatal("delete records below the start changed the log")
		}
		// Past the high watermark: refused, nothing moves.
		if res := r.deleteRecords(DeleteRecordsPartition{Topic: "t", Partition: 0, Offset: 7}); !errors.Is(res[0].Err, kerr.OffsetOutOfRange) || res[0].LogStart != -1 {
			t.Fatalf("past the high watermark: %d, %v; want OFFSET_OUT_OF_RANGE", res[0].LogStart, res[0].Err)
		}
		if r.digest("t", 0) != before {
			t.Fatal("a refused delete records changed the log")
		}
		// -1: the high watermark, as of the entry. Everything goes;
		// produce carries on from it.
		if res := r.deleteRecords(DeleteRecordsPartition{Topic: "t", Partition: 0, Offset: -1}); res[0].Err != nil || res[0].LogStart != 6 {
			t.Fatalf("to the high watermark: %d, %v; want 6", res[0].LogStart, res[0].Err)
		}
		if start, next := log.Offsets(); start != 6 || next != 6 {
			t.Fatalf("after -1: Offsets() = %d, %d; want 6, 6", start, next)
		}
		if base := r.mustProduce(2000, "t", 0, plain(400, "c")); base != 6 {
			t.Fatalf("produce after deleting everything at %d, want 6", base)
		}
		if res := r.deleteRecords(DeleteRecordsPartition{Topic: "t", Partition: 1, Offset: -1}); res[0].Err != nil || res[0].LogStart != 0 {
			t.Fatalf("an empty partition to its high watermark: %d, %v; want 0", res[0].LogStart, res[0].Err)
		}
	})
}

// Retention after DeleteRecords never moves the start back, and deletes as
// before.
func TestDeleteRecords_ThenRetention_StartNeverGoesBack(t *testing.T) {
	eachStorage(t, func(t *testing.T, st storage) {
		r := threeBatches(t, st)
		r.deleteRecords(DeleteRecordsPartition{Topic: "t", Partition: 0, Offset: 3})
		r.apply(Command{Op: OpRetention, TimeMs: 1001}) // a week's retention: nothing goes
		if start, _ := r.log("t", 0).Offsets(); start != 3 {
			t.Fatalf("start %d after a retention pass that deleted nothing, want 3", start)
		}
	})
}

// Replicas applying the same DeleteRecords entries stay byte-identical, and
// a snapshot taken after one restores the same partitions, on the same
// store: the same start, the same bytes, nothing served below the start,
// and the same answers to later entries.
func TestDeleteRecords_SnapshotRoundTrip_SameStartAndLogs(t *testing.T) {
	eachStorage(t, func(t *testing.T, st storage) {
		r := threeBatches(t, st)
		r.mustProduce(1500, "t", 1, plain(150, "x"), plain(160, "y", "z"))
		r.deleteRecords(
			DeleteRecordsPartition{Topic: "t", Partition: 0, Offset: 3},
			DeleteRecordsPartition{Topic: "t", Partition: 1, Offset: -1},
		)
		snap := takeSnapshot(t, r.s)
		got := restored(t, st, snap)
		if a, b := describe(r.s), describe(got.s); a != b {
			t.Fatalf("restored state differs:\n%s\nvs\n%s", b, a)
		}
		if !bytes.Equal(snapshotBytes(t, got.s), snap.head) {
			t.Fatal("the restored state snapshots to different bytes")
		}
		for p, want := range map[int32][2]int64{0: {3, 6}, 1: {3, 3}} {
			if start, next := got.log("t", p).Offsets(); start != want[0] || next != want[1] {
				t.Fatalf("restored t/%d holds %d..%d, want %d..%d", p, start, next, want[0], want[1])
			}
		}
		if data, _ := got.log("t", 0).AppendBatches(nil, 2, 1<<20); len(data) != 0 {
			t.Fatal("the restored partition serves below its start")
		}
		for _, x := range []*replica{r, got} {
			x.mustProduce(3000, "t", 0, plain(500, "later"))
			x.deleteRecords(DeleteRecordsPartition{Topic: "t", Partition: 0, Offset: 5})
		}
		if a, b := describe(r.s), describe(got.s); a != b {
			t.Fatalf("diverged after the restore:\n%s\nvs\n%s", b, a)
		}
	})
}

// On disk the start moves inside a segment; a snapshot restored on disk has
// the same segments, so later rolls and retention fall at the same offsets.
func TestDiskDeleteRecords_SnapshotRestoresTheSameSegments(t *testing.T) {
	orig := diskReplica(t, filepath.Join(t.TempDir(), "partitions")) // 400-byte segments
	orig.createTopic("t", 1, nil)
	for i := range int64(12) {
		orig.mustProduce(1000+i, "t", 0, plain(i, "v", fmt.Sprint(i)))
	}
	segs := orig.log("t", 0).(diskLog).l.Segments()
	if len(segs) < 3 || segs[1].Next-segs[1].Base < 4 {
		t.Fatalf("setup: segments %+v", segs)
	}
	inside := segs[1].Base + 3 // two records per batch: inside the segment, inside a batch
	orig.deleteRecords(DeleteRecordsPartition{Topic: "t", Partition: 0, Offset: inside})
	if start, _ := orig.log("t", 0).Offsets(); start != inside || orig.log("t", 0).(diskLog).l.Segments()[0].Base != segs[1].Base {
		t.Fatalf("start %d, segments %s; want the start at %d inside the segment at %d", start, segmentsOf(t, orig, "t", 0), inside, segs[1].Base)
	}
	got := diskReplica(t, filepath.Join(t.TempDir(), "partitions"))
	if err := takeSnapshot(t, orig.s).restore(got); err != nil {
		t.Fatal(err)
	}
	for _, r := range []*replica{orig, got} {
		for i := range int64(6) {
			r.mustProduce(2000+i, "t", 0, plain(100+i, "after", fmt.Sprint(i)))
		}
	}
	if a, b := segmentsOf(t, orig, "t", 0), segmentsOf(t, got, "t", 0); a != b {
		t.Fatalf("restored segments\n%s\nwant\n%s", b, a)
	}
	if a, b := describe(orig.s), describe(got.s); a != b {
		t.Fatalf("restored state differs:\n%s\nvs\n%s", b, a)
	}
}
