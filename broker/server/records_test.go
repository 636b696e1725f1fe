package server_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/raftline/raftline/broker/clustertest"
)

// produceBatches writes n batches of per records to a partition, each batch
// one ProduceSync of records stamped at ts(i) for record i, and returns the
// values in offset order.
func produceBatches(t *testing.T, cl *kgo.Client, topic string, partition int32, n, per int, ts func(i int) time.Time) []string {
	t.Helper()
	ctx := clustertest.Ctx(t)
	var values []string
	for b := range n {
		var recs []*kgo.Record
		for r := range per {
			i := b*per + r
			v := fmt.Sprintf("%s-%d-%d", topic, partition, i)
			values = append(values, v)
			rec := &kgo.Record{Topic: topic, Partition: partition, Value: []byte(v)}
			if ts != nil {
				rec.Timestamp = ts(i)
			}
			recs = append(recs, rec)
		}
		if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
			t.Fatalf("produce batch %d to %s/%d: %v", b, topic, partition, err)
		}
	}
	return values
}

// batchingProducer writes each ProduceSync's records to their partition as
// one batch.
func batchingProducer(c *clustertest.Cluster, opts ...kgo.Opt) *kgo.Client {
	return c.Client(append([]kgo.Opt{kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.ProducerLinger(50 * time.Millisecond)}, opts...)...)
}

// consumeFrom reads a partition from offset with a plain kgo consumer, which
// resets to the log start when the offset is out of range, until it has the
// record before the high watermark; it returns the offsets and values read.
func consumeFrom(t *testing.T, c *clustertest.Cluster, topic string, partition int32, offset, hw int64) ([]int64, []string) {
	t.Helper()
	cl := c.Client(kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {partition: kgo.NewOffset().At(offset)}}))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var offsets []int64
	var values []string
	var lastErr error
	for len(offsets) == 0 || offsets[len(offsets)-1] < hw-1 {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("read offsets %v of %s/%d before timing out; last fetch error %v", offsets, topic, partition, lastErr)
		}
		fs.EachError(func(_ string, _ int32, err error) { lastErr = err })
		fs.EachRecord(func(r *kgo.Record) {
			offsets = append(offsets, r.Offset)
			values = append(values, string(r.Value))
		})
	}
	return offsets, values
}

// DeleteRecords from a real admin client on a three-node cluster: the start
// moves where asked (inside a batch too, and to the high watermark with
// -1), refusals come with Kafka's codes, a consumer from offset 0 is reset
// to the new start and reads exactly the records after it, ListOffsets
// earliest answers it, every replica holds the same bytes, and all of it
// survives snapshots and a restart of the whole cluster.
func TestCluster_DeleteRecords_KadmThenConsumersStartThere(t *testing.T) {
	eachStorage(t, func(t *testing.T, opts clustertest.Options) {
		c := clustertest.Start(t, opts)
		c.CreateTopic("purge", 2)
		cl := batchingProducer(c)
		values := produceBatches(t, cl, "purge", 0, 10, 10, nil) // offsets 0-99 in batches of 10
		produceBatches(t, cl, "purge", 1, 3, 10, nil)
		adm := kadm.NewClient(c.Client())
		ctx := clustertest.Ctx(t)

		del := kadm.Offsets{}
		del.Add(kadm.Offset{Topic: "purge", Partition: 0, At: 35}) // inside the batch of 30-39
		del.Add(kadm.Offset{Topic: "purge", Partition: 1, At: -1}) // the high watermark
		resp, err := adm.DeleteRecords(ctx, del)
		if err != nil {
			t.Fatal(err)
		}
		for p, want := range map[int32]int64{0: 35, 1: 30} {
			r, ok := resp.Lookup("purge", p)
			if !ok || r.Err != nil || r.LowWatermark != want {
				t.Fatalf("purge/%d: %+v (%v); want low watermark %d", p, r, ok, want)
			}
		}

		bad := kadm.Offsets{}
		bad.Add(kadm.Offset{Topic: "purge", Partition: 0, At: 101}) // past the high watermark (100)
		resp, err = adm.DeleteRecords(ctx, bad)
		if err != nil {
			t.Fatal(err)
		}
		if r, _ := resp.Lookup("purge", 0); !errors.Is(r.Err, kerr.OffsetOutOfRange) {
			t.Fatalf("past the high watermark: %+v, want OFFSET_OUT_OF_RANGE", r)
		}
		below := kadm.Offsets{}
		below.Add(kadm.Offset{Topic: "purge", Partition: 0, At: 10})
		resp, err = adm.DeleteRecords(ctx, below)
		if err != nil {
			t.Fatal(err)
		}
		if r, _ := resp.Lookup("purge", 0); r.Err != nil || r.LowWatermark != 35 {
			t.Fatalf("below the start: %+v, want low watermark 35", r)
		}

		check := func(when string, start1 int64) {
			t.Helper()
			starts, err := adm.ListStartOffsets(ctx, "purge")
			if err != nil {
				t.Fatal(err)
			}
			for p, want := range map[int32]int64{0: 35, 1: start1} {
				if o, _ := starts.Lookup("purge", p); o.Err != nil || o.Offset != want {
					t.Fatalf("%s: earliest offset of purge/%d: %+v, want %d", when, p, o, want)
				}
			}
			offsets, got := consumeFrom(t, c, "purge", 0, 0, 100)
			if len(offsets) != 65 || offsets[0] != 35 || offsets[64] != 99 {
				t.Fatalf("%s: consumed %d records from %v to %v, want offsets 35 to 99", when, len(offsets), offsets[0], offsets[len(offsets)-1])
			}
			for i, o := range offsets {
				if o != int64(35+i) || got[i] != values[o] {
					t.Fatalf("%s: record %d at offset %d is %q, want %q at %d", when, i, o, got[i], values[35+i], 35+i)
				}
			}
			c.WaitReplicasIdentical()
			for _, n := range c.Nodes {
				if d := c.Digests(n)["purge/0"]; d.LogStart != 35 || d.HighWatermark != 100 {
					t.Fatalf("%s: node %d holds purge/0 from %d to %d, want 35 to 100", when, n.ID, d.LogStart, d.HighWatermark)
				}
			}
		}
		check("after DeleteRecords", 30)

		// Snapshots carry the start; a restarted cluster rebuilds it from
		// them and the Raft log after them.
		for _, n := range c.Nodes {
			if err := n.Server().Node.Snapshot(); err != nil {
				t.Fatalf("snapshot node %d: %v", n.ID, err)
			}
		}
		produceBatches(t, cl, "purge", 1, 1, 5, nil)
		del = kadm.Offsets{}
		del.Add(kadm.Offset{Topic: "purge", Partition: 1, At: 32}) // after the snapshot: replayed
		if resp, err = adm.DeleteRecords(ctx, del); err != nil {
			t.Fatal(err)
		} else if r, _ := resp.Lookup("purge", 1); r.Err != nil || r.LowWatermark != 32 {
			t.Fatalf("purge/1 to 32: %+v", r)
		}
		c.WaitReplicasIdentical()
		before := c.Digests(c.Nodes[0])
		for _, n := range c.Nodes {
			c.Kill(n)
		}
		for _, n := range c.Nodes {
			c.StartNode(n)
		}
		c.WaitStable()
		c.WaitReplicasIdentical()
		for k, d := range before {
			if after := c.Digests(c.Nodes[0])[k]; after != d {
				t.Fatalf("%s across the restart: %+v, was %+v", k, after, d)
			}
		}
		if d := before["purge/1"]; d.LogStart != 32 || d.HighWatermark != 35 {
			t.Fatalf("purge/1 before the restart: %+v, want 32 to 35", d)
		}
		check("after a restart of every node", 32)
	})
}

