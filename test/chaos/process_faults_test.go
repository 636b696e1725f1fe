//go:build chaos && linux

package chaos

import (
	"fmt"
	"net"
	"testing"
	"time"
)

// Scenario 1. The leader dies mid-load; a follower must take over and
// writes resume. Failover is measured from the kill to the first
// acknowledgement of a record handed to the client after the kill.
func TestChaos_LeaderKilled_FailoverUnderLoad(t *testing.T) {
	s := begin(t, "01 leader failure", "SIGKILL the leader under load, then restart it")
	c := s.cluster()
	p := s.load(300)
	leader := c.WaitLeader(10*time.Second, nil)

	killedAt := time.Now()
	how := c.Kill(leader)
	_, err := net.DialTimeout("tcp", leader.Kafka, time.Second)
	if err == nil {
		err = fmt.Errorf("%s still accepts connections", leader.Kafka)
	} else {
		err = nil
	}
	s.prove(fmt.Sprintf("leader %s; its Kafka port refuses connections", how), err)

	newLeader := c.WaitNewLeader(15*time.Second, c.Running(), leader)
	elected := time.Since(killedAt)
	p.WaitMoreAcks(t, 500, 30*time.Second)
	first, ok := p.FirstAckAfter(killedAt)
	if !ok {
		s.fail("no record produced after the kill was acknowledged")
	}
	s.note("%v took over from %v", newLeader, leader)
	s.figure("failover: kill to first acknowledged produce", first.Sub(killedAt), failoverTarget)
	s.figure("election: kill to an agreed new leader (polled every 20ms)", elected, 0)

	c.Start(leader)
	c.WaitReady(30*time.Second, c.Nodes...)
	s.finish()
}
