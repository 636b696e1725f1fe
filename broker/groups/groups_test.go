package groups

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// machine applies commands at a clock the test moves, as replicas do.
type machine struct {
	t   *testing.T
	gs  *Groups
	now int64
}

func newMachine(t *testing.T) *machine { return &machine{t: t, gs: New(), now: 1000} }

func exists(topic string, partition int32) bool { return topic != "gone" && partition < 4 }

func (m *machine) apply(c Command) Result {
	m.t.Helper()
	m.now++
	r := m.gs.Apply(c, m.now, exists)
	// Every command must leave a state that a snapshot carries whole.
	js, err := json.Marshal(m.gs)
	if err != nil {
		m.t.Fatal(err)
	}
	back := New()
	if err := json.Unmarshal(js, back); err != nil {
		m.t.Fatal(err)
	}
	if js2, _ := json.Marshal(back); !bytes.Equal(js, js2) {
		m.t.Fatalf("snapshot round trip differs:\n%s\n%s", js, js2)
	}
	return r
}

func consumerMeta(topics ...string) []byte {
	m := kmsg.NewConsumerMemberMetadata()
	m.Topics = topics
	return m.AppendTo(nil)
}

func joinCmd(group, member string, isNew bool, protos ...string) Command {
	j := &Join{MemberID: member, NewMember: isNew, SessionTimeoutMs: 10000, RebalanceTimeoutMs: 30000, ProtocolType: "consumer"}
	if len(protos) == 0 {
		protos = []string{"range"}
	}
	for _, p := range protos {
		j.Protocols = append(j.Protocols, Protocol{Name: p, Metadata: consumerMeta("t")})
	}
	return Command{Kind: KindJoin, Group: group, Join: j}
}

func (m *machine) join(group, member string, isNew bool, protos ...string) Result {
	m.t.Helper()
	return m.apply(joinCmd(group, member, isNew, protos...))
}

func (m *machine) group(name string) *Group {
	m.t.Helper()
	g := m.gs.Get(name)
	if g == nil {
		m.t.Fatalf("group %q does not exist", name)
	}
	return g
}

func wantErr(t *testing.T, got, want error) {
	t.Helper()
	if !errors.Is(got, want) && !(got == nil && want == nil) {
		t.Fatalf("error %v, want %v", got, want)
	}
}

// stableOf brings a group of the given new members to Stable at its next
// generation, the first member leading and assigning "a-"+id to each.
func (m *machine) stableOf(group string, ids ...string) {
	m.t.Helper()
	for _, id := range ids {
		if m.gs.Get(group) == nil || m.gs.Get(group).Member(id) == nil {
			if r := m.join(group, id, true); r.Err != nil {
				m.t.Fatal(r.Err)
			}
		} else if r := m.join(group, id, false); r.Err != nil {
			m.t.Fatal(r.Err)
		}
	}
	g := m.group(group)
	for _, mem := range g.Members {
		if g.State == PreparingRebalance && !mem.Joined {
			if r := m.join(group, mem.ID, false); r.Err != nil {
				m.t.Fatal(r.Err)
			}
		}
	}
	if g.State != CompletingRebalance {
		m.t.Fatalf("state %s after every member joined", g.State)
	}
	var as []Assignment
	for _, mem := range g.Members {
		as = append(as, Assignment{MemberID: mem.ID, Assignment: []byte("a-" + mem.ID)})
	}
	r := m.apply(Command{Kind: KindSync, Group: group, Sync: &Sync{MemberID: g.Leader, Generation: g.Generation, Assignments: as}})
	if r.Err != nil || g.State != Stable {
		m.t.Fatalf("leader's sync: %v, state %s", r.Err, g.State)
	}
}

