//go:build linux

package process

import (
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/raftline/raftline/broker/snapstore"
)

// copiedSnapshot is hashicorp/raft's line once a follower has received the
// whole snapshot stream the leader sent: with --storage disk, the frame,
// the head and every segment file it lists. The count is logged as a
// float64 (bytes=2.6464899e+07), exact for any size a test makes.
var copiedSnapshot = regexp.MustCompile(`msg="copied to local snapshot".* bytes=([0-9.e+]+)`)

// A follower that was down while the leader compacted its Raft log past
// what it holds is sent a snapshot, and with --storage disk a snapshot is
// the partitions' segment files, streamed and checked by length and CRC-32C
// (broker/snapstore) before they replace the follower's own. It must
// install them and catch up while producers keep writing with acks=all;
// then every replica is byte-identical and every acknowledged record is
// read back exactly once, at the offset it was acknowledged at.
func TestProcess_NodeDownDuringCompaction_CatchesUpByStreamedSegments_UnderLoad(t *testing.T) {
	c := newCluster(t, 3, "--storage", "disk",
		"--snapshot-threshold", strconv.Itoa(snapshotThreshold),
		"--trailing-logs", strconv.Itoa(trailingLogs),
		"--snapshot-interval", "200ms")
	leader := c.waitLeader()
	waitRegistered(t, httpAddrs(c.nodes))
	cl := newClient(t, c.kafkaAddrs(),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ProducerBatchCompression(kgo.NoCompression()),
		// The load: as fast as the cluster takes it, with at most 64
		// records buffered in the client.
		kgo.MaxBufferedRecords(64))
	const topic, partitions = "streamed", 2
	// Segments of 1 MiB, the least, so a snapshot lists many files.
	createCheckedTopic(t, cl, topic, partitions, map[string]string{
		"retention.bytes": "-1", "retention.ms": "-1", "segment.bytes": strconv.Itoa(1 << 20)})
	c.waitTopic(topic, partitions, c.nodes...)
	var parts []topicPartition
	for p := range int32(partitions) {
		parts = append(parts, topicPartition{topic, p})
	}
	shape := valueShape{min: 512, max: 4 << 10}
	w := newCheckedWriter(t, cl, shape, parts)
	w.start()

	var down *node
	for _, nd := range c.nodes {
		if nd != leader {
			down = nd
			break
		}
	}
	// The follower goes with segment files of its own in every partition,
	// which the streamed ones must replace.
	w.waitAcked(4<<20, 60*time.Second)
	waitFor(t, 30*time.Second, fmt.Sprintf("node %d to hold rolled segments of every partition", down.id), func() error {
		for _, tp := range parts {
			fs, err := segmentFiles(partitionDir(down, tp))
			if err != nil {
				return err
			}
			if len(fs) < 2 {
				return fmt.Errorf("%s: %d segment", tp, len(fs))
			}
		}
		return nil
	})
	ackedBeforeStop := w.ackedBytes()
	c.stop(down)
	own := map[topicPartition]map[string]segmentFile{}
	for _, tp := range parts {
		fs, err := segmentFiles(partitionDir(down, tp))
		if err != nil {
			t.Fatal(err)
		}
		own[tp] = fs
	}
	v, err := clusterOf(leader.http)
	if err != nil {
		t.Fatal(err)
	}
	// As in TestProcess_NodeDownDuringCompaction_CatchesUpBySnapshot: once
	// every live node has a snapshot past target, whichever leads has
	// compacted away the entries the follower lacks.
	missedFrom := v.LastIndex + 1
	target := missedFrom + trailingLogs + 16
	live := c.live()
	waitFor(t, 90*time.Second, fmt.Sprintf("every live node to snapshot past index %d, and 16 MiB more to be written", target), func() error {
		if err := w.firstErr(); err != nil {
			t.Fatalf("produce failed: %v", err)
		}
		state := []string{fmt.Sprintf("%s acknowledged since node %d stopped", mib(w.ackedBytes()-ackedBeforeStop), down.id)}
		done := w.ackedBytes()-ackedBeforeStop >= 16<<20
		for _, nd := range live {
			idx, err := snapshotIndex(nd.dataDir)
			if err != nil {
				return err
			}
			done = done && idx >= target
			state = append(state, fmt.Sprintf("node %d's newest snapshot is at index %d", nd.id, idx))
		}
		if !done {
			return errors.New(strings.Join(state, "; "))
		}
		return nil
	})

	// Back with a snapshot threshold it will not reach during the test,
	// so that the snapshot it receives is the newest it holds until the
	// end, when the test looks at its files: its own next snapshots would
	// have the store reap it.
	down.Args = append(slices.Clone(down.Args), "--snapshot-threshold", "1000000")
	c.restart(down)
	restarted := time.Now()
	var copied int64
	waitFor(t, 2*time.Minute, fmt.Sprintf("node %d to install a snapshot the leader streamed", down.id), func() error {
		if err := down.ExitErr(); err != nil {
			t.Fatalf("node %d: %v", down.id, err)
		}
		log, err := down.logSinceStart()
		if err != nil {
			return err
		}
		for _, line := range strings.Split(log, "\n") {
			// A follower whose log store refuses the entries after an
			// installed snapshot retries for ever; say so at once.
			if strings.Contains(line, "failed to append to logs") {
				t.Fatalf("node %d cannot append after catching up: %s", down.id, line)
			}
			if m := copiedSnapshot.FindStringSubmatch(line); m != nil {
				f, err := strconv.ParseFloat(m[1], 64)
				if err != nil {
					t.Fatalf("node %d logged %q", down.id, line)
				}
				copied = int64(f)
			}
			// hashicorp/raft's line once the FSM has restored it.
			if strings.Contains(line, "Installed remote snapshot") {
				return nil
			}
		}
		return errors.New("no \"Installed remote snapshot\" line in its log since the restart")
	})
	installed := time.Since(restarted)
	received := checkReceivedSnapshot(t, down, parts, copied)
	if received.Index < target {
		t.Fatalf("node %d's newest snapshot is at index %d, want the leader's, past %d", down.id, received.Index, target)
	}
	// The stream held every record acknowledged before the follower
	// stopped, as segment files.
	if received.bytes < ackedBeforeStop {
		t.Fatalf("node %d received segment files of %d bytes; %d bytes of values had been acknowledged before it stopped", down.id, received.bytes, ackedBeforeStop)
	}

	// Caught up under load: applied what the leader had committed once
	// the snapshot was in, while records kept coming, and more records
	// are acknowledged after that.
	now := c.waitLeader()
	lv, err := clusterOf(now.http)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 2*time.Minute, fmt.Sprintf("node %d to apply index %d", down.id, lv.CommitIndex), func() error {
		dv, err := clusterOf(down.http)
		if err != nil {
			return err
		}
		if dv.AppliedIndex < lv.CommitIndex {
			return fmt.Errorf("node %d has applied up to %d", down.id, dv.AppliedIndex)
		}
		return nil
	})
	caughtUp := time.Since(restarted)
	ackedAtCatchUp := w.ackedRecords()
	waitFor(t, 60*time.Second, "records acknowledged after the catch-up", func() error {
		if err := w.firstErr(); err != nil {
			t.Fatalf("produce failed: %v", err)
		}
		if n := w.ackedRecords() - ackedAtCatchUp; n < 200 {
			return fmt.Errorf("%d records acknowledged since", n)
		}
		return nil
	})
	w.finish()
	t.Logf("node %d stopped at index %d; restarted, it received a snapshot at index %d of %s, holding %d files of %s (segments and their append-time indexes), installed it within %v, and applied index %d %v after its start; %d records of %s acknowledged in all",
		down.id, missedFrom-1, received.Index, mib(copied), len(received.Files), mib(received.bytes), installed.Round(time.Millisecond),
		lv.CommitIndex, caughtUp.Round(time.Millisecond), w.ackedRecords(), mib(w.ackedBytes()))

	digests := c.waitDigestsEqual(60*time.Second, nil, c.nodes...)
	w.checkDigests(digests)
	consumeChecked(t, c.kafkaAddrs(), shape, w.ends())
	c.checkFetchMatchesDigests(digests)

	// The follower's partitions are the streamed files now: each of its
	// own segment files was replaced, none kept (seglog.Log.Install swaps
	// the directory), and nothing is left of the swap.
	for _, tp := range parts {
		dir := partitionDir(down, tp)
		fs, err := segmentFiles(dir)
		if err != nil {
			t.Fatal(err)
		}
		if len(fs) <= len(own[tp]) {
			t.Errorf("%s: node %d holds %d segments, as many as before it stopped", dir, down.id, len(fs))
		}
		for name, f := range own[tp] {
			if g, ok := fs[name]; ok && g.ino == f.ino {
				t.Errorf("%s/%s is the file node %d wrote itself (inode %d), not the streamed one", dir, name, down.id, f.ino)
			}
		}
		for _, leftover := range []string{dir + ".staging", dir + ".old"} {
			if _, err := os.Stat(leftover); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("%s is left after the install (%v)", leftover, err)
			}
		}
	}
}

