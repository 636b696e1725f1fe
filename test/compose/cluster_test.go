package compose

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/raftline/raftline/internal/clusterspec"
	"github.com/raftline/raftline/internal/testports"
	"github.com/raftline/raftline/loadgen"
	"github.com/raftline/raftline/loadgen/ledger"
)

// The raftline services of compose/compose.yaml, from the image the
// repository's Dockerfile builds: the cluster forms by service name, a
// client on the host produces and consumes through 127.0.0.1 alone (the
// external listener), one inside the compose network through the service
// names (the primary listener), a SIGKILL of the leader's container loses no
// acknowledged record, and the killed container, started again, rejoins with
// its data volume and ends up identical to the others. Every node runs with
// the descriptor limit compose.yaml's ulimits set. Last, the otelcol service
// joins them and a failed produce's trace goes from the nodes through its
// tail sampling into a real Jaeger.
func TestCompose_RaftlineServices(t *testing.T) {
	cmd := mustDocker(t)
	images := buildImages(t)
	s := startStack(t, cmd, images)

	steps := []struct {
		name string
		fn   func(*testing.T, *stack)
	}{
		{"ClusterFormsByServiceName", testClusterForms},
		{"NodesRunWithTheDescriptorLimitComposeSets", testDescriptorLimit},
		{"HostClient_ProducesAndConsumes", testHostClient},
		{"InNetworkClient_ProducesAndConsumes", testInNetworkClient},
		{"LeaderContainerKilled_NoAckedRecordLost_RestartedContainerRejoins", testLeaderKilled},
		{"Otelcol_TailSamplesTheNodesTracesIntoJaeger", testOtelcol},
	}
	for _, step := range steps {
		if !t.Run(step.name, func(t *testing.T) { step.fn(t, s) }) {
			t.FailNow() // each step builds on the cluster the previous one left
		}
	}
}

// images are the three images of one test run, tagged uniquely so
// concurrent runs and a developer's raftline:local are left alone.
type images struct{ raftline, tools, otelcol string }

// nofile is the descriptor limit the stack's nodes are started with:
// compose.yaml's, or less where the Docker daemon could not grant it. A
// daemon without CAP_SYS_RESOURCE (rootless, or itself in a container)
// cannot give a container more than its own limit and fails to start it;
// its limit cannot be read through its API, and the test's own, on the same
// host, stands in for it. One below that at most, so that a node that
// inherited the daemon's limit rather than got compose.yaml's cannot pass.
func nofile(t testing.TB) int {
	t.Helper()
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	return int(min(uint64(composeNofile), lim.Max-1))
}

// buildImages builds the images the way `make image` does, through
// compose/stack.sh, from a private staging directory. The collector's binary
// comes from tools/otelcol/build.sh's cache (minutes the first time).
func buildImages(t *testing.T) images {
	t.Helper()
	id := randomID()
	im := images{raftline: "raftline-test:" + id, tools: "raftline-tools-test:" + id, otelcol: "raftline-otelcol-test:" + id}
	t.Cleanup(func() {
		exec.Command("docker", "image", "rm", "-f", im.raftline, im.tools, im.otelcol).Run()
	})
	ctx, cancel := context.WithTimeout(context.Background(), 12*time.Minute)
	defer cancel()
	start := time.Now()
	env := hermeticEnv("RAFTLINE_IMAGE_STAGE="+filepath.Join(t.TempDir(), "stage"), "RAFTLINE_VERSION=test-"+id,
		"RAFTLINE_IMAGE="+im.raftline, "RAFTLINE_TOOLS_IMAGE="+im.tools, "RAFTLINE_OTELCOL_IMAGE="+im.otelcol)
	if _, err := run(ctx, env, filepath.Join(composeDir, "stack.sh"), "image"); err != nil {
		t.Fatal(err)
	}
	t.Logf("built %s, %s and %s in %v", im.raftline, im.tools, im.otelcol, time.Since(start).Round(time.Millisecond))

	// All run as the unprivileged user and carry the host's CA bundle.
	for _, image := range []string{im.raftline, im.tools, im.otelcol} {
		out, err := run(ctx, hermeticEnv(), "docker", "image", "inspect", "-f", "{{.Config.User}}", image)
		if err != nil {
			t.Fatal(err)
		}
		if user := strings.TrimSpace(out); user != "65532:65532" {
			t.Errorf("%s runs as %q, want 65532:65532", image, user)
		}
		checkCABundle(t, ctx, image)
	}
	return im
}

