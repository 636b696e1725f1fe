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

// Leader returns the node that every node in among reports as leader, with
// that node itself reporting state leader; among defaults to the running
// nodes.
func (c *Cluster) Leader(among []*Node) (*Node, error) {
	if among == nil {
		among = c.Running()
	}
	var views []httpapi.ClusterView
	for _, n := range among {
		v, err := n.View()
		if err != nil {
			return nil, err
		}
		views = append(views, v)
	}
	if len(views) == 0 {
		return nil, fmt.Errorf("no nodes to ask")
	}
	id := views[0].LeaderID
	for _, v := range views {
		if v.LeaderID != id || id <= 0 {
			return nil, fmt.Errorf("no agreed leader: %s", Describe(views))
		}
	}
	for _, v := range views {
		if v.NodeID == id && v.State != "leader" {
			return nil, fmt.Errorf("n%d is named leader but is %s: %s", id, v.State, Describe(views))
		}
	}
	l := c.Node(id)
	if l == nil {
		return nil, fmt.Errorf("leader id %d is not a node", id)
	}
	return l, nil
}

// WaitLeader waits until the nodes in among (default: the running ones)
// agree on a leader and returns it.
func (c *Cluster) WaitLeader(timeout time.Duration, among []*Node) *Node {
	c.t.Helper()
	var l *Node
	WaitFor(c.t, timeout, "an agreed leader", func() (err error) {
		l, err = c.Leader(among)
		return err
	})
	return l
}

// WaitNewLeader waits until the nodes in among agree on a leader other than
// old and returns it.
func (c *Cluster) WaitNewLeader(timeout time.Duration, among []*Node, old *Node) *Node {
	c.t.Helper()
	var l *Node
	WaitFor(c.t, timeout, fmt.Sprintf("a leader other than %v", old), func() (err error) {
		l, err = c.Leader(among)
		if err == nil && l == old {
			err = fmt.Errorf("%v still leads", old)
		}
		return err
	})
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

// Describe summarises cluster views on one line.
func Describe(views []httpapi.ClusterView) string {
	var parts []string
	for _, v := range views {
		parts = append(parts, fmt.Sprintf("n%d: %s, leader %d, term %d, commit %d, applied %d, last %d",
			v.NodeID, v.State, v.LeaderID, v.Term, v.CommitIndex, v.AppliedIndex, v.LastIndex))
	}
	return strings.Join(parts, "; ")
}
