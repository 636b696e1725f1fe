// Package devcluster runs `raftline dev`: a local cluster of `raftline serve`
// processes on one host with the documented default ports, for development,
// demos and the integration tests that use a real client against it.
package devcluster

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/raftline/raftline/internal/clusterspec"
)

// Options configures the local cluster. Node i (from 1) listens on
// KafkaPort+i-1, HTTPPort+i-1 and RaftPort+i-1.
type Options struct {
	Binary    string // the raftline binary to run; the current executable when empty
	DataDir   string
	Nodes     int
	Host      string
	KafkaPort int
	HTTPPort  int
	RaftPort  int
	// DefaultPartitions, DefaultRetentionBytes and LogLevel are given to
	// every node as the `raftline serve` flags of the same names (start
	// from Defaults: serve rejects zero values).
	DefaultPartitions     int
	DefaultRetentionBytes int64
	LogLevel              string
	// ServeArgs are passed to every `raftline serve`, after the flags
	// above.
	ServeArgs []string
	Stdout    io.Writer
	Stderr    io.Writer
}

// Defaults are the documented local-cluster ports the compose stack, the
// dashboards and the tests assume, and topic defaults for a first try.
func Defaults() Options {
	return Options{DataDir: "./data/dev", Nodes: 3, Host: "127.0.0.1", KafkaPort: 9092, HTTPPort: 9644, RaftPort: 9192,
		// A topic a client auto-creates gets one partition per node, so
		// the first try shows records spread over partitions.
		DefaultPartitions: 3,
		// Three nodes keep three copies of every partition on one
		// machine's disk: keep each partition's log to 256 MiB unless a
		// topic says otherwise.
		DefaultRetentionBytes: 256 << 20,
		LogLevel:              "info"}
}

// Spec is the cluster the options describe.
func (o Options) Spec() clusterspec.Spec {
	s := clusterspec.Local(o.Host, o.DataDir, o.Nodes, o.KafkaPort, o.HTTPPort, o.RaftPort)
	s.Args = append([]string{
		// A consumer group's first rebalance waits 3s by default for
		// more members; on a laptop, and in the tests run against dev,
		// a group is formed by one person or one test at a time.
		"--group-initial-rebalance-delay", "100ms",
		"--default-partitions", strconv.Itoa(o.DefaultPartitions),
		"--default-retention-bytes", strconv.FormatInt(o.DefaultRetentionBytes, 10),
		"--log-level", o.LogLevel,
	}, o.ServeArgs...)
	return s
}

// Run checks that every node's ports are free, starts the nodes and waits
// until ctx ends or a node exits, then stops them all with SIGTERM at once,
// as Ctrl-C in a terminal signals every process in its group, and waits for
// them to exit. Each node tells the others it is stopping, so none logs the
// others' departure as an error and the leader does not hand leadership to a
// node that is going too.
//
// A taken port is an error before any node starts; a node that exits on its
// own is an error naming it, its exit status and its last log lines, as a
// cluster short of a node is not what the caller asked for; so is a node
// that did not exit 0 when stopped.
func Run(ctx context.Context, o Options) error {
	if o.Nodes < 1 {
		return fmt.Errorf("--nodes must be at least 1, not %d", o.Nodes)
	}
	if o.Binary == "" {
		exe, err := os.Executable()
		if err != nil {
			return err
		}
		o.Binary = exe
	}
	spec := o.Spec()
	if err := CheckPorts(spec); err != nil {
		return err
	}
	// live ends when the nodes are told to stop: a node exiting before
	// that is reported on exits.
	live, endLive := context.WithCancel(ctx)
	defer endLive()
	var (
		wg      sync.WaitGroup
		procs   []*exec.Cmd
		exits   = make(chan nodeExit, len(spec.Nodes))
		outputs sync.Mutex // one node's line at a time on o.Stderr
	)
	stopAll := func() {
		for _, p := range procs {
			if p.Process != nil {
				p.Process.Signal(syscall.SIGTERM)
			}
		}
	}
	for _, n := range spec.Nodes {
		if err := os.MkdirAll(n.DataDir, 0o755); err != nil {
			stopAll()
			return err
		}
		cmd := exec.Command(o.Binary, spec.ServeArgs(n)...)
		out := newNodeOutput(o.Stderr, &outputs, lastLines)
		cmd.Stdout, cmd.Stderr = out, out
		cmd.SysProcAttr = nodeProcAttr()
		if err := cmd.Start(); err != nil {
			stopAll()
			return fmt.Errorf("start node %d: %w", n.ID, err)
		}
		procs = append(procs, cmd)
		wg.Add(1)
		go func(id int32, cmd *exec.Cmd) {
			defer wg.Done()
			cmd.Wait()
			out.flush()
			if live.Err() == nil {
				exits <- nodeExit{id: id, pid: cmd.Process.Pid, state: cmd.ProcessState, last: out.last()}
			}
		}(n.ID, cmd)
	}
	printInfo(o.Stdout, spec)
	var failed error
	select {
	case <-ctx.Done():
	case e := <-exits:
		fmt.Fprintf(o.Stderr, "raftline dev: node %d (pid %d) exited on its own (%v)\n", e.id, e.pid, e.state)
		failed = e
	}
	endLive()
	fmt.Fprintln(o.Stdout, "raftline dev: stopping the nodes")
	stopAll()
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		for _, p := range procs {
			p.Process.Kill()
		}
		<-done
	}
	if failed != nil {
		return failed
	}
	// A node that did not exit 0 failed to stop cleanly; say which.
	var unclean []string
	for i, p := range procs {
		if st := p.ProcessState; st != nil && !st.Success() {
			unclean = append(unclean, fmt.Sprintf("node %d: %v", spec.Nodes[i].ID, st))
		}
	}
	if len(unclean) > 0 {
		return fmt.Errorf("not every node stopped cleanly: %s", strings.Join(unclean, "; "))
	}
	return nil
}

func printInfo(w io.Writer, spec clusterspec.Spec) {
	fmt.Fprintf(w, "raftline dev: %d-node cluster\n", len(spec.Nodes))
	fmt.Fprintf(w, "  Kafka bootstrap servers: %s\n", strings.Join(spec.KafkaAddrs(), ","))
	fmt.Fprintf(w, "  %-5s %-18s %-18s %-18s %s\n", "node", "kafka", "http", "raft", "data")
	for _, n := range spec.Nodes {
		fmt.Fprintf(w, "  %-5d %-18s %-18s %-18s %s\n", n.ID, n.KafkaAddr(), n.HTTPAddr(), n.RaftAddr(), n.DataDir)
	}
	fmt.Fprintf(w, "  cluster state: curl http://%s/v1/cluster\n", spec.Nodes[0].HTTPAddr())
	fmt.Fprintln(w, "  Ctrl-C stops all nodes; data is kept for the next start.")
}
