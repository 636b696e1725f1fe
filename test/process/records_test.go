//go:build unix

package process

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// DeleteRecords and timestamps as a client raftline did not write sees
// them (kcat, librdkafka), on a --storage disk cluster of the binary: after
// kadm moved the start into the middle of a batch, kcat from the beginning
// reads exactly the records from the new start on; from a timestamp
// (-o s@ms, a ListOffsets by timestamp) it starts at the first record
// stamped at or after it, inside an lz4 batch, and never below the start.
func TestProcess_DeleteRecordsAndTimestamps_Kcat(t *testing.T) {
	kcat := kcatPath(t)
	c := newCluster(t, 3, "--storage", "disk")
	c.waitLeader()
	waitRegistered(t, httpAddrs(c.nodes))
	const topic = "trimmed"
	cl := newClient(t, c.kafkaAddrs(), kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.ProducerBatchCompression(kgo.Lz4Compression()))
	createTopic(t, cl, topic, 1)
	c.waitTopic(topic, 1, c.nodes...)

	// Five batches of ten records; record i is stamped base + 10*i ms.
	base := time.Now().Add(-time.Hour).Truncate(time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for b := range 5 {
		var recs []*kgo.Record
		for r := range 10 {
			i := 10*b + r
			recs = append(recs, &kgo.Record{Topic: topic, Value: []byte(fmt.Sprintf("v%d", i)), Timestamp: base.Add(time.Duration(10*i) * time.Millisecond)})
		}
		if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	del := kadm.Offsets{}
	del.Add(kadm.Offset{Topic: topic, Partition: 0, At: 25})
	resp, err := kadm.NewClient(cl).DeleteRecords(ctx, del)
	if err != nil {
		t.Fatal(err)
	}
	if r, _ := resp.Lookup(topic, 0); r.Err != nil || r.LowWatermark != 25 {
		t.Fatalf("DeleteRecords: %+v, want low watermark 25", r)
	}
	c.waitDigestsEqual(30*time.Second, nil, c.nodes...)

	read := func(from string) []int64 {
		t.Helper()
		out := runKcat(t, kcat, nil, "-C", "-b", strings.Join(c.kafkaAddrs(), ","), "-t", topic, "-p", "0", "-o", from, "-e", "-f", `%o|%T|%s\n`)
		var offsets []int64
		for _, line := range strings.Split(strings.TrimSuffix(string(out), "\n"), "\n") {
			f := strings.SplitN(line, "|", 3)
			if len(f) != 3 {
				t.Fatalf("kcat -o %s printed %q", from, line)
			}
			off, oerr := strconv.ParseInt(f[0], 10, 64)
			ts, terr := strconv.ParseInt(f[1], 10, 64)
			if oerr != nil || terr != nil || f[2] != fmt.Sprintf("v%d", off) || ts != base.Add(time.Duration(10*off)*time.Millisecond).UnixMilli() {
				t.Fatalf("kcat -o %s printed %q", from, line)
			}
			offsets = append(offsets, off)
		}
		return offsets
	}
	for _, tc := range []struct {
		from  string
		first int64
	}{
		{"beginning", 25},
		{"s@" + strconv.FormatInt(base.Add(333*time.Millisecond).UnixMilli(), 10), 34}, // inside the batch of 30-39
		{"s@" + strconv.FormatInt(base.Add(100*time.Millisecond).UnixMilli(), 10), 25}, // record 10 is deleted
	} {
		got := read(tc.from)
		if len(got) != int(50-tc.first) || got[0] != tc.first || got[len(got)-1] != 49 {
			t.Fatalf("kcat -o %s read offsets %v, want %d to 49", tc.from, got, tc.first)
		}
	}
}