func TestJoin_OneMember_CompletesInTheSameApply(t *testing.T) {
	m := newMachine(t)
	r := m.join("g", "m1", true)
	if r.Err != nil || r.Join.MemberID != "m1" || r.Join.FromGeneration != 0 {
		t.Fatalf("join: %+v", r)
	}
	g := m.group("g")
	if g.State != CompletingRebalance || g.Generation != 1 || g.Leader != "m1" || g.Protocol != "range" {
		t.Fatalf("group after join: %+v", g)
	}
	if g.Members[0].JoinedGeneration != 1 {
		t.Fatalf("member's joined generation %d", g.Members[0].JoinedGeneration)
	}
	resp := g.JoinResponseFor("m1")
	if len(resp.Members) != 1 || resp.Members[0].MemberID != "m1" {
		t.Fatalf("leader's join response: %+v", resp)
	}
	// A follower's sync waits, the leader's ends the rebalance.
	_, wait, err := m.gs.CheckSync("g", &Sync{MemberID: "m1", Generation: 1})
	if !wait || err != nil {
		t.Fatalf("sync before assignment: wait %v err %v", wait, err)
	}
	m.stableOf("g")
}

func TestJoin_SecondMember_RebalancesUntilTheFirstRejoins(t *testing.T) {
	m := newMachine(t)
	m.stableOf("g", "m1")
	r := m.join("g", "m2", true)
	g := m.group("g")
	if r.Err != nil || g.State != PreparingRebalance || r.Join.FromGeneration != 1 {
		t.Fatalf("second join: %+v, state %s", r, g.State)
	}
	wantErr(t, m.gs.CheckHeartbeat("g", "m1", "", 1), kerr.RebalanceInProgress)
	// m1 rejoins: every member has joined, the join completes.
	if r := m.join("g", "m1", false); r.Err != nil || r.Join.Response != nil {
		t.Fatalf("rejoin: %+v", r)
	}
	if g.State != CompletingRebalance || g.Generation != 2 || g.Leader != "m1" {
		t.Fatalf("after rejoin: %+v", g)
	}
	if resp := g.JoinResponseFor("m1"); len(resp.Members) != 2 {
		t.Fatalf("leader told of %d members", len(resp.Members))
	}
	if resp := g.JoinResponseFor("m2"); len(resp.Members) != 0 || resp.Leader != "m1" {
		t.Fatalf("follower's response %+v", resp)
	}
}

func TestUnknownMember(t *testing.T) {
	m := newMachine(t)
	wantErr(t, m.join("g", "nobody", false).Err, kerr.UnknownMemberID)
	m.stableOf("g", "m1")
	wantErr(t, m.join("g", "nobody", false).Err, kerr.UnknownMemberID)
	wantErr(t, m.gs.CheckHeartbeat("g", "nobody", "", 1), kerr.UnknownMemberID)
	wantErr(t, m.gs.CheckHeartbeat("other", "m1", "", 1), kerr.UnknownMemberID)
	_, _, err := m.gs.CheckSync("g", &Sync{MemberID: "nobody", Generation: 1})
	wantErr(t, err, kerr.UnknownMemberID)
	r := m.apply(Command{Kind: KindCommit, Group: "g", Commit: &Commit{MemberID: "nobody", Generation: 1, Offsets: []PartitionOffset{{Topic: "t", Offset: 1}}}})
	wantErr(t, r.Err, kerr.UnknownMemberID)
	r = m.apply(Command{Kind: KindLeave, Group: "g", Leave: []LeavingMember{{MemberID: "nobody"}}})
	wantErr(t, r.Errs[0], kerr.UnknownMemberID)
}

