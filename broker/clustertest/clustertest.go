// Package clustertest starts real raftline clusters inside a test process:
// N nodes on loopback ports reserved for the test (internal/testports),
// short Raft timeouts, torn down by t.Cleanup. Nodes can be killed (no
// leadership transfer, as a crash), stopped gracefully and restarted on the
// same ports and data. Tests wait on conditions with Wait or WaitFor, never
// on fixed sleeps.
package clustertest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/raftline/raftline/broker/groups/coordinator"
	"github.com/raftline/raftline/broker/httpapi"
	"github.com/raftline/raftline/broker/kafka"
	"github.com/raftline/raftline/broker/raftnode"
	"github.com/raftline/raftline/broker/server"
	"github.com/raftline/raftline/internal/testports"
)

// Options tune a cluster.
type Options struct {
	Nodes int
	// Configure, when set, adjusts every node's configuration before start
	// (telemetry hooks, snapshot thresholds).
	Configure func(c *server.Config)
	// LogLevel for node logs written to the test log (default: warn).
	LogLevel slog.Level
}

// Cluster is a running test cluster.
type Cluster struct {
	t       testing.TB
	Nodes   []*Node
	opts    Options
	logPath string // every node's log
}

// Node is one member. Srv is nil while the node is down.
type Node struct {
	ID  int32
	Cfg server.Config
	mu  sync.Mutex
	srv *server.Server
}

// Server returns the running server, or nil when the node is down.
func (n *Node) Server() *server.Server {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.srv
}

// Up reports whether the node is running.
func (n *Node) Up() bool { return n.Server() != nil }

// Start starts a cluster and waits until it has a leader that every node
// knows and every node has registered its addresses.
func Start(t testing.TB, opts Options) *Cluster {
	t.Helper()
	if opts.Nodes == 0 {
		opts.Nodes = 3
	}
	if opts.LogLevel == 0 {
		opts.LogLevel = slog.LevelWarn
	}
	c := &Cluster{t: t, opts: opts}
	dir := t.TempDir()
	logFile, err := os.Create(filepath.Join(dir, "nodes.log"))
	if err != nil {
		t.Fatal(err)
	}
	c.logPath = logFile.Name()
	logs := &lockedWriter{w: logFile}
	// Reserved before the cleanup below is registered, so they are
	// released only after the nodes are gone.
	ports := FreePorts(t, 3*opts.Nodes)
	var boot []raft.Server
	for i := 1; i <= opts.Nodes; i++ {
		ports := ports[3*(i-1) : 3*i]
		n := &Node{ID: int32(i)}
		n.Cfg = server.Config{
			NodeID:   int32(i),
			DataDir:  filepath.Join(dir, "node-"+strconv.Itoa(i)),
			Logger:   slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: opts.LogLevel})).With("node_id", i),
			HTTPAddr: "127.0.0.1:" + strconv.Itoa(ports[1]),
			Raft: raftnode.Config{
				Addr:               "127.0.0.1:" + strconv.Itoa(ports[2]),
				HeartbeatTimeout:   300 * time.Millisecond,
				ElectionTimeout:    300 * time.Millisecond,
				LeaderLeaseTimeout: 300 * time.Millisecond,
			},
			Kafka: kafka.Config{
				Addr:              "127.0.0.1:" + strconv.Itoa(ports[0]),
				AutoCreateTopics:  true,
				DefaultPartitions: 1,
			},
			// Groups form in tests as soon as their members joined,
			// with a short delay as `raftline dev` has, and sessions
			// as short as a second may be asked for.
			Groups: coordinator.Config{
				InitialRebalanceDelay: 100 * time.Millisecond,
				MinSessionTimeout:     time.Second,
			},
		}
		boot = append(boot, raft.Server{ID: raftnode.ServerID(int32(i)), Address: raft.ServerAddress(n.Cfg.Raft.Addr), Suffrage: raft.Voter})
		c.Nodes = append(c.Nodes, n)
	}
	for _, n := range c.Nodes {
		n.Cfg.Raft.Bootstrap = boot
		if opts.Configure != nil {
			opts.Configure(&n.Cfg)
		}
	}
	t.Cleanup(func() {
		for _, n := range c.Nodes {
			if s := n.Server(); s != nil {
				s.Kill()
			}
		}
		logs.close()
		if t.Failed() {
			tailLog(t, logFile.Name(), 400)
		}
	})
	for _, n := range c.Nodes {
		c.StartNode(n)
	}
	c.WaitStable()
	return c
}