// receivedSnapshot is a snapshot in a node's store (broker/snapstore's
// meta.json), with the bytes of the files it lists.
type receivedSnapshot struct {
	ID    string
	Index uint64
	Files []snapstore.File
	bytes int64
}

// checkReceivedSnapshot checks nd's newest snapshot, the one it received:
// it lists segment files of every partition of parts, and the store holds
// each with the length and CRC-32C listed, which add up to no more than
// the copied bytes of the stream.
func checkReceivedSnapshot(t testing.TB, nd *node, parts []topicPartition, copied int64) receivedSnapshot {
	t.Helper()
	dir := filepath.Join(nd.dataDir, "raft", "snapshots")
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var newest receivedSnapshot
	for _, e := range entries {
		if !e.IsDir() || strings.HasSuffix(e.Name(), ".tmp") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name(), "meta.json"))
		if err != nil {
			t.Fatal(err)
		}
		var s receivedSnapshot
		if err := json.Unmarshal(b, &s); err != nil {
			t.Fatalf("%s: %v", e.Name(), err)
		}
		if s.Index > newest.Index {
			newest = s
		}
	}
	segments := map[string]int{} // partition directory -> .log files
	for _, f := range newest.Files {
		b, err := os.ReadFile(filepath.Join(dir, newest.ID, "files", filepath.FromSlash(f.Name)))
		if err != nil {
			t.Fatalf("node %d's snapshot %s lists %s: %v", nd.id, newest.ID, f.Name, err)
		}
		if int64(len(b)) != f.Length || crc32.Checksum(b, castagnoli) != f.CRC32C {
			t.Fatalf("node %d's snapshot %s: %s holds %d bytes with CRC-32C %08x; it lists %d bytes, %08x",
				nd.id, newest.ID, f.Name, len(b), crc32.Checksum(b, castagnoli), f.Length, f.CRC32C)
		}
		newest.bytes += f.Length
		if strings.HasSuffix(f.Name, ".log") {
			segments[path.Dir(f.Name)]++
		}
	}
	for _, tp := range parts {
		if segments[tp.String()] == 0 {
			t.Fatalf("node %d's newest snapshot (%s, index %d) lists no segment file of %s: %v", nd.id, newest.ID, newest.Index, tp, newest.Files)
		}
	}
	if newest.bytes > copied {
		t.Fatalf("node %d's snapshot %s lists %d bytes of files, but %d bytes were copied from the leader", nd.id, newest.ID, newest.bytes, copied)
	}
	return newest
}
