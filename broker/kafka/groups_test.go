package kafka_test

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/raftline/raftline/broker/cluster"
	"github.com/raftline/raftline/broker/clustertest"
	"github.com/raftline/raftline/broker/server"
)

// produceValues produces each value to topic with acks=all, keyed by the
// value so records spread over the partitions.
func produceValues(t *testing.T, cl *kgo.Client, topic string, values ...string) {
	t.Helper()
	var recs []*kgo.Record
	for _, v := range values {
		recs = append(recs, &kgo.Record{Topic: topic, Key: []byte(v), Value: []byte(v)})
	}
	if err := cl.ProduceSync(clustertest.Ctx(t), recs...).FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}
}

func valueRange(prefix string, from, to int) []string {
	var out []string
	for i := from; i < to; i++ {
		out = append(out, prefix+strconv.Itoa(i))
	}
	return out
}

// groupConsumer is a kgo group member that records what it consumes.
type groupConsumer struct {
	cl *kgo.Client

	mu       sync.Mutex
	seen     map[string]int
	assigned map[int32]bool
}

func newGroupConsumer(t *testing.T, c *clustertest.Cluster, group, topic string, opts ...kgo.Opt) *groupConsumer {
	g := &groupConsumer{seen: map[string]int{}, assigned: map[int32]bool{}}
	g.cl = c.Client(append([]kgo.Opt{
		kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxWait(200 * time.Millisecond),
		kgo.DisableAutoCommit(),
		kgo.OnPartitionsAssigned(func(_ context.Context, _ *kgo.Client, m map[string][]int32) {
			g.mu.Lock()
			defer g.mu.Unlock()
			for _, p := range m[topic] {
				g.assigned[p] = true
			}
		}),
		kgo.OnPartitionsRevoked(func(ctx context.Context, cl *kgo.Client, m map[string][]int32) {
			// What was consumed of a partition going to another member
			// is committed first, as applications do.
			cl.CommitUncommittedOffsets(ctx)
			g.mu.Lock()
			defer g.mu.Unlock()
			for _, p := range m[topic] {
				delete(g.assigned, p)
			}
		}),
		kgo.OnPartitionsLost(func(_ context.Context, _ *kgo.Client, m map[string][]int32) {
			g.mu.Lock()
			defer g.mu.Unlock()
			for _, p := range m[topic] {
				delete(g.assigned, p)
			}
		}),
	}, opts...)...)
	return g
}

// poll consumes what is there for up to d.
func (g *groupConsumer) poll(d time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	fs := g.cl.PollFetches(ctx)
	g.mu.Lock()
	defer g.mu.Unlock()
	fs.EachRecord(func(r *kgo.Record) { g.seen[string(r.Value)]++ })
}

func (g *groupConsumer) count() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.seen)
}

