//go:build linux

package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/raftline/raftline/internal/childproc"

	"github.com/raftline/raftline/internal/clusterspec"
)

// cluster is three `raftline serve` processes on this machine, each its own
// process so that one can be stopped and started again on its data while
// the others carry the load.
type cluster struct {
	bin  string
	spec clusterspec.Spec
	dir  string

	mu    sync.Mutex
	procs map[int32]*exec.Cmd
	done  map[int32]chan struct{}
}

func newCluster(bin, dir string, kafkaPort, httpPort, raftPort int, args []string) *cluster {
	spec := clusterspec.Local("127.0.0.1", filepath.Join(dir, "data"), 3, kafkaPort, httpPort, raftPort)
	spec.Args = args
	return &cluster{bin: bin, dir: dir, spec: spec, procs: map[int32]*exec.Cmd{}, done: map[int32]chan struct{}{}}
}

func (c *cluster) brokers() []string { return c.spec.KafkaAddrs() }

func (c *cluster) node(id int32) clusterspec.Node {
	for _, n := range c.spec.Nodes {
		if n.ID == id {
			return n
		}
	}
	panic(fmt.Sprintf("no node %d", id))
}

// pid is node id's process id, or 0 while it is not running.
func (c *cluster) pid(id int32) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if cmd := c.procs[id]; cmd != nil {
		return cmd.Process.Pid
	}
	return 0
}

// start starts node id and returns at once.
func (c *cluster) start(id int32) error {
	n := c.node(id)
	log, err := os.OpenFile(filepath.Join(c.dir, fmt.Sprintf("node-%d.log", id)), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	cmd := exec.Command(c.bin, c.spec.ServeArgs(n)...)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.Env = childproc.Env()
	// Should this program die, its nodes die with it.
	cmd.SysProcAttr = childproc.DieWithParent()
	if err := childproc.Start(cmd); err != nil {
		log.Close()
		return fmt.Errorf("start node %d: %w", id, err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); log.Close(); close(done) }()
	c.mu.Lock()
	c.procs[id], c.done[id] = cmd, done
	c.mu.Unlock()
	return nil
}

// startAll starts every node and waits until all are ready.
func (c *cluster) startAll(ctx context.Context) error {
	for _, n := range c.spec.Nodes {
		if err := c.start(n.ID); err != nil {
			return err
		}
	}
	return c.waitReady(ctx, 60*time.Second)
}

// terminate sends node id SIGTERM, as an orderly shutdown would, and waits
// for it to exit; after grace it is killed. It reports whether the node
// exited on its own.
func (c *cluster) terminate(id int32, grace time.Duration) bool {
	c.mu.Lock()
	cmd, done := c.procs[id], c.done[id]
	delete(c.procs, id)
	c.mu.Unlock()
	if cmd == nil {
		return true
	}
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
		return true
	case <-time.After(grace):
		cmd.Process.Kill()
		<-done
		return false
	}
}

// stop kills every node.
func (c *cluster) stop() {
	for _, n := range c.spec.Nodes {
		c.mu.Lock()
		cmd, done := c.procs[n.ID], c.done[n.ID]
		delete(c.procs, n.ID)
		c.mu.Unlock()
		if cmd != nil {
			cmd.Process.Kill()
			<-done
		}
	}
}

var httpClient = &http.Client{Timeout: 2 * time.Second}

// waitReady polls every node's /readyz until all answer 200.
func (c *cluster) waitReady(ctx context.Context, timeout time.Duration) error {
	return poll(ctx, timeout, 100*time.Millisecond, func() error {
		for _, n := range c.spec.Nodes {
			resp, err := httpClient.Get("http://" + n.HTTPAddr() + "/readyz")
			if err != nil {
				return fmt.Errorf("node %d: %w", n.ID, err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				return fmt.Errorf("node %d: /readyz %s", n.ID, resp.Status)
			}
		}
		return nil
	})
}

// leader waits until the running nodes agree on a leader and returns its id.
func (c *cluster) leader(timeout time.Duration) (int32, error) {
	running := func() []string {
		c.mu.Lock()
		defer c.mu.Unlock()
		var out []string
		for _, n := range c.spec.Nodes {
			if c.procs[n.ID] != nil {
				out = append(out, n.HTTPAddr())
			}
		}
		return out
	}
	a, err := clusterspec.WaitLeader(timeout, 50*time.Millisecond, running, nil)
	return a.LeaderID, err
}

// poll calls cond every interval until it returns nil, ctx ends or timeout
// passes, and then returns the last error.
func poll(ctx context.Context, timeout, every time.Duration, cond func() error) error {
	deadline := time.Now().Add(timeout)
	for {
		err := cond()
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("%w (last: %v)", ctx.Err(), err)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not within %v: %w", timeout, err)
		}
		select {
		case <-ctx.Done():
		case <-time.After(every):
		}
	}
}
