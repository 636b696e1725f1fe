//go:build linux

package netfault

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Prefix starts the name of every namespace this package creates:
// Prefix-<pid>-<seq>-<role>. The pid is the creating process's, so a sweep can
// tell the namespaces of a crashed run from those of a live one.
const Prefix = "rlchaos"

// netnsDir is where `ip netns` keeps its named namespaces.
const netnsDir = "/var/run/netns"

// Network is one cluster's private network: a router namespace holding a
// bridge, one namespace per host, and a link from the root namespace (where
// the test's clients run) to the bridge.
type Network struct {
	// Name is the common prefix of the network's namespaces.
	Name string
	// HostIP is the root namespace's address on the network: clients'
	// traffic to the nodes comes from it.
	HostIP string
	// Hosts are the node namespaces, in creation order.
	Hosts []*Host

	router   string // router namespace
	hostLink string // root-namespace end of the client link
	subnet   string // "10.213.K"

	mu     sync.Mutex
	closed bool
}

// Host is one node's namespace.
type Host struct {
	// Name is the host's short name, such as "n1".
	Name string
	// NS is the namespace name, for `ip netns exec`.
	NS string
	// IP is the host's only address.
	IP string

	net    *Network
	mu     sync.Mutex
	queues map[uint16]*Queue
}

var seq atomic.Int64

// Check verifies that the tools the package runs exist and that this process
// may create namespaces. It describes the iptables backend in use.
func Check() (string, error) {
	for _, tool := range []string{"ip", "tc", "iptables"} {
		if _, err := exec.LookPath(tool); err != nil {
			return "", fmt.Errorf("%s not found (scripts/ensure-tools.sh installs iproute2 and iptables): %w", tool, err)
		}
	}
	if os.Geteuid() != 0 {
		return "", errors.New("network namespaces need root")
	}
	v, err := run("iptables", "--version")
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(v), nil
}

// New creates a network of n hosts named n1..nN, each with its own namespace
// and address in a /24 of 10.213.0.0/16 that no interface of the root
// namespace uses. Close removes everything.
func New(n int) (*Network, error) {
	id := fmt.Sprintf("%d-%d", os.Getpid(), seq.Add(1))
	nw := &Network{
		Name:     Prefix + "-" + id,
		hostLink: "rlc" + strings.ReplaceAll(id, "-", "h"), // at most 15 characters for any pid
	}
	nw.router = nw.Name + "-r"
	subnet, err := freeSubnet()
	if err != nil {
		return nil, err
	}
	nw.subnet = subnet
	nw.HostIP = subnet + ".1"
	if err := nw.build(n); err != nil {
		nw.Close()
		return nil, err
	}
	return nw, nil
}

func (nw *Network) build(n int) error {
	steps := [][]string{
		{"ip", "netns", "add", nw.router},
		{"ip", "-n", nw.router, "link", "set", "lo", "up"},
		{"ip", "-n", nw.router, "link", "add", "br0", "type", "bridge"},
		{"ip", "-n", nw.router, "link", "set", "br0", "up"},
		{"ip", "link", "add", nw.hostLink, "type", "veth", "peer", "name", "host", "netns", nw.router},
		{"ip", "-n", nw.router, "link", "set", "host", "master", "br0"},
		{"ip", "-n", nw.router, "link", "set", "host", "up"},
		{"ip", "addr", "add", nw.HostIP + "/24", "dev", nw.hostLink},
		{"ip", "link", "set", nw.hostLink, "up"},
	}
	for i := 1; i <= n; i++ {
		h := &Host{
			Name: fmt.Sprintf("n%d", i), NS: fmt.Sprintf("%s-n%d", nw.Name, i),
			IP: fmt.Sprintf("%s.%d", nw.subnet, 10+i), net: nw, queues: map[uint16]*Queue{},
		}
		nw.Hosts = append(nw.Hosts, h)
		steps = append(steps,
			[]string{"ip", "netns", "add", h.NS},
			[]string{"ip", "-n", h.NS, "link", "set", "lo", "up"},
			[]string{"ip", "link", "add", "eth0", "netns", h.NS, "type", "veth", "peer", "name", h.Name, "netns", nw.router},
			[]string{"ip", "-n", nw.router, "link", "set", h.Name, "master", "br0"},
			[]string{"ip", "-n", nw.router, "link", "set", h.Name, "up"},
			[]string{"ip", "-n", h.NS, "addr", "add", h.IP + "/24", "dev", "eth0"},
			[]string{"ip", "-n", h.NS, "link", "set", "eth0", "up"},
		)
	}
	for _, s := range steps {
		if _, err := run(s[0], s[1:]...); err != nil {
			return err
		}
	}
	return nil
}

// freeSubnet picks 10.213.K with K not yet on any root-namespace address or
// route, starting from a pid-derived K so concurrent runs rarely collide.
func freeSubnet() (string, error) {
	used, err := run("ip", "-4", "-o", "addr", "show")
	if err != nil {
		return "", err
	}
	routes, err := run("ip", "-4", "route", "show")
	if err != nil {
		return "", err
	}
	start := (os.Getpid() + int(seq.Load())*7) % 250
	for i := range 250 {
		k := 1 + (start+i)%250
		s := fmt.Sprintf("10.213.%d", k)
		if !strings.Contains(used, s+".") && !strings.Contains(routes, s+".") {
			return s, nil
		}
	}
	return "", errors.New("no free 10.213.K.0/24 subnet")
}

