package devcluster

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/raftline/raftline/internal/clusterspec"
)

// The defaults are the ports README.md documents and compose, the dashboards
// and the scripts assume.
func TestDefaults_DocumentedPortsAndDataDirs(t *testing.T) {
	s := Defaults().Spec()
	want := []clusterspec.Node{
		{ID: 1, Host: "127.0.0.1", KafkaPort: 9092, HTTPPort: 9644, RaftPort: 9192, DataDir: "data/dev/node-1"},
		{ID: 2, Host: "127.0.0.1", KafkaPort: 9093, HTTPPort: 9645, RaftPort: 9193, DataDir: "data/dev/node-2"},
		{ID: 3, Host: "127.0.0.1", KafkaPort: 9094, HTTPPort: 9646, RaftPort: 9194, DataDir: "data/dev/node-3"},
	}
	if !slices.Equal(s.Nodes, want) {
		t.Fatalf("nodes\n %+v\nwant\n %+v", s.Nodes, want)
	}
	if args := s.ServeArgs(s.Nodes[0]); !slices.Equal(args[len(args)-6:], []string{
		"--default-partitions", "3", "--default-retention-bytes", "268435456", "--log-level", "info"}) {
		t.Fatalf("serve args %q lack the dev defaults", args)
	}
}

func env(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

func TestParseFlags_TopicDefaultsAndLogLevel_FromFlagsOrEnv_PassedToEveryNode(t *testing.T) {
	o, err := ParseFlags([]string{"--default-partitions", "6", "--", "--max-request-bytes", "1048576"},
		env(map[string]string{"RAFTLINE_LOG_LEVEL": "debug", "RAFTLINE_DEFAULT_PARTITIONS": "9", "RAFTLINE_DATA_DIR": "/elsewhere"}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if o.DefaultPartitions != 6 || o.LogLevel != "debug" || o.DefaultRetentionBytes != 256<<20 || o.DataDir != "./data/dev" {
		t.Fatalf("options %+v", o)
	}
	spec := o.Spec()
	for _, n := range spec.Nodes {
		args := strings.Join(spec.ServeArgs(n), " ")
		if !strings.HasSuffix(args, "--default-partitions 6 --default-retention-bytes 268435456 --log-level debug --max-request-bytes 1048576") {
			t.Errorf("node %d: %s", n.ID, args)
		}
	}
}

func TestParseFlags_BadValues_ReportedBeforeAnythingStarts(t *testing.T) {
	for _, c := range []struct {
		args []string
		env  map[string]string
		want string
	}{
		{[]string{"--default-partitions", "0"}, nil, "--default-partitions: 0 is not between 1 and"},
		{[]string{"--log-level", "loud"}, nil, `--log-level: "loud"`},
		{[]string{"--default-retention-bytes", "0"}, nil, "--default-retention-bytes: 0"},
		{[]string{"--nodes", "10"}, nil, "--nodes: 10 is not between 1 and 9"},
		{[]string{"--kafka-port", "65534"}, nil, "--kafka-port: 65534 leaves no room for 3 nodes"},
		{[]string{"--host", "0.0.0.0"}, nil, `--host: "0.0.0.0"`},
		{[]string{"stray"}, nil, `unexpected argument "stray"`},
		{[]string{"--", "--election-timeout", "5"}, nil, `--election-timeout: "5": a duration needs a unit`},
		{[]string{"--", "--storage-min-free-bytes", "-5"}, nil, "--storage-min-free-bytes: -5 is negative"},
		{nil, map[string]string{"RAFTLINE_ELECTION_TIMEOUT": "5"}, `RAFTLINE_ELECTION_TIMEOUT="5": a duration needs a unit`},
		{nil, map[string]string{"RAFTLINE_DEFAULT_PARTITIONS": "x"}, `RAFTLINE_DEFAULT_PARTITIONS="x": not a whole number`},
	} {
		_, err := ParseFlags(c.args, env(c.env), io.Discard)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q %v: error %v, want one containing %q", c.args, c.env, err, c.want)
		}
	}
}

// Every listener of every node whose address is taken is named, with the
// node and listener, and nothing is left bound by the check.
func TestCheckPorts_NamesEachTakenListener(t *testing.T) {
	held := map[int]net.Listener{}
	var ports []int
	for len(ports) < 9 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		p := ln.Addr().(*net.TCPAddr).Port
		held[p] = ln
		ports = append(ports, p)
	}
	// A spec over arbitrary free ports: each node's three listeners on
	// ports the test chose, with node 2's HTTP and node 3's Raft held.
	spec := clusterspec.Spec{}
	for i := range 3 {
		spec.Nodes = append(spec.Nodes, clusterspec.Node{ID: int32(i + 1), Host: "127.0.0.1", KafkaPort: ports[i], HTTPPort: ports[3+i], RaftPort: ports[6+i]})
	}
	for i, p := range ports {
		if i != 4 && i != 8 {
			held[p].Close()
		}
	}
	err := CheckPorts(spec)
	var taken *PortsTakenError
	if !errors.As(err, &taken) || len(taken.Taken) != 2 {
		t.Fatalf("CheckPorts: %v", err)
	}
	for _, want := range []string{
		fmt.Sprintf("node 2 HTTP 127.0.0.1:%d: bind: address already in use", ports[4]),
		fmt.Sprintf("node 3 Raft 127.0.0.1:%d: bind: address already in use", ports[8]),
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	if !strings.Contains(err.Error(), "another raftline dev") {
		t.Errorf("no hint about another raftline dev:\n%v", err)
	}
	for i, p := range ports {
		if i == 4 || i == 8 {
			continue
		}
		ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
		if err != nil {
			t.Fatalf("port %d still bound after the check: %v", p, err)
		}
		ln.Close()
	}
}

// A node's output reaches the terminal a whole line at a time, and its last
// lines are kept for the report of its exit.
func TestNodeOutput_WholeLines_LastOnesKept(t *testing.T) {
	var mu sync.Mutex
	var w bytes.Buffer
	o := newNodeOutput(&w, &mu, 3)
	o.Write([]byte("one\ntw"))
	if w.String() != "one\n" {
		t.Fatalf("a partial line was passed on: %q", w.String())
	}
	o.Write([]byte("o\nthree\nfour\nfi"))
	o.flush()
	if w.String() != "one\ntwo\nthree\nfour\nfi\n" {
		t.Fatalf("passed on %q", w.String())
	}
	if got := o.last(); !slices.Equal(got, []string{"three", "four", "fi"}) {
		t.Fatalf("last lines %q", got)
	}
	long := bytes.Repeat([]byte("x"), maxPartial+1)
	o.Write(long)
	if !bytes.HasSuffix(w.Bytes(), long) {
		t.Fatal("an overlong unfinished line was held back")
	}
}