func (g *groupConsumer) partitions() []int32 {
	g.mu.Lock()
	defer g.mu.Unlock()
	var out []int32
	for p := range g.assigned {
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// consumeUntil polls until want values were seen, failing after the
// deadline with what was seen.
func (g *groupConsumer) consumeUntil(t *testing.T, want int, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for g.count() < want {
		if time.Now().After(deadline) {
			t.Fatalf("consumed %d distinct records in %v, want %d", g.count(), timeout, want)
		}
		g.poll(500 * time.Millisecond)
	}
}

func (g *groupConsumer) commit(t *testing.T) {
	t.Helper()
	if err := g.cl.CommitUncommittedOffsets(clustertest.Ctx(t)); err != nil {
		t.Fatalf("commit: %v", err)
	}
}

// groupOn reads a group as node n has applied it.
func groupOn(n *clustertest.Node, name string) (cluster.ConsumerGroup, bool) {
	for _, g := range n.Server().Cluster.ConsumerGroups() {
		if g.Name == name {
			return g, true
		}
	}
	return cluster.ConsumerGroup{}, false
}

func committedSum(g cluster.ConsumerGroup) int64 {
	var n int64
	for _, o := range g.Offsets {
		n += o.Offset
	}
	return n
}

func TestGroup_KgoConsumerCommitsStops_NextOneResumesFromCommitted(t *testing.T) {
	c := clustertest.Start(t, clustertest.Options{})
	c.CreateTopic("orders", 3)
	producer := c.Client()
	produceValues(t, producer, "orders", valueRange("first-", 0, 30)...)

	a := newGroupConsumer(t, c, "billing", "orders")
	a.consumeUntil(t, 30, 30*time.Second)
	a.commit(t)
	a.cl.Close() // leaves the group

	// Every node has applied the same committed offsets: 30 records in.
	clustertest.WaitFor(t, 10*time.Second, "every node to hold the committed offsets and an empty group", func() bool {
		for _, n := range c.Nodes {
			g, ok := groupOn(n, "billing")
			if !ok || committedSum(g) != 30 || g.State != "Empty" || g.Commits == 0 || g.ProtocolType != "consumer" {
				return false
			}
		}
		return true
	})

	produceValues(t, producer, "orders", valueRange("second-", 0, 20)...)
	b := newGroupConsumer(t, c, "billing", "orders")
	b.consumeUntil(t, 20, 30*time.Second)
	b.poll(300 * time.Millisecond)
	for v, n := range b.seen {
		if n != 1 || len(v) < 7 || v[:7] != "second-" {
			t.Fatalf("the resumed consumer read %q %d times: it must start at the committed offsets", v, n)
		}
	}
	if b.count() != 20 {
		t.Fatalf("resumed consumer read %d records, want the 20 new ones", b.count())
	}
}

func TestGroup_TwoMembersShare_ThirdJoinsAndTheyRebalance(t *testing.T) {
	c := clustertest.Start(t, clustertest.Options{})
	c.CreateTopic("events", 3)
	produceValues(t, c.Client(), "events", valueRange("e-", 0, 30)...)

	members := []*groupConsumer{newGroupConsumer(t, c, "shared", "events"), newGroupConsumer(t, c, "shared", "events")}
	// shares reports whether the members' assignments split the three
	// partitions between them, each holding at least one.
	shares := func(ms []*groupConsumer) error {
		seen := map[int32]int{}
		for i, m := range ms {
			ps := m.partitions()
			if len(ps) == 0 {
				return fmt.Errorf("member %d has no partition", i)
			}
			for _, p := range ps {
				seen[p]++
			}
		}
		if len(seen) != 3 {
			return fmt.Errorf("partitions assigned: %v", seen)
		}
		for p, n := range seen {
			if n != 1 {
				return fmt.Errorf("partition %d assigned %d times", p, n)
			}
		}
		return nil
	}
	pollAll := func() {
		var wg sync.WaitGroup
		for _, m := range members {
			wg.Add(1)
			go func() { defer wg.Done(); m.poll(200 * time.Millisecond) }()
		}
		wg.Wait()
	}
	clustertest.Wait(t, 30*time.Second, "two members to share the partitions", func() error {
		pollAll()
		return shares(members)
	})
	members = append(members, newGroupConsumer(t, c, "shared", "events"))
	clustertest.Wait(t, 30*time.Second, "three members to hold one partition each", func() error {
		pollAll()
		return shares(members)
	})
	for i, m := range members {
		if n := len(m.partitions()); n != 1 {
			t.Fatalf("member %d holds %d partitions", i, n)
		}
	}
	g, _ := groupOn(c.Leader(), "shared")
	if g.Members != 3 || g.State != "Stable" || g.Protocol == "" || g.Generation < 2 {
		t.Fatalf("group after the third joined: %+v", g)
	}
}

func TestGroup_LeaderKilled_CommittedOffsetsSurviveAndTheGroupGoesOn(t *testing.T) {
	c := clustertest.Start(t, clustertest.Options{})
	c.CreateTopic("ledger", 2)
	producer := c.Client(kgo.RecordRetries(100), kgo.RequestRetries(100))
	produceValues(t, producer, "ledger", valueRange("before-", 0, 20)...)

	m := newGroupConsumer(t, c, "auditors", "ledger", kgo.SessionTimeout(6*time.Second))
	m.consumeUntil(t, 20, 30*time.Second)
	m.commit(t)
	old := c.Leader()
	before, _ := groupOn(old, "auditors")
	if committedSum(before) != 20 {
		t.Fatalf("committed before the failover: %+v", before)
	}

	c.Kill(old)
	var leader *clustertest.Node
	clustertest.WaitFor(t, 20*time.Second, "a new leader", func() bool {
		leader = c.Leader()
		return leader != nil && leader != old
	})
	// The new leader answers OffsetFetch with the committed offsets.
	adm := kadm.NewClient(c.Client())
	clustertest.Wait(t, 20*time.Second, "the new coordinator to serve the committed offsets", func() error {
		offs, err := adm.FetchOffsets(clustertest.Ctx(t), "auditors")
		if err != nil {
			return err
		}
		var sum int64
		offs.Each(func(o kadm.OffsetResponse) { sum += o.At })
		if sum != 20 {
			return fmt.Errorf("committed offsets sum to %d, want 20", sum)
		}
		return nil
	})

	// The member finds the new coordinator and goes on consuming.
	produceValues(t, producer, "ledger", valueRange("after-", 0, 10)...)
	m.consumeUntil(t, 30, 60*time.Second)
	m.commit(t)
	clustertest.WaitFor(t, 20*time.Second, "the group to commit on the new leader", func() bool {
		g, ok := groupOn(leader, "auditors")
		return ok && committedSum(g) == 30 && g.Members == 1
	})
}

// --- Protocol edge cases, with raw requests to the coordinator. ---

// member is one raw protocol client with its own connections: a JoinGroup
// waiting for its rebalance holds only its own.
type member struct {
	t     *testing.T
	cl    *kgo.Client
	node  int32
	group string
	id    string
	inst  *string
	gen   int32
}

func newMember(t *testing.T, c *clustertest.Cluster, group string) *member {
	return &member{t: t, cl: c.Client(), node: c.Leader().ID, group: group}
}

func (m *member) request(req kmsg.Request) (kmsg.Response, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return m.cl.Broker(int(m.node)).Request(ctx, req)
}

func (m *member) must(req kmsg.Request) kmsg.Response {
	m.t.Helper()
	resp, err := m.request(req)
	if err != nil {
		m.t.Fatalf("%T: %v", req, err)
	}
	return resp
}

func joinRequest(group, id string, inst *string, sessionMs int32) *kmsg.JoinGroupRequest {
	req := kmsg.NewPtrJoinGroupRequest()
	req.Group, req.MemberID, req.InstanceID = group, id, inst
	req.SessionTimeoutMillis, req.RebalanceTimeoutMillis = sessionMs, 10000
	req.ProtocolType = "consumer"
	p := kmsg.NewJoinGroupRequestProtocol()
	p.Name = "range"
	meta := kmsg.NewConsumerMemberMetadata()
	meta.Topics = []string{"t"}
	p.Metadata = meta.AppendTo(nil)
	req.Protocols = append(req.Protocols, p)
	return req
}

// join joins with the member's id (empty at first: it takes the one
// MEMBER_ID_REQUIRED gives it) and returns the answer.
func (m *member) join(sessionMs int32) *kmsg.JoinGroupResponse {
	m.t.Helper()
	resp := m.must(joinRequest(m.group, m.id, m.inst, sessionMs)).(*kmsg.JoinGroupResponse)
	if errors.Is(kerr.ErrorForCode(resp.ErrorCode), kerr.MemberIDRequired) {
		m.id = resp.MemberID
		resp = m.must(joinRequest(m.group, m.id, m.inst, sessionMs)).(*kmsg.JoinGroupResponse)
	}
	if resp.ErrorCode == 0 {
		m.id, m.gen = resp.MemberID, resp.Generation
	}
	return resp
}

func (m *member) sync(assignments map[string][]byte) *kmsg.SyncGroupResponse {
	m.t.Helper()
	req := kmsg.NewPtrSyncGroupRequest()
	req.Group, req.MemberID, req.Generation, req.InstanceID = m.group, m.id, m.gen, m.inst
	for id, a := range assignments {
		ga := kmsg.NewSyncGroupRequestGroupAssignment()
		ga.MemberID, ga.MemberAssignment = id, a
		req.GroupAssignment = append(req.GroupAssignment, ga)
	}
	return m.must(req).(*kmsg.SyncGroupResponse)
}

func (m *member) heartbeat(gen int32) error {
	m.t.Helper()
	req := kmsg.NewPtrHeartbeatRequest()
	req.Group, req.MemberID, req.Generation, req.InstanceID = m.group, m.id, gen, m.inst
	return kerr.ErrorForCode(m.must(req).(*kmsg.HeartbeatResponse).ErrorCode)
}

func (m *member) commit(gen int32, topic string, partition int32, offset int64) error {
	m.t.Helper()
	req := kmsg.NewPtrOffsetCommitRequest()
	req.Group, req.MemberID, req.Generation, req.InstanceID = m.group, m.id, gen, m.inst
	rt := kmsg.NewOffsetCommitRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewOffsetCommitRequestTopicPartition()
	rp.Partition, rp.Offset = partition, offset
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	return kerr.ErrorForCode(m.must(req).(*kmsg.OffsetCommitResponse).Topics[0].Partitions[0].ErrorCode)
}

func wantCode(t *testing.T, what string, got, want error) {
	t.Helper()
	if !errors.Is(got, want) && !(got == nil && want == nil) {
		t.Fatalf("%s: %v, want %v", what, got, want)
	}
}

func TestGroup_Edges_UnknownMemberStaleGenerationSessionTimeoutDeletedTopic(t *testing.T) {
	c := clustertest.Start(t, clustertest.Options{})
	c.CreateTopic("t", 2)
	a := newMember(t, c, "edges")

	// A member the group does not know.
	a.id = "nobody"
	wantCode(t, "heartbeat of an unknown member", a.heartbeat(0), kerr.UnknownMemberID)
	a.id = ""

	// One member forms generation 1 and takes its assignment.
	if r := a.join(1000); r.ErrorCode != 0 || r.LeaderID != a.id || len(r.Members) != 1 {
		t.Fatalf("join: %v, leader %q, members %d", kerr.ErrorForCode(r.ErrorCode), r.LeaderID, len(r.Members))
	}
	if r := a.sync(map[string][]byte{a.id: []byte("all of t")}); r.ErrorCode != 0 || string(r.MemberAssignment) != "all of t" {
		t.Fatalf("sync: %v %q", kerr.ErrorForCode(r.ErrorCode), r.MemberAssignment)
	}
	wantCode(t, "heartbeat", a.heartbeat(a.gen), nil)
	wantCode(t, "heartbeat of a stale generation", a.heartbeat(a.gen-1), kerr.IllegalGeneration)
	wantCode(t, "commit of a stale generation", a.commit(a.gen+5, "t", 0, 1), kerr.IllegalGeneration)
	wantCode(t, "commit", a.commit(a.gen, "t", 0, 7), nil)
	wantCode(t, "commit to a partition that does not exist", a.commit(a.gen, "t", 9, 1), kerr.UnknownTopicOrPartition)

	// A follower is not the coordinator.
	f := newMember(t, c, "edges")
	f.node, f.id = c.Followers()[0].ID, a.id
	wantCode(t, "heartbeat on a follower", f.heartbeat(a.gen), kerr.NotCoordinator)

	// The topic is deleted: its offsets go with it, and a commit to it is
	// refused.
	adm := kadm.NewClient(c.Client())
	if _, err := adm.DeleteTopics(clustertest.Ctx(t), "t"); err != nil {
		t.Fatal(err)
	}
	clustertest.WaitFor(t, 10*time.Second, "the deleted topic's offsets to go", func() bool {
		g, ok := groupOn(c.Leader(), "edges")
		return ok && len(g.Offsets) == 0
	})
	wantCode(t, "commit to a deleted topic", a.commit(a.gen, "t", 0, 1), kerr.UnknownTopicOrPartition)

	// No heartbeat for longer than the session: the member is removed,
	// and its next heartbeat is UNKNOWN_MEMBER_ID.
	clustertest.WaitFor(t, 15*time.Second, "the session to expire and the group to empty", func() bool {
		g, ok := groupOn(c.Leader(), "edges")
		return ok && g.Members == 0 && g.State == "Empty"
	})
	wantCode(t, "heartbeat after the session timeout", a.heartbeat(a.gen), kerr.UnknownMemberID)
}

func TestGroup_StaticMemberReplacesItself_OldIDFenced(t *testing.T) {
	c := clustertest.Start(t, clustertest.Options{})
	inst := kmsg.StringPtr("pod-0")
	old := newMember(t, c, "static")
	old.inst = inst
	if r := old.join(10000); r.ErrorCode != 0 {
		t.Fatalf("join: %v", kerr.ErrorForCode(r.ErrorCode))
	}
	old.sync(map[string][]byte{old.id: []byte("mine")})

	// The same instance restarts, without a member id.
	restarted := newMember(t, c, "static")
	restarted.inst = inst
	r := restarted.join(10000)
	if r.ErrorCode != 0 || restarted.id == old.id || r.Generation != old.gen {
		t.Fatalf("static rejoin: %v, id %q (old %q), generation %d (was %d)", kerr.ErrorForCode(r.ErrorCode), restarted.id, old.id, r.Generation, old.gen)
	}
	if s := restarted.sync(nil); s.ErrorCode != 0 || string(s.MemberAssignment) != "mine" {
		t.Fatalf("the restarted instance's sync: %v %q, want its assignment", kerr.ErrorForCode(s.ErrorCode), s.MemberAssignment)
	}
	wantCode(t, "the replaced id's heartbeat", old.heartbeat(old.gen), kerr.FencedInstanceID)
	wantCode(t, "the replaced id's commit", old.commit(old.gen, "t", 0, 1), kerr.FencedInstanceID)
	wantCode(t, "the new id's heartbeat", restarted.heartbeat(restarted.gen), nil)
}

func TestGroup_FloodOfJoins_OneGenerationNoStuckGroup(t *testing.T) {
	c := clustertest.Start(t, clustertest.Options{Configure: func(cfg *server.Config) {
		// Every join of the flood lands within the initial delay.
		cfg.Groups.InitialRebalanceDelay = 2 * time.Second
	}})
	const n = 50
	members := make([]*member, n)
	for i := range members {
		members[i] = newMember(t, c, "flood")
	}
	resps := make([]*kmsg.JoinGroupResponse, n)
	var wg sync.WaitGroup
	for i, m := range members {
		wg.Add(1)
		go func() { defer wg.Done(); resps[i] = m.join(10000) }()
	}
	wg.Wait()
	leaders := 0
	for i, r := range resps {
		if r.ErrorCode != 0 || r.Generation != resps[0].Generation {
			t.Fatalf("member %d: %v, generation %d, want %d", i, kerr.ErrorForCode(r.ErrorCode), r.Generation, resps[0].Generation)
		}
		if r.LeaderID == r.MemberID {
			leaders++
			if len(r.Members) != n {
				t.Fatalf("the leader was told of %d members, want %d", len(r.Members), n)
			}
		}
	}
	if leaders != 1 {
		t.Fatalf("%d leaders", leaders)
	}
	// Everyone syncs; the leader assigns each member its index.
	assignments := map[string][]byte{}
	for i, m := range members {
		assignments[m.id] = []byte(strconv.Itoa(i))
	}
	syncs := make([]*kmsg.SyncGroupResponse, n)
	for i, m := range members {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var a map[string][]byte
			if resps[i].LeaderID == m.id {
				a = assignments
			}
			syncs[i] = m.sync(a)
		}()
	}
	wg.Wait()
	for i, s := range syncs {
		if s.ErrorCode != 0 || string(s.MemberAssignment) != strconv.Itoa(i) {
			t.Fatalf("member %d's sync: %v %q", i, kerr.ErrorForCode(s.ErrorCode), s.MemberAssignment)
		}
	}
	g, _ := groupOn(c.Leader(), "flood")
	if g.State != "Stable" || g.Members != n {
		t.Fatalf("group after the flood: %+v", g)
	}
}

func TestGroup_AdminAPIs_DescribeListDeleteOffsetsAndGroups(t *testing.T) {
	c := clustertest.Start(t, clustertest.Options{})
	c.CreateTopic("a", 1)
	c.CreateTopic("b", 1)
	// kadm resolves topics through Metadata, from any node.
	clustertest.WaitFor(t, 10*time.Second, "every node to apply the topics", func() bool {
		for _, n := range c.Nodes {
			if len(n.Server().Cluster.Topics()) != 2 {
				return false
			}
		}
		return true
	})
	adm := kadm.NewClient(c.Client())
	ctx := clustertest.Ctx(t)

	// Simple commits (no member, generation -1), as kcat and tools send.
	offs := kadm.Offsets{}
	offs.AddOffset("a", 0, 5, -1)
	offs.AddOffset("b", 0, 9, -1)
	if resp, err := adm.CommitOffsets(ctx, "tools", offs); err != nil || resp.Error() != nil {
		t.Fatalf("simple commit: %v %v", err, resp.Error())
	}
	listed, err := adm.ListGroups(ctx)
	if err != nil || len(listed.Groups()) != 1 || listed.Groups()[0] != "tools" {
		t.Fatalf("list groups: %v %+v", err, listed)
	}
	described, err := adm.DescribeGroups(ctx, "tools")
	if err != nil || described["tools"].State != "Empty" {
		t.Fatalf("describe: %v %+v", err, described)
	}
	if resp, err := adm.DeleteOffsets(ctx, "tools", kadm.TopicsSet{"a": {0: {}}}); err != nil || resp.Error() != nil {
		t.Fatalf("delete offsets: %v %v", err, resp.Error())
	}
	fetched, err := adm.FetchOffsets(ctx, "tools")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := fetched.Lookup("a", 0); ok {
		t.Fatal("deleted offset still fetched")
	}
	if o, ok := fetched.Lookup("b", 0); !ok || o.At != 9 {
		t.Fatalf("b's offset: %+v", o)
	}
	deleted, err := adm.DeleteGroups(ctx, "tools", "missing")
	if err != nil {
		t.Fatal(err)
	}
	wantCode(t, "delete group", deleted["tools"].Err, nil)
	wantCode(t, "delete a missing group", deleted["missing"].Err, kerr.GroupIDNotFound)
	clustertest.WaitFor(t, 10*time.Second, "every node to drop the group", func() bool {
		for _, n := range c.Nodes {
			if _, ok := groupOn(n, "tools"); ok {
				return false
			}
		}
		return true
	})
}

func TestGroup_WholeClusterRestarted_GroupsFromSnapshotAndLog(t *testing.T) {
	c := clustertest.Start(t, clustertest.Options{})
	c.CreateTopic("kept", 2)
	clustertest.WaitFor(t, 10*time.Second, "every node to apply the topic", func() bool {
		for _, n := range c.Nodes {
			if _, ok := n.Server().Cluster.Topic("kept"); !ok {
				return false
			}
		}
		return true
	})
	adm := kadm.NewClient(c.Client())
	commit := func(group string, at int64) {
		offs := kadm.Offsets{}
		offs.AddOffset("kept", 1, at, -1)
		if resp, err := adm.CommitOffsets(clustertest.Ctx(t), group, offs); err != nil || resp.Error() != nil {
			t.Fatalf("commit %s: %v %v", group, err, resp.Error())
		}
	}
	// One group's commit is in a snapshot, the other's only in the log
	// after it.
	commit("in-snapshot", 11)
	for _, n := range c.Nodes {
		clustertest.Wait(t, 10*time.Second, "a snapshot", func() error {
			if _, ok := groupOn(n, "in-snapshot"); !ok {
				return errors.New("commit not applied yet")
			}
			return n.Server().Node.Snapshot()
		})
	}
	commit("in-log", 22)
	clustertest.WaitFor(t, 10*time.Second, "every node to apply the second commit", func() bool {
		for _, n := range c.Nodes {
			if _, ok := groupOn(n, "in-log"); !ok {
				return false
			}
		}
		return true
	})
	for _, n := range c.Nodes {
		c.Kill(n)
	}
	for _, n := range c.Nodes {
		c.StartNode(n)
	}
	adm = kadm.NewClient(c.Client())
	for group, want := range map[string]int64{"in-snapshot": 11, "in-log": 22} {
		clustertest.Wait(t, 30*time.Second, "the restarted cluster to serve "+group+"'s offset", func() error {
			offs, err := adm.FetchOffsets(clustertest.Ctx(t), group)
			if err != nil {
				return err
			}
			if o, ok := offs.Lookup("kept", 1); !ok || o.At != want {
				return fmt.Errorf("%s: %+v, want offset %d", group, o, want)
			}
			return nil
		})
	}
}
