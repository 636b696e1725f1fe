//go:build unix

package process

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/raftline/raftline/internal/clusterspec"
	"github.com/raftline/raftline/internal/testports"
)

// `raftline dev` is what a newcomer runs first, with a Kafka client nobody
// here wrote: kcat (librdkafka). Producing through one follower and consuming
// through another exercises metadata routing to the leader, auto-creation and
// the record format (keys, headers, arbitrary bytes) end to end.
func TestDev_Kcat_ProduceConsume(t *testing.T) {
	kcat := kcatPath(t)
	d := startDev(t, testports.Reserve(t, 9))
	spec, cmd, exited, logPath := d.spec, d.cmd, d.exited, d.logPath
	d.waitReady()

	kafkas, https := spec.KafkaAddrs(), spec.HTTPAddrs()
	var leader int
	waitFor(t, 30*time.Second, "an agreed leader", func() (err error) {
		leader, err = agreedLeader(https)
		return err
	})
	waitRegistered(t, https)
	producer, consumer := kafkas[(leader+1)%3], kafkas[(leader+2)%3]

	// Payloads with spaces, tabs and multi-byte UTF-8, of varying length,
	// one per line (kcat splits stdin on newlines; empty lines are left out
	// as kcat may skip them).
	var in bytes.Buffer
	for i := range 200 {
		fmt.Fprintf(&in, "line %03d: h\u00e9llo\tw\u00f6rld \u2603 %s|\n", i, strings.Repeat("x", i%37))
	}
	runKcat(t, kcat, in.Bytes(), "-P", "-b", producer, "-t", "dev-lines")
	out := runKcat(t, kcat, nil, "-C", "-b", consumer, "-t", "dev-lines", "-o", "beginning", "-e", "-f", `%p|%s\n`)
	if err := samePerPartition(out, in.Bytes()); err != nil {
		t.Fatalf("dev-lines: %v", err)
	}

	var kin, want bytes.Buffer
	for i := range 20 {
		fmt.Fprintf(&kin, "key-%02d:value %02d\n", i, i)
		fmt.Fprintf(&want, "key-%02d|trace=abc,note=x y|value %02d\n", i, i)
	}
	runKcat(t, kcat, kin.Bytes(), "-P", "-b", producer, "-t", "dev-keyed", "-K", ":", "-H", "trace=abc", "-H", "note=x y")
	out = runKcat(t, kcat, nil, "-C", "-b", consumer, "-t", "dev-keyed", "-o", "beginning", "-e", "-f", `%p|%k|%h|%s\n`)
	if err := samePerPartition(out, want.Bytes()); err != nil {
		t.Fatalf("dev-keyed: %v", err)
	}

	// SIGTERM to `raftline dev` alone: it must stop its nodes gracefully.
	// It falls back to SIGKILL after 20s, so a slower exit means a node
	// ignored the SIGTERM.
	stopped := time.Now()
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("raftline dev exited with %v after SIGTERM", err)
		}
	case <-time.After(40 * time.Second):
		t.Fatal("raftline dev still running 40s after SIGTERM")
	}
	if d := time.Since(stopped); d >= 20*time.Second {
		t.Fatalf("raftline dev took %v to stop: its nodes did not stop on SIGTERM", d)
	}
	log, err := os.ReadFile(logPath)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(log, []byte("panic")) || bytes.Contains(log, []byte("goroutine ")) {
		t.Fatal("raftline dev's output holds a panic")
	}
	for i, k := range kafkas {
		if c, err := net.DialTimeout("tcp", k, time.Second); err == nil {
			c.Close()
			t.Fatalf("node %d still accepts Kafka connections after raftline dev exited", i+1)
		}
	}
}

// samePerPartition checks that consumed, lines of "partition|record" from a
// topic of several partitions (a dev cluster auto-creates three), holds each
// line of produced exactly once, in the order produced within each partition.
func samePerPartition(consumed, produced []byte) error {
	order := map[string]int{}
	for i, l := range strings.SplitAfter(string(produced), "\n") {
		if l != "" {
			order[l] = i
		}
	}
	last := map[string]int{} // partition -> order of its last line so far
	seen := map[string]bool{}
	for _, l := range strings.SplitAfter(string(consumed), "\n") {
		if l == "" {
			continue
		}
		p, rec, ok := strings.Cut(l, "|")
		i, known := order[rec]
		switch {
		case !ok || !known:
			return fmt.Errorf("consumed %q, which was not produced", l)
		case seen[rec]:
			return fmt.Errorf("consumed %q twice", rec)
		}
		if prev, ok := last[p]; ok && prev > i {
			return fmt.Errorf("partition %s returned %q after a record produced later", p, rec)
		}
		seen[rec], last[p] = true, i
	}
	if len(seen) != len(order) {
		return fmt.Errorf("consumed %d of the %d records produced:\n%s", len(seen), len(order), consumed)
	}
	return nil
}

