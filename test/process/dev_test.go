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
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/raftline/raftline/internal/clusterspec"
	"github.com/raftline/raftline/internal/testports"
)

// `raftline dev` is what a newcomer runs first, with a Kafka client nobody
// here wrote: kcat (librdkafka). Producing through one follower and consuming
// through another exercises metadata routing to the leader, auto-creation and
// the record format (keys, headers, arbitrary bytes) end to end.
func TestDev_Kcat_ProduceConsume(t *testing.T) {
	kcat := kcatPath(t)
	dir := t.TempDir()
	ports := testports.Reserve(t, 9)
	kafkaPort, httpPort, raftPort := ports[0], ports[3], ports[6]
	// The cluster `raftline dev` makes of those flags.
	spec := clusterspec.Local("127.0.0.1", filepath.Join(dir, "data"), 3, kafkaPort, httpPort, raftPort)
	logPath := filepath.Join(dir, "dev.log")
	f, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(raftlineBin, "dev",
		"--data-dir", filepath.Join(dir, "data"),
		"--kafka-port", strconv.Itoa(kafkaPort),
		"--http-port", strconv.Itoa(httpPort),
		"--raft-port", strconv.Itoa(raftPort))
	cmd.Env = childEnv()
	cmd.Stdout, cmd.Stderr = f, f
	// Its own process group, so cleanup can kill the nodes it started too;
	// SIGTERM if the test process dies, so it stops them itself.
	cmd.SysProcAttr = dieWithTest(syscall.SIGTERM)
	cmd.SysProcAttr.Setpgid = true
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // no-op once the group is gone
		if t.Failed() {
			t.Logf("--- raftline dev log tail (%s) ---\n%s", logPath, tail(logPath, 80))
		}
	})

	kafkas, https := spec.KafkaAddrs(), spec.HTTPAddrs()
	waitFor(t, 60*time.Second, "/readyz on every dev node", func() error {
		select {
		case err := <-exited:
			t.Fatalf("raftline dev exited early: %v", err)
		default:
		}
		for _, h := range https {
			if err := readyz(h); err != nil {
				return err
			}
		}
		return nil
	})
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
	out := runKcat(t, kcat, nil, "-C", "-b", consumer, "-t", "dev-lines", "-o", "beginning", "-e", "-f", `%s\n`)
	if !bytes.Equal(out, in.Bytes()) {
		t.Fatalf("consumed %d bytes differ from the %d produced:\n got: %q\nwant: %q", len(out), in.Len(), out, in.Bytes())
	}

	var kin, want bytes.Buffer
	for i := range 20 {
		fmt.Fprintf(&kin, "key-%02d:value %02d\n", i, i)
		fmt.Fprintf(&want, "key-%02d|trace=abc,note=x y|value %02d\n", i, i)
	}
	runKcat(t, kcat, kin.Bytes(), "-P", "-b", producer, "-t", "dev-keyed", "-K", ":", "-H", "trace=abc", "-H", "note=x y")
	out = runKcat(t, kcat, nil, "-C", "-b", consumer, "-t", "dev-keyed", "-o", "beginning", "-e", "-f", `%k|%h|%s\n`)
	if !bytes.Equal(out, want.Bytes()) {
		t.Fatalf("keyed records came back as:\n%s\nwant:\n%s", out, want.Bytes())
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
