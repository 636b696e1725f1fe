//go:build unix

package compat

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/raftline/raftline/test/compat/matrix"
)

// The consumer group rows of the matrix run the same three scenarios with
// every client, through groupClient: what each client does is its own
// file's business (groups_*_test.go), what is checked is here.

// commitMode is how a member commits what it reads.
type commitMode int

const (
	// autoCommit is the client's own at-least-once commit: its automatic
	// commit where it has one (on an interval, on revocation, on close),
	// or a commit after each record the application has seen.
	autoCommit commitMode = iota
	// commitOnLeave commits nothing automatically; leaving commits every
	// record read, through the client's explicit commit.
	commitOnLeave
	// noCommit never commits: the member reads and leaves.
	noCommit
)

func (m commitMode) String() string {
	return [...]string{"auto-commit", "commit on leave", "no commit"}[m]
}

// groupClient is what the group scenarios need of one client.
type groupClient struct {
	// createTopic creates a topic with the client's admin API (or the
	// harness's, for a client without one) and waits until every node
	// lists it.
	createTopic func(ctx context.Context, t *testing.T, c *cluster, topic string, partitions int32) error
	// produce writes records with acks=all, idempotently where the
	// client can, and returns once every one is acknowledged.
	produce func(ctx context.Context, t *testing.T, c *cluster, topic string, recs []record) error
	// join starts a member of group on topic, reading from the start when
	// the group has committed nothing, and reporting every record it hands
	// the application to sink under name.
	join func(ctx context.Context, t *testing.T, c *cluster, group, topic string, mode commitMode, sink *groupSink, name string) (groupMember, error)
}

// groupMember is one running member of a group.
type groupMember interface {
	// leave stops reading, commits as the member's mode says, and leaves
	// the group (closes the consumer); it returns once the client is
	// closed.
	leave(ctx context.Context) error
}

// registerGroup registers the group features of client as run by gc.
func registerGroup(client matrix.Client, gc groupClient) {
	register(client, map[string]caseFunc{
		matrix.Group.Name: func(ctx context.Context, t *testing.T, c *cluster, topic string) error {
			return groupSubscribe(ctx, t, c, gc, topic)
		},
		matrix.GroupResume.Name: func(ctx context.Context, t *testing.T, c *cluster, topic string) error {
			return groupResume(ctx, t, c, gc, topic)
		},
		matrix.GroupRebalance.Name: func(ctx context.Context, t *testing.T, c *cluster, topic string) error {
			return groupRebalance(ctx, t, c, gc, topic)
		},
	})
}

const (
	// groupPartitions is the partition count of the subscribe and resume
	// scenarios' topics; rebalancePartitions the rebalance scenario's, so
	// three members get two each.
	groupPartitions     = 3
	rebalancePartitions = 6
	// groupBatch is how many records each produce of a scenario writes.
	groupBatch = 20
)

// groupRecords are records first to first+n-1 of a group scenario on
// topic, keyed k000..., their values naming the topic.
func groupRecords(topic string, first, n int) []record {
	out := make([]record, n)
	for i := range out {
		out[i] = record{key: fmt.Sprintf("k%03d", first+i), value: fmt.Sprintf("%s v%03d", topic, first+i)}
	}
	return out
}

// read is one record a member handed its application.
type read struct {
	member     string
	partition  int32
	offset     int64
	key, value string
}

// groupSink collects what every member of a scenario reads, and the first
// error any member reports.
type groupSink struct {
	mu    sync.Mutex
	reads []read
	errs  []error
	// changed is closed and replaced whenever something is added.
	changed chan struct{}
}

func newGroupSink() *groupSink { return &groupSink{changed: make(chan struct{})} }

func (s *groupSink) add(r read) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reads = append(s.reads, r)
	close(s.changed)
	s.changed = make(chan struct{})
}

// fail records an error a member's client reported to the application;
// the scenario stops at its next wait.
func (s *groupSink) fail(member string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.errs = append(s.errs, fmt.Errorf("%s: %w", member, err))
	close(s.changed)
	s.changed = make(chan struct{})
}

// snapshot is what has been read so far, the first member error, and a
// channel closed at the next change.
func (s *groupSink) snapshot() ([]read, error, <-chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var err error
	if len(s.errs) > 0 {
		err = s.errs[0]
	}
	return slices.Clone(s.reads), err, s.changed
}

// by is what one member has read.
func (s *groupSink) by(member string) []read {
	all, _, _ := s.snapshot()
	var out []read
	for _, r := range all {
		if r.member == member {
			out = append(out, r)
		}
	}
	return out
}