// ListOffsets by timestamp from a real client answers the first record at
// or after the time, with its own timestamp, inside compressed batches, and
// never below the log start offset.
func TestCluster_ListOffsetsAfterMilli_RecordPreciseInCompressedBatches(t *testing.T) {
	eachStorage(t, func(t *testing.T, opts clustertest.Options) {
		c := clustertest.Start(t, opts)
		c.CreateTopic("stamps", 1)
		base := time.UnixMilli(1_700_000_000_000)
		// Ten batches of ten records, zstd-compressed; record i is stamped
		// base + 10*i ms, except that every fifth is stamped 3 ms early.
		stamp := func(i int) time.Time {
			d := 10 * i
			if i%5 == 4 {
				d -= 13
			}
			return base.Add(time.Duration(d) * time.Millisecond)
		}
		produceBatches(t, batchingProducer(c, kgo.ProducerBatchCompression(kgo.ZstdCompression())), "stamps", 0, 10, 10, stamp)
		adm := kadm.NewClient(c.Client())
		ctx := clustertest.Ctx(t)
		list := func(ms int64) kadm.ListedOffset {
			t.Helper()
			l, err := adm.ListOffsetsAfterMilli(ctx, ms, "stamps")
			if err != nil {
				t.Fatal(err)
			}
			o, ok := l.Lookup("stamps", 0)
			if !ok || o.Err != nil {
				t.Fatalf("ListOffsetsAfterMilli(%d): %+v", ms, o)
			}
			return o
		}
		at := func(i int) int64 { return stamp(i).UnixMilli() }
		for _, tc := range []struct {
			ms     int64
			offset int64
			ts     int64
		}{
			{at(0), 0, at(0)},
			{at(0) + 1, 1, at(1)},
			{at(22), 22, at(22)},
			{at(22) + 1, 23, at(23)}, // 24 is stamped before 23
			{at(23) + 1, 25, at(25)}, // 24 is earlier still: the next later record
			{at(98), 98, at(98)},
			{at(99), 98, at(98)}, // 99 is stamped before 98
		} {
			if o := list(tc.ms); o.Offset != tc.offset || o.Timestamp != tc.ts {
				t.Errorf("after %d: offset %d at %d, want %d at %d", tc.ms, o.Offset, o.Timestamp, tc.offset, tc.ts)
			}
		}
		// After every record: no record answers, and kadm falls back to
		// the end offset, as it documents.
		if o := list(at(98) + 1); o.Offset != 100 {
			t.Errorf("after every record: offset %d, want the end (100)", o.Offset)
		}

		del := kadm.Offsets{}
		del.Add(kadm.Offset{Topic: "stamps", Partition: 0, At: 42})
		if resp, err := adm.DeleteRecords(ctx, del); err != nil {
			t.Fatal(err)
		} else if r, _ := resp.Lookup("stamps", 0); r.Err != nil {
			t.Fatal(r.Err)
		}
		if o := list(at(0)); o.Offset != 42 || o.Timestamp != at(42) {
			t.Errorf("after DeleteRecords to 42, from the first stamp: offset %d at %d, want 42 at %d", o.Offset, o.Timestamp, at(42))
		}
		if o := list(at(45)); o.Offset != 45 || o.Timestamp != at(45) {
			t.Errorf("after DeleteRecords to 42, from record 45's stamp: offset %d at %d, want 45", o.Offset, o.Timestamp)
		}
	})
}