func TestStaleGeneration(t *testing.T) {
	m := newMachine(t)
	m.stableOf("g", "m1")
	m.join("g", "m2", true)
	m.join("g", "m1", false)
	m.stableOf("g")
	g := m.group("g")
	if g.Generation != 2 {
		t.Fatalf("generation %d", g.Generation)
	}
	wantErr(t, m.gs.CheckHeartbeat("g", "m1", "", 1), kerr.IllegalGeneration)
	_, _, err := m.gs.CheckSync("g", &Sync{MemberID: "m2", Generation: 1})
	wantErr(t, err, kerr.IllegalGeneration)
	r := m.apply(Command{Kind: KindCommit, Group: "g", Commit: &Commit{MemberID: "m1", Generation: 1, Offsets: []PartitionOffset{{Topic: "t", Offset: 1}}}})
	wantErr(t, r.Err, kerr.IllegalGeneration)
	r = m.apply(Command{Kind: KindCommit, Group: "g", Commit: &Commit{MemberID: "m1", Generation: 2, Offsets: []PartitionOffset{{Topic: "t", Offset: 7}}}})
	if r.Err != nil || r.Errs[0] != nil || g.Offsets["t"][0].Offset != 7 || g.Commits != 1 {
		t.Fatalf("commit of the current generation: %+v, offsets %v", r, g.Offsets)
	}
	// A commit to an unknown group with a generation is stale too.
	r = m.apply(Command{Kind: KindCommit, Group: "nope", Commit: &Commit{MemberID: "x", Generation: 3}})
	wantErr(t, r.Err, kerr.IllegalGeneration)
}

func TestStaticMember_ReplacesItself_OldIDFenced(t *testing.T) {
	m := newMachine(t)
	c := joinCmd("g", "s-1", true)
	c.Join.InstanceID = "inst"
	m.apply(c)
	m.stableOf("g", "m2")
	g := m.group("g")
	gen := g.Generation
	if g.Leader != "s-1" || g.State != Stable {
		t.Fatalf("group %+v", g)
	}
	// The static member restarts: no member id, its instance id.
	c = joinCmd("g", "s-2", true)
	c.Join.InstanceID = "inst"
	r := m.apply(c)
	if r.Err != nil || r.Join.Response == nil {
		t.Fatalf("static rejoin: %+v", r)
	}
	resp := r.Join.Response
	if resp.MemberID != "s-2" || resp.Generation != gen || resp.Leader != "s-1" || len(resp.Members) != 0 {
		t.Fatalf("static rejoin answered %+v", resp)
	}
	if g.State != Stable || g.Leader != "s-2" {
		t.Fatalf("group after static rejoin %+v", g)
	}
	wantErr(t, m.gs.CheckHeartbeat("g", "s-1", "inst", gen), kerr.FencedInstanceID)
	wantErr(t, m.join("g", "s-1", false).Err, kerr.UnknownMemberID)
	c = joinCmd("g", "s-1", false)
	c.Join.InstanceID = "inst"
	wantErr(t, m.apply(c).Err, kerr.FencedInstanceID)
	r = m.apply(Command{Kind: KindCommit, Group: "g", Commit: &Commit{MemberID: "s-1", InstanceID: "inst", Generation: gen}})
	wantErr(t, r.Err, kerr.FencedInstanceID)
	wantErr(t, m.gs.CheckHeartbeat("g", "s-2", "inst", gen), nil)
	a, wait, err := m.gs.CheckSync("g", &Sync{MemberID: "s-2", InstanceID: "inst", Generation: gen})
	if err != nil || wait || string(a) != "a-s-1" {
		t.Fatalf("new id's sync: %q %v %v", a, wait, err)
	}
	// Leaving by instance id with the old member id is fenced; with the
	// new one it leaves.
	r = m.apply(Command{Kind: KindLeave, Group: "g", Leave: []LeavingMember{{MemberID: "s-1", InstanceID: "inst"}}})
	wantErr(t, r.Errs[0], kerr.FencedInstanceID)
	r = m.apply(Command{Kind: KindLeave, Group: "g", Leave: []LeavingMember{{InstanceID: "inst"}}})
	if r.Errs[0] != nil || g.Member("s-2") != nil || g.State != PreparingRebalance || g.Leader != "m2" {
		t.Fatalf("leave by instance id: %+v, group %+v", r, g)
	}
}

