package coordinator_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/raftline/raftline/broker/cluster/clusterfake"
	"github.com/raftline/raftline/broker/groups"
	"github.com/raftline/raftline/broker/groups/coordinator"
)

// The coordinator runs here on clusterfake: raftcluster's own Cluster with
// every entry applied at once, so its timers and waits are what is tested.

func fake(t *testing.T, cfg coordinator.Config) *clusterfake.Cluster {
	c := clusterfake.New(1)
	if cfg.MinSessionTimeout == 0 {
		cfg.MinSessionTimeout = 100 * time.Millisecond
	}
	cfg.SweepInterval = 20 * time.Millisecond
	c.ServeGroupsFor(t, cfg)
	return c
}

func join(id string, sessionMs, rebalanceMs int32) groups.Join {
	return groups.Join{MemberID: id, ClientID: "c", SessionTimeoutMs: sessionMs, RebalanceTimeoutMs: rebalanceMs,
		ProtocolType: "consumer", Protocols: []groups.Protocol{{Name: "range"}}}
}

type joined struct {
	resp *groups.JoinResponse
	err  error
}

func joinAsync(c *clusterfake.Cluster, group string, j groups.Join) <-chan joined {
	out := make(chan joined, 1)
	go func() {
		resp, err := c.JoinGroup(context.Background(), group, j, false)
		out <- joined{resp, err}
	}()
	return out
}

func await(t *testing.T, ch <-chan joined, within time.Duration) joined {
	t.Helper()
	select {
	case j := <-ch:
		return j
	case <-time.After(within):
		t.Fatalf("no answer within %v", within)
	}
	return joined{}
}

func TestCoordinator_RebalanceTimeout_CompletesWithoutTheMemberThatDidNotRejoin(t *testing.T) {
	c := fake(t, coordinator.Config{})
	first := await(t, joinAsync(c, "g", join("", 10000, 300)), 5*time.Second)
	if first.err != nil || first.resp.Generation != 1 {
		t.Fatalf("first join: %+v %v", first.resp, first.err)
	}
	// The second member's join waits for the first to rejoin; it never
	// does, so the rebalance timeout (300ms) ends the join phase.
	second := joinAsync(c, "g", join("", 10000, 300))
	select {
	case j := <-second:
		t.Fatalf("answered before the rebalance timeout: %+v %v", j.resp, j.err)
	case <-time.After(100 * time.Millisecond):
	}
	j := await(t, second, 5*time.Second)
	if j.err != nil || j.resp.Generation != 2 || j.resp.Leader != j.resp.MemberID || len(j.resp.Members) != 1 {
		t.Fatalf("second join: %+v %v", j.resp, j.err)
	}
	if err := c.Heartbeat("g", first.resp.MemberID, "", 1); !errors.Is(err, kerr.UnknownMemberID) {
		t.Fatalf("the member left behind: %v, want UNKNOWN_MEMBER_ID", err)
	}
}

func TestCoordinator_LeadershipLost_WaitingJoinAnsweredNotCoordinator(t *testing.T) {
	c := fake(t, coordinator.Config{})
	first := await(t, joinAsync(c, "g", join("", 10000, 60000)), 5*time.Second)
	if first.err != nil {
		t.Fatal(first.err)
	}
	waiting := joinAsync(c, "g", join("", 10000, 60000))
	time.Sleep(50 * time.Millisecond) // let it reach its wait; the answer is what is checked
	c.SetLeader(2)
	if j := await(t, waiting, 2*time.Second); !errors.Is(j.err, kerr.NotCoordinator) {
		t.Fatalf("waiting join after leadership moved: %v, want NOT_COORDINATOR", j.err)
	}
	if err := c.Heartbeat("g", first.resp.MemberID, "", 1); !errors.Is(err, kerr.NotCoordinator) {
		t.Fatalf("heartbeat on a node that does not lead: %v", err)
	}
	// Leadership back: members get a whole session from now.
	c.SetLeader(1)
	if err := c.Heartbeat("g", first.resp.MemberID, "", 1); err != nil && !errors.Is(err, kerr.RebalanceInProgress) {
		t.Fatalf("heartbeat on the leader again: %v", err)
	}
}

func TestCoordinator_SessionExpires_MemberRemoved(t *testing.T) {
	c := fake(t, coordinator.Config{})
	j := await(t, joinAsync(c, "g", join("", 200, 1000)), 5*time.Second)
	if j.err != nil {
		t.Fatal(j.err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		var members int
		c.DescribeGroup("g", func(g *groups.Group) { members = len(g.Members) })
		if members == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the member's session never expired")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := c.Heartbeat("g", j.resp.MemberID, "", j.resp.Generation); !errors.Is(err, kerr.UnknownMemberID) {
		t.Fatalf("heartbeat after the session: %v", err)
	}
}

func TestCoordinator_MemberIDRequired_ThenJoins(t *testing.T) {
	c := fake(t, coordinator.Config{})
	resp, err := c.JoinGroup(context.Background(), "g", join("", 10000, 1000), true)
	if !errors.Is(err, kerr.MemberIDRequired) || resp.MemberID == "" {
		t.Fatalf("first v4 join: %+v %v", resp, err)
	}
	// An id the coordinator never gave is unknown.
	if _, err := c.JoinGroup(context.Background(), "g", join("made-up", 10000, 1000), true); !errors.Is(err, kerr.UnknownMemberID) {
		t.Fatalf("made-up id: %v", err)
	}
	again, err := c.JoinGroup(context.Background(), "g", join(resp.MemberID, 10000, 1000), true)
	if err != nil || again.MemberID != resp.MemberID || again.Generation != 1 {
		t.Fatalf("join with the given id: %+v %v", again, err)
	}
	if _, err := c.JoinGroup(context.Background(), "g", join("", 10, 1000), false); !errors.Is(err, kerr.InvalidSessionTimeout) {
		t.Fatalf("session timeout below the minimum: %v", err)
	}
}

func TestCoordinator_InitialDelay_GathersMembersIntoOneGeneration(t *testing.T) {
	c := fake(t, coordinator.Config{InitialRebalanceDelay: 300 * time.Millisecond})
	a := joinAsync(c, "g", join("", 10000, 5000))
	b := joinAsync(c, "g", join("", 10000, 5000))
	ja, jb := await(t, a, 5*time.Second), await(t, b, 5*time.Second)
	if ja.err != nil || jb.err != nil || ja.resp.Generation != 1 || jb.resp.Generation != 1 {
		t.Fatalf("joins: %+v %v / %+v %v", ja.resp, ja.err, jb.resp, jb.err)
	}
}
