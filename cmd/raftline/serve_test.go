package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/raftline/raftline/broker/clustertest"
	"github.com/raftline/raftline/internal/clusterspec"
	"github.com/raftline/raftline/internal/testports"
	"github.com/raftline/raftline/telemetry/jaegertest"
)

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestServe_MetricsAlwaysOn_TracesFromEnv_FlushedAtShutdown runs the real
// `raftline serve` as a process: /metrics is served on --http-addr, tracing
// is configured from OTEL_* variables only, and the spans still queued when
// the node is told to stop reach the receiver.
func TestServe_MetricsAlwaysOn_TracesFromEnv_FlushedAtShutdown(t *testing.T) {
	j := jaegertest.Start(t)
	bin := filepath.Join(t.TempDir(), "raftline")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	ports := testports.Reserve(t, 3)
	node := clusterspec.Node{ID: 7, Host: "127.0.0.1", KafkaPort: ports[0], HTTPPort: ports[1], RaftPort: ports[2], DataDir: t.TempDir()}
	spec := clusterspec.Spec{Nodes: []clusterspec.Node{node}}
	kafka, httpAddr := node.KafkaAddr(), node.HTTPAddr()
	cmd := exec.Command(bin, spec.ServeArgs(node)...)
	cmd.Env = append(os.Environ(),
		"OTEL_EXPORTER_OTLP_ENDPOINT="+j.OTLPGRPC, "OTEL_EXPORTER_OTLP_PROTOCOL=grpc",
		"OTEL_SERVICE_NAME=raftline-serve-test", "OTEL_TRACES_SAMPLER=always_on",
		// Nothing is exported before shutdown: the trace can only reach
		// Jaeger through the shutdown flush.
		"OTEL_BSP_SCHEDULE_DELAY=3600000")
	logs := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
		if t.Failed() {
			t.Logf("raftline serve output:\n%s", logs.String())
		}
	})

	clustertest.Wait(t, 30*time.Second, "the node to be ready", func() error {
		resp, err := http.Get("http://" + httpAddr + "/readyz")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("/readyz: %s", resp.Status)
		}
		return nil
	})
	cl, err := kgo.NewClient(kgo.SeedBrokers(kafka), kgo.DefaultProduceTopic("served"), kgo.AllowAutoTopicCreation())
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte("v")}).FirstErr(); err != nil {
		t.Fatal(err)
	}

	resp, err := http.Get("http://" + httpAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		`raft_leader_elections_total{node_id="7"} 1`,
		`raftline_produced_records_total{node_id="7",topic="served"} 1`,
		`raftline_build_info{node_id="7",role="leader",version=`,
		`go_goroutines{node_id="7"}`,
		`process_cpu_seconds_total{node_id="7"}`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if traces, err := j.Traces(ctx, "raftline-serve-test", "", 10); err != nil || len(traces) != 0 {
		t.Fatalf("before shutdown Jaeger holds %d traces (%v); the schedule delay should hold them back", len(traces), err)
	}

	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-exited:
		exited <- err
		if err != nil {
			t.Fatalf("raftline serve exited with %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("raftline serve did not stop within 30s of SIGTERM")
	}
	clustertest.Wait(t, 30*time.Second, "the flushed trace in Jaeger", func() error {
		traces, err := j.Traces(ctx, "raftline-serve-test", "send served", 10)
		if err != nil {
			return err
		}
		if len(traces) != 1 {
			return fmt.Errorf("%d traces", len(traces))
		}
		ops := map[string]bool{}
		for _, s := range traces[0].Spans {
			ops[s.OperationName] = true
		}
		for _, op := range []string{"send served", "propose", "commit", "apply"} {
			if !ops[op] {
				return fmt.Errorf("the trace has no %q span (it has %v)", op, ops)
			}
		}
		return nil
	})
}
