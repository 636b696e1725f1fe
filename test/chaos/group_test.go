//go:build chaos && linux

package chaos

import (
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/raftline/raftline/test/chaos/harness"
)

// Scenario 14. Leader failover in the middle of a consumer group's life. Two
// members consume under load, committing every 500 ms; the leader, which
// coordinates every group, is SIGKILLed. What the group had committed must
// survive: the new coordinator answers OffsetFetch with offsets no lower, and
// (finish) no member assigned a partition after a commit was acknowledged
// reads a record below it again. The group rebalances on
// the new leader (members whose heartbeat to the dead coordinator failed
// rejoin) and every member consumes again; a third member then joins and
// the group rebalances; and (finish) every acknowledged record
// is read by the group at least once.
func TestChaos_GroupLeaderFailover_OffsetsSurviveGroupContinues(t *testing.T) {
	s := begin(t, "14 group failover", "SIGKILL the leader in the middle of a consumer group's life, restart it; a member joins after")
	c := s.cluster()
	p := s.loadWithGroup(300, 2)
	g := s.group
	leader := c.WaitLeader(10*time.Second, nil)

	// The last offsets the group committed before the kill, as the
	// coordinator answers them: one for every partition.
	before := g.WaitCommitted(t, 30*time.Second)

	killedAt := time.Now()
	how := c.Kill(leader)
	_, err := net.DialTimeout("tcp", leader.Kafka, time.Second)
	if err == nil {
		err = fmt.Errorf("%s still accepts connections", leader.Kafka)
	} else {
		err = nil
	}
	s.prove(fmt.Sprintf("leader %s with the group committed at %v; its Kafka port refuses connections", how, before), err)
	newLeader := c.WaitNewLeader(15*time.Second, c.Running(), leader)
	elected := time.Now()
	s.note("%v took over from %v", newLeader, leader)

	var after map[int32]int64
	harness.WaitFor(t, 30*time.Second, "the new coordinator to answer OffsetFetch", func() error {
		after, err = g.Committed(5*time.Second, c.Running()...)
		return err
	})
	s.figure("kill to the group's offsets read from the new coordinator", time.Since(killedAt), 0)
	for part, off := range before {
		if after[part] < off {
			s.fail("partition %d: the group had committed %d before the failover, the new coordinator says %d", part, off, after[part])
		}
	}

	// Members whose heartbeat to the dead coordinator failed rejoin; a
	// member whose retried heartbeat reached the new one first keeps its
	// generation, as in Kafka. Either way every member must consume again.
	consuming, err := g.ConsumingAgainAfter(killedAt, elected, 30*time.Second)
	if err != nil {
		s.fail("group %s did not consume again after the failover: %v", g.Name, err)
	} else {
		s.figure("group failover: kill to every member consuming again", consuming.Sub(killedAt), 0)
	}
	rejoined := 0
	for _, m := range g.Members() {
		if m.Reassigned(killedAt) {
			rejoined++
		}
	}
	s.count("group failover: members re-assigned (the others kept their generation)", rejoined)
	p.WaitMoreAcks(t, 500, 30*time.Second)

	joinedAt := time.Now()
	g.Join()
	consuming, err = g.RebalancedAfter(joinedAt, 30*time.Second)
	if err != nil {
		s.fail("group %s did not rebalance when a third member joined after the failover: %v", g.Name, err)
	} else {
		s.figure("join after the failover: to every member consuming again", consuming.Sub(joinedAt), 0)
	}

	c.Start(leader)
	c.WaitReady(30*time.Second, c.Nodes...)
	s.finish()
}
