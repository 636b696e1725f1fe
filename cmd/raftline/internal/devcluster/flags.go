package devcluster

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"

	"github.com/raftline/raftline/cmd/raftline/internal/cliflags"
	"github.com/raftline/raftline/cmd/raftline/internal/serveflags"
)

const about = `Runs a local cluster of raftline serve processes on one host, for development
and demos. Node i (from 1) listens on --kafka-port+i-1, --http-port+i-1 and
--raft-port+i-1 and keeps its data in --data-dir/node-<i>. Ctrl-C stops the
nodes; their data is kept for the next start. raftline dev exits non-zero,
stopping the others, when a port is taken or a node dies.

--default-partitions, --default-retention-bytes and --log-level are given to
every node, and so is anything after --, such as other serve flags:
  raftline dev --default-partitions 6 -- --max-request-bytes 1048576
Those three fall back to their RAFTLINE_* variables, as serve's flags do.
Every other RAFTLINE_* variable reaches each node as it is, but the flags dev
sets for each node (--node-id, --data-dir, the addresses, --bootstrap) win
over theirs. raftline serve -h lists serve's flags and variables.`

// passedOn are the dev flags that are serve flags too: they fall back to the
// variables serve would read, so setting one in the environment means the
// same for dev as for serve.
var passedOn = map[string]bool{"default-partitions": true, "default-retention-bytes": true, "log-level": true}

// ParseFlags parses `raftline dev` arguments into Options, starting from
// Defaults. The nodes' command lines are then checked as `raftline serve`
// will check them, with the environment they inherit, so a bad value is
// reported before any node starts. After -h it writes the help to help and
// returns flag.ErrHelp.
func ParseFlags(args []string, getenv func(string) string, help io.Writer) (Options, error) {
	o := Defaults()
	fs := cliflags.New("raftline dev", "raftline dev [flags] [-- flags for every raftline serve]", about)
	fs.PassThrough = true
	fs.Env = func(name string) string {
		if passedOn[name] {
			return serveflags.EnvName(name)
		}
		return ""
	}
	fs.StringVar(&o.DataDir, "data-dir", o.DataDir, "directory holding each node's data (node-1, node-2, ...)")
	fs.IntVar(&o.Nodes, "nodes", o.Nodes, "number of nodes, 1 to 9")
	fs.StringVar(&o.Host, "host", o.Host, "host every node listens on and the others dial")
	fs.IntVar(&o.KafkaPort, "kafka-port", o.KafkaPort, "Kafka port of node 1; node i uses this plus i-1")
	fs.IntVar(&o.HTTPPort, "http-port", o.HTTPPort, "HTTP port of node 1 (/readyz, /v1/cluster, /metrics)")
	fs.IntVar(&o.RaftPort, "raft-port", o.RaftPort, "Raft port of node 1")
	fs.IntVar(&o.DefaultPartitions, "default-partitions", o.DefaultPartitions, "partitions of an auto-created topic, or one created with -1")
	fs.Int64Var(&o.DefaultRetentionBytes, "default-retention-bytes", o.DefaultRetentionBytes, "retention.bytes of a topic created without one, per partition (-1: no limit); the three nodes each keep a copy on this machine's disk")
	fs.StringVar(&o.LogLevel, "log-level", o.LogLevel, "debug, info, warn or error")
	if err := fs.Parse(args, getenv); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.Help(help)
		}
		return o, err
	}
	o.ServeArgs = fs.Args()
	var errs []error
	if o.Nodes < 1 || o.Nodes > 9 {
		errs = append(errs, fmt.Errorf("--nodes: %d is not between 1 and 9", o.Nodes))
	}
	for _, p := range []struct {
		name string
		v    int
	}{{"kafka-port", o.KafkaPort}, {"http-port", o.HTTPPort}, {"raft-port", o.RaftPort}} {
		if p.v <= 0 || p.v+max(o.Nodes, 1)-1 > 65535 {
			errs = append(errs, fmt.Errorf("--%s: %d leaves no room for %d nodes below 65536", p.name, p.v, o.Nodes))
		}
	}
	if ip := net.ParseIP(o.Host); o.Host == "" || ip != nil && ip.IsUnspecified() {
		errs = append(errs, fmt.Errorf("--host: %q: the nodes dial each other there, so it must be one address, such as 127.0.0.1", o.Host))
	}
	if len(errs) > 0 {
		return o, errors.Join(errs...)
	}
	// Node 1's command line stands for all of them: they differ only in
	// what the spec places.
	spec := o.Spec()
	if _, err := serveflags.ParseServe(spec.ServeArgs(spec.Nodes[0])[1:], getenv, help); err != nil {
		return o, err
	}
	return o, nil
}
