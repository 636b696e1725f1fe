//go:build unix

package compat

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/raftline/raftline/broker/httpapi"
	"github.com/raftline/raftline/internal/clusterspec"
	"github.com/raftline/raftline/internal/testports"
	"github.com/raftline/raftline/test/internal/systest"
)

// node is one `raftline serve` process of the shared cluster.
type node struct {
	id          int32
	kafka, http string
	*systest.Proc
}

// cluster is the three nodes every case runs against, and a franz-go client
// the harness uses to create topics and look around.
type cluster struct {
	nodes []*node
	admin *kgo.Client
}

// startCluster starts three nodes bootstrapped together and waits until
// they agree on a leader and every node knows every member's Kafka address
// (clients are given the leader's from Metadata). t's cleanup kills them.
func startCluster(t *testing.T) *cluster {
	t.Helper()
	ports := testports.Reserve(t, 9)
	dir := t.TempDir()
	spec := clusterspec.Local("127.0.0.1", dir, 3, ports[0], ports[3], ports[6])
	c := &cluster{}
	t.Cleanup(func() {
		for _, nd := range c.nodes {
			if err := nd.Kill(); err != nil {
				t.Log(err)
			}
		}
		if t.Failed() {
			for _, nd := range c.nodes {
				t.Logf("--- node %d (%s) log tail ---\n%s", nd.id, nd.LogPath, systest.Tail(nd.LogPath, 40, nil))
			}
		}
	})
	for _, sn := range spec.Nodes {
		nd := &node{id: sn.ID, kafka: sn.KafkaAddr(), http: sn.HTTPAddr(),
			Proc: systest.NewProc(dir, fmt.Sprintf("node-%d", sn.ID), raftlineBin, spec.ServeArgs(sn)...)}
		c.nodes = append(c.nodes, nd)
		if err := nd.Start(); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := clusterspec.WaitLeader(30*time.Second, systest.DefaultInterval, spec.HTTPAddrs, nil); err != nil {
		t.Fatal(err)
	}
	systest.WaitFor(t, 30*time.Second, "every node to list every member's Kafka address", func() error {
		for _, nd := range c.nodes {
			var v httpapi.ClusterView
			if err := systest.GetJSON(httpClient, nd.http, "/v1/cluster", &v); err != nil {
				return err
			}
			if len(v.Members) != len(c.nodes) {
				return fmt.Errorf("node %d lists %d members", v.NodeID, len(v.Members))
			}
			for _, m := range v.Members {
				if m.KafkaAddr == "" {
					return fmt.Errorf("node %d has no Kafka address for member %d yet", v.NodeID, m.ID)
				}
			}
		}
		return nil
	})
	admin, err := kgo.NewClient(kgo.SeedBrokers(c.seeds()...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(admin.Close)
	c.admin = admin
	return c
}

var httpClient = &http.Client{Timeout: 3 * time.Second}

// seeds are every node's Kafka address, the bootstrap list clients get.
func (c *cluster) seeds() []string {
	var out []string
	for _, nd := range c.nodes {
		out = append(out, nd.kafka)
	}
	return out
}

// bootstrap is seeds as one comma-separated list.
func (c *cluster) bootstrap() string { return strings.Join(c.seeds(), ",") }

// waitLeader waits until the nodes agree on a leader: a case must not start
// in the middle of an election, which some clients (kafka-python's admin
// client) do not wait out.
func (c *cluster) waitLeader(t testing.TB) {
	t.Helper()
	if _, err := clusterspec.WaitLeader(30*time.Second, systest.DefaultInterval, c.httpAddrs, nil); err != nil {
		t.Fatal(err)
	}
}

// leader and follower are the nodes that lead and follow now, once the
// nodes agree.
func (c *cluster) leader(t testing.TB) *node {
	t.Helper()
	a, err := clusterspec.WaitLeader(30*time.Second, systest.DefaultInterval, c.httpAddrs, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, nd := range c.nodes {
		if nd.id == a.LeaderID {
			return nd
		}
	}
	t.Fatalf("leader %d is not a node of the cluster", a.LeaderID)
	return nil
}

func (c *cluster) follower(t testing.TB) *node {
	t.Helper()
	l := c.leader(t)
	for _, nd := range c.nodes {
		if nd != l {
			return nd
		}
	}
	t.Fatal("no follower")
	return nil
}

func (c *cluster) httpAddrs() []string {
	var out []string
	for _, nd := range c.nodes {
		out = append(out, nd.http)
	}
	return out
}

// createTopic creates a topic replicated to every voter and waits until
// every node has applied it, so a client asking any node finds it.
func (c *cluster) createTopic(t testing.TB, name string, partitions int32) {
	t.Helper()
	systest.WaitFor(t, 30*time.Second, "topic "+name+" to be created", func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		err := systest.CreateTopic(ctx, c.admin, name, partitions)
		if errors.Is(err, kerr.TopicAlreadyExists) {
			return nil
		}
		return err
	})
	c.waitTopic(t, name, partitions)
}

// waitTopic waits until every node's Metadata lists the topic with its
// partitions and a leader.
func (c *cluster) waitTopic(t testing.TB, name string, partitions int32) {
	t.Helper()
	systest.WaitFor(t, 30*time.Second, "topic "+name+" on every node", func() error {
		for _, nd := range c.nodes {
			mt, err := c.metadata(nd, name, false)
			if err != nil {
				return err
			}
			if err := kerr.ErrorForCode(mt.ErrorCode); err != nil {
				return fmt.Errorf("node %d: %w", nd.id, err)
			}
			if int32(len(mt.Partitions)) != partitions {
				return fmt.Errorf("node %d lists %d of %d partitions", nd.id, len(mt.Partitions), partitions)
			}
		}
		return nil
	})
}

// metadata asks one node, and only that node, for one topic's metadata.
func (c *cluster) metadata(nd *node, topic string, autoCreate bool) (kmsg.MetadataResponseTopic, error) {
	req := kmsg.NewPtrMetadataRequest()
	rt := kmsg.NewMetadataRequestTopic()
	rt.Topic = kmsg.StringPtr(topic)
	req.Topics = append(req.Topics, rt)
	req.AllowAutoTopicCreation = autoCreate
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	resp, err := req.RequestWith(ctx, c.seedBroker(nd))
	if err != nil {
		return kmsg.MetadataResponseTopic{}, err
	}
	if len(resp.Topics) != 1 {
		return kmsg.MetadataResponseTopic{}, fmt.Errorf("node %d answered %d topics", nd.id, len(resp.Topics))
	}
	return resp.Topics[0], nil
}

// seedBroker is the admin client's connection to nd, which it knows as a
// seed whatever Metadata it has seen.
func (c *cluster) seedBroker(nd *node) *kgo.Broker {
	for i, n := range c.nodes {
		if n == nd {
			return c.admin.SeedBrokers()[i]
		}
	}
	panic("not a node of the cluster")
}

// logs is what every node has logged so far.
func (c *cluster) logs(t testing.TB) map[int32]string {
	t.Helper()
	out := map[int32]string{}
	for _, nd := range c.nodes {
		s, err := nd.LogSinceStart()
		if err != nil {
			t.Fatal(err)
		}
		out[nd.id] = s
	}
	return out
}