// StartNode starts (or restarts) a node with its configuration and data.
// A start that fails is retried for a few seconds (a restarted node's
// ports were just closed); then the test fails with the last error and the
// end of the node's log.
func (c *Cluster) StartNode(n *Node) {
	c.t.Helper()
	var s *server.Server
	err := poll(startRetry, func() (err error) {
		s, err = server.Start(n.Cfg)
		return err
	})
	if err != nil {
		c.t.Fatalf("node %d did not start within %v: %v\nits log ends:\n%s", n.ID, startRetry, err, c.nodeLogTail(n, 40))
	}
	n.mu.Lock()
	n.srv = s
	n.mu.Unlock()
}

// startRetry is how long StartNode retries a failing start.
var startRetry = 10 * time.Second

// Kill stops a node abruptly, without leadership transfer.
func (c *Cluster) Kill(n *Node) {
	n.mu.Lock()
	s := n.srv
	n.srv = nil
	n.mu.Unlock()
	if s != nil {
		s.Kill()
	}
}

// Stop stops a node gracefully.
func (c *Cluster) Stop(n *Node) {
	n.mu.Lock()
	s := n.srv
	n.srv = nil
	n.mu.Unlock()
	if s != nil {
		s.Close()
	}
}

// Restart kills and starts a node.
func (c *Cluster) Restart(n *Node) {
	c.Kill(n)
	c.StartNode(n)
}

// Leader waits for a node that is up and leads, and returns it.
func (c *Cluster) Leader() *Node {
	c.t.Helper()
	var leader *Node
	Wait(c.t, 20*time.Second, "a leader", func() error {
		leader = nil
		var states []string
		for _, n := range c.Nodes {
			s := n.Server()
			if s == nil {
				states = append(states, fmt.Sprintf("node %d down", n.ID))
				continue
			}
			if s.Node.IsLeader() {
				leader = n
				return nil
			}
			states = append(states, fmt.Sprintf("node %d follows %d", n.ID, s.Node.Leader()))
		}
		return fmt.Errorf("no node leads: %s", strings.Join(states, ", "))
	})
	return leader
}

// Followers returns the running nodes other than the leader.
func (c *Cluster) Followers() []*Node {
	l := c.Leader()
	var out []*Node
	for _, n := range c.Nodes {
		if n != l && n.Up() {
			out = append(out, n)
		}
	}
	return out
}

// WaitStable waits until every running node agrees on one leader, has
// registered its addresses and is ready.
func (c *Cluster) WaitStable() {
	c.t.Helper()
	Wait(c.t, 30*time.Second, "a stable cluster", func() error {
		leader := int32(-1)
		for _, n := range c.Nodes {
			s := n.Server()
			if s == nil {
				continue
			}
			l := s.Node.Leader()
			switch {
			case l < 0:
				return fmt.Errorf("node %d knows no leader", n.ID)
			case leader >= 0 && l != leader:
				return fmt.Errorf("node %d follows %d, another node %d", n.ID, l, leader)
			case !s.Ready():
				return fmt.Errorf("node %d is not ready", n.ID)
			}
			leader = l
			for _, m := range c.Nodes {
				if m.Up() {
					if _, ok := s.Node.State.Broker(m.ID); !ok {
						return fmt.Errorf("node %d has not seen node %d register", n.ID, m.ID)
					}
				}
			}
		}
		if leader < 0 {
			return fmt.Errorf("no node is up")
		}
		return nil
	})
}

// KafkaAddrs lists every node's Kafka address, up or not.
func (c *Cluster) KafkaAddrs() []string {
	var out []string
	for _, n := range c.Nodes {
		out = append(out, n.Cfg.Kafka.Addr)
	}
	return out
}

// Client returns a franz-go client seeded with every node, closed at cleanup.
func (c *Cluster) Client(opts ...kgo.Opt) *kgo.Client {
	c.t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(c.KafkaAddrs()...)}, opts...)...)
	if err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(cl.Close)
	return cl
}