// checkCABundle copies the CA bundle out of a created (never started)
// container of the image and compares it with the host's.
func checkCABundle(t *testing.T, ctx context.Context, image string) {
	t.Helper()
	const ca = "/etc/ssl/certs/ca-certificates.crt"
	out, err := run(ctx, hermeticEnv(), "docker", "create", image)
	if err != nil {
		t.Fatal(err)
	}
	id := strings.TrimSpace(out)
	defer exec.Command("docker", "rm", "-f", "-v", id).Run() // -v: the image declares a volume
	dst := filepath.Join(t.TempDir(), "ca.crt")
	if _, err := run(ctx, hermeticEnv(), "docker", "cp", id+":"+ca, dst); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(dst)
	want, _ := os.ReadFile(ca)
	if len(got) == 0 || !bytes.Equal(got, want) {
		t.Errorf("%s: %s (%d bytes) is not the host's CA bundle (%d bytes)", image, ca, len(got), len(want))
	}
}

// stack is the test's compose project: its own name, images and host
// ports, torn down with its volumes when the test ends.
type stack struct {
	cmd     []string
	project string
	files   []string // compose.yaml, then the test's override (observe.yaml)
	env     []string
	kafka   []int // host port of each node's external Kafka listener
	http    []int // host port of each node's HTTP API
	nofile  int   // RAFTLINE_NOFILE: each node's descriptor limit
	otel    otelPorts
}

// startStack starts the three raftline services, and nothing else, of
// compose.yaml, publishing them on host ports reserved for the test
// (internal/testports): no other test process, this suite's included, and
// no outgoing connection is given them while the stack runs. The otelcol
// service's ports are reserved too, for testOtelcol.
func startStack(t *testing.T, cmd []string, im images) *stack {
	t.Helper()
	// Reserved before the teardown is registered, so they are released only
	// after the containers publishing them are gone.
	ports := testports.Reserve(t, 6+otelPortCount)
	s := &stack{cmd: cmd, project: "raftlinetest" + randomID(), kafka: ports[:3], http: ports[3:6], nofile: nofile(t), otel: newOtelPorts(ports[6:])}
	s.files = []string{filepath.Join(composeDir, "compose.yaml"), s.otel.writeOverride(t)}
	t.Cleanup(func() { s.teardown(t) })
	s.env = hermeticEnv("RAFTLINE_IMAGE="+im.raftline, "RAFTLINE_TOOLS_IMAGE="+im.tools, "RAFTLINE_OTELCOL_IMAGE="+im.otelcol,
		"RAFTLINE_NOFILE="+strconv.Itoa(s.nofile),
		"OTLP_GRPC_PORT="+strconv.Itoa(s.otel.grpc), "OTLP_HTTP_PORT="+strconv.Itoa(s.otel.http))
	for i := range 3 {
		s.env = append(s.env,
			fmt.Sprintf("RAFTLINE_KAFKA_PORT_%d=%d", i+1, s.kafka[i]),
			fmt.Sprintf("RAFTLINE_HTTP_PORT_%d=%d", i+1, s.http[i]))
	}
	start := time.Now()
	s.mustCompose(t, 2*time.Minute, append([]string{"up", "-d"}, raftlineServices...)...)
	s.waitHealthy(t, 2*time.Minute, raftlineServices...)
	t.Logf("project %s: Kafka on 127.0.0.1:%v, HTTP on %v; healthy %v after up",
		s.project, s.kafka, s.http, time.Since(start).Round(time.Millisecond))
	return s
}

func (s *stack) compose(timeout time.Duration, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	full := append(slices.Clone(s.cmd[1:]), "-p", s.project)
	for _, f := range s.files {
		full = append(full, "-f", f)
	}
	full = append(full, args...)
	return run(ctx, s.env, s.cmd[0], full...)
}

