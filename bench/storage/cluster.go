//go:build linux

package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/raftline/raftline/internal/childproc"

	"github.com/raftline/raftline/broker/httpapi"
	"github.com/raftline/raftline/internal/clusterspec"
)

// devCluster is one `raftline dev` process and the three `raftline serve`
// nodes it runs, on ports and a data directory that stay the same across
// restarts, as a user's `raftline dev` would.
type devCluster struct {
	ctx     context.Context // ends the waits when the run is interrupted
	bin     string
	dataDir string
	spec    clusterspec.Spec
	// devArgs are `raftline dev`'s own flags; serveArgs follow `--`.
	devArgs   []string
	serveArgs []string
	logPath   string

	cmd  *exec.Cmd
	done chan struct{} // closed when cmd has exited
}

func newDevCluster(ctx context.Context, bin, dataDir, logPath string, kafkaPort, httpPort, raftPort int, devArgs []string) *devCluster {
	return &devCluster{
		ctx: ctx, bin: bin, dataDir: dataDir, logPath: logPath, devArgs: devArgs,
		spec: clusterspec.Local("127.0.0.1", dataDir, 3, kafkaPort, httpPort, raftPort),
	}
}

func (c *devCluster) brokers() string { return strings.Join(c.spec.KafkaAddrs(), ",") }

// start runs `raftline dev` with the current serve flags and returns at once.
func (c *devCluster) start() error {
	if c.cmd != nil {
		return errors.New("raftline dev is already running")
	}
	args := append([]string{"dev",
		"--data-dir", c.dataDir,
		"--kafka-port", strconv.Itoa(c.spec.Nodes[0].KafkaPort),
		"--http-port", strconv.Itoa(c.spec.Nodes[0].HTTPPort),
		"--raft-port", strconv.Itoa(c.spec.Nodes[0].RaftPort),
	}, c.devArgs...)
	if len(c.serveArgs) > 0 {
		args = append(append(args, "--"), c.serveArgs...)
	}
	log, err := os.OpenFile(c.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	fmt.Fprintf(log, "=== %s %s\n", time.Now().Format(time.RFC3339Nano), strings.Join(args, " "))
	cmd := exec.Command(c.bin, args...)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.Env = childproc.Env()
	// Should this program die, dev gets SIGTERM and stops its nodes.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	if err := childproc.Start(cmd); err != nil {
		log.Close()
		return fmt.Errorf("start raftline dev: %w", err)
	}
	c.cmd, c.done = cmd, make(chan struct{})
	go func() {
		cmd.Wait()
		log.Close()
		close(c.done)
	}()
	return nil
}

// stop sends `raftline dev` SIGTERM, which it passes to every node at once,
// and waits for it to exit.
func (c *devCluster) stop(timeout time.Duration) error {
	if c.cmd == nil {
		return nil
	}
	defer func() { c.cmd = nil }()
	c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.done:
	case <-time.After(timeout):
		c.cmd.Process.Kill()
		<-c.done
		return fmt.Errorf("raftline dev did not exit within %v of SIGTERM; killed\n%s", timeout, c.logTail())
	}
	if st := c.cmd.ProcessState; !st.Success() {
		return fmt.Errorf("raftline dev exited with %v\n%s", st, c.logTail())
	}
	return nil
}

// exited reports an error when `raftline dev` is no longer running.
func (c *devCluster) exited() error {
	if c.cmd == nil {
		return errors.New("raftline dev is not running")
	}
	select {
	case <-c.done:
		return fmt.Errorf("raftline dev exited (%v)\n%s", c.cmd.ProcessState, c.logTail())
	default:
		return nil
	}
}

func (c *devCluster) logTail() string {
	b, err := os.ReadFile(c.logPath)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-20):], "\n")
}

