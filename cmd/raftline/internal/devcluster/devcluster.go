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
	// ServeArgs are passed to every `raftline serve`.
	ServeArgs []string
	Stdout    io.Writer
	Stderr    io.Writer
}

// Defaults are the documented local-cluster ports the compose stack, the
// dashboards and the tests assume.
func Defaults() Options {
	return Options{DataDir: "./data/dev", Nodes: 3, Host: "127.0.0.1", KafkaPort: 9092, HTTPPort: 9644, RaftPort: 9192,
		// Three nodes share one machine's memory: keep each partition's
		// log to 256 MiB unless a topic says otherwise.
		ServeArgs: []string{"--default-retention-bytes", "268435456"}}
}

// Spec is the cluster the options describe.
func (o Options) Spec() clusterspec.Spec {
	s := clusterspec.Local(o.Host, o.DataDir, o.Nodes, o.KafkaPort, o.HTTPPort, o.RaftPort)
	s.Args = o.ServeArgs
	return s
}

// Run starts the nodes and waits until ctx ends, then stops them all with
// SIGTERM at once, as Ctrl-C in a terminal signals every process in its
// group, and waits for them to exit. Each node tells the others it is
// stopping, so none logs the others' departure as an error and the leader
// does not hand leadership to a node that is going too. It returns an error
// when a node did not exit 0.
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
	var (
		wg    sync.WaitGroup
		procs []*exec.Cmd
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
		cmd.Stdout, cmd.Stderr = o.Stderr, o.Stderr
		if err := cmd.Start(); err != nil {
			stopAll()
			return fmt.Errorf("start node %d: %w", n.ID, err)
		}
		procs = append(procs, cmd)
		wg.Add(1)
		go func(id int32, cmd *exec.Cmd) {
			defer wg.Done()
			err := cmd.Wait()
			if ctx.Err() == nil {
				fmt.Fprintf(o.Stderr, "raftline dev: node %d exited: %v\n", id, err)
			}
		}(n.ID, cmd)
	}
	printInfo(o.Stdout, spec)
	<-ctx.Done()
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
	// A node that did not exit 0 failed to stop cleanly; say which.
	var failed []string
	for i, p := range procs {
		if st := p.ProcessState; st != nil && !st.Success() {
			failed = append(failed, fmt.Sprintf("node %d: %v", spec.Nodes[i].ID, st))
		}
	}
	if len(failed) > 0 {
		return fmt.Errorf("not every node stopped cleanly: %s", strings.Join(failed, "; "))
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