// await waits until done says the reads are complete, failing at once on a
// member's error, and otherwise when ctx ends with done's last complaint.
func (s *groupSink) await(ctx context.Context, what string, done func([]read) error) error {
	for {
		reads, merr, changed := s.snapshot()
		if merr != nil {
			return fmt.Errorf("%s: a member reported: %w", what, merr)
		}
		err := done(reads)
		if err == nil {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return fmt.Errorf("%s: %w; still: %v", what, ctx.Err(), err)
		}
	}
}

// groupSubscribe: produce, read everything as the one member of a group,
// commit, leave, and find the commit in OffsetFetch.
func groupSubscribe(ctx context.Context, t *testing.T, c *cluster, gc groupClient, topic string) error {
	if err := gc.createTopic(ctx, t, c, topic, groupPartitions); err != nil {
		return fmt.Errorf("create topic: %w", err)
	}
	want := groupRecords(topic, 0, groupBatch)
	if err := gc.produce(ctx, t, c, topic, want); err != nil {
		return fmt.Errorf("produce: %w", err)
	}
	ends, err := endOffsets(ctx, c, topic)
	if err != nil {
		return err
	}
	sink := newGroupSink()
	if err := session(ctx, t, c, gc, topic, commitOnLeave, sink, "member", want); err != nil {
		return err
	}
	if err := readExactly(sink.by("member"), "member", nil, ends); err != nil {
		return err
	}
	return committedAre(ctx, c, topic, ends, "after the member committed and left")
}

// groupResume: a member reads and commits; the next reads without
// committing; the third must start at the first's commit (no gap, and
// nothing read again from before it) and read to the end.
func groupResume(ctx context.Context, t *testing.T, c *cluster, gc groupClient, topic string) error {
	if err := gc.createTopic(ctx, t, c, topic, groupPartitions); err != nil {
		return fmt.Errorf("create topic: %w", err)
	}
	sink := newGroupSink()
	var all []record
	var ends []map[int32]int64
	step := func(i int, mode commitMode, wantFrom int) error {
		batch := groupRecords(topic, i*groupBatch, groupBatch)
		if err := gc.produce(ctx, t, c, topic, batch); err != nil {
			return fmt.Errorf("produce batch %d: %w", i+1, err)
		}
		all = append(all, batch...)
		end, err := endOffsets(ctx, c, topic)
		if err != nil {
			return err
		}
		ends = append(ends, end)
		name := fmt.Sprintf("session %d (%s)", i+1, mode)
		if err := session(ctx, t, c, gc, topic, mode, sink, name, all[wantFrom:]); err != nil {
			return err
		}
		return nil
	}
	// Session 1 reads batch 1 and commits it.
	if err := step(0, commitOnLeave, 0); err != nil {
		return err
	}
	if err := readExactly(sink.by("session 1 (commit on leave)"), "session 1", nil, ends[0]); err != nil {
		return err
	}
	if err := committedAre(ctx, c, topic, ends[0], "after session 1 committed"); err != nil {
		return err
	}
	// Session 2 resumes at the commit, reads batch 2, commits nothing.
	if err := step(1, noCommit, groupBatch); err != nil {
		return err
	}
	if err := readExactly(sink.by("session 2 (no commit)"), "session 2", ends[0], ends[1]); err != nil {
		return err
	}
	if err := committedAre(ctx, c, topic, ends[0], "after session 2, which committed nothing"); err != nil {
		return err
	}
	// Session 3 resumes at session 1's commit again: batch 2 a second time
	// (read after the last commit: at least once), then batch 3.
	if err := step(2, commitOnLeave, groupBatch); err != nil {
		return err
	}
	if err := readExactly(sink.by("session 3 (commit on leave)"), "session 3", ends[0], ends[2]); err != nil {
		return err
	}
	return committedAre(ctx, c, topic, ends[2], "after session 3 committed")
}

// session runs one member until it has read every record of want, then
// has it leave.
func session(ctx context.Context, t *testing.T, c *cluster, gc groupClient, topic string, mode commitMode, sink *groupSink, name string, want []record) error {
	m, err := gc.join(ctx, t, c, topic, topic, mode, sink, name)
	if err != nil {
		return fmt.Errorf("%s: join: %w", name, err)
	}
	werr := sink.await(ctx, name+" to read its records", func(all []read) error {
		return readAll(want, all, name)
	})
	if err := m.leave(ctx); err != nil {
		return errors.Join(werr, fmt.Errorf("%s: leave: %w", name, err))
	}
	return werr
}

