//go:build linux

// Package harness runs real `raftline serve` processes, each in its own
// network namespace built by netfault, and drives them from the test: start,
// SIGKILL, SIGTERM, SIGSTOP/SIGCONT, restart; it reads their HTTP views,
// waits on conditions with deadlines, produces under load into a verify
// ledger, and probes nodes with single Kafka requests.
package harness

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/raftline/raftline/internal/clusterspec"
	"github.com/raftline/raftline/test/chaos/netfault"
	"github.com/raftline/raftline/test/internal/diskfault"
	"github.com/raftline/raftline/test/internal/systest"
)

// Every node listens on the same ports, each on its own address.
const (
	KafkaPort = 9092
	HTTPPort  = 9644
	RaftPort  = 9192
)

// Build compiles ./cmd/raftline into dir and returns the binary's path.
func Build(dir string) (string, error) {
	root, err := systest.RepoRoot()
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "raftline")
	return bin, systest.Build(root, bin, "./cmd/raftline")
}

// Options tune a cluster.
type Options struct {
	// Nodes is the cluster size (default 3).
	Nodes int
	// Args are appended to every node's `raftline serve` flags.
	Args []string
	// DiskBytes, when set, puts every node's data directory on a tmpfs of
	// that size in the node's own mount namespace, new and empty at each
	// start (test/internal/diskfault): a disk a scenario can fill.
	DiskBytes int64
}

// Cluster is a running set of nodes on their own network.
type Cluster struct {
	t     testing.TB
	Net   *netfault.Network
	Nodes []*Node
	dir   string
}

// Node is one `raftline serve` process, restartable with the same flags,
// address and data directory.
type Node struct {
	ID    int32
	Host  *netfault.Host
	Kafka string // host:port clients dial
	HTTP  string
	Raft  string

	spec clusterspec.Node
	proc *systest.Proc
}

// String names the node in messages.
func (n *Node) String() string { return fmt.Sprintf("n%d", n.ID) }

// New builds the network, starts the nodes bootstrapped together and waits
// until they agree on a leader, every node is registered and ready. Cleanup
// kills the nodes and removes the network.
func New(t testing.TB, bin string, opts Options) *Cluster {
	t.Helper()
	if opts.Nodes == 0 {
		opts.Nodes = 3
	}
	// TempDir first: cleanups run last-in first-out, so the processes
	// are gone before their directories are removed.
	c := &Cluster{t: t, dir: t.TempDir()}
	nw, err := netfault.New(opts.Nodes)
	if err != nil {
		t.Fatalf("creating the cluster's network namespaces: %v", err)
	}
	c.Net = nw
	t.Cleanup(c.cleanup)
	var ips []string
	for _, h := range nw.Hosts {
		ips = append(ips, h.IP)
	}
	spec := clusterspec.OnHosts(ips, c.dir, KafkaPort, HTTPPort, RaftPort)
	spec.Args = opts.Args
	for i, sn := range spec.Nodes {
		h := nw.Hosts[i]
		n := &Node{ID: sn.ID, Host: h, Kafka: sn.KafkaAddr(), HTTP: sn.HTTPAddr(), Raft: sn.RaftAddr(), spec: sn}
		// Each node runs inside its host's namespace.
		n.proc = systest.NewProc(c.dir, n.String(), bin, spec.ServeArgs(sn)...)
		n.proc.Command = h.Command
		if opts.DiskBytes > 0 {
			d, err := diskfault.Tmpfs(sn.DataDir, opts.DiskBytes)
			if err != nil {
				t.Fatal(err)
			}
			n.proc.Command = func(bin string, args ...string) *exec.Cmd {
				name, wrapped := d.Wrap(bin, args...)
				return h.Command(name, wrapped...)
			}
		}
		c.Nodes = append(c.Nodes, n)
	}
	for _, n := range c.Nodes {
		c.Start(n)
	}
	c.WaitLeader(30*time.Second, nil)
	c.WaitRegistered(30 * time.Second)
	c.WaitReady(30*time.Second, c.Nodes...)
	return c
}

func (c *Cluster) cleanup() {
	for _, n := range c.Nodes {
		for _, crash := range n.Crashes() {
			c.t.Errorf("node crash: %s", crash)
		}
	}
	for _, n := range c.Nodes {
		if err := n.proc.Kill(); err != nil { // SIGKILL ends a frozen process too
			c.t.Log(err)
		}
	}
	if err := c.Net.Close(); err != nil {
		c.t.Errorf("removing the cluster's network: %v", err)
	}
	if c.t.Failed() {
		for _, n := range c.Nodes {
			c.t.Logf("--- %v log tail (%s) ---\n%s", n, n.proc.LogPath, systest.Tail(n.proc.LogPath, 40, nil))
		}
	}
}

// KafkaAddrs lists the nodes' Kafka addresses (all nodes when none given).
func (c *Cluster) KafkaAddrs(nodes ...*Node) []string {
	if len(nodes) == 0 {
		nodes = c.Nodes
	}
	var out []string
	for _, n := range nodes {
		out = append(out, n.Kafka)
	}
	return out
}

// Start starts the node's process inside its namespace; output goes to the
// node's log file. Should the test binary die without its cleanups (a
// -timeout panic), the kernel kills the nodes with it.
func (c *Cluster) Start(n *Node) {
	c.t.Helper()
	if n.Running() {
		c.t.Fatalf("%v is already running", n)
	}
	if err := n.proc.Start(); err != nil {
		c.t.Fatal(err)
	}
}