// waitReady polls /readyz on every node until all answer 200, and returns
// how long that took from since. A node is ready once it has a leader and has
// applied what the leader committed, so this includes election and replay.
func (c *devCluster) waitReady(since time.Time, timeout time.Duration) (time.Duration, error) {
	var last error
	deadline := time.Now().Add(timeout)
	for {
		if err := c.exited(); err != nil {
			return 0, err
		}
		if err := c.ctx.Err(); err != nil {
			return 0, err
		}
		last = nil
		for _, n := range c.spec.Nodes {
			if err := ready(n.HTTPAddr()); err != nil {
				last = fmt.Errorf("node %d: %w", n.ID, err)
				break
			}
		}
		if last == nil {
			return time.Since(since), nil
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("not every node ready within %v: %w", timeout, last)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

var httpClient = &http.Client{Timeout: 2 * time.Second}

func ready(addr string) error {
	resp, err := httpClient.Get("http://" + addr + "/readyz")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("/readyz: %s: %s", resp.Status, strings.TrimSpace(string(body)))
	}
	return nil
}

// views are every node's GET /v1/cluster.
func (c *devCluster) views() ([]httpapi.ClusterView, error) {
	var vs []httpapi.ClusterView
	for _, n := range c.spec.Nodes {
		v, err := clusterspec.View(n.HTTPAddr())
		if err != nil {
			return nil, err
		}
		vs = append(vs, v)
	}
	return vs, nil
}

// leader is the node every node names as leader.
func (c *devCluster) leader(timeout time.Duration) (clusterspec.Node, error) {
	a, err := clusterspec.WaitLeader(timeout, 50*time.Millisecond, c.spec.HTTPAddrs, nil)
	if err != nil {
		return clusterspec.Node{}, err
	}
	for _, n := range c.spec.Nodes {
		if n.ID == a.LeaderID {
			return n, nil
		}
	}
	return clusterspec.Node{}, fmt.Errorf("leader %d is not one of the nodes", a.LeaderID)
}

// nodePIDs maps node ids to the pids of the `raftline serve` processes dev
// started, found among its children by their --node-id.
func (c *devCluster) nodePIDs() (map[int32]int, error) {
	if err := c.exited(); err != nil {
		return nil, err
	}
	dev := c.cmd.Process.Pid
	tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", dev))
	if err != nil {
		return nil, err
	}
	pids := map[int32]int{}
	for _, t := range tasks {
		// Children are listed under the thread that forked them.
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/children", dev, t.Name()))
		if err != nil {
			continue // the thread is gone
		}
		for _, f := range strings.Fields(string(b)) {
			pid, err := strconv.Atoi(f)
			if err != nil {
				continue
			}
			cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
			if err != nil {
				continue
			}
			args := strings.Split(string(cmdline), "\x00")
			for i := 0; i+1 < len(args); i++ {
				if args[i] == "--node-id" {
					if id, err := strconv.Atoi(args[i+1]); err == nil {
						pids[int32(id)] = pid
					}
				}
			}
		}
	}
	if len(pids) != len(c.spec.Nodes) {
		return nil, fmt.Errorf("found %d of %d node processes under raftline dev (pid %d)", len(pids), len(c.spec.Nodes), dev)
	}
	return pids, nil
}

// memory is one node process's memory as the kernel and the Go runtime
// report it.
type memory struct {
	Node int32 `json:"node"`
	// From /proc/<pid>/status, in bytes: resident set, its anonymous and
	// file-backed parts, and the peak resident set since the process
	// started.
	RSS     int64 `json:"rss_bytes"`
	RSSAnon int64 `json:"rss_anon_bytes"`
	RSSFile int64 `json:"rss_file_bytes"`
	PeakRSS int64 `json:"peak_rss_bytes"`
	// HeapInuse is go_memstats_heap_inuse_bytes from the node's /metrics.
	HeapInuse int64 `json:"heap_inuse_bytes"`
}

func (c *devCluster) memory() ([]memory, error) {
	pids, err := c.nodePIDs()
	if err != nil {
		return nil, err
	}
	var out []memory
	for _, n := range c.spec.Nodes {
		m, err := procStatus(pids[n.ID])
		if err != nil {
			return nil, fmt.Errorf("node %d: %w", n.ID, err)
		}
		m.Node = n.ID
		if m.HeapInuse, err = metric(n.HTTPAddr(), "go_memstats_heap_inuse_bytes"); err != nil {
			return nil, fmt.Errorf("node %d: %w", n.ID, err)
		}
		out = append(out, m)
	}
	return out, nil
}

func procStatus(pid int) (memory, error) {
	var m memory
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return m, err
	}
	defer f.Close()
	fields := map[string]*int64{"VmRSS:": &m.RSS, "RssAnon:": &m.RSSAnon, "RssFile:": &m.RSSFile, "VmHWM:": &m.PeakRSS}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 3 && f[2] == "kB" {
			if p, ok := fields[f[0]]; ok {
				kb, err := strconv.ParseInt(f[1], 10, 64)
				if err != nil {
					return m, fmt.Errorf("/proc/%d/status: %q: %v", pid, sc.Text(), err)
				}
				*p = kb << 10
			}
		}
	}
	return m, sc.Err()
}

// metric sums the samples of one metric family on a node's /metrics (a
// family with labels, such as raftline_partition_high_watermark, sums over
// them).
func metric(addr, name string) (int64, error) {
	resp, err := httpClient.Get("http://" + addr + "/metrics")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("GET %s/metrics: %s", addr, resp.Status)
	}
	var sum float64
	found := false
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, name) || len(line) == len(name) || (line[len(name)] != '{' && line[len(name)] != ' ') {
			continue
		}
		f := strings.Fields(line)
		v, err := strconv.ParseFloat(f[len(f)-1], 64)
		if err != nil {
			return 0, fmt.Errorf("%s/metrics: %q: %v", addr, line, err)
		}
		sum += v
		found = true
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	if !found {
		return 0, fmt.Errorf("%s/metrics has no %s", addr, name)
	}
	return int64(sum), nil
}

// snapshotIndex is the highest Raft index among the complete snapshots in a
// node's data directory (raft/snapshots/<id>/meta.json), or 0 when there is
// none.
func snapshotIndex(nodeDir string) (uint64, error) {
	dir := filepath.Join(nodeDir, "raft", "snapshots")
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	var highest uint64
	for _, e := range entries {
		if !e.IsDir() || strings.HasSuffix(e.Name(), ".tmp") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name(), "meta.json"))
		if err != nil {
			continue // being written or reaped
		}
		idx, err := jsonIndex(b)
		if err != nil {
			return 0, fmt.Errorf("%s: %v", e.Name(), err)
		}
		highest = max(highest, idx)
	}
	return highest, nil
}

// runLogged runs a program to completion with its output appended to logPath,
// and on failure returns the end of that output.
func runLogged(ctx context.Context, logPath, bin string, args ...string) error {
	log, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	fmt.Fprintf(log, "=== %s %s %s\n", time.Now().Format(time.RFC3339Nano), bin, strings.Join(args, " "))
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.Env = childproc.Env()
	err = cmd.Run()
	log.Close()
	if err != nil {
		b, _ := os.ReadFile(logPath)
		lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
		return fmt.Errorf("%s %s: %v\n%s", filepath.Base(bin), args[0], err, strings.Join(lines[max(0, len(lines)-15):], "\n"))
	}
	return nil
}

func jsonIndex(meta []byte) (uint64, error) {
	var m struct{ Index uint64 }
	if err := json.Unmarshal(meta, &m); err != nil {
		return 0, err
	}
	return m.Index, nil
}
