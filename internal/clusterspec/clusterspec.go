// Package clusterspec describes a cluster of `raftline serve` processes (its
// nodes, where each listens, where each keeps its data) and turns that into
// each node's command line. `raftline dev` and every system-test suite
// (test/process, test/observability, test/chaos) start their nodes from a
// Spec, so the flags that make a cluster, the --bootstrap list above all,
// are assembled in one place: ServeArgs.
//
// WaitLeader waits, through the nodes' HTTP API, until they agree on a
// leader.
//
// Starting the processes is the caller's: `raftline dev` runs them itself,
// the test suites through test/internal/systest.Proc, which the chaos suite
// has run each node inside its network namespace.
package clusterspec

import (
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"strings"
)

// Node is one member of the cluster.
type Node struct {
	ID int32
	// Host is the address the node listens on and the others dial:
	// 127.0.0.1 for a cluster on one machine, a network namespace's
	// address in the chaos suite.
	Host                          string
	KafkaPort, HTTPPort, RaftPort int
	DataDir                       string
}

// KafkaAddr is host:port of the node's Kafka listener.
func (n Node) KafkaAddr() string { return hostPort(n.Host, n.KafkaPort) }

// HTTPAddr is host:port of the node's HTTP API (/readyz, /v1/cluster,
// /metrics).
func (n Node) HTTPAddr() string { return hostPort(n.Host, n.HTTPPort) }

// RaftAddr is host:port of the node's Raft transport.
func (n Node) RaftAddr() string { return hostPort(n.Host, n.RaftPort) }

func hostPort(host string, port int) string { return net.JoinHostPort(host, strconv.Itoa(port)) }

// Spec is a cluster: its nodes, bootstrapped together, and the flags every
// node gets on top of the ones that place it.
type Spec struct {
	Nodes []Node
	// Args are appended to every node's `raftline serve` flags.
	Args []string
}

// Local is n nodes on one host: node i (from 1) listens on kafkaPort+i-1,
// httpPort+i-1 and raftPort+i-1 and keeps its data in dataDir/node-<i>.
func Local(host, dataDir string, n, kafkaPort, httpPort, raftPort int) Spec {
	var s Spec
	for i := range n {
		s.Nodes = append(s.Nodes, Node{
			ID: int32(i + 1), Host: host,
			KafkaPort: kafkaPort + i, HTTPPort: httpPort + i, RaftPort: raftPort + i,
			DataDir: nodeDir(dataDir, i+1),
		})
	}
	return s
}

// OnHosts is one node per host, every one on the same ports: node i (from
// 1) listens on hosts[i-1] and keeps its data in dataDir/node-<i>.
func OnHosts(hosts []string, dataDir string, kafkaPort, httpPort, raftPort int) Spec {
	var s Spec
	for i, h := range hosts {
		s.Nodes = append(s.Nodes, Node{
			ID: int32(i + 1), Host: h,
			KafkaPort: kafkaPort, HTTPPort: httpPort, RaftPort: raftPort,
			DataDir: nodeDir(dataDir, i+1),
		})
	}
	return s
}

func nodeDir(dataDir string, id int) string { return filepath.Join(dataDir, "node-"+strconv.Itoa(id)) }

// Bootstrap is the --bootstrap value: id=raftaddr of every node.
func (s Spec) Bootstrap() string {
	var parts []string
	for _, n := range s.Nodes {
		parts = append(parts, fmt.Sprintf("%d=%s", n.ID, n.RaftAddr()))
	}
	return strings.Join(parts, ",")
}

// ServeArgs is the command line, after the program's name, that starts n as
// a member of the cluster: `serve`, the flags that place it, then Args.
func (s Spec) ServeArgs(n Node) []string {
	args := []string{"serve",
		"--node-id", strconv.Itoa(int(n.ID)),
		"--data-dir", n.DataDir,
		"--kafka-addr", n.KafkaAddr(),
		"--http-addr", n.HTTPAddr(),
		"--raft-addr", n.RaftAddr(),
		"--bootstrap", s.Bootstrap(),
	}
	return append(args, s.Args...)
}

// KafkaAddrs lists every node's Kafka address, the seed list for clients.
func (s Spec) KafkaAddrs() []string {
	var out []string
	for _, n := range s.Nodes {
		out = append(out, n.KafkaAddr())
	}
	return out
}

// HTTPAddrs lists every node's HTTP address.
func (s Spec) HTTPAddrs() []string {
	var out []string
	for _, n := range s.Nodes {
		out = append(out, n.HTTPAddr())
	}
	return out
}
