//go:build linux

// Package harness runs real `raftline serve` processes, each in its own
// network namespace built by netfault, and drives them from the test: start,
// SIGKILL, SIGTERM, SIGSTOP/SIGCONT, restart; it reads their HTTP views,
// waits on conditions with deadlines, produces under load into a verify
// ledger, and probes nodes with single Kafka requests.
package harness

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/raftline/raftline/test/chaos/netfault"
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
}

// Cluster is a running set of nodes on their own network.
type Cluster struct {
	t     testing.TB
	Net   *netfault.Network
	Nodes []*Node
	bin   string
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

	dataDir string
	logPath string
	args    []string

	mu      sync.Mutex
	cmd     *exec.Cmd
	exited  chan struct{}
	waitErr error
	logFrom int64
	// stopping is set when the harness itself ends the process; an exit
	// without it is a crash, recorded in crashes.
	stopping bool
	crashes  []string
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
	c := &Cluster{t: t, bin: bin, dir: t.TempDir()}
	nw, err := netfault.New(opts.Nodes)
	if err != nil {
		t.Fatalf("creating the cluster's network namespaces: %v", err)
	}
	c.Net = nw
	t.Cleanup(c.cleanup)
	var boot []string
	for i, h := range nw.Hosts {
		boot = append(boot, fmt.Sprintf("%d=%s:%d", i+1, h.IP, RaftPort))
	}
	for i, h := range nw.Hosts {
		n := &Node{
			ID: int32(i + 1), Host: h,
			Kafka:   fmt.Sprintf("%s:%d", h.IP, KafkaPort),
			HTTP:    fmt.Sprintf("%s:%d", h.IP, HTTPPort),
			Raft:    fmt.Sprintf("%s:%d", h.IP, RaftPort),
			dataDir: filepath.Join(c.dir, fmt.Sprintf("n%d", i+1)),
			logPath: filepath.Join(c.dir, fmt.Sprintf("n%d.log", i+1)),
		}
		n.args = append([]string{"serve",
			"--node-id", strconv.Itoa(i + 1),
			"--data-dir", n.dataDir,
			"--kafka-addr", n.Kafka,
			"--http-addr", n.HTTP,
			"--raft-addr", n.Raft,
			"--bootstrap", strings.Join(boot, ","),
		}, opts.Args...)
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
		if n.Running() {
			n.signal(syscall.SIGKILL) // SIGKILL ends a frozen process too
			select {
			case <-n.exited:
			case <-time.After(10 * time.Second):
				c.t.Logf("%v did not exit after SIGKILL", n)
			}
		}
	}
	if err := c.Net.Close(); err != nil {
		c.t.Errorf("removing the cluster's network: %v", err)
	}
	if c.t.Failed() {
		for _, n := range c.Nodes {
			c.t.Logf("--- %v log tail (%s) ---\n%s", n, n.logPath, systest.Tail(n.logPath, 40, nil))
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
// node's log file.
func (c *Cluster) Start(n *Node) {
	c.t.Helper()
	if n.Running() {
		c.t.Fatalf("%v is already running", n)
	}
	f, err := os.OpenFile(n.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		c.t.Fatal(err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		c.t.Fatal(err)
	}
	fmt.Fprintf(f, "=== chaos harness: starting %v at %s ===\n", n, time.Now().Format(time.RFC3339Nano))
	cmd := n.Host.Command(c.bin, n.args...)
	cmd.Env = systest.ChildEnv()
	cmd.Stdout, cmd.Stderr = f, f
	// Should the test binary die without its cleanups (a -timeout panic),
	// the kernel kills the nodes with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := spawn(cmd); err != nil {
		c.t.Fatalf("start %v: %v", n, err)
	}
	exited := make(chan struct{})
	n.mu.Lock()
	n.cmd, n.exited, n.waitErr, n.logFrom, n.stopping = cmd, exited, nil, st.Size(), false
	n.mu.Unlock()
	go func() {
		err := cmd.Wait()
		n.mu.Lock()
		n.waitErr = err
		if !n.stopping {
			why := ""
			if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL {
				// Nothing in raftline sends itself SIGKILL and the
				// harness did not: some other process on the machine did.
				why = " (a SIGKILL the harness did not send)"
			}
			n.crashes = append(n.crashes, fmt.Sprintf("%v (pid %d) exited on its own at %s: %v%s",
				n, cmd.Process.Pid, time.Now().Format("15:04:05.000"), cmd.ProcessState, why))
		}
		n.mu.Unlock()
		close(exited)
	}()
}

// spawn starts cmd from one OS thread that never exits. The kernel sends a
// child its Pdeathsig when the thread that forked it ends, not the process
// (go.dev/issue/27505), and Go ends a thread whenever a goroutine exits
// while locked to it; forking from a thread kept for the purpose makes the
// signal mean "the test process died" and nothing else.
func spawn(cmd *exec.Cmd) error {
	spawnOnce.Do(func() {
		go func() {
			runtime.LockOSThread() // for good: this goroutine never returns
			for r := range spawnReqs {
				r.done <- r.cmd.Start()
			}
		}()
	})
	done := make(chan error, 1)
	spawnReqs <- spawnReq{cmd, done}
	return <-done
}

type spawnReq struct {
	cmd  *exec.Cmd
	done chan error
}

var (
	spawnOnce sync.Once
	spawnReqs = make(chan spawnReq)
)

// Running reports whether the node's process is alive (frozen counts).
func (n *Node) Running() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.exited == nil {
		return false
	}
	select {
	case <-n.exited:
		return false
	default:
		return true
	}
}

// Pid is the current process id, or 0.
func (n *Node) Pid() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cmd == nil || n.cmd.Process == nil {
		return 0
	}
	return n.cmd.Process.Pid
}

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
	select {
	case <-n.exited:
	case <-time.After(timeout):
		c.t.Fatalf("%v (pid %d) still running %v after the signal", n, pid, timeout)
	}
	n.mu.Lock()
	err, ps := n.waitErr, n.cmd.ProcessState
	n.mu.Unlock()
	if clean && err != nil {
		c.t.Fatalf("%v (pid %d) did not exit cleanly: %v", n, pid, err)
	}
	return fmt.Sprintf("%v (pid %d) %s", n, pid, ps.String())
}

// signal sends sig to the node's process as a stop the harness asked for,
// and returns the pid.
func (n *Node) signal(sig syscall.Signal) int {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.stopping = true
	n.cmd.Process.Signal(sig)
	return n.cmd.Process.Pid
}

// Crashes lists the node's exits that the harness did not cause.
func (n *Node) Crashes() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return slices.Clone(n.crashes)
}

// Freeze stops the node with SIGSTOP and returns the kernel's word that it
// is stopped (state T in /proc/<pid>/stat).
func (c *Cluster) Freeze(n *Node) string {
	c.t.Helper()
	pid := n.Pid()
	n.cmd.Process.Signal(syscall.SIGSTOP)
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
	n.cmd.Process.Signal(syscall.SIGCONT)
}

// LogSinceStart is what the node's current process has logged so far.
func (n *Node) LogSinceStart() (string, error) {
	n.mu.Lock()
	from := n.logFrom
	n.mu.Unlock()
	f, err := os.Open(n.logPath)
	if err != nil {
		return "", err
	}
	defer f.Close()
	if _, err := f.Seek(from, io.SeekStart); err != nil {
		return "", err
	}
	b, err := io.ReadAll(f)
	return string(b), err
}

// DataDir is the node's data directory.
func (n *Node) DataDir() string { return n.dataDir }

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