// CreateTopic creates a topic with the default replication and fails the
// test if the cluster refuses it.
func (c *Cluster) CreateTopic(topic string, partitions int32) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	resp, err := kadm.NewClient(c.Client()).CreateTopic(ctx, partitions, -1, nil, topic)
	if err != nil {
		c.t.Fatalf("create topic: %v", err)
	}
	if resp.Err != nil {
		c.t.Fatalf("create topic: %v", resp.Err)
	}
}

// Digests returns a running node's partition digests keyed "topic/partition".
func (c *Cluster) Digests(n *Node) map[string]httpapi.PartitionDigest {
	out := map[string]httpapi.PartitionDigest{}
	if s := n.Server(); s != nil {
		for _, p := range s.PartitionsView().Partitions {
			out[p.Topic+"/"+strconv.Itoa(int(p.Partition))] = p
		}
	}
	return out
}

// WaitReplicasIdentical waits until every running node holds byte-identical
// partition logs (equal digests) and has applied the same index.
func (c *Cluster) WaitReplicasIdentical() {
	c.t.Helper()
	Wait(c.t, 30*time.Second, "identical replicas", func() error {
		var ref map[string]httpapi.PartitionDigest
		var refID int32
		for _, n := range c.Nodes {
			if !n.Up() {
				continue
			}
			d := c.Digests(n)
			if ref == nil {
				ref, refID = d, n.ID
				continue
			}
			if len(d) != len(ref) {
				return fmt.Errorf("node %d holds %d partitions, node %d %d", refID, len(ref), n.ID, len(d))
			}
			for k, v := range ref {
				if d[k] != v {
					return fmt.Errorf("%s differs: node %d %+v, node %d %+v", k, refID, v, n.ID, d[k])
				}
			}
		}
		return nil
	})
}

// WaitFor polls cond until it holds or the timeout passes, then fails the
// test naming what it waited for. Wait, whose condition says why it does
// not hold yet, fails with that instead.
func WaitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	err := poll(timeout, func() error {
		if cond() {
			return nil
		}
		return errNotYet
	})
	if err != nil {
		t.Fatalf("timed out after %v waiting for %s", timeout, what)
	}
}

var errNotYet = errors.New("not yet")

// Wait polls cond until it returns nil or the timeout passes, then fails the
// test naming what it waited for and cond's last error.
func Wait(t testing.TB, timeout time.Duration, what string, cond func() error) {
	t.Helper()
	if err := poll(timeout, cond); err != nil {
		t.Fatalf("timed out after %v waiting for %s: %v", timeout, what, err)
	}
}

// poll returns nil once cond does, or cond's last error once timeout has
// passed; it checks often at first, then every 100ms.
func poll(timeout time.Duration, cond func() error) error {
	deadline := time.Now().Add(timeout)
	wait := 5 * time.Millisecond
	for {
		err := cond()
		if err == nil || time.Now().After(deadline) {
			return err
		}
		time.Sleep(wait)
		if wait < 100*time.Millisecond {
			wait *= 2
		}
	}
}

// FreePorts returns n consecutive ports on 127.0.0.1 reserved for the test
// until its cleanup (testports.Reserve): outside the kernel's ephemeral
// range, so no outgoing connection takes one while a node is down, and
// locked against other test processes.
func FreePorts(t testing.TB, n int) []int {
	t.Helper()
	return testports.Reserve(t, n)
}

// Ctx returns a context cancelled at cleanup.
func Ctx(t testing.TB) context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	return ctx
}

// lockedWriter collects every node's log lines in one file, printed when a
// test fails.
type lockedWriter struct {
	mu     sync.Mutex
	w      *os.File
	closed bool
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return len(p), nil
	}
	return l.w.Write(p)
}

func (l *lockedWriter) close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.closed = true
	l.w.Close()
}

func tailLog(t testing.TB, path string, n int) {
	t.Logf("last node log lines:\n%s", lastLines(path, n, ""))
}

// nodeLogTail is the end of one node's lines in the cluster's log.
func (c *Cluster) nodeLogTail(n *Node, lines int) string {
	return lastLines(c.logPath, lines, fmt.Sprintf("node_id=%d", n.ID))
}

// lastLines returns the last n lines of the file that hold the attribute
// attr (key=value), or all lines when attr is empty.
func lastLines(path string, n int, attr string) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	var lines []string
	for _, l := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		if attr == "" || strings.Contains(l+" ", attr+" ") {
			lines = append(lines, l)
		}
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