func TestRejoinDuringRebalance_TakesNewProtocols(t *testing.T) {
	m := newMachine(t)
	m.stableOf("g", "m1", "m2")
	gen := m.group("g").Generation
	m.join("g", "m3", true, "range", "sticky")
	g := m.group("g")
	if g.State != PreparingRebalance {
		t.Fatal(g.State)
	}
	// m1 joins twice while the rebalance waits for m2, the second time
	// with another protocol list.
	m.join("g", "m1", false, "range", "sticky")
	m.join("g", "m1", false, "sticky", "range")
	if g.State != PreparingRebalance || !g.Member("m1").Joined {
		t.Fatalf("group %+v", g)
	}
	m.join("g", "m2", false, "sticky", "range")
	if g.State != CompletingRebalance || g.Generation != gen+1 {
		t.Fatalf("group %+v", g)
	}
	// m1 and m2 prefer sticky; m3 votes range. Sticky wins.
	if g.Protocol != "sticky" {
		t.Fatalf("protocol %q", g.Protocol)
	}
	// A member whose protocols nobody else supports cannot join.
	wantErr(t, m.join("g", "m4", true, "roundrobin").Err, kerr.InconsistentGroupProtocol)
}

func TestLeaderLeaves_NextMemberLeads(t *testing.T) {
	m := newMachine(t)
	m.stableOf("g", "m1", "m2", "m3")
	g := m.group("g")
	r := m.apply(Command{Kind: KindLeave, Group: "g", Leave: []LeavingMember{{MemberID: "m1"}}})
	if r.Errs[0] != nil || g.Leader != "m2" || g.State != PreparingRebalance {
		t.Fatalf("leader left: %+v, %+v", r, g)
	}
	m.join("g", "m3", false)
	m.join("g", "m2", false)
	if g.State != CompletingRebalance || g.Leader != "m2" || len(g.Members) != 2 {
		t.Fatalf("group %+v", g)
	}
}

func TestRebalanceTimeout_RemovesMembersThatDidNotJoin(t *testing.T) {
	m := newMachine(t)
	m.stableOf("g", "m1", "m2")
	g := m.group("g")
	m.join("g", "m2", false) // m2 is not the leader, but changes nothing: answered at once
	if g.State != Stable {
		t.Fatalf("a follower's join with the same protocols changed the group: %s", g.State)
	}
	m.join("g", "m1", false) // the leader's join rebalances
	if g.State != PreparingRebalance {
		t.Fatal(g.State)
	}
	// A complete_join for another generation is stale.
	m.apply(Command{Kind: KindCompleteJoin, Group: "g", Generation: g.Generation + 1})
	if g.State != PreparingRebalance {
		t.Fatal("stale complete_join applied")
	}
	m.apply(Command{Kind: KindCompleteJoin, Group: "g", Generation: g.Generation})
	if g.State != CompletingRebalance || len(g.Members) != 1 || g.Members[0].ID != "m1" {
		t.Fatalf("group %+v", g)
	}
}

func TestInitialDelay_WaitsForCompleteJoin(t *testing.T) {
	m := newMachine(t)
	c := joinCmd("g", "m1", true)
	c.Join.InitialDelay = true
	m.apply(c)
	c = joinCmd("g", "m2", true)
	c.Join.InitialDelay = true
	m.apply(c)
	g := m.group("g")
	if g.State != PreparingRebalance || !g.DelayedJoin {
		t.Fatalf("group %+v", g)
	}
	m.apply(Command{Kind: KindCompleteJoin, Group: "g", Generation: 0})
	if g.State != CompletingRebalance || g.Generation != 1 || len(g.Members) != 2 || g.DelayedJoin {
		t.Fatalf("group %+v", g)
	}
}