// Close stops the packet queues and deletes the namespaces; deleting the
// router namespace removes the root end of the client link with it. The
// caller must have stopped the processes running in the host namespaces.
func (nw *Network) Close() error {
	nw.mu.Lock()
	if nw.closed {
		nw.mu.Unlock()
		return nil
	}
	nw.closed = true
	nw.mu.Unlock()
	var errs []error
	for _, h := range nw.Hosts {
		h.closeQueues()
		if err := deleteNetns(h.NS); err != nil {
			errs = append(errs, err)
		}
	}
	if err := deleteNetns(nw.router); err != nil {
		errs = append(errs, err)
	}
	// The kernel removes a deleted namespace's links asynchronously; wait so
	// that a following New does not see the old address still in use.
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if _, err := run("ip", "link", "show", nw.hostLink); err != nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	return errors.Join(errs...)
}

func deleteNetns(name string) error {
	if _, err := os.Stat(filepath.Join(netnsDir, name)); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	_, err := run("ip", "netns", "del", name)
	return err
}

// SweepStale removes what crashed earlier runs left behind: namespaces named
// with Prefix whose creating process is gone, after killing any process
// still running inside them (a node of that run). It returns what it removed.
func SweepStale() ([]string, error) {
	entries, err := os.ReadDir(netnsDir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var removed []string
	var errs []error
	for _, e := range entries {
		name := e.Name()
		pid, ok := creatorPid(name)
		if !ok || pid == os.Getpid() || processAlive(pid) {
			continue
		}
		if out, err := run("ip", "netns", "pids", name); err == nil {
			for _, f := range strings.Fields(out) {
				if p, err := strconv.Atoi(f); err == nil {
					syscall.Kill(p, syscall.SIGKILL)
				}
			}
		}
		if err := deleteNetns(name); err != nil {
			errs = append(errs, err)
			continue
		}
		removed = append(removed, name)
	}
	return removed, errors.Join(errs...)
}

func creatorPid(name string) (int, bool) {
	rest, ok := strings.CutPrefix(name, Prefix+"-")
	if !ok {
		return 0, false
	}
	p, _, _ := strings.Cut(rest, "-")
	pid, err := strconv.Atoi(p)
	return pid, err == nil && pid > 0
}

func processAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// Host returns the host named name, or nil.
func (nw *Network) Host(name string) *Host {
	for _, h := range nw.Hosts {
		if h.Name == name {
			return h
		}
	}
	return nil
}

// Command returns a command that runs name with args inside the host's
// namespace. `ip netns exec` replaces itself with the program, so the
// command's process is the program's.
func (h *Host) Command(name string, args ...string) *exec.Cmd {
	return exec.Command("ip", append([]string{"netns", "exec", h.NS, name}, args...)...)
}

// inNetns runs fn on an OS thread switched into the namespace ns. Sockets
// keep the namespace they were created in, so a connection or listener made
// by fn goes on working from any goroutine afterwards.
func inNetns(ns string, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		// The thread is handed back to the scheduler only once it is
		// back in its own namespace; otherwise the goroutine exits
		// locked and the runtime discards the thread.
		self, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			errc <- err
			return
		}
		defer self.Close()
		target, err := os.Open(filepath.Join(netnsDir, ns))
		if err != nil {
			errc <- err
			return
		}
		defer target.Close()
		if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("setns %s: %w", ns, err)
			return
		}
		ferr := fn()
		if err := unix.Setns(int(self.Fd()), unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("setns back from %s: %w", ns, err)
			return
		}
		runtime.UnlockOSThread()
		errc <- ferr
	}()
	return <-errc
}

// Dial opens a TCP connection from inside the host's namespace, as the node
// there would: the way to show that a path between two nodes is cut.
func (h *Host) Dial(addr string, timeout time.Duration) (net.Conn, error) {
	var c net.Conn
	err := inNetns(h.NS, func() error {
		// Only the socket is created on the switched thread; connecting
		// to an IP literal needs no resolver goroutines.
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		var err error
		c, err = (&net.Dialer{}).DialContext(ctx, "tcp", addr)
		return err
	})
	return c, err
}

// TimedDial reports how long a TCP connect from the host to addr takes: one
// round trip on the path, through whatever delays the path holds.
func (h *Host) TimedDial(addr string, timeout time.Duration) (time.Duration, error) {
	start := time.Now()
	c, err := h.Dial(addr, timeout)
	if err != nil {
		return 0, err
	}
	d := time.Since(start)
	c.Close()
	return d, nil
}

// run runs a command and returns its output, or an error carrying it.
func run(name string, args ...string) (string, error) {
	cmd := exec.Command(name, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("%s %s: %v: %s", name, strings.Join(args, " "), err, strings.TrimSpace(out.String()))
	}
	return out.String(), nil
}