func (s *stack) mustCompose(t testing.TB, timeout time.Duration, args ...string) string {
	t.Helper()
	out, err := s.compose(timeout, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// teardown keeps the nodes' logs when the test failed, then removes the
// containers, the network and the volumes.
func (s *stack) teardown(t *testing.T) {
	if t.Failed() {
		if out, err := s.compose(time.Minute, append([]string{"logs", "--no-color", "--tail=60"}, slices.Concat(raftlineServices, []string{"otelcol"})...)...); err == nil {
			t.Logf("logs of %s:\n%s", s.project, out)
		}
	}
	if _, err := s.compose(3*time.Minute, "--profile", "load", "down", "-v", "--remove-orphans", "-t", "5"); err != nil {
		t.Errorf("tearing down %s: %v", s.project, err)
	}
}

// containerState is a service's container status and health, as
// "running healthy".
func (s *stack) containerState(service string) (string, error) {
	out, err := s.compose(time.Minute, "ps", "-q", service)
	if err != nil {
		return "", err
	}
	id := strings.TrimSpace(out)
	if id == "" {
		return "", fmt.Errorf("%s has no container", service)
	}
	out, err = run(context.Background(), s.env, "docker", "inspect", "-f", "{{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{end}}", id)
	return strings.TrimSpace(out), err
}

// waitHealthy waits until the services' healthchecks pass: what `up --wait`
// waits for.
func (s *stack) waitHealthy(t testing.TB, timeout time.Duration, services ...string) {
	t.Helper()
	waitFor(t, timeout, fmt.Sprintf("%v to be healthy", services), func() error {
		for _, svc := range services {
			st, err := s.containerState(svc)
			if err != nil {
				return err
			}
			if st != "running healthy" {
				return fmt.Errorf("%s is %s", svc, st)
			}
		}
		return nil
	})
}

func (s *stack) httpAddr(node int) string { return "127.0.0.1:" + strconv.Itoa(s.http[node]) }

func (s *stack) seeds() []string {
	var out []string
	for _, p := range s.kafka {
		out = append(out, "127.0.0.1:"+strconv.Itoa(p))
	}
	return out
}

// inNetworkKafkaPort is the port of every node's primary Kafka listener,
// which only the compose network reaches.
const inNetworkKafkaPort = 9092

// inNetwork is the Kafka address node i advertises on its primary listener:
// its service name, for the compose network.
func (s *stack) inNetwork(i int) string {
	return fmt.Sprintf("%s:%d", raftlineServices[i], inNetworkKafkaPort)
}

// waitLeader waits until nodes (indexes into raftlineServices) agree on a
// leader among them, in one term (clusterspec.WaitLeader), and accept, when
// not nil, takes the agreement. It returns the leader's index, and fails the
// test with the last error seen once timeout has passed.
func (s *stack) waitLeader(t testing.TB, timeout time.Duration, what string, nodes []int, accept func(clusterspec.Agreement) error) int {
	t.Helper()
	var addrs []string
	for _, i := range nodes {
		addrs = append(addrs, s.httpAddr(i))
	}
	a, err := clusterspec.WaitLeader(timeout, 100*time.Millisecond, func() []string { return addrs }, func(a clusterspec.Agreement) error {
		if a.LeaderIndex() < 0 {
			return fmt.Errorf("they follow node %d, which is not among them: %s", a.LeaderID, clusterspec.Describe(a.Views))
		}
		if accept != nil {
			return accept(a)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("waiting for %s: %v", what, err)
	}
	return nodes[a.LeaderIndex()]
}

// allNodes are the indexes of the three raftline services.
var allNodes = []int{0, 1, 2}

// testClusterForms: the nodes find each other by service name, agree on a
// leader, and every member's in-network addresses are registered.
func testClusterForms(t *testing.T, s *stack) {
	s.waitLeader(t, 60*time.Second, "a leader and every member registered", allNodes, func(a clusterspec.Agreement) error {
		for _, v := range a.Views {
			if len(v.Members) != 3 {
				return fmt.Errorf("node %d lists %d members", v.NodeID, len(v.Members))
			}
			for _, m := range v.Members {
				want := s.inNetwork(int(m.ID) - 1)
				if m.RaftAddr != raftlineServices[m.ID-1]+":9192" || m.KafkaAddr != want {
					return fmt.Errorf("node %d lists member %d at raft %q, kafka %q; want %s:9192 and %s",
						v.NodeID, m.ID, m.RaftAddr, m.KafkaAddr, raftlineServices[m.ID-1], want)
				}
			}
		}
		return nil
	})
}

// testDescriptorLimit: every node runs with the descriptor limit
// compose.yaml's ulimits give it, as its own process_max_fds reports
// (soft and hard are equal, so Go leaves the soft limit as it is).
func testDescriptorLimit(t *testing.T, s *stack) {
	for i := range allNodes {
		want := fmt.Sprintf("process_max_fds{node_id=%q} %d", strconv.Itoa(i+1), s.nofile)
		waitFor(t, 30*time.Second, raftlineServices[i]+"'s descriptor limit", func() error {
			resp, err := httpClient.Get("http://" + s.httpAddr(i) + "/metrics")
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			sc := bufio.NewScanner(resp.Body)
			for sc.Scan() {
				if line := sc.Text(); strings.HasPrefix(line, "process_max_fds") {
					if line != want {
						return fmt.Errorf("/metrics has %q, want %q", line, want)
					}
					return nil
				}
			}
			if err := sc.Err(); err != nil {
				return err
			}
			return fmt.Errorf("/metrics (%s) has no process_max_fds", resp.Status)
		})
	}
}

// hostDialer dials, as a client on the host, only the published Kafka
// ports on 127.0.0.1: the seeds, and whatever the external listener
// advertises, which must be exactly those. No name is resolved, so the
// client needs nothing from the host's /etc/hosts or DNS.
func (s *stack) hostDialer(ctx context.Context, network, addr string) (net.Conn, error) {
	if !slices.Contains(s.seeds(), addr) {
		return nil, fmt.Errorf("the host client was given %s, which is not a published Kafka port on 127.0.0.1 (%v)", addr, s.seeds())
	}
	var d net.Dialer
	return d.DialContext(ctx, network, addr)
}

func newHostClient(t testing.TB, s *stack, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(s.seeds()...), kgo.Dialer(s.hostDialer)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// testHostClient: a client on the host bootstraps from the published ports,
// is told every node's 127.0.0.1 address by Metadata and DescribeCluster,
// and produces and consumes through them.
func testHostClient(t *testing.T, s *stack) {
	cl := newHostClient(t, s)
	want := slices.Sorted(slices.Values(s.seeds()))
	waitFor(t, 30*time.Second, "Metadata and DescribeCluster to advertise every node on 127.0.0.1", func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		md, err := kmsg.NewPtrMetadataRequest().RequestWith(ctx, cl)
		if err != nil {
			return err
		}
		var got []string
		for _, b := range md.Brokers {
			got = append(got, net.JoinHostPort(b.Host, strconv.Itoa(int(b.Port))))
		}
		slices.Sort(got)
		if !slices.Equal(got, want) {
			return fmt.Errorf("Metadata advertises %v, want %v", got, want)
		}
		dc, err := kmsg.NewPtrDescribeClusterRequest().RequestWith(ctx, cl)
		if err != nil {
			return err
		}
		if err := kerr.ErrorForCode(dc.ErrorCode); err != nil {
			return fmt.Errorf("DescribeCluster: %w", err)
		}
		got = got[:0]
		for _, b := range dc.Brokers {
			got = append(got, net.JoinHostPort(b.Host, strconv.Itoa(int(b.Port))))
		}
		slices.Sort(got)
		if !slices.Equal(got, want) {
			return fmt.Errorf("DescribeCluster advertises %v, want %v", got, want)
		}
		return nil
	})

	const topic, partitions, n = "host", 3, 300
	createTopic(t, cl, topic, partitions)
	l := ledger.New()
	var recs []*kgo.Record
	for id := range uint64(n) {
		recs = append(recs, &kgo.Record{Topic: topic, Value: value(id)})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for _, r := range cl.ProduceSync(ctx, recs...) {
		if r.Err != nil {
			t.Fatalf("produce: %v", r.Err)
		}
		l.Acked(r.Record.Partition, r.Record.Offset, binary.BigEndian.Uint64(r.Record.Value))
	}
	consumeAll(t, s, topic, l)
	if r := l.Report(); !r.OK() || r.Acked != n || r.Unacked != 0 {
		t.Fatal(r)
	}
}

// value is a record value carrying its id.
func value(id uint64) []byte {
	v := make([]byte, 64)
	binary.BigEndian.PutUint64(v, id)
	return v
}

// createTopic creates a topic, retrying while the cluster settles.
func createTopic(t testing.TB, cl *kgo.Client, name string, partitions int32) {
	t.Helper()
	waitFor(t, 30*time.Second, "topic "+name+" to be created", func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		resp, err := kadm.NewClient(cl).CreateTopic(ctx, partitions, -1, nil, name)
		if err == nil {
			err = resp.Err
		}
		if err == nil || errors.Is(err, kerr.TopicAlreadyExists) {
			return nil
		}
		return err
	})
}

// consumeAll reads every partition of a topic from the start up to the end
// offsets of the moment, telling the ledger what it read.
func consumeAll(t testing.TB, s *stack, topic string, l *ledger.Ledger) {
	t.Helper()
	admin := newHostClient(t, s)
	var ends kadm.ListedOffsets
	waitFor(t, 30*time.Second, "end offsets of "+topic, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		var err error
		if ends, err = kadm.NewClient(admin).ListEndOffsets(ctx, topic); err == nil {
			err = ends.Error()
		}
		return err
	})
	offsets := map[int32]kgo.Offset{}
	next := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) {
		offsets[o.Partition] = kgo.NewOffset().AtStart()
		next[o.Partition] = 0
	})
	cl := newHostClient(t, s, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: offsets}))
	var lastErr error
	waitFor(t, 60*time.Second, "every record of "+topic, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		fs := cl.PollFetches(ctx)
		cancel()
		for _, e := range fs.Errors() {
			if !errors.Is(e.Err, context.DeadlineExceeded) {
				lastErr = fmt.Errorf("partition %d: %w", e.Partition, e.Err)
			}
		}
		fs.EachRecord(func(r *kgo.Record) {
			l.Consumed(r.Partition, r.Offset, binary.BigEndian.Uint64(r.Value))
			next[r.Partition] = r.Offset + 1
		})
		var behind []string
		ends.Each(func(o kadm.ListedOffset) {
			if next[o.Partition] < o.Offset {
				behind = append(behind, fmt.Sprintf("partition %d at %d of %d", o.Partition, next[o.Partition], o.Offset))
			}
		})
		if len(behind) > 0 {
			return fmt.Errorf("%s (last fetch error: %v)", strings.Join(behind, ", "), lastErr)
		}
		return nil
	})
}