// readAll says which of want the member has not read yet, and complains of
// a record it read that is not one of the topic's.
func readAll(want []record, all []read, member string) error {
	values := map[string]string{}
	for _, r := range want {
		values[r.key] = r.value
	}
	seen := map[string]bool{}
	for _, r := range all {
		if r.member != member {
			continue
		}
		if v, ok := values[r.key]; ok && v != r.value {
			return fmt.Errorf("%s read key %s with value %q, want %q", member, r.key, r.value, v)
		}
		seen[r.key] = true
	}
	var missing []string
	for _, r := range want {
		if !seen[r.key] {
			missing = append(missing, r.key)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("%s has not read %d of %d records (%s)", member, len(missing), len(want), firstN(missing, 5))
	}
	return nil
}

// readExactly checks that a member read each partition's offsets from
// from[p] (0 when from is nil) up to to[p], each once and in order: no gap
// and nothing read twice.
func readExactly(reads []read, who string, from, to map[int32]int64) error {
	byPart := map[int32][]int64{}
	for _, r := range reads {
		byPart[r.partition] = append(byPart[r.partition], r.offset)
	}
	var problems []string
	for _, p := range slices.Sorted(maps.Keys(to)) {
		start := from[p]
		got := byPart[p]
		var want []int64
		for o := start; o < to[p]; o++ {
			want = append(want, o)
		}
		if !slices.Equal(got, want) {
			problems = append(problems, fmt.Sprintf("partition %d: read offsets %s, want %d to %d", p, offsetRanges(got), start, to[p]-1))
		}
		delete(byPart, p)
	}
	for p, got := range byPart {
		problems = append(problems, fmt.Sprintf("partition %d, which does not exist: read %s", p, offsetRanges(got)))
	}
	if len(problems) > 0 {
		return fmt.Errorf("%s: %s", who, strings.Join(problems, "; "))
	}
	return nil
}

// offsetRanges shows offsets compactly: 0-9,12,12,13-15.
func offsetRanges(offs []int64) string {
	if len(offs) == 0 {
		return "none"
	}
	var parts []string
	for i := 0; i < len(offs); {
		j := i
		for j+1 < len(offs) && offs[j+1] == offs[j]+1 {
			j++
		}
		if j == i {
			parts = append(parts, fmt.Sprint(offs[i]))
		} else {
			parts = append(parts, fmt.Sprintf("%d-%d", offs[i], offs[j]))
		}
		i = j + 1
	}
	return strings.Join(parts, ",")
}

func firstN(s []string, n int) string {
	if len(s) > n {
		return strings.Join(s[:n], ", ") + ", ..."
	}
	return strings.Join(s, ", ")
}

// endOffsets is each partition's high watermark, asked by the harness.
func endOffsets(ctx context.Context, c *cluster, topic string) (map[int32]int64, error) {
	offs, err := kadm.NewClient(c.admin).ListEndOffsets(ctx, topic)
	if err != nil {
		return nil, fmt.Errorf("end offsets of %s: %w", topic, err)
	}
	out := map[int32]int64{}
	var ferr error
	offs.Each(func(o kadm.ListedOffset) {
		if o.Err != nil {
			ferr = fmt.Errorf("end offset of %s[%d]: %w", topic, o.Partition, o.Err)
		}
		out[o.Partition] = o.Offset
	})
	return out, ferr
}

// committedAre checks, through OffsetFetch by the harness, that group
// (named as its topic) has committed want: a partition with no records may
// have no commit.
func committedAre(ctx context.Context, c *cluster, topic string, want map[int32]int64, when string) error {
	resp, err := kadm.NewClient(c.admin).FetchOffsets(ctx, topic)
	if err != nil {
		return fmt.Errorf("OffsetFetch %s: %w", when, err)
	}
	got := map[int32]int64{}
	var ferr error
	resp.Each(func(o kadm.OffsetResponse) {
		if o.Topic != topic {
			return
		}
		if o.Err != nil {
			ferr = fmt.Errorf("OffsetFetch %s: partition %d: %w", when, o.Partition, o.Err)
		}
		if o.At >= 0 {
			got[o.Partition] = o.At
		}
	})
	if ferr != nil {
		return ferr
	}
	for p, w := range want {
		g, ok := got[p]
		if w == 0 && !ok {
			continue
		}
		if !ok || g != w {
			return fmt.Errorf("the group's committed offsets %s are %v, want %v", when, got, want)
		}
	}
	return nil
}

// groupRebalance: two members share the partitions, a third joins and all
// three get some, one leaves and the other two take its partitions; every
// record produced meanwhile is read at least once.
func groupRebalance(ctx context.Context, t *testing.T, c *cluster, gc groupClient, topic string) error {
	if err := gc.createTopic(ctx, t, c, topic, rebalancePartitions); err != nil {
		return fmt.Errorf("create topic: %w", err)
	}
	// The client writes the first records; the harness writes the probes,
	// one per partition per round, to see who reads which partition.
	first := groupRecords(topic, 0, groupBatch)
	if err := gc.produce(ctx, t, c, topic, first); err != nil {
		return fmt.Errorf("produce: %w", err)
	}
	pr, err := newProber(c, topic)
	if err != nil {
		return err
	}
	defer pr.close()
	sink := newGroupSink()
	members := map[string]groupMember{}
	defer func() {
		for _, m := range members {
			lctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			m.leave(lctx)
			cancel()
		}
	}()
	start := func(name string) error {
		m, err := gc.join(ctx, t, c, topic, topic, autoCommit, sink, name)
		if err != nil {
			return fmt.Errorf("%s: join: %w", name, err)
		}
		members[name] = m
		return nil
	}
	leave := func(name string) error {
		m := members[name]
		delete(members, name)
		if err := m.leave(ctx); err != nil {
			return fmt.Errorf("%s: leave: %w", name, err)
		}
		return nil
	}

	for _, name := range []string{"m1", "m2"} {
		if err := start(name); err != nil {
			return err
		}
	}
	split2, _, err := pr.awaitSplit(ctx, sink, []string{"m1", "m2"})
	if err != nil {
		return fmt.Errorf("two members: %w", err)
	}
	if err := describedAs(ctx, c, topic, "Stable", split2); err != nil {
		return fmt.Errorf("two members: %w", err)
	}
	began := time.Now()
	if err := start("m3"); err != nil {
		return err
	}
	split3, at, err := pr.awaitSplit(ctx, sink, []string{"m1", "m2", "m3"})
	if err != nil {
		return fmt.Errorf("a third member joined: %w", err)
	}
	joined := at.Sub(began)
	if err := describedAs(ctx, c, topic, "Stable", split3); err != nil {
		return fmt.Errorf("a third member joined: %w", err)
	}
	began = time.Now()
	if err := leave("m2"); err != nil {
		return err
	}
	left := time.Since(began)
	split2, at, err = pr.awaitSplit(ctx, sink, []string{"m1", "m3"})
	if err != nil {
		return fmt.Errorf("m2 left: %w", err)
	}
	rebalanced := at.Sub(began)
	if err := describedAs(ctx, c, topic, "Stable", split2); err != nil {
		return fmt.Errorf("m2 left: %w", err)
	}
	for _, p := range split3["m2"] {
		if !slices.Contains(split2["m1"], p) && !slices.Contains(split2["m3"], p) {
			return fmt.Errorf("m2's partition %d was not taken over: m1 %v, m3 %v", p, split2["m1"], split2["m3"])
		}
	}
	t.Logf("rebalance: a third member's start to all three reading %.2fs; m2's leave took %.2fs, and %.2fs from its start to the other two reading all partitions",
		joined.Seconds(), left.Seconds(), rebalanced.Seconds())
	recordFigure(t, fmt.Sprintf("rebalance on join %.2fs, on leave %.2fs", joined.Seconds(), rebalanced.Seconds()))
	for _, name := range slices.Sorted(maps.Keys(members)) {
		if err := leave(name); err != nil {
			return err
		}
	}
	// The members committed what they read as they left: the group is
	// empty and resumes at the end.
	if err := describedAs(ctx, c, topic, "Empty", nil); err != nil {
		return fmt.Errorf("every member left: %w", err)
	}
	ends, err := endOffsets(ctx, c, topic)
	if err != nil {
		return err
	}
	if err := committedAre(ctx, c, topic, ends, "after every member left"); err != nil {
		return err
	}
	// No record lost: the client's records and every probe were read by
	// someone.
	reads, _, _ := sink.snapshot()
	want := append(slices.Clone(first), pr.sent...)
	seen := map[string]bool{}
	for _, r := range reads {
		seen[r.key+"="+r.value] = true
	}
	var lost []string
	for _, r := range want {
		if !seen[r.key+"="+r.value] {
			lost = append(lost, r.key)
		}
	}
	if len(lost) > 0 {
		return fmt.Errorf("%d of %d records were never read by any member: %s", len(lost), len(want), firstN(lost, 10))
	}
	return nil
}

var (
	figuresMu sync.Mutex
	figures   = map[string]string{}
)

// recordFigure keeps a figure a case measured, for the table TestCompat
// prints at the end.
func recordFigure(t *testing.T, s string) {
	figuresMu.Lock()
	defer figuresMu.Unlock()
	figures[t.Name()] = s
}