func TestExpireMembers_LastOneLeavesAnEmptyGroup(t *testing.T) {
	m := newMachine(t)
	m.stableOf("g", "m1", "m2")
	g := m.group("g")
	m.apply(Command{Kind: KindExpireMembers, Group: "g", Members: []string{"m2", "gone"}})
	if g.State != PreparingRebalance || len(g.Members) != 1 {
		t.Fatalf("group %+v", g)
	}
	m.apply(Command{Kind: KindExpireMembers, Group: "g", Members: []string{"m1"}})
	if g.State != Empty || g.Generation != 3 || g.Leader != "" || g.Protocol != "" {
		t.Fatalf("group %+v", g)
	}
	// An empty group with no offsets is dropped when offsets expire.
	m.apply(Command{Kind: KindExpireOffsets, RetentionMs: 1})
	if m.gs.Get("g") != nil {
		t.Fatal("empty group without offsets kept")
	}
}

func TestEmptyGroup_OffsetsExpireAfterRetention(t *testing.T) {
	m := newMachine(t)
	m.stableOf("g", "m1")
	g := m.group("g")
	m.apply(Command{Kind: KindCommit, Group: "g", Commit: &Commit{MemberID: "m1", Generation: 1, Offsets: []PartitionOffset{{Topic: "t", Partition: 1, Offset: 5}}}})
	m.apply(Command{Kind: KindLeave, Group: "g", Leave: []LeavingMember{{MemberID: "m1"}}})
	if g.State != Empty {
		t.Fatal(g.State)
	}
	since := g.StateSinceMs
	m.now = since + 500
	m.apply(Command{Kind: KindExpireOffsets, RetentionMs: 1000})
	if g.OffsetCount() != 1 {
		t.Fatal("offsets expired before the retention")
	}
	m.now = since + 1000
	m.apply(Command{Kind: KindExpireOffsets, RetentionMs: 1000})
	if m.gs.Get("g") != nil {
		t.Fatal("group kept after its offsets expired")
	}
}

func TestSimpleCommits(t *testing.T) {
	m := newMachine(t)
	r := m.apply(Command{Kind: KindCommit, Group: "simple", Commit: &Commit{Generation: -1, Offsets: []PartitionOffset{
		{Topic: "t", Partition: 0, Offset: 3}, {Topic: "gone", Partition: 0, Offset: 1}, {Topic: "t", Partition: 9, Offset: 1},
		{Topic: "t", Partition: 1, Offset: 1, Metadata: string(make([]byte, MaxOffsetMetadata+1))},
	}}})
	if r.Err != nil || r.Errs[0] != nil {
		t.Fatalf("simple commit: %+v", r)
	}
	wantErr(t, r.Errs[1], kerr.UnknownTopicOrPartition)
	wantErr(t, r.Errs[2], kerr.UnknownTopicOrPartition)
	wantErr(t, r.Errs[3], kerr.OffsetMetadataTooLarge)
	g := m.group("simple")
	if g.State != Empty || g.OffsetCount() != 1 || g.Commits != 1 {
		t.Fatalf("group %+v", g)
	}
	// A commit that stores nothing creates no group.
	m.apply(Command{Kind: KindCommit, Group: "nothing", Commit: &Commit{Generation: -1, Offsets: []PartitionOffset{{Topic: "gone"}}}})
	if m.gs.Get("nothing") != nil {
		t.Fatal("a group was made by a commit that stored nothing")
	}
	// Offsets of a group without protocol type expire by commit time.
	m.now = g.Offsets["t"][0].CommitTimeMs + 10
	m.apply(Command{Kind: KindExpireOffsets, RetentionMs: 5})
	if m.gs.Get("simple") != nil {
		t.Fatal("simple group's old offsets kept")
	}
	// A simple commit to a group with members is refused.
	m.stableOf("g", "m1")
	r = m.apply(Command{Kind: KindCommit, Group: "g", Commit: &Commit{Generation: -1, Offsets: []PartitionOffset{{Topic: "t"}}}})
	wantErr(t, r.Err, kerr.UnknownMemberID)
}

