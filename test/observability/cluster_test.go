package observability

import (
	"fmt"
	"net/http"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/raftline/raftline/internal/clusterspec"
	"github.com/raftline/raftline/test/internal/systest"
)

// node is one `raftline serve` process, restarted with the same flags, ports
// and data directory after each SIGKILL.
type node struct {
	id                int
	kafka, http, raft string
	dataDir           string
	*proc
}

// snapshotChatter matches the info lines of a routine snapshot, which the
// test's frequent snapshots make the bulk of a node's log.
var snapshotChatter = regexp.MustCompile(`level=INFO msg="(starting snapshot|creating new snapshot|reaping snapshot|snapshot complete|compacting logs)`)

// cluster is three raftline processes bootstrapped together.
type cluster struct {
	nodes []*node
}

// clusterView is the part of GET /v1/cluster the harness reads.
type clusterView struct {
	NodeID   int32  `json:"node_id"`
	State    string `json:"state"`
	LeaderID int32  `json:"leader_id"`
	Term     uint64 `json:"term"`
}

var httpClient = &http.Client{Timeout: 5 * time.Second}

// startCluster starts three nodes on ports[0:9] (Kafka, HTTP, Raft blocks)
// with extra appended to every node's flags, and waits until they agree on
// a leader. Their command lines come from internal/clusterspec.
func startCluster(t testing.TB, ps *procs, dir string, ports []int, extra ...string) *cluster {
	t.Helper()
	return startClusterWith(t, ps, dir, ports, nil, nil, extra...)
}

// startClusterEnv is startCluster with env added to the nodes' environment
// (systest.ChildEnv).
func startClusterEnv(t testing.TB, ps *procs, dir string, ports []int, env []string, extra ...string) *cluster {
	t.Helper()
	return startClusterWith(t, ps, dir, ports, env, nil, extra...)
}

// startClusterWrapped is startCluster with each node's command line passed
// through wrap (nil: none), which may give the node a filesystem of its own
// (diskfault.Disk.Wrap) on its data directory.
func startClusterWrapped(t testing.TB, ps *procs, dir string, ports []int,
	wrap func(sn clusterspec.Node, bin string, args []string) (string, []string), extra ...string) *cluster {
	t.Helper()
	return startClusterWith(t, ps, dir, ports, nil, wrap, extra...)
}

// startClusterWith starts the cluster with env added to the nodes'
// environment and their command lines passed through wrap (either nil: none).
func startClusterWith(t testing.TB, ps *procs, dir string, ports []int, env []string,
	wrap func(sn clusterspec.Node, bin string, args []string) (string, []string), extra ...string) *cluster {
	t.Helper()
	const n = 3
	c := &cluster{}
	spec := clusterspec.Spec{Args: extra}
	for i := range n {
		spec.Nodes = append(spec.Nodes, clusterspec.Node{
			ID: int32(i + 1), Host: "127.0.0.1",
			KafkaPort: ports[i], HTTPPort: ports[n+i], RaftPort: ports[2*n+i],
			DataDir: filepath.Join(dir, fmt.Sprintf("node-%d", i+1)),
		})
	}
	for _, sn := range spec.Nodes {
		nd := &node{id: int(sn.ID), kafka: sn.KafkaAddr(), http: sn.HTTPAddr(), raft: sn.RaftAddr()}
		bin, args := raftlineBin, spec.ServeArgs(sn)
		if wrap != nil {
			bin, args = wrap(sn, bin, args)
		}
		nd.dataDir = sn.DataDir
		nd.proc = ps.add(newProc(dir, fmt.Sprintf("node-%d", nd.id), bin, args...))
		nd.Noise = snapshotChatter
		if env != nil {
			nd.Env = systest.ChildEnv(env...)
		}
		c.nodes = append(c.nodes, nd)
	}
	for _, nd := range c.nodes {
		if err := nd.Start(); err != nil {
			t.Fatal(err)
		}
	}
	c.waitLeader(t, 60*time.Second, nil)
	return c
}

