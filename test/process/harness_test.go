//go:build unix

// Package process tests the real raftline binary as separate processes: a
// crash is a SIGKILL, a shutdown is a SIGTERM, and every byte crosses a real
// socket. The in-process harness (broker/clustertest) cannot catch what only
// a process boundary shows: flag parsing, signal handling, data directories
// surviving a crash, logs on stderr.
//
// TestMain builds the binary once; every test starts its own nodes on
// 127.0.0.1, on ports reserved for it (internal/testports), with their own
// data directories, and kills them in t.Cleanup. The nodes' command lines
// come from internal/clusterspec, as `raftline dev`'s do.
package process

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/raftline/raftline/broker/httpapi"
	"github.com/raftline/raftline/internal/clusterspec"
	"github.com/raftline/raftline/internal/testports"
	"github.com/raftline/raftline/test/internal/systest"
)

// raftlineBin is the binary TestMain built.
var raftlineBin string

func TestMain(m *testing.M) { os.Exit(runTests(m)) }

func runTests(m *testing.M) int {
	root, err := systest.RepoRoot()
	if err != nil {
		fmt.Fprintln(os.Stderr, "process tests:", err)
		return 1
	}
	dir, err := os.MkdirTemp("", "raftline-process-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "process tests:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	raftlineBin = filepath.Join(dir, "raftline")
	if err := systest.Build(root, raftlineBin, "./cmd/raftline"); err != nil {
		fmt.Fprintln(os.Stderr, "process tests:", err)
		return 1
	}
	return m.Run()
}

// childEnv is the test's environment without RAFTLINE_* variables, plus extra.
func childEnv(extra ...string) []string { return systest.ChildEnv(extra...) }

// waitFor polls cond until it returns nil, failing the test with cond's last
// error once timeout has passed. Every wait in these tests goes through it:
// on a loaded machine only a condition, never a fixed sleep, says when
// something has happened.
func waitFor(t testing.TB, timeout time.Duration, what string, cond func() error) {
	t.Helper()
	systest.WaitFor(t, timeout, what, cond)
}

// node is one `raftline serve` process, restartable with the same arguments,
// ports and data directory.
type node struct {
	id                int32
	kafka, http, raft string
	dataDir           string
	// Proc runs the node; add creates it, with the log in the cluster's
	// directory.
	*systest.Proc
}

// newNode is the node sn describes, not yet added to a cluster.
func newNode(sn clusterspec.Node) *node {
	return &node{id: sn.ID, kafka: sn.KafkaAddr(), http: sn.HTTPAddr(), raft: sn.RaftAddr(), dataDir: sn.DataDir}
}

// cluster is the set of nodes a test started; t.Cleanup kills them all.
type cluster struct {
	t     testing.TB
	dir   string // data directories and logs
	nodes []*node
}

// newCluster starts n nodes bootstrapped together, each with extra appended
// to its `raftline serve` flags.
func newCluster(t testing.TB, n int, extra ...string) *cluster {
	t.Helper()
	// Reserved first, so they are released after the cleanup that kills
	// the nodes.
	ports := testports.Reserve(t, 3*n)
	c := newEmptyCluster(t)
	spec := clusterspec.Local("127.0.0.1", c.dir, n, ports[0], ports[n], ports[2*n])
	spec.Args = extra
	for _, sn := range spec.Nodes {
		c.add(newNode(sn), spec.ServeArgs(sn), childEnv())
	}
	for _, nd := range c.nodes {
		c.start(nd)
	}
	return c
}

// newEmptyCluster returns a cluster with no nodes, for tests that configure
// their nodes by hand.
func newEmptyCluster(t testing.TB) *cluster {
	// t.TempDir registers the removal of the test's temporary directories
	// on its first call; making that call before registering the Cleanup
	// below has the processes killed before their directories go.
	c := &cluster{t: t, dir: t.TempDir()}
	t.Cleanup(c.cleanup)
	return c
}

// add registers a node run as raftlineBin with args and env; its log goes
// to node-<id>.log in the cluster's directory.
func (c *cluster) add(nd *node, args, env []string) {
	nd.Proc = systest.NewProc(c.dir, fmt.Sprintf("node-%d", nd.id), raftlineBin, args...)
	nd.Env = env
	c.nodes = append(c.nodes, nd)
}

func (c *cluster) cleanup() {
	for _, nd := range c.nodes {
		if err := nd.Kill(); err != nil {
			c.t.Log(err)
		}
	}
	if c.t.Failed() {
		for _, nd := range c.nodes {
			c.t.Logf("--- node %d (%s) log tail ---\n%s", nd.id, nd.LogPath, tail(nd.LogPath, 60))
		}
	}
}

// start starts the node's process; its stdout and stderr are appended to its
// log file.
func (c *cluster) start(nd *node) {
	c.t.Helper()
	if err := nd.Start(); err != nil {
		c.t.Fatalf("node %d: %v", nd.id, err)
	}
}

func (nd *node) running() bool { return nd.Running() }

// kill crashes the node with SIGKILL and waits for the process to be gone.
func (c *cluster) kill(nd *node) {
	c.t.Helper()
	if !nd.running() {
		c.t.Fatalf("kill: node %d is not running", nd.id)
	}
	if err := nd.Kill(); err != nil {
		c.t.Fatal(err)
	}
}

// stop sends SIGTERM and waits for a clean exit (status 0).
func (c *cluster) stop(nd *node) {
	c.t.Helper()
	c.signalAll(syscall.SIGTERM, nd)
	c.waitExit(30*time.Second, nd)
}

// signalAll sends sig to every given node at once.
func (c *cluster) signalAll(sig syscall.Signal, nodes ...*node) {
	c.t.Helper()
	for _, nd := range nodes {
		if err := nd.Signal(sig); err != nil {
			c.t.Fatalf("signal node %d: %v", nd.id, err)
		}
	}
}

// waitExit waits for each node to exit with status 0 within timeout.
func (c *cluster) waitExit(timeout time.Duration, nodes ...*node) {
	c.t.Helper()
	deadline := time.Now().Add(timeout)
	for _, nd := range nodes {
		status, err := nd.Wait(time.Until(deadline))
		if err != nil {
			c.t.Fatalf("node %d: %v after SIGTERM", nd.id, err)
		}
		if status != nil {
			c.t.Fatalf("node %d did not exit cleanly after SIGTERM: %v", nd.id, status)
		}
	}
}

// restart starts a stopped or killed node again with the same flags, ports
// and data directory.
func (c *cluster) restart(nd *node) { c.t.Helper(); c.start(nd) }

// live lists the running nodes.
func (c *cluster) live() []*node {
	var out []*node
	for _, nd := range c.nodes {
		if nd.running() {
			out = append(out, nd)
		}
	}
	return out
}

func (c *cluster) kafkaAddrs(nodes ...*node) []string {
	if len(nodes) == 0 {
		nodes = c.nodes
	}
	var out []string
	for _, nd := range nodes {
		out = append(out, nd.kafka)
	}
	return out
}

// logSinceStart is what the node's current process has logged so far.
func (nd *node) logSinceStart() (string, error) { return nd.LogSinceStart() }

// tail returns the last n lines of a file.
func tail(path string, n int) string { return systest.Tail(path, n, nil) }

// HTTP API views, as documented in broker/httpapi.

// The HTTP API's own types, so the tests read exactly what nodes serve.
type (
	clusterView     = httpapi.ClusterView
	partitionDigest = httpapi.PartitionDigest
	partitionsView  = httpapi.PartitionsView
)

var httpClient = &http.Client{Timeout: 3 * time.Second}

func getJSON(hostport, path string, v any) error {
	return systest.GetJSON(httpClient, hostport, path, v)
}

func clusterOf(httpAddr string) (clusterView, error) {
	var v clusterView
	err := getJSON(httpAddr, "/v1/cluster", &v)
	return v, err
}

// partitionsOf returns a node's digests sorted by topic and partition.
func partitionsOf(httpAddr string) ([]partitionDigest, error) {
	var v partitionsView
	if err := getJSON(httpAddr, "/v1/partitions", &v); err != nil {
		return nil, err
	}
	slices.SortFunc(v.Partitions, func(a, b partitionDigest) int {
		if c := strings.Compare(a.Topic, b.Topic); c != 0 {
			return c
		}
		return int(a.Partition - b.Partition)
	})
	return v.Partitions, nil
}

func readyz(httpAddr string) error { return systest.Ready(httpClient, httpAddr) }

// agreedLeader checks that the nodes at the HTTP addresses agree on a leader
// (internal/clusterspec.CheckLeader) that is one of them, and returns its
// index.
func agreedLeader(httpAddrs []string) (int, error) {
	a, err := clusterspec.CheckLeader(httpAddrs)
	if err != nil {
		return -1, err
	}
	i := a.LeaderIndex()
	if i < 0 {
		return -1, fmt.Errorf("the nodes follow node %d, which is not among them: %s", a.LeaderID, clusterspec.Describe(a.Views))
	}
	return i, nil
}

// waitLeader waits until the running nodes agree on one leader that is not
// among exclude, and returns it.
func (c *cluster) waitLeader(exclude ...*node) *node {
	c.t.Helper()
	var leader *node
	live := func() []string { return httpAddrs(c.live()) }
	_, err := clusterspec.WaitLeader(30*time.Second, systest.DefaultInterval, live, func(a clusterspec.Agreement) error {
		l := c.node(a.LeaderID)
		if l == nil || !l.running() {
			return fmt.Errorf("the nodes follow node %d, which is not running", a.LeaderID)
		}
		if slices.Contains(exclude, l) {
			return fmt.Errorf("node %d still leads", l.id)
		}
		leader = l
		return nil
	})
	if err != nil {
		c.t.Fatalf("waiting for an agreed leader: %v", err)
	}
	return leader
}

// node returns the node with the id, or nil.
func (c *cluster) node(id int32) *node {
	for _, nd := range c.nodes {
		if nd.id == id {
			return nd
		}
	}
	return nil
}

// waitReady waits until every given node answers /readyz with 200.
func (c *cluster) waitReady(nodes ...*node) {
	c.t.Helper()
	waitFor(c.t, 30*time.Second, "/readyz on every node", func() error {
		for _, nd := range nodes {
			if err := nd.ExitErr(); err != nil {
				c.t.Fatalf("node %d did not become ready: %v", nd.id, err)
			}
			if err := readyz(nd.http); err != nil {
				return err
			}
		}
		return nil
	})
}

// waitRegistered waits until every node's /v1/cluster lists every member with
// its Kafka address: a node's address reaches Metadata only once its
// registration has been applied, and clients need the leader's.
func waitRegistered(t testing.TB, httpAddrs []string) {
	t.Helper()
	waitFor(t, 30*time.Second, "every node to see every member's Kafka address", func() error {
		for _, a := range httpAddrs {
			v, err := clusterOf(a)
			if err != nil {
				return err
			}
			if len(v.Members) != len(httpAddrs) {
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
}

// waitDigestsEqual waits until every given node reports the same partition
// digests (and, when want is not nil, exactly want) and returns them.
func (c *cluster) waitDigestsEqual(timeout time.Duration, want []partitionDigest, nodes ...*node) []partitionDigest {
	c.t.Helper()
	var got []partitionDigest
	waitFor(c.t, timeout, "equal partition digests on every node", func() (err error) {
		got, err = equalDigests(want, nodes...)
		return err
	})
	return got
}

// equalDigests returns the nodes' partition digests if they are all equal
// (and equal to want, when it is not nil).
func equalDigests(want []partitionDigest, nodes ...*node) ([]partitionDigest, error) {
	var first []partitionDigest
	for i, nd := range nodes {
		d, err := partitionsOf(nd.http)
		if err != nil {
			return nil, err
		}
		if i == 0 {
			first = d
		} else if !slices.Equal(first, d) {
			return nil, fmt.Errorf("node %d has %v, node %d has %v", nodes[0].id, first, nd.id, d)
		}
	}
	if want != nil && !slices.Equal(first, want) {
		return nil, fmt.Errorf("nodes have %v, want %v", first, want)
	}
	return first, nil
}
