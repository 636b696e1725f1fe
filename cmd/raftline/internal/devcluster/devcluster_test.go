package devcluster

import (
	"slices"
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
	if args := s.ServeArgs(s.Nodes[0]); !slices.Equal(args[len(args)-2:], []string{"--default-retention-bytes", "268435456"}) {
		t.Fatalf("serve args %q lack the dev retention default", args)
	}
}
