//go:build unix

package process

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// A leader crash must not lose a record the client was told is written:
// acks=all answers only once a quorum holds the entry, so the next leader has
// it. The producer keeps going through the crash, as a client would.
func TestProcess_LeaderSIGKILL_NoAckedRecordLost(t *testing.T) {
	c := newCluster(t, 3)
	leader := c.waitLeader()
	waitRegistered(t, httpAddrs(c.nodes))
	const topic, partitions = "acked", 3
	cl := newClient(t, c.kafkaAddrs())
	createTopic(t, cl, topic, partitions)
	c.waitTopic(topic, partitions, c.nodes...)

	s := startStream(t, cl, topic)
	s.waitAcked(500, 60*time.Second)
	atKill := s.acked()
	c.kill(leader)
	killed := time.Now()
	next := c.waitLeader(leader)
	t.Logf("killed leader %d after %d acks; node %d leads %v later", leader.id, atKill, next.id, time.Since(killed).Round(time.Millisecond))
	s.waitAcked(atKill+500, 90*time.Second)
	t.Logf("%d more records acknowledged %v after the kill", s.acked()-atKill, time.Since(killed).Round(time.Millisecond))
	acks := s.finish()

	got, ends := consumeAll(t, c.kafkaAddrs(c.live()...), topic, partitions)
	checkAcked(t, acks, got, ends)

	// The crashed node comes back with its data directory; every replica,
	// including the one that crashed mid-write, must end up byte-identical
	// to what consumers read from the leader.
	c.restart(leader)
	digests := c.waitDigestsEqual(60*time.Second, nil, c.nodes...)
	c.checkFetchMatchesDigests(digests)
	checkEnds(t, digests, topic, ends)
}

// A leader that crashes holding entries no follower has comes back to find
// them overwritten by the new leader: Raft clears that suffix from its log
// store. The node must restart cleanly afterwards, as often as it is crashed.
// (raft-wal v0.4.0 sealed its log segment on such a suffix delete without the
// segment's index, and the node panicked at its next start-up.) Crashing both
// followers before an acks=1 record reaches the leader makes the overwrite
// certain instead of a matter of crash timing: a frozen follower would still
// read the entry from its socket once thawed, a dead one cannot.
func TestProcess_LeaderCrashWithUnreplicatedEntries_RestartsCleanly(t *testing.T) {
	// A leader lease long enough that the leader, its followers gone, still
	// accepts the acks=1 record before it steps down.
	c := newCluster(t, 3, "--heartbeat-timeout", "3s", "--election-timeout", "3s", "--leader-lease-timeout", "3s")
	leader := c.waitLeader()
	waitRegistered(t, httpAddrs(c.nodes))
	const topic, partitions = "overwritten", 1
	cl := newClient(t, c.kafkaAddrs())
	createTopic(t, cl, topic, partitions)
	c.waitTopic(topic, partitions, c.nodes...)
	var acks []ack
	produce := func(n int) {
		for range n {
			acks = append(acks, produceSync(t, cl, len(acks), recordFor(topic, len(acks)))...)
		}
	}
	produce(20)

	// An acks=1 client that knows only the leader, warmed up so that it
	// holds metadata and a connection before the followers go. raftline
	// answers acks=1 before the entry is applied, so the warm-up record's
	// offset may come back as -1; it is looked up once consumed.
	leaderOnly := newClient(t, []string{leader.kafka}, kgo.RequiredAcks(kgo.LeaderAck()), kgo.DisableIdempotentWrite())
	warmUp := len(acks)
	acks = append(acks, produceSync(t, leaderOnly, len(acks), recordFor(topic, len(acks)))...)

	var followers []*node
	for _, nd := range c.nodes {
		if nd != leader {
			followers = append(followers, nd)
			c.kill(nd)
		}
	}
	alone, err := clusterOf(leader.http)
	if err != nil {
		t.Fatal(err)
	}
	// Acknowledged by the leader alone, so lost with it, as acks=1 allows;
	// checkAcked below finds no trace of it.
	produceSync(t, leaderOnly, -1, &kgo.Record{Topic: topic, Value: []byte("held by the old leader alone")})
	held, err := clusterOf(leader.http)
	if err != nil {
		t.Fatal(err)
	}
	if held.LastIndex <= alone.LastIndex {
		t.Fatalf("the leader's log did not grow with its followers gone (last index %d, then %d)", alone.LastIndex, held.LastIndex)
	}
	c.kill(leader)
	for _, nd := range followers {
		c.restart(nd)
	}
	next := c.waitLeader(leader)
	produce(20)
	t.Logf("node %d crashed holding entries %d..%d alone; node %d leads", leader.id, alone.LastIndex+1, held.LastIndex, next.id)

	c.restart(leader)
	c.waitReady(leader)
	log, err := leader.logSinceStart()
	if err != nil {
		t.Fatal(err)
	}
	// hashicorp/raft's message when a follower drops conflicting entries.
	if !strings.Contains(log, "clearing log suffix") {
		t.Fatalf("node %d rejoined without clearing its unreplicated entries; the test did not make the overwrite it is about", leader.id)
	}
	produce(20)

	// Crash it again, and stop it cleanly once: both restarts must work.
	c.kill(leader)
	c.restart(leader)
	c.waitReady(leader)
	c.stop(leader)
	c.restart(leader)
	c.waitReady(leader)
	produce(20)

	got, ends := consumeAll(t, c.kafkaAddrs(), topic, partitions)
	if w := &acks[warmUp]; w.offset < 0 {
		for _, r := range got[w.partition] {
			if string(r.Value) == w.value {
				w.offset = r.Offset
			}
		}
	}
	checkAcked(t, acks, got, ends)
	digests := c.waitDigestsEqual(60*time.Second, nil, c.nodes...)
	c.checkFetchMatchesDigests(digests)
	checkEnds(t, digests, topic, ends)
}