// view fetches a node's /v1/cluster.
func (nd *node) view() (clusterView, error) {
	var v clusterView
	if err := systest.GetJSON(httpClient, nd.http, "/v1/cluster", &v); err != nil {
		return v, fmt.Errorf("node %d: %w", nd.id, err)
	}
	return v, nil
}

// ready reports whether the node's /readyz answers 200: it knows a leader
// and has applied what was committed.
func (nd *node) ready() error {
	if err := systest.Ready(httpClient, nd.http); err != nil {
		return fmt.Errorf("node %d: %w", nd.id, err)
	}
	return nil
}

func (c *cluster) live() []*node {
	var out []*node
	for _, nd := range c.nodes {
		if nd.Running() {
			out = append(out, nd)
		}
	}
	return out
}

func (c *cluster) node(id int32) *node {
	for _, nd := range c.nodes {
		if nd.id == int(id) {
			return nd
		}
	}
	return nil
}

// waitLeader waits until every running node is ready and follows the same
// leader in the same term, one other than notThis (the node just killed, or
// nil), and returns it.
func (c *cluster) waitLeader(t testing.TB, timeout time.Duration, notThis *node) *node {
	t.Helper()
	var leader *node
	live := func() []string {
		var addrs []string
		for _, nd := range c.live() {
			addrs = append(addrs, nd.http)
		}
		return addrs
	}
	_, err := clusterspec.WaitLeader(timeout, pollInterval, live, func(a clusterspec.Agreement) error {
		if len(a.Views) < 2 {
			return fmt.Errorf("only %d node(s) running", len(a.Views))
		}
		for _, v := range a.Views {
			nd := c.node(v.NodeID)
			if nd == nil {
				return fmt.Errorf("a node reports id %d, which no node has", v.NodeID)
			}
			if err := nd.ready(); err != nil {
				return err
			}
		}
		l := c.node(a.LeaderID)
		if l == nil || !l.Running() {
			return fmt.Errorf("leader %d is not a running node", a.LeaderID)
		}
		if l == notThis {
			return fmt.Errorf("node %d is still reported as leader", a.LeaderID)
		}
		leader = l
		return nil
	})
	if err != nil {
		t.Fatalf("waiting for every running node to follow one leader: %v", err)
	}
	return leader
}

// failover crashes the current leader with SIGKILL, waits for the other two
// nodes to elect a new one, restarts the crashed node on its data directory
// and waits until it follows the new leader. It returns the new leader.
func (c *cluster) failover(t testing.TB, timeout time.Duration) *node {
	t.Helper()
	old := c.waitLeader(t, timeout, nil)
	if err := old.Kill(); err != nil {
		t.Fatal(err)
	}
	leader := c.waitLeader(t, timeout, old)
	if err := old.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, timeout, fmt.Sprintf("restarted node %d to be ready", old.id), func() error {
		// A node that dies at start-up is a failure to report with its
		// log, not a wait to time out.
		if err := old.ExitErr(); err != nil {
			t.Fatalf("restarted node %d did not come back: %v", old.id, err)
		}
		return old.ready()
	})
	if got := c.waitLeader(t, timeout, nil); got != leader {
		// The restarted node may have disturbed the cluster into one more
		// election; the storm test counts on exactly one per failover.
		t.Fatalf("leadership moved again to node %d after node %d rejoined", got.id, old.id)
	}
	return leader
}

// term returns the highest raft term the running nodes report. It rises
// with every election, so a term that moves while the test makes none
// means the cluster is electing on its own.
func (c *cluster) term() uint64 {
	var max uint64
	for _, nd := range c.live() {
		if v, err := nd.view(); err == nil && v.Term > max {
			max = v.Term
		}
	}
	return max
}

func (c *cluster) kafkaAddrs() []string {
	var out []string
	for _, nd := range c.nodes {
		out = append(out, nd.kafka)
	}
	return out
}