// kcatPath finds kcat; the test fails without it (`make tools` installs it),
// as skipping would let a missing tool pass silently.
func kcatPath(t testing.TB) string {
	t.Helper()
	for _, name := range []string{"kcat", "kafkacat"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("kcat is not installed: run `make tools` (Debian package kcat)")
	return ""
}

// runKcat runs kcat quietly with stdin, failing the test unless it exits 0
// within a minute, and returns its stdout.
func runKcat(t testing.TB, kcat string, stdin []byte, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, kcat, append([]string{"-q"}, args...)...)
	cmd.WaitDelay = 5 * time.Second
	cmd.Stdin = bytes.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("kcat %s: %v\nstderr:\n%s", strings.Join(args, " "), err, stderr.Bytes())
	}
	return stdout.Bytes()
}

// devRun is one `raftline dev` process the test started, its output (stdout
// and stderr) in logPath.
type devRun struct {
	t       testing.TB
	spec    clusterspec.Spec
	cmd     *exec.Cmd
	logPath string
	// exited receives cmd.Wait's result once; done is closed at the same
	// time and err holds the result for every later reader.
	exited chan error
	done   chan struct{}
	err    error
}

// startDev starts `raftline dev` on ports (9 consecutive reserved ports:
// Kafka, HTTP and Raft, three each) with its data under a new temporary
// directory and extra appended to its flags. Cleanup kills it and every
// node it started, and shows the end of its output if the test failed.
func startDev(t testing.TB, ports []int, extra ...string) *devRun {
	t.Helper()
	dir := t.TempDir()
	kafkaPort, httpPort, raftPort := ports[0], ports[3], ports[6]
	// The cluster `raftline dev` makes of those flags.
	spec := clusterspec.Local("127.0.0.1", filepath.Join(dir, "data"), 3, kafkaPort, httpPort, raftPort)
	d := &devRun{t: t, spec: spec, logPath: filepath.Join(dir, "dev.log"), exited: make(chan error, 1), done: make(chan struct{})}
	f, err := os.Create(d.logPath)
	if err != nil {
		t.Fatal(err)
	}
	args := append([]string{"dev",
		"--data-dir", filepath.Join(dir, "data"),
		"--kafka-port", strconv.Itoa(kafkaPort),
		"--http-port", strconv.Itoa(httpPort),
		"--raft-port", strconv.Itoa(raftPort)}, extra...)
	d.cmd = exec.Command(raftlineBin, args...)
	d.cmd.Env = childEnv()
	d.cmd.Stdout, d.cmd.Stderr = f, f
	// Its own process group, so cleanup can kill the nodes it started too;
	// SIGTERM if the test process dies, so it stops them itself.
	d.cmd.SysProcAttr = dieWithTest(syscall.SIGTERM)
	d.cmd.SysProcAttr.Setpgid = true
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	go func() {
		err := d.cmd.Wait()
		d.err = err
		close(d.done)
		d.exited <- err
	}()
	t.Cleanup(func() {
		syscall.Kill(-d.cmd.Process.Pid, syscall.SIGKILL) // no-op once the group is gone
		if t.Failed() {
			t.Logf("--- raftline dev log tail (%s) ---\n%s", d.logPath, tail(d.logPath, 80))
		}
	})
	return d
}

// waitReady waits until every node of the dev cluster answers /readyz,
// failing at once if `raftline dev` exits.
func (d *devRun) waitReady() {
	d.t.Helper()
	waitFor(d.t, 60*time.Second, "/readyz on every dev node", func() error {
		select {
		case <-d.done:
			d.t.Fatalf("raftline dev exited early: %v", d.err)
		default:
		}
		for _, h := range d.spec.HTTPAddrs() {
			if err := readyz(h); err != nil {
				return err
			}
		}
		return nil
	})
}

