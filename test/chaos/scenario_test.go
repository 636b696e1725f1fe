//go:build chaos && linux

package chaos

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/raftline/raftline/test/chaos/harness"
	"github.com/raftline/raftline/test/chaos/netfault"
	"github.com/raftline/raftline/test/chaos/summary"
)

const (
	// loadRate is each scenario's produce rate, records per second: enough
	// to keep every partition busy through a fault, little enough to leave
	// the two cores room for three nodes and the faults.
	loadRate = 800
	// topic is each scenario's topic, with harness.Partitions partitions.
	topic = "chaos"
	// Targets reported against (never asserted: speed goals are read off
	// the summary).
	failoverTarget     = 2 * time.Second
	gracefulGapTarget  = 500 * time.Millisecond
	convergenceTimeout = 60 * time.Second
	// ackGrace is how long after a quorum is lost an acknowledgement may
	// still be heard: one for a record committed just before, its answer
	// on its way. Later ones would have been committed without a quorum.
	ackGrace = 2 * time.Second
)

// scenario is one row of the summary in the making. Its cleanup, registered
// before the cluster's, adds the row whatever happens, so a scenario that
// fails half-way still shows in the table.
type scenario struct {
	t     *testing.T
	row   summary.Row
	start time.Time

	c    *harness.Cluster
	book *harness.Book
	prod *harness.Producer
	// group, if the scenario has one, consumes the topic throughout;
	// finish checks it read every acknowledged record at least once.
	group *harness.Group

	unproven []string
	finished bool
}

func begin(t *testing.T, name, fault string) *scenario {
	s := &scenario{t: t, start: time.Now(), row: summary.Row{Scenario: name, Fault: fault}}
	t.Cleanup(s.record)
	return s
}

func (s *scenario) record() {
	s.row.DurationSec = time.Since(s.start).Seconds()
	s.row.ProvenEffective = len(s.row.Proof) > 0 && len(s.unproven) == 0
	if !s.finished {
		s.row.Failures = append(s.row.Failures, "scenario did not run to its end (see the test log)")
	}
	s.row.Result = "PASS"
	if s.t.Failed() || len(s.row.Failures) > 0 {
		s.row.Result = "FAIL"
	}
	suite.Add(s.row)
}

// fail records a failed criterion and fails the test, going on.
func (s *scenario) fail(format string, args ...any) {
	s.t.Helper()
	msg := fmt.Sprintf(format, args...)
	s.row.Failures = append(s.row.Failures, msg)
	s.t.Error(msg)
}

// prove records the evidence that a fault took effect, or, when err is not
// nil, that it did not: the scenario then stops, failed.
func (s *scenario) prove(what string, err error) {
	s.t.Helper()
	if err != nil {
		msg := fmt.Sprintf("fault did not take effect: %s: %v", what, err)
		s.unproven = append(s.unproven, msg)
		s.row.Failures = append(s.row.Failures, msg)
		s.t.Fatal(msg)
	}
	s.row.Proof = append(s.row.Proof, what)
	s.t.Logf("proven: %s", what)
}

func (s *scenario) note(format string, args ...any) {
	s.t.Helper()
	msg := fmt.Sprintf(format, args...)
	s.row.Notes = append(s.row.Notes, msg)
	s.t.Log(msg)
}

func (s *scenario) figure(name string, d time.Duration, target time.Duration) {
	s.t.Helper()
	f := summary.Figure{Name: name, Value: float64(d.Microseconds()) / 1000, Unit: "ms", Target: float64(target.Milliseconds())}
	s.row.Figures = append(s.row.Figures, f)
	s.t.Logf("figure: %v", f)
}

func (s *scenario) count(name string, n int) {
	s.t.Helper()
	f := summary.Figure{Name: name, Value: float64(n), Unit: ""}
	s.row.Figures = append(s.row.Figures, f)
	s.t.Logf("figure: %s %d", name, n)
}

// cluster starts the scenario's cluster with extra `raftline serve` flags.
func (s *scenario) cluster(args ...string) *harness.Cluster {
	s.t.Helper()
	s.c = harness.New(s.t, raftlineBin, harness.Options{Args: args})
	return s.c
}

// load creates the topic and starts the producer, returning once warm acks
// have been acknowledged so faults hit a running load.
func (s *scenario) load(warm int) *harness.Producer {
	s.t.Helper()
	s.c.CreateTopic(topic)
	s.book = harness.NewBook()
	s.prod = s.c.StartProducer(s.book, topic, loadRate)
	s.prod.WaitAcks(s.t, warm, 30*time.Second)
	return s.prod
}

// loadWithGroup is load with a consumer group of members members reading
// the topic from before the first record until the end of the scenario.
func (s *scenario) loadWithGroup(warm, members int) *harness.Producer {
	s.t.Helper()
	s.c.CreateTopic(topic)
	s.book = harness.NewGroupBook()
	s.group = s.c.StartGroup(s.book, topic, "chaos-"+strings.ReplaceAll(s.row.Scenario, " ", "-"), members)
	s.prod = s.c.StartProducer(s.book, topic, loadRate)
	s.prod.WaitAcks(s.t, warm, 30*time.Second)
	s.group.WaitConsuming(s.t, 30*time.Second)
	// Faults hit a group with offsets committed, which must survive them.
	s.group.WaitCommitted(s.t, 30*time.Second)
	return s.prod
}

