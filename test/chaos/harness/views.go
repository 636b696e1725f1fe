//go:build linux

package harness

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/raftline/raftline/broker/httpapi"
	"github.com/raftline/raftline/internal/clusterspec"
	"github.com/raftline/raftline/test/internal/systest"
)

// WaitFor polls cond every 20ms until it returns nil, failing the test with
// cond's last error once timeout has passed. Chaos scenarios wait only on
// conditions: on a loaded two-core machine a fixed sleep is either too short
// or wasted.
func WaitFor(t testing.TB, timeout time.Duration, what string, cond func() error) {
	t.Helper()
	if err := Poll(timeout, cond); err != nil {
		t.Fatalf("timed out after %v waiting for %s: %v", timeout, what, err)
	}
}

// Poll is WaitFor returning cond's last error instead of failing.
func Poll(timeout time.Duration, cond func() error) error {
	return systest.Poll(timeout, 20*time.Millisecond, cond)
}

var httpClient = &http.Client{Timeout: 2 * time.Second}

func getJSON(addr, path string, v any) error {
	return systest.GetJSON(httpClient, addr, path, v)
}

// View is the node's GET /v1/cluster.
func (n *Node) View() (httpapi.ClusterView, error) {
	var v httpapi.ClusterView
	err := getJSON(n.HTTP, "/v1/cluster", &v)
	return v, err
}

// Digests is the node's GET /v1/partitions, sorted by topic and partition.
func (n *Node) Digests() (httpapi.PartitionsView, error) {
	var v httpapi.PartitionsView
	if err := getJSON(n.HTTP, "/v1/partitions", &v); err != nil {
		return v, err
	}
	slices.SortFunc(v.Partitions, func(a, b httpapi.PartitionDigest) int {
		if c := strings.Compare(a.Topic, b.Topic); c != 0 {
			return c
		}
		return int(a.Partition - b.Partition)
	})
	return v, nil
}

// Ready reports the node's /readyz as an error when not ready.
func (n *Node) Ready() error {
	if err := systest.Ready(httpClient, n.HTTP); err != nil {
		return fmt.Errorf("%v: %w", n, err)
	}
	return nil
}

// Leader returns the node that every node in among reports as leader in
// one term, with that node itself reporting state leader when it is among
// them; among defaults to the running nodes.
func (c *Cluster) Leader(among []*Node) (*Node, error) {
	if among == nil {
		among = c.Running()
	}
	a, err := clusterspec.CheckLeader(httpAddrs(among))
	if err != nil {
		return nil, err
	}
	return c.leaderNode(a)
}

func (c *Cluster) leaderNode(a clusterspec.Agreement) (*Node, error) {
	l := c.Node(a.LeaderID)
	if l == nil {
		return nil, fmt.Errorf("leader id %d is not a node", a.LeaderID)
	}
	return l, nil
}

func httpAddrs(nodes []*Node) []string {
	var out []string
	for _, n := range nodes {
		out = append(out, n.HTTP)
	}
	return out
}

// WaitLeader waits until the nodes in among (default: the running ones)
// agree on a leader and returns it.
func (c *Cluster) WaitLeader(timeout time.Duration, among []*Node) *Node {
	c.t.Helper()
	return c.waitLeader(timeout, among, "an agreed leader", nil)
}

// WaitNewLeader waits until the nodes in among agree on a leader other than
// old and returns it.
func (c *Cluster) WaitNewLeader(timeout time.Duration, among []*Node, old *Node) *Node {
	c.t.Helper()
	return c.waitLeader(timeout, among, fmt.Sprintf("a leader other than %v", old), old)
}

// waitLeader polls every 20ms, as the scenarios measure how long elections
// take.
func (c *Cluster) waitLeader(timeout time.Duration, among []*Node, what string, not *Node) *Node {
	c.t.Helper()
	addrs := func() []string {
		if among == nil {
			return httpAddrs(c.Running())
		}
		return httpAddrs(among)
	}
	var l *Node
	_, err := clusterspec.WaitLeader(timeout, 20*time.Millisecond, addrs, func(a clusterspec.Agreement) (err error) {
		l, err = c.leaderNode(a)
		if err == nil && l == not {
			err = fmt.Errorf("%v still leads", not)
		}
		return err
	})
	if err != nil {
		c.t.Fatalf("waiting for %s: %v", what, err)
	}
	return l
}

// Node returns the node with the id, or nil.
func (c *Cluster) Node(id int32) *Node {
	for _, n := range c.Nodes {
		if n.ID == id {
			return n
		}
	}
	return nil
}

// Running lists the nodes whose process is alive.
func (c *Cluster) Running() []*Node {
	var out []*Node
	for _, n := range c.Nodes {
		if n.Running() {
			out = append(out, n)
		}
	}
	return out
}

// WaitRegistered waits until every node lists every member with its Kafka
// address, so Metadata on any node names the leader's.
func (c *Cluster) WaitRegistered(timeout time.Duration) {
	c.t.Helper()
	WaitFor(c.t, timeout, "every node to see every member's Kafka address", func() error {
		for _, n := range c.Nodes {
			v, err := n.View()
			if err != nil {
				return err
			}
			if len(v.Members) != len(c.Nodes) {
				return fmt.Errorf("%v lists %d members", n, len(v.Members))
			}
			for _, m := range v.Members {
				if m.KafkaAddr == "" {
					return fmt.Errorf("%v has no Kafka address for member %d", n, m.ID)
				}
			}
		}
		return nil
	})
}

// WaitReady waits until every given node answers /readyz.
func (c *Cluster) WaitReady(timeout time.Duration, nodes ...*Node) {
	c.t.Helper()
	WaitFor(c.t, timeout, "/readyz", func() error {
		for _, n := range nodes {
			if err := n.Ready(); err != nil {
				return err
			}
		}
		return nil
	})
}

// Identical waits up to timeout for the nodes (default: all) to report the
// same partition digests, and returns them; the error says how they differ
// when they never agree. Equal SHA-256 digests mean byte-identical logs.
func (c *Cluster) Identical(timeout time.Duration, nodes ...*Node) ([]httpapi.PartitionDigest, error) {
	if len(nodes) == 0 {
		nodes = c.Nodes
	}
	var got []httpapi.PartitionDigest
	err := Poll(timeout, func() error {
		got = nil
		for i, n := range nodes {
			v, err := n.Digests()
			if err != nil {
				return err
			}
			if i == 0 {
				got = v.Partitions
				continue
			}
			if !slices.Equal(got, v.Partitions) {
				return fmt.Errorf("%v and %v differ:\n  %v: %s\n  %v: %s", nodes[0], n, nodes[0], digestList(got), n, digestList(v.Partitions))
			}
		}
		return nil
	})
	return got, err
}

func digestList(ds []httpapi.PartitionDigest) string {
	var parts []string
	for _, d := range ds {
		parts = append(parts, fmt.Sprintf("%s/%d [%d,%d) %s", d.Topic, d.Partition, d.LogStart, d.HighWatermark, shortHash(d.SHA256)))
	}
	return strings.Join(parts, " ")
}

func shortHash(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	return h
}
