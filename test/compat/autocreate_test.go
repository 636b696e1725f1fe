//go:build unix

package compat

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/raftline/raftline/test/internal/systest"
)

// testAutoCreate checks topic auto-creation against the real cluster: the
// first Metadata answer that creates a topic already carries its leader,
// on the leader and on a follower; kafka-go's first write to a new topic
// succeeds; and a node logs a creation only when its request made it.
func testAutoCreate(t *testing.T, c *cluster) {
	t.Run("FirstMetadataAnswer_CarriesTheLeader", func(t *testing.T) {
		c.waitLeader(t)
		leader := c.leader(t)
		for _, nd := range []*node{leader, c.follower(t)} {
			role := "leader"
			if nd != leader {
				role = "follower"
			}
			topic := "first-answer-on-" + role
			start := time.Now()
			mt, err := c.metadata(nd, topic, true)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%s (node %d): first answer in %v", role, nd.id, time.Since(start).Round(time.Millisecond))
			if err := kerr.ErrorForCode(mt.ErrorCode); err != nil || len(mt.Partitions) != 1 {
				t.Fatalf("%s's first answer for the topic it auto-created: %v, %d partitions; want the partition and its leader", role, err, len(mt.Partitions))
			}
			if p := mt.Partitions[0]; p.ErrorCode != 0 || p.Leader != leader.id {
				t.Fatalf("%s's first answer: partition 0 %v, leader %d; want leader %d", role, kerr.ErrorForCode(p.ErrorCode), p.Leader, leader.id)
			}
		}
	})

	t.Run("KafkaGoFirstWrite_SucceedsAtOnce", func(t *testing.T) {
		c.waitLeader(t)
		leader := c.leader(t)
		for _, nd := range []*node{leader, c.follower(t)} {
			role := "leader"
			if nd != leader {
				role = "follower"
			}
			// The Writer's defaults but auto-creation, bootstrapped from
			// one node only, so its Metadata goes there.
			w := &kafka.Writer{Addr: kafka.TCP(nd.kafka), AllowAutoTopicCreation: true, Transport: &kafka.Transport{}}
			topic := "kafka-go-first-write-via-" + role
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			start := time.Now()
			err := w.WriteMessages(ctx, kafka.Message{Topic: topic, Value: []byte("first")})
			first := time.Since(start)
			var second time.Duration
			if err == nil {
				start = time.Now()
				err = w.WriteMessages(ctx, kafka.Message{Topic: topic, Value: []byte("second")})
				second = time.Since(start)
			}
			cancel()
			closeWriter(w)
			// Both writes wait the Writer's BatchTimeout (1 s) for a batch
			// to fill: equal times mean no retry behind the first.
			t.Logf("via the %s (node %d): first write to the new topic %v, second %v", role, nd.id,
				first.Round(time.Millisecond), second.Round(time.Millisecond))
			if err != nil {
				t.Fatalf("via the %s: the first write to a new topic failed: %v", role, err)
			}
		}
	})

	t.Run("Logged_OnlyByTheNodeThatCreated", func(t *testing.T) {
		c.waitLeader(t)
		leader := c.leader(t)
		// A topic created with 3 partitions through CreateTopics, asked
		// for with auto-creation on every node while the followers may not
		// have applied it yet: nobody auto-created it.
		c.createTopicOn(t, leader, "made-by-create-topics", 3)
		raced := "auto-created-from-every-node"
		var wg sync.WaitGroup
		errs := make(chan error, 2*len(c.nodes))
		for _, nd := range c.nodes {
			wg.Add(2)
			go func() {
				defer wg.Done()
				mt, err := c.metadata(nd, "made-by-create-topics", true)
				if err == nil && len(mt.Partitions) != 3 {
					err = fmt.Errorf("node %d: %v, %d partitions of 3", nd.id, kerr.ErrorForCode(mt.ErrorCode), len(mt.Partitions))
				}
				errs <- err
			}()
			// One topic auto-created from every node at once: one
			// creation wins, the others find the topic exists.
			go func() {
				defer wg.Done()
				mt, err := c.metadata(nd, raced, true)
				if err == nil && (mt.ErrorCode != 0 || len(mt.Partitions) != 1) {
					err = fmt.Errorf("node %d: %v, %d partitions of 1", nd.id, kerr.ErrorForCode(mt.ErrorCode), len(mt.Partitions))
				}
				errs <- err
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Error(err)
			}
		}
		logged := autoCreatedLines(c.logs(t))
		if got := logged["made-by-create-topics"]; len(got) != 0 {
			t.Errorf("a topic created through CreateTopics was logged as auto-created: %q", got)
		}
		if got := logged[raced]; len(got) != 1 || !strings.Contains(got[0], "partitions=1") {
			t.Errorf("a topic auto-created from three nodes at once was logged %d times, want once with partitions=1: %q", len(got), got)
		}
	})
}

var autoCreatedLine = regexp.MustCompile(`msg="auto-created topic" .*\btopic=(\S+)`)

// autoCreatedLines maps each topic to the nodes' "auto-created topic" lines
// about it.
func autoCreatedLines(logs map[int32]string) map[string][]string {
	out := map[string][]string{}
	for _, log := range logs {
		for _, line := range strings.Split(log, "\n") {
			if m := autoCreatedLine.FindStringSubmatch(line); m != nil {
				out[m[1]] = append(out[m[1]], line)
			}
		}
	}
	return out
}

// createTopicOn creates a topic through CreateTopics on nd (which must lead)
// and returns as soon as nd has answered, without waiting for the others.
func (c *cluster) createTopicOn(t testing.TB, nd *node, name string, partitions int32) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := systest.CreateTopic(ctx, c.seedBroker(nd), name, partitions); err != nil {
		t.Fatalf("create %s on node %d: %v", name, nd.id, err)
	}
}