// waitExit waits up to timeout for `raftline dev` to exit and returns its
// exit code and output, failing the test if it is still running.
func (d *devRun) waitExit(timeout time.Duration) (code int, output string) {
	d.t.Helper()
	select {
	case <-d.done:
	case <-time.After(timeout):
		d.t.Fatalf("raftline dev still running %v later; its output ends:\n%s", timeout, tail(d.logPath, 40))
	}
	out, err := os.ReadFile(d.logPath)
	if err != nil {
		d.t.Fatal(err)
	}
	return d.cmd.ProcessState.ExitCode(), string(out)
}

// A second `raftline dev` on the ports of one already running must say which
// ports are taken and exit non-zero at once, leaving the first cluster as it
// was. When a node of the running cluster dies, `raftline dev` must say which
// one and how, stop the others and exit non-zero too, rather than carry on
// with a cluster short of a node.
func TestDev_SecondDevOnSamePorts_FailsAtOnce_ThenANodeDies_DevExitsNonZero(t *testing.T) {
	ports := testports.Reserve(t, 9)
	first := startDev(t, ports)
	first.waitReady()

	t.Run("second dev on the same ports", func(t *testing.T) {
		second := startDev(t, ports)
		code, out := second.waitExit(30 * time.Second)
		if code == 0 {
			t.Fatalf("the second raftline dev exited 0:\n%s", out)
		}
		for i, n := range first.spec.Nodes {
			for _, addr := range []string{n.KafkaAddr(), n.HTTPAddr(), n.RaftAddr()} {
				if !strings.Contains(out, addr) {
					t.Errorf("its output does not name node %d's address %s, which is taken:\n%s", i+1, addr, out)
				}
			}
		}
		if _, err := os.Stat(second.spec.Nodes[0].DataDir); err == nil {
			t.Errorf("it created %s before finding the ports taken", second.spec.Nodes[0].DataDir)
		}
		for _, h := range first.spec.HTTPAddrs() {
			if err := readyz(h); err != nil {
				t.Errorf("the first cluster suffered: %v", err)
			}
		}
	})

	t.Run("a node killed", func(t *testing.T) {
		pid, err := nodePid(first.cmd.Process.Pid, 2)
		if err != nil {
			t.Fatal(err)
		}
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		code, out := first.waitExit(60 * time.Second)
		if code == 0 {
			t.Fatalf("raftline dev exited 0 after node 2 was killed:\n%s", out)
		}
		if !regexp.MustCompile(`node 2\b[^\n]*killed`).MatchString(out) {
			t.Fatalf("its output does not say node 2 was killed:\n%s", out)
		}
		for i, k := range first.spec.KafkaAddrs() {
			if c, err := net.DialTimeout("tcp", k, time.Second); err == nil {
				c.Close()
				t.Errorf("node %d still accepts Kafka connections after raftline dev exited", i+1)
			}
		}
	})
}

// A port that another program holds is named, with the node and listener
// that need it, and nothing is started.
func TestDev_OnePortTaken_NamesNodeAndListener_StartsNothing(t *testing.T) {
	ports := testports.Reserve(t, 9)
	taken := ports[3+1] // node 2's HTTP port
	ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(taken))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	d := startDev(t, ports)
	code, out := d.waitExit(30 * time.Second)
	if code == 0 {
		t.Fatalf("raftline dev exited 0 with a port taken:\n%s", out)
	}
	if !regexp.MustCompile(`node 2\b[^\n]*HTTP[^\n]*127\.0\.0\.1:` + strconv.Itoa(taken)).MatchString(out) {
		t.Fatalf("its output does not name node 2's HTTP port %d:\n%s", taken, out)
	}
	if _, err := os.Stat(d.spec.Nodes[0].DataDir); err == nil {
		t.Fatalf("it created %s: a node was started", d.spec.Nodes[0].DataDir)
	}
}

// The first topic a newcomer produces to is auto-created; on a dev cluster
// it gets three partitions, one per node's worth, so partitioning shows.
func TestDev_AutoCreatedTopic_HasThreePartitions(t *testing.T) {
	d := startDev(t, testports.Reserve(t, 9))
	d.waitReady()
	waitRegistered(t, d.spec.HTTPAddrs())
	cl := newClient(t, d.spec.KafkaAddrs(), kgo.AllowAutoTopicCreation(), kgo.DefaultProduceTopic("dev-auto"))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte("first")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	req := kmsg.NewPtrMetadataRequest()
	rt := kmsg.NewMetadataRequestTopic()
	rt.Topic = kmsg.StringPtr("dev-auto")
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 3 {
		t.Fatalf("auto-created dev-auto: want one topic with 3 partitions, metadata has %+v", resp.Topics)
	}
}