// testInNetworkClient: the load generator, run as the stack's loadgen
// service inside the compose network, bootstraps from the service names on
// the primary listener, which advertises them, and verifies that every acknowledged record is consumed exactly once, in order.
func testInNetworkClient(t *testing.T, s *stack) {
	out := filepath.Join(t.TempDir(), "out")
	if err := os.Mkdir(out, 0o777); err != nil {
		t.Fatal(err)
	}
	os.Chmod(out, 0o777) // past the umask: the container's user is not ours
	const records = 3000
	start := time.Now()
	// --no-deps: the nodes are up, and the test has its own patience for
	// a node that is briefly unready on a loaded machine.
	s.mustCompose(t, 3*time.Minute, "--profile", "load", "run", "--rm", "--no-deps", "-v", out+":/out", "loadgen",
		"e2e", "--topic=in-network", "--partitions=3", fmt.Sprintf("--records=%d", records), "--rate=1500",
		"--verify", "--quiet", "--json=/out/result.json")
	b, err := os.ReadFile(filepath.Join(out, "result.json"))
	if err != nil {
		t.Fatal(err)
	}
	var res loadgen.Result
	if err := json.Unmarshal(b, &res); err != nil {
		t.Fatal(err)
	}
	if res.Verify == nil || !res.Verify.OK() || res.Verify.Acked != records || res.Verify.Consumed != records {
		t.Fatalf("loadgen in the compose network: %v", res.Verify)
	}
	t.Logf("loadgen in the compose network: %v (%v)", res.Verify, time.Since(start).Round(time.Millisecond))
}