// Running reports whether the node's process is alive (frozen counts).
func (n *Node) Running() bool { return n.proc.Running() }

// Pid is the current process id, or 0.
func (n *Node) Pid() int { return n.proc.Pid() }

// Kill sends SIGKILL, waits for the process to be gone and returns how it
// ended, which proves the crash.
func (c *Cluster) Kill(n *Node) string {
	c.t.Helper()
	if !n.Running() {
		c.t.Fatalf("kill: %v is not running", n)
	}
	pid := n.signal(syscall.SIGKILL)
	return c.waitExit(n, pid, 10*time.Second, false)
}

// KillAll sends SIGKILL to every given node at once, then waits for each
// to be gone: a whole-cluster crash, as a power cut would be.
func (c *Cluster) KillAll(nodes ...*Node) []string {
	c.t.Helper()
	pids := make([]int, len(nodes))
	for i, n := range nodes {
		if !n.Running() {
			c.t.Fatalf("kill: %v is not running", n)
		}
		pids[i] = n.signal(syscall.SIGKILL)
	}
	var out []string
	for i, n := range nodes {
		out = append(out, c.waitExit(n, pids[i], 10*time.Second, false))
	}
	return out
}

// Term sends SIGTERM and waits for a clean exit, status 0, as a graceful
// shutdown must end; it returns how the process ended.
func (c *Cluster) Term(n *Node) string {
	c.t.Helper()
	if !n.Running() {
		c.t.Fatalf("term: %v is not running", n)
	}
	pid := n.signal(syscall.SIGTERM)
	return c.waitExit(n, pid, 30*time.Second, true)
}

func (c *Cluster) waitExit(n *Node, pid int, timeout time.Duration, clean bool) string {
	c.t.Helper()
	status, err := n.proc.Wait(timeout)
	if err != nil {
		c.t.Fatalf("%v (pid %d) still running %v after the signal", n, pid, timeout)
	}
	if clean && status != nil {
		c.t.Fatalf("%v (pid %d) did not exit cleanly: %v", n, pid, status)
	}
	return fmt.Sprintf("%v (pid %d) %s", n, pid, n.proc.ProcessState())
}

// ExpectFaultExit declares that the node's process will exit on its own
// because of a fault the scenario is about to inject (a disk failure), so
// its exit is not reported as a crash.
func (c *Cluster) ExpectFaultExit(n *Node) { n.proc.ExpectExit() }

// WaitFaultExit waits for the node to exit after ExpectFaultExit and returns
// its exit status (-1 when a signal ended it) and how it ended.
func (c *Cluster) WaitFaultExit(n *Node, timeout time.Duration) (int, string) {
	c.t.Helper()
	pid := n.Pid()
	status, err := n.proc.Wait(timeout)
	if err != nil {
		c.t.Fatalf("%v (pid %d) still running %v after the fault", n, pid, timeout)
	}
	code := 0
	var exit *exec.ExitError
	if errors.As(status, &exit) {
		code = exit.ExitCode()
	}
	return code, fmt.Sprintf("%v (pid %d) %s", n, pid, n.proc.ProcessState())
}

// signal sends sig to the node's process as a stop the harness asked for,
// and returns the pid.
func (n *Node) signal(sig syscall.Signal) int {
	n.proc.Signal(sig)
	return n.proc.Pid()
}

// Crashes lists the node's exits that the harness did not cause.
func (n *Node) Crashes() []string { return n.proc.Crashes() }

// Freeze stops the node with SIGSTOP and returns the kernel's word that it
// is stopped (state T in /proc/<pid>/stat).
func (c *Cluster) Freeze(n *Node) string {
	c.t.Helper()
	pid := n.Pid()
	n.proc.Signal(syscall.SIGSTOP)
	var state string
	WaitFor(c.t, 5*time.Second, fmt.Sprintf("%v to be stopped", n), func() error {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			return err
		}
		// The state follows the parenthesised command name.
		s := string(b)
		if i := strings.LastIndexByte(s, ')'); i >= 0 && len(s) > i+2 {
			state = s[i+2 : i+3]
		}
		if state != "T" {
			return fmt.Errorf("state %q", state)
		}
		return nil
	})
	return fmt.Sprintf("%v (pid %d) state %s (stopped) in /proc", n, pid, state)
}

// Thaw resumes a frozen node with SIGCONT.
func (c *Cluster) Thaw(n *Node) {
	c.t.Helper()
	n.proc.Signal(syscall.SIGCONT)
}

// LogSinceStart is what the node's current process has logged so far.
func (n *Node) LogSinceStart() (string, error) { return n.proc.LogSinceStart() }

// DataDir is the node's data directory.
func (n *Node) DataDir() string { return n.spec.DataDir }

// Others returns the cluster's nodes except those given.
func (c *Cluster) Others(except ...*Node) []*Node {
	var out []*Node
	for _, n := range c.Nodes {
		skip := false
		for _, e := range except {
			skip = skip || n == e
		}
		if !skip {
			out = append(out, n)
		}
	}
	return out
}

// Hosts returns the nodes' namespaces.
func Hosts(nodes ...*Node) []*netfault.Host {
	var out []*netfault.Host
	for _, n := range nodes {
		out = append(out, n.Host)
	}
	return out
}
