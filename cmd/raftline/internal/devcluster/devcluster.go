// Package devcluster runs `raftline dev`: a local cluster of `raftline serve`
// processes on one host with the documented default ports, for development,
// demos and the integration tests that use a real client against it.
package devcluster

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
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

// NodeAddrs are one node's addresses.
type NodeAddrs struct {
	ID                int
	Kafka, HTTP, Raft string
	DataDir           string
}

// Addrs lists every node's addresses.
func (o Options) Addrs() []NodeAddrs {
	var out []NodeAddrs
	for i := 1; i <= o.Nodes; i++ {
		out = append(out, NodeAddrs{
			ID:      i,
			Kafka:   net.JoinHostPort(o.Host, strconv.Itoa(o.KafkaPort+i-1)),
			HTTP:    net.JoinHostPort(o.Host, strconv.Itoa(o.HTTPPort+i-1)),
			Raft:    net.JoinHostPort(o.Host, strconv.Itoa(o.RaftPort+i-1)),
			DataDir: filepath.Join(o.DataDir, "node-"+strconv.Itoa(i)),
		})
	}
	return out
}

// Run starts the nodes and waits until ctx ends, then stops them all with
// SIGTERM (so the leader hands over leadership) and waits for them to exit.
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
	addrs := o.Addrs()
	var boot []string
	for _, a := range addrs {
		boot = append(boot, fmt.Sprintf("%d=%s", a.ID, a.Raft))
	}
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
	for _, a := range addrs {
		if err := os.MkdirAll(a.DataDir, 0o755); err != nil {
			stopAll()
			return err
		}
		args := append([]string{"serve",
			"--node-id", strconv.Itoa(a.ID),
			"--data-dir", a.DataDir,
			"--kafka-addr", a.Kafka,
			"--http-addr", a.HTTP,
			"--raft-addr", a.Raft,
			"--bootstrap", strings.Join(boot, ","),
		}, o.ServeArgs...)
		cmd := exec.Command(o.Binary, args...)
		cmd.Stdout, cmd.Stderr = o.Stderr, o.Stderr
		if err := cmd.Start(); err != nil {
			stopAll()
			return fmt.Errorf("start node %d: %w", a.ID, err)
		}
		procs = append(procs, cmd)
		wg.Add(1)
		go func(id int, cmd *exec.Cmd) {
			defer wg.Done()
			err := cmd.Wait()
			if ctx.Err() == nil {
				fmt.Fprintf(o.Stderr, "raftline dev: node %d exited: %v\n", id, err)
			}
		}(a.ID, cmd)
	}
	printInfo(o.Stdout, addrs)
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
	return nil
}

func printInfo(w io.Writer, addrs []NodeAddrs) {
	var kafka []string
	for _, a := range addrs {
		kafka = append(kafka, a.Kafka)
	}
	fmt.Fprintf(w, "raftline dev: %d-node cluster\n", len(addrs))
	fmt.Fprintf(w, "  Kafka bootstrap servers: %s\n", strings.Join(kafka, ","))
	fmt.Fprintf(w, "  %-5s %-18s %-18s %-18s %s\n", "node", "kafka", "http", "raft", "data")
	for _, a := range addrs {
		fmt.Fprintf(w, "  %-5d %-18s %-18s %-18s %s\n", a.ID, a.Kafka, a.HTTP, a.Raft, a.DataDir)
	}
	fmt.Fprintf(w, "  cluster state: curl http://%s/v1/cluster\n", addrs[0].HTTP)
	fmt.Fprintln(w, "  Ctrl-C stops all nodes; data is kept for the next start.")
}