func TestCommitWhileCompletingRebalance(t *testing.T) {
	m := newMachine(t)
	m.join("g", "m1", true)
	r := m.apply(Command{Kind: KindCommit, Group: "g", Commit: &Commit{MemberID: "m1", Generation: 1, Offsets: []PartitionOffset{{Topic: "t"}}}})
	wantErr(t, r.Err, kerr.RebalanceInProgress)
}

func TestDeleteGroupsAndOffsets(t *testing.T) {
	m := newMachine(t)
	m.stableOf("g", "m1")
	m.apply(Command{Kind: KindCommit, Group: "g", Commit: &Commit{MemberID: "m1", Generation: 1, Offsets: []PartitionOffset{{Topic: "t", Offset: 1}, {Topic: "u", Offset: 2}}}})
	r := m.apply(Command{Kind: KindDeleteGroups, Groups: []string{"g", "nope"}})
	wantErr(t, r.Errs[0], kerr.NonEmptyGroup)
	wantErr(t, r.Errs[1], kerr.GroupIDNotFound)
	// The member subscribes to t, not u.
	r = m.apply(Command{Kind: KindDeleteOffsets, Group: "g", Partitions: []TopicPartition{{Topic: "t"}, {Topic: "u"}}})
	wantErr(t, r.Errs[0], kerr.GroupSubscribedToTopic)
	if r.Errs[1] != nil || m.group("g").OffsetCount() != 1 {
		t.Fatalf("delete offsets %+v", r)
	}
	wantErr(t, m.apply(Command{Kind: KindDeleteOffsets, Group: "nope"}).Err, kerr.GroupIDNotFound)
	m.apply(Command{Kind: KindLeave, Group: "g", Leave: []LeavingMember{{MemberID: "m1"}}})
	r = m.apply(Command{Kind: KindDeleteGroups, Groups: []string{"g"}})
	if r.Errs[0] != nil || m.gs.Get("g") != nil {
		t.Fatalf("delete of an empty group: %+v", r)
	}
}

func TestDeleteTopic_DropsItsOffsets(t *testing.T) {
	m := newMachine(t)
	m.apply(Command{Kind: KindCommit, Group: "a", Commit: &Commit{Generation: -1, Offsets: []PartitionOffset{{Topic: "t"}, {Topic: "u"}}}})
	m.apply(Command{Kind: KindCommit, Group: "b", Commit: &Commit{Generation: -1, Offsets: []PartitionOffset{{Topic: "t"}}}})
	m.gs.DeleteTopic("t")
	if m.group("a").OffsetCount() != 1 || m.gs.Get("b") != nil {
		t.Fatalf("after delete: a %+v, b %v", m.group("a").Offsets, m.gs.Get("b"))
	}
}

func TestMalformedCommands(t *testing.T) {
	m := newMachine(t)
	for _, k := range []Kind{KindJoin, KindSync, KindCommit, "bogus"} {
		wantErr(t, m.apply(Command{Kind: k, Group: "g"}).Err, kerr.InvalidRequest)
	}
}

func TestFlood_ManyMembersJoinOneGeneration(t *testing.T) {
	m := newMachine(t)
	m.stableOf("g", "m0")
	for i := range 50 {
		id := "n" + string(rune('A'+i%26)) + string(rune('a'+i/26))
		if r := m.join("g", id, true); r.Err != nil {
			t.Fatal(r.Err)
		}
	}
	g := m.group("g")
	if g.State != PreparingRebalance {
		t.Fatal(g.State)
	}
	m.join("g", "m0", false)
	if g.State != CompletingRebalance || g.Generation != 2 || len(g.Members) != 51 {
		t.Fatalf("state %s generation %d members %d", g.State, g.Generation, len(g.Members))
	}
}