// heal removes a fault, failing the scenario if it cannot.
func (s *scenario) heal(f *netfault.Fault) {
	s.t.Helper()
	if err := f.Heal(); err != nil {
		s.t.Fatalf("healing %s: %v", f.Desc, err)
	}
	s.t.Logf("healed: %s", f.Desc)
}

// probeMustFail records probe results that must not be acknowledgements
// (writes to a node that cannot commit them).
func (s *scenario) probeMustFail(where string, results ...harness.ProbeResult) {
	s.t.Helper()
	for _, r := range results {
		s.t.Logf("probe %s: %v", where, r)
		if r.Acked() {
			s.fail("a write to %s was acknowledged: %v", where, r)
		}
	}
}

// probeMustRetriablyFail also requires a prompt, retriable error: an answer
// within the request timeout plus slack, never a hang.
func (s *scenario) probeMustRetriablyFail(where string, timeout, slack time.Duration, results ...harness.ProbeResult) {
	s.t.Helper()
	s.probeMustFail(where, results...)
	for _, r := range results {
		switch {
		case r.Err != nil:
			s.fail("a write to %s got no answer: %v", where, r)
		case !r.Retriable():
			s.fail("a write to %s got a non-retriable error: %v", where, r)
		case r.Took > timeout+slack:
			s.fail("a write to %s was answered after %v, past its %v timeout", where, r.Took, timeout)
		}
	}
}

// probes sends n probes to node, one after the other, to partition 0.
func (s *scenario) probes(n *harness.Node, count int, timeout time.Duration) []harness.ProbeResult {
	var out []harness.ProbeResult
	for range count {
		out = append(out, harness.Probe(s.book, n, topic, 0, timeout, 10*time.Second))
	}
	return out
}

// holdUntil keeps a fault in place until t: the length of a fault window
// under load, measured by the clock. It shapes a scenario and asserts
// nothing; every "has it happened yet" question is a WaitFor instead.
func holdUntil(t time.Time) { time.Sleep(time.Until(t)) }

// cutProof shows that from cannot reach to's Raft port: a TCP connect from
// from's namespace does not complete.
func cutProof(from, to *harness.Node) (string, error) {
	what := fmt.Sprintf("TCP connect %v -> %v:%d", from, to, harness.RaftPort)
	c, err := from.Host.Dial(to.Raft, 500*time.Millisecond)
	if err == nil {
		c.Close()
		return what, fmt.Errorf("it succeeded")
	}
	return fmt.Sprintf("%s fails (%v)", what, shortErr(err)), nil
}

// reachProof shows the opposite: from reaches to's Raft port.
func reachProof(from, to *harness.Node) error {
	c, err := from.Host.Dial(to.Raft, 2*time.Second)
	if err != nil {
		return fmt.Errorf("TCP connect %v -> %s: %v", from, to.Raft, err)
	}
	c.Close()
	return nil
}

func shortErr(err error) string {
	s := err.Error()
	if i := strings.LastIndex(s, ": "); i >= 0 {
		return s[i+2:]
	}
	return s
}

// waitLostLeader waits until n no longer reports a leader or no longer
// leads: the node itself saying it is cut off.
func (s *scenario) waitLostLeader(n *harness.Node, timeout time.Duration) (string, error) {
	var desc string
	err := harness.Poll(timeout, func() error {
		v, err := n.View()
		if err != nil {
			return err
		}
		if v.LeaderID > 0 && !(v.LeaderID == n.ID && v.State != "leader") {
			if v.State == "leader" {
				return fmt.Errorf("%v still leads (term %d)", n, v.Term)
			}
			return fmt.Errorf("%v still follows n%d (term %d)", n, v.LeaderID, v.Term)
		}
		desc = fmt.Sprintf("%v reports state %s, leader %d, term %d", n, v.State, v.LeaderID, v.Term)
		return nil
	})
	if err != nil {
		desc = fmt.Sprintf("%v losing its leader within %v", n, timeout)
	}
	return desc, err
}

// waitCaughtUp waits until n has applied at least index.
func (s *scenario) waitCaughtUp(n *harness.Node, index uint64, timeout time.Duration) {
	s.t.Helper()
	harness.WaitFor(s.t, timeout, fmt.Sprintf("%v to apply index %d", n, index), func() error {
		v, err := n.View()
		if err != nil {
			return err
		}
		if v.AppliedIndex < index {
			return fmt.Errorf("%v applied %d", n, v.AppliedIndex)
		}
		return nil
	})
}

// commitIndex is n's commit index, failing the test if n cannot answer.
func (s *scenario) commitIndex(n *harness.Node) uint64 {
	s.t.Helper()
	v, err := n.View()
	if err != nil {
		s.t.Fatalf("%v: %v", n, err)
	}
	return v.CommitIndex
}