// testLeaderKilled: a producer on the host keeps writing while the leader's
// container gets SIGKILL. Every record it was told is written must be
// readable afterwards, where it was acknowledged. The killed container is
// then started again and must rejoin: follow the leader and hold exactly
// what the others hold.
func testLeaderKilled(t *testing.T, s *stack) {
	leader := s.waitLeader(t, 30*time.Second, "an agreed leader", allNodes, nil)
	var live []int
	for i := range 3 {
		if i != leader {
			live = append(live, i)
		}
	}
	cl := newHostClient(t, s)
	const topic = "failover"
	createTopic(t, cl, topic, 3)
	st := startStream(t, cl, topic)
	st.waitAcked(t, 300)
	atKill := st.acked()
	s.mustCompose(t, time.Minute, "kill", raftlineServices[leader])
	killed := time.Now()
	s.waitLeader(t, 30*time.Second, "a new leader", live, nil)
	t.Logf("killed %s after %d acks; a new leader %v later", raftlineServices[leader], atKill, time.Since(killed).Round(time.Millisecond))
	st.waitAcked(t, atKill+300)
	l, produced := st.finish(t)
	consumeAll(t, s, topic, l)
	if r := l.Report(); !r.OK() || r.Acked != produced || r.Unacked != 0 {
		t.Fatalf("%d records produced: %v", produced, r)
	}

	// The container comes back with its volume and catches up.
	s.mustCompose(t, time.Minute, "start", raftlineServices[leader])
	s.waitHealthy(t, 60*time.Second, raftlineServices[leader])
	s.waitLeader(t, 60*time.Second, raftlineServices[leader]+" to follow the leader and match the others", allNodes, func(clusterspec.Agreement) error {
		var first []partitionDigest
		for i := range 3 {
			var v partitionsView
			if err := getJSON(s.httpAddr(i), "/v1/partitions", &v); err != nil {
				return err
			}
			slices.SortFunc(v.Partitions, func(a, b partitionDigest) int {
				if c := strings.Compare(a.Topic, b.Topic); c != 0 {
					return c
				}
				return int(a.Partition - b.Partition)
			})
			if i == 0 {
				first = v.Partitions
			} else if !slices.Equal(first, v.Partitions) {
				return fmt.Errorf("node 1 has %v, node %d has %v", first, i+1, v.Partitions)
			}
		}
		var failover int64
		for _, d := range first {
			if d.Topic == topic {
				failover += d.HighWatermark
			}
		}
		if failover != produced {
			return fmt.Errorf("the nodes hold %d records of %s, %d were acknowledged", failover, topic, produced)
		}
		return nil
	})
	t.Logf("%s rejoined %v after the kill", raftlineServices[leader], time.Since(killed).Round(time.Millisecond))
}