// A cluster stopped as a whole and started again from its data directories
// must come back with exactly the data it had: the partition logs live in
// memory and are rebuilt from the Raft log alone, or from a snapshot plus the
// entries after it.
func TestProcess_WholeClusterRestart_StateIdentical(t *testing.T) {
	t.Run("FromLog", func(t *testing.T) { wholeClusterRestart(t, false) })
	t.Run("FromSnapshotAndLog", func(t *testing.T) { wholeClusterRestart(t, true) })
}

func wholeClusterRestart(t *testing.T, snapshots bool) {
	var extra []string
	if snapshots {
		extra = []string{"--snapshot-threshold", "64", "--snapshot-interval", "200ms"}
	}
	c := newCluster(t, 3, extra...)
	c.waitLeader()
	waitRegistered(t, httpAddrs(c.nodes))
	const topic, partitions = "restart", 3
	cl := newClient(t, c.kafkaAddrs())
	createTopic(t, cl, topic, partitions)
	c.waitTopic(topic, partitions, c.nodes...)
	s := startStream(t, cl, topic)
	s.waitAcked(600, 60*time.Second)
	acks := s.finish()
	if snapshots {
		acks = c.produceUntilSnapshotAndTail(t, cl, topic, acks)
	}
	cl.Close()
	before := c.waitDigestsEqual(30*time.Second, nil, c.nodes...)

	c.signalAll(syscall.SIGTERM, c.nodes...)
	c.waitExit(30*time.Second, c.nodes...)
	for _, nd := range c.nodes {
		c.restart(nd)
	}
	c.waitReady(c.nodes...)
	c.waitLeader()
	// Readiness is about indexes; compare the data itself.
	after := c.waitDigestsEqual(60*time.Second, before, c.nodes...)
	if snapshots {
		for _, nd := range c.nodes {
			log, err := nd.logSinceStart()
			if err != nil {
				t.Fatal(err)
			}
			// hashicorp/raft's message after loading the local snapshot.
			if !strings.Contains(log, "restored from snapshot") {
				t.Fatalf("node %d did not restore from its snapshot at start-up", nd.id)
			}
		}
	}

	got, ends := consumeAll(t, c.kafkaAddrs(), topic, partitions)
	checkAcked(t, acks, got, ends)
	c.checkFetchMatchesDigests(after)
	checkEnds(t, after, topic, ends)
}

// Compaction settings for TestProcess_NodeDownDuringCompaction: snapshot
// often and keep few entries after a snapshot.
const (
	snapshotThreshold = 64
	trailingLogs      = 16
)

