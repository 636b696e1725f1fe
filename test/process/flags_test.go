//go:build unix

package process

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/raftline/raftline/internal/clusterspec"
	"github.com/raftline/raftline/internal/testports"
)

// An operator who gets several values wrong should learn about all of them
// from one start attempt, one line each, then where the flags are listed,
// and nothing should have started.
func TestServe_BadFlags_ClearErrors(t *testing.T) {
	dataDir := t.TempDir()
	bad := []struct{ flag, value string }{
		{"node-id", "0"},
		{"kafka-addr", "nonsense"},
		{"bootstrap", "x"},
		{"log-level", "loud"},
	}
	args := []string{"serve", "--data-dir", dataDir}
	for _, b := range bad {
		args = append(args, "--"+b.flag, b.value)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, raftlineBin, args...)
	cmd.Env = childEnv()
	start := time.Now()
	out, err := cmd.CombinedOutput()
	took := time.Since(start)
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() <= 0 {
		t.Fatalf("raftline serve with bad flags: %v (want a non-zero exit)\n%s", err, out)
	}
	if took > 10*time.Second {
		t.Fatalf("took %v to reject its flags", took)
	}
	text := string(out)
	for _, s := range []string{"panic", "goroutine ", ".go:"} {
		if strings.Contains(text, s) {
			t.Fatalf("output holds %q, as a crash would:\n%s", s, text)
		}
	}
	var lines []string
	for _, l := range strings.Split(strings.TrimSpace(text), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			lines = append(lines, l)
		}
	}
	if len(lines) != 1+len(bad)+1 || lines[len(lines)-1] != "raftline serve -h lists the flags" {
		t.Fatalf("want a heading, one line per bad value (%d) and the hint, got:\n%s", len(bad), text)
	}
	for _, b := range bad {
		n := 0
		for _, l := range lines[1 : len(lines)-1] {
			if strings.HasPrefix(l, "--"+b.flag+":") {
				n++
				if !strings.Contains(l, b.value) {
					t.Errorf("line %q does not quote the bad value %q", l, b.value)
				}
			}
		}
		if n != 1 {
			t.Errorf("%d lines about --%s, want 1:\n%s", n, b.flag, text)
		}
	}
	if _, err := os.Stat(filepath.Join(dataDir, "raft")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the data directory was written to before the flags were checked (%v)", err)
	}
}

// Every flag has a RAFTLINE_* fallback, so a container can be configured by
// environment alone.
func TestServe_EnvOnly_StartsWithoutFlags(t *testing.T) {
	ports := testports.Reserve(t, 3)
	c := newEmptyCluster(t)
	nd := newNode(clusterspec.Node{ID: 7, Host: "127.0.0.1", KafkaPort: ports[0], HTTPPort: ports[1], RaftPort: ports[2],
		DataDir: filepath.Join(c.dir, "node-7")})
	// No flags: what clusterspec.ServeArgs would pass, said in RAFTLINE_*
	// variables instead.
	c.add(nd, []string{"serve"}, childEnv(
		"RAFTLINE_NODE_ID=7",
		"RAFTLINE_DATA_DIR="+nd.dataDir,
		"RAFTLINE_KAFKA_ADDR="+nd.kafka,
		"RAFTLINE_HTTP_ADDR="+nd.http,
		"RAFTLINE_RAFT_ADDR="+nd.raft,
		"RAFTLINE_BOOTSTRAP=7="+nd.raft,
		"RAFTLINE_CLUSTER_ID=from-env",
	))
	c.start(nd)
	c.waitReady(nd)
	waitFor(t, 30*time.Second, "the node to lead as node 7", func() error {
		v, err := clusterOf(nd.http)
		if err != nil {
			return err
		}
		if v.NodeID != 7 || v.State != "leader" || len(v.Members) != 1 ||
			v.Members[0].ID != 7 || v.Members[0].RaftAddr != nd.raft || v.Members[0].KafkaAddr != nd.kafka {
			return fmt.Errorf("cluster view %+v", v)
		}
		return nil
	})
	seed := newClient(t, []string{nd.kafka}).SeedBrokers()[0]
	waitFor(t, 30*time.Second, "Metadata naming broker 7 of cluster from-env", func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		kresp, err := seed.Request(ctx, kmsg.NewPtrMetadataRequest())
		if err != nil {
			return err
		}
		resp := kresp.(*kmsg.MetadataResponse)
		if resp.ClusterID == nil || *resp.ClusterID != "from-env" {
			return fmt.Errorf("cluster id %v", resp.ClusterID)
		}
		if len(resp.Brokers) != 1 || resp.Brokers[0].NodeID != 7 || resp.Brokers[0].Port != int32(ports[0]) {
			return fmt.Errorf("brokers %+v", resp.Brokers)
		}
		return nil
	})
	c.stop(nd)
}