// stream produces records with ids 0, 1, 2, ... until finished, keeping up
// to 64 in flight, and tells a ledger what was acknowledged.
type stream struct {
	l    *ledger.Ledger
	stop chan struct{}
	done chan struct{}

	mu       sync.Mutex
	produced int64
	acks     int64
	errs     []error
}

func startStream(t testing.TB, cl *kgo.Client, topic string) *stream {
	st := &stream{l: ledger.New(), stop: make(chan struct{}), done: make(chan struct{})}
	window := make(chan struct{}, 64)
	var inflight sync.WaitGroup
	go func() {
		defer close(st.done)
		defer inflight.Wait()
		for id := uint64(0); ; id++ {
			select {
			case <-st.stop:
				return
			case window <- struct{}{}:
			}
			st.mu.Lock()
			st.produced++
			st.mu.Unlock()
			inflight.Add(1)
			cl.Produce(context.Background(), &kgo.Record{Topic: topic, Value: value(id)}, func(r *kgo.Record, err error) {
				defer inflight.Done()
				st.mu.Lock()
				if err != nil {
					st.errs = append(st.errs, fmt.Errorf("record %d: %w", id, err))
				} else {
					st.acks++
					st.l.Acked(r.Partition, r.Offset, id)
				}
				st.mu.Unlock()
				<-window
			})
		}
	}()
	t.Cleanup(func() {
		select {
		case <-st.stop:
		default:
			close(st.stop)
		}
	})
	return st
}

func (st *stream) acked() int64 {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.acks
}

// waitAcked waits for n acknowledgements in all. The client retries through
// a failover without limit, so any failed record fails the test.
func (st *stream) waitAcked(t testing.TB, n int64) {
	t.Helper()
	waitFor(t, 60*time.Second, fmt.Sprintf("%d acknowledged records", n), func() error {
		st.mu.Lock()
		defer st.mu.Unlock()
		if len(st.errs) > 0 {
			t.Fatalf("produce failed (%d records): first: %v", len(st.errs), st.errs[0])
		}
		if st.acks < n {
			return fmt.Errorf("%d of %d produced records acknowledged", st.acks, st.produced)
		}
		return nil
	})
}

// finish stops producing, waits for the records in flight and returns the
// ledger and how many records were produced, every one of them acknowledged.
func (st *stream) finish(t testing.TB) (*ledger.Ledger, int64) {
	t.Helper()
	close(st.stop)
	select {
	case <-st.done:
	case <-time.After(60 * time.Second):
		t.Fatal("records still in flight 60s after producing stopped")
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	if len(st.errs) > 0 {
		t.Fatalf("produce failed (%d records): first: %v", len(st.errs), st.errs[0])
	}
	if st.acks != st.produced {
		t.Fatalf("%d records produced, %d acknowledged", st.produced, st.acks)
	}
	return st.l, st.produced
}