// A follower that was down while the leader compacted its log cannot be sent
// the entries it missed; it must be sent a snapshot instead and end up with
// the same data as everyone else.
func TestProcess_NodeDownDuringCompaction_CatchesUpBySnapshot(t *testing.T) {
	c := newCluster(t, 3,
		"--snapshot-threshold", fmt.Sprint(snapshotThreshold),
		"--trailing-logs", fmt.Sprint(trailingLogs),
		// Raft checks the threshold once per interval; the 2m default
		// would never snapshot within the test.
		"--snapshot-interval", "200ms")
	leader := c.waitLeader()
	waitRegistered(t, httpAddrs(c.nodes))
	const topic, partitions = "compacted", 2
	cl := newClient(t, c.kafkaAddrs())
	createTopic(t, cl, topic, partitions)
	c.waitTopic(topic, partitions, c.nodes...)

	var down *node
	for _, nd := range c.nodes {
		if nd != leader {
			down = nd
			break
		}
	}
	c.stop(down)
	// The stopped follower holds at most what the leader had once it was
	// gone; it needs everything after that.
	v, err := clusterOf(leader.http)
	if err != nil {
		t.Fatal(err)
	}
	missedFrom := v.LastIndex + 1
	// A snapshot at index S compacts the log up to at least
	// S-trailingLogs, so once every live node has snapshotted past target,
	// whichever of them leads no longer holds the entries the follower
	// lacks (with margin for the entries the snapshot may include).
	target := missedFrom + trailingLogs + 16
	var acks []ack
	live := c.live()
	waitFor(t, 90*time.Second, fmt.Sprintf("every live node to snapshot past index %d", target), func() error {
		var state []string
		done := true
		for _, nd := range live {
			idx, err := snapshotIndex(nd.dataDir)
			if err != nil {
				return err
			}
			done = done && idx >= target
			state = append(state, fmt.Sprintf("node %d's newest snapshot is at index %d", nd.id, idx))
		}
		if done {
			return nil
		}
		// One record per request: each is its own Raft entry.
		for range 16 {
			acks = append(acks, produceSync(t, cl, len(acks), recordFor(topic, len(acks)))...)
		}
		if len(acks) > 5000 {
			t.Fatalf("%d records produced: %s", len(acks), strings.Join(state, "; "))
		}
		return errors.New(strings.Join(state, "; "))
	})
	t.Logf("follower %d stopped before index %d; after %d records every live node has a snapshot past %d", down.id, missedFrom, len(acks), target)

	c.restart(down)
	var digests []partitionDigest
	waitFor(t, 90*time.Second, fmt.Sprintf("node %d to catch up", down.id), func() (err error) {
		// A follower whose log store refuses the entries after an
		// installed snapshot retries for ever; say so at once.
		if log, err := down.logSinceStart(); err == nil {
			for _, line := range strings.Split(log, "\n") {
				if strings.Contains(line, "failed to append to logs") {
					t.Fatalf("node %d cannot append after catching up: %s", down.id, line)
				}
			}
		}
		digests, err = equalDigests(nil, c.nodes...)
		return err
	})
	waitFor(t, 30*time.Second, fmt.Sprintf("node %d to log a snapshot install", down.id), func() error {
		log, err := down.logSinceStart()
		if err != nil {
			return err
		}
		// hashicorp/raft's follower-side message once it has restored the
		// snapshot the leader sent.
		for _, line := range strings.Split(log, "\n") {
			if strings.Contains(strings.ToLower(line), "installed remote snapshot") {
				return nil
			}
		}
		return errors.New("no \"Installed remote snapshot\" line in its log since the restart")
	})
	if idx, err := snapshotIndex(down.dataDir); err != nil || idx < target {
		t.Fatalf("node %d's newest snapshot is at index %d (%v), want at least %d: an installed snapshot is kept", down.id, idx, err, target)
	}

	got, ends := consumeAll(t, c.kafkaAddrs(), topic, partitions)
	checkAcked(t, acks, got, ends)
	c.checkFetchMatchesDigests(digests)
	checkEnds(t, digests, topic, ends)
}

// snapshotIndex is the highest Raft index among the complete snapshots in a
// node's data directory (hashicorp/raft's file snapshot store under raft/),
// or 0 when there is none.
func snapshotIndex(dataDir string) (uint64, error) {
	dir := filepath.Join(dataDir, "raft", "snapshots")
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	var highest uint64
	for _, e := range entries {
		if !e.IsDir() || strings.HasSuffix(e.Name(), ".tmp") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name(), "meta.json"))
		if err != nil {
			continue // being written or reaped
		}
		var meta struct{ Index uint64 }
		if err := json.Unmarshal(b, &meta); err != nil {
			return 0, fmt.Errorf("%s: %v", e.Name(), err)
		}
		highest = max(highest, meta.Index)
	}
	return highest, nil
}

// checkEnds asserts the digests' high watermarks are the ones the consumer
// read up to.
func checkEnds(t testing.TB, digests []partitionDigest, topic string, ends map[int32]int64) {
	t.Helper()
	seen := 0
	for _, d := range digests {
		if d.Topic != topic {
			continue
		}
		seen++
		if d.LogStart != 0 || d.HighWatermark != ends[d.Partition] {
			t.Fatalf("%s/%d: nodes report offsets %d-%d, the consumer read 0-%d", topic, d.Partition, d.LogStart, d.HighWatermark, ends[d.Partition])
		}
	}
	if seen != len(ends) {
		t.Fatalf("nodes report %d partitions of %s, want %d", seen, topic, len(ends))
	}
}

// produceUntilSnapshotAndTail produces one record at a time to topic until
// every node holds a snapshot and Raft entries after it, so a restart must
// restore the snapshot and then replay the log. It returns acks with the
// acknowledgements of the records it produced appended.
func (c *cluster) produceUntilSnapshotAndTail(t testing.TB, cl *kgo.Client, topic string, acks []ack) []ack {
	t.Helper()
	waitFor(t, 60*time.Second, "a snapshot and a log tail on every node", func() error {
		acks = append(acks, produceSync(t, cl, len(acks), recordFor(topic, len(acks)))...)
		for _, nd := range c.nodes {
			idx, err := snapshotIndex(nd.dataDir)
			if err != nil {
				return err
			}
			v, err := clusterOf(nd.http)
			if err != nil {
				return err
			}
			if idx == 0 || v.LastIndex <= idx {
				return fmt.Errorf("node %d: snapshot at %d, last index %d", nd.id, idx, v.LastIndex)
			}
		}
		return nil
	})
	return acks
}