// finishGroup waits for the scenario's consumer group to read every
// acknowledged record: at least once, at the offset it was acknowledged at,
// and never again below an offset whose commit the coordinator had
// acknowledged before the reader got the partition. Other redeliveries (a
// record read again after a rebalance or a failed commit) are what
// at-least-once allows; they are counted, not failed.
func (s *scenario) finishGroup() {
	s.t.Helper()
	rep, err := s.group.Drain(convergenceTimeout)
	if err != nil {
		s.fail("group %s: %v", s.group.Name, err)
	}
	// The ledger's verdict is exactly-once; a group is held to at least
	// once, so only the counts are logged.
	s.t.Logf("group %s (at least once): acked %d, consumed %d, lost %d, read again %d, reordered %d, misplaced %d, conflicts %d",
		s.group.Name, rep.Acked, rep.Consumed, rep.Lost, rep.Duplicated, rep.Reordered, rep.Misplaced, rep.Conflicts)
	s.count("group: acknowledged records the group never read", int(rep.Lost))
	s.count("group: records read more than once (at-least-once redeliveries)", int(rep.Duplicated))
	if rep.Duplicated > 0 {
		s.note("group %s read records again: %s", s.group.Name, s.group.ReadAgain())
	}
	if back := s.group.WentBack(); len(back) > 0 {
		s.fail("group %s: %d records read again below an acknowledged commit (committed offsets lost or gone back), e.g. %v",
			s.group.Name, len(back), back[:min(len(back), 5)])
	}
	if resets := s.group.Resets(); len(resets) > 0 {
		// A leader serves reads only once it has applied everything
		// committed before its term, so an offset a member has read is
		// never out of range again.
		s.fail("group %s: the broker answered OFFSET_OUT_OF_RANGE for offsets the group had read, and its members reset to the start: %v",
			s.group.Name, resets)
	}
	if rep.Misplaced > 0 || rep.Conflicts > 0 {
		s.fail("group %s read acknowledged records elsewhere than acknowledged: misplaced %d, conflicts %d: %v",
			s.group.Name, rep.Misplaced, rep.Conflicts, rep.Examples)
	}
	if rep.Reordered > 0 {
		s.note("group %s first read %d records after a later one of their partition: %v", s.group.Name, rep.Reordered, rep.Examples)
	}
	for _, m := range s.group.Members() {
		s.t.Logf("group member %s: read %d, assignments %d, commits %v", m.Name, m.Read(), m.Assignments(), m.Commits())
		if errs := m.Errors(); len(errs) > 0 {
			s.note("group member %s: poll errors %v", m.Name, errs)
		}
	}
}

// finish stops the load, waits for every node to hold byte-identical
// partition logs, reads everything back and checks the ledger: the
// criteria every scenario shares.
func (s *scenario) finish() {
	s.t.Helper()
	st := s.prod.Stop(60 * time.Second)
	s.row.LongestGapMs = float64(s.prod.LongestGap(time.Time{}, time.Time{}).Microseconds()) / 1000
	s.t.Logf("producer: produced %d, acked %d, failed %d, unresolved %d, errors %v", st.Produced, st.Acked, st.Failed, st.Unresolved, st.Errors)
	if len(st.Errors) > 0 {
		s.note("producer errors (retriable errors are retried inside the client; these ended records): %v", st.Errors)
	}
	for _, n := range s.c.Nodes {
		for _, crash := range n.Crashes() {
			s.fail("node crash: %s", crash)
		}
		if !n.Running() {
			s.fail("%v is not running at the end", n)
		}
	}
	digests, err := s.c.Identical(convergenceTimeout)
	s.row.ReplicasIdentical = err == nil
	if err != nil {
		s.fail("replicas are not byte-identical after %v: %v", convergenceTimeout, err)
	} else {
		s.t.Logf("replicas identical: %d partitions", len(digests))
	}
	rep, err := s.c.Verify(s.book, topic, 60*time.Second)
	if err != nil {
		s.fail("reading the records back: %v", err)
	}
	s.row.Acked, s.row.Lost, s.row.Duplicated = rep.Acked, rep.Lost, rep.Duplicated
	s.row.Misplaced, s.row.Reordered, s.row.Conflicts = rep.Misplaced, rep.Reordered, rep.Conflicts
	s.t.Log(rep.String())
	if rep.Acked == 0 {
		s.fail("no record was acknowledged")
	}
	if rep.Lost > 0 {
		s.fail("%d acknowledged records lost: %v", rep.Lost, rep.Examples)
	}
	if rep.Misplaced > 0 || rep.Conflicts > 0 || rep.Reordered > 0 {
		s.fail("acknowledged records not where acknowledged: misplaced %d, conflicts %d, reordered %d: %v",
			rep.Misplaced, rep.Conflicts, rep.Reordered, rep.Examples)
	}
	if rep.Duplicated > 0 {
		s.note("%d records duplicated in the log despite the idempotent producer: %v", rep.Duplicated, rep.Examples)
	}
	if s.group != nil {
		s.finishGroup()
	}
	s.finished = true
}
