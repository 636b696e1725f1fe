package telemetry_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"gopkg.in/yaml.v3"

	"github.com/raftline/raftline/broker/clustertest"
	"github.com/raftline/raftline/internal/testports"
	"github.com/raftline/raftline/telemetry"
	"github.com/raftline/raftline/telemetry/jaegertest"
	"github.com/raftline/raftline/telemetry/spanqueue"
)

var (
	otelcolOnce sync.Once
	otelcolBin  string
	otelcolErr  error
)

// otelcolBinary builds tools/otelcol once (tools/otelcol/build.sh) and
// returns the binary; the test fails when it cannot be built.
func otelcolBinary(t testing.TB) string {
	t.Helper()
	otelcolOnce.Do(func() {
		_, file, _, _ := runtime.Caller(0)
		script := filepath.Join(filepath.Dir(file), "..", "tools", "otelcol", "build.sh")
		var stdout, stderr bytes.Buffer
		cmd := exec.Command(script)
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			otelcolErr = fmt.Errorf("%s: %v\n%s", script, err, stderr.String())
			return
		}
		lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
		otelcolBin = lines[len(lines)-1]
	})
	if otelcolErr != nil {
		t.Fatal(otelcolErr)
	}
	return otelcolBin
}

// startTailSampler runs the collector with the shipped
// compose/otelcol/tail-sampling.yaml, its policies untouched: only the
// receivers' addresses (reserved ports), the exporter's (the test's
// Jaeger), the health_check extension's (a reserved port) and the
// collector's own metrics (off) change, so it binds no fixed port. It returns the OTLP/HTTP traces URL.
func startTailSampler(t *testing.T, j *jaegertest.Jaeger) string {
	t.Helper()
	bin := otelcolBinary(t)
	_, file, _, _ := runtime.Caller(0)
	b, err := os.ReadFile(filepath.Join(filepath.Dir(file), "..", "compose", "otelcol", "tail-sampling.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var cfg map[string]any
	if err := yaml.Unmarshal(b, &cfg); err != nil {
		t.Fatal(err)
	}
	ports := testports.Reserve(t, 3)
	grpcAddr, httpAddr := "127.0.0.1:"+strconv.Itoa(ports[0]), "127.0.0.1:"+strconv.Itoa(ports[1])
	protocols := cfg["receivers"].(map[string]any)["otlp"].(map[string]any)["protocols"].(map[string]any)
	protocols["grpc"].(map[string]any)["endpoint"] = grpcAddr
	protocols["http"].(map[string]any)["endpoint"] = httpAddr
	cfg["exporters"].(map[string]any)["otlp_grpc/jaeger"].(map[string]any)["endpoint"] = strings.TrimPrefix(j.OTLPGRPC, "http://")
	cfg["extensions"].(map[string]any)["health_check"].(map[string]any)["endpoint"] = "127.0.0.1:" + strconv.Itoa(ports[2])
	cfg["service"].(map[string]any)["telemetry"] = map[string]any{"metrics": map[string]any{"level": "none"}}
	out, err := yaml.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "otelcol.yaml")
	if err := os.WriteFile(path, out, 0o644); err != nil {
		t.Fatal(err)
	}
	var log syncBuffer
	cmd := exec.Command(bin, "--config", "file:"+path)
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
		if t.Failed() {
			log.mu.Lock()
			t.Logf("otelcol log:\n%s", log.b.String())
			log.mu.Unlock()
		}
	})
	var lastErr error
	clustertest.WaitFor(t, 60*time.Second, "the collector's OTLP/HTTP receiver", func() bool {
		select {
		case err := <-exited:
			exited <- err
			t.Fatalf("otelcol exited: %v", err)
		default:
		}
		var c net.Conn
		c, lastErr = net.DialTimeout("tcp", httpAddr, time.Second)
		if lastErr != nil {
			return false
		}
		c.Close()
		return true
	})
	return "http://" + httpAddr + "/v1/traces"
}

// TestTailSampling_ShippedCollectorConfig_KeepsErrorsAndSlowRequests
// sends a 3-node cluster's spans, every request sampled, through a real
// OpenTelemetry Collector running compose/otelcol/tail-sampling.yaml to a
// real Jaeger: a failed produce's trace and the slow (long-poll) Fetch
// requests' traces are all kept, while of many fast successful produces
// not all are.
func TestTailSampling_ShippedCollectorConfig_KeepsErrorsAndSlowRequests(t *testing.T) {
	j := jaegertest.Start(t)
	endpoint := startTailSampler(t, j)
	service := "raftline-tail-" + randomHex(4)
	c, _ := startCluster(t, 3, func(id int32) telemetry.Config {
		return telemetry.Config{NodeID: id, Version: "e2e", ServiceName: service, Tracing: telemetry.TracingConfig{
			Endpoint: endpoint, Protocol: telemetry.ProtocolHTTP, Queue: spanqueue.Options{Delay: 50 * time.Millisecond},
		}}
	})
	ctx, cancel := context.WithTimeout(clustertest.Ctx(t), 3*time.Minute)
	defer cancel()
	cl := c.Client(kgo.RequiredAcks(kgo.AllISRAcks()))
	limit := "200"
	for _, topic := range []string{"ok", "small"} {
		var configs map[string]*string
		if topic == "small" {
			configs = map[string]*string{"max.message.bytes": &limit}
		}
		resp, err := kadm.NewClient(cl).CreateTopic(ctx, 1, -1, configs, topic)
		if err == nil {
			err = resp.Err
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	traced := func(topic string, value []byte) (string, *kgo.Record) {
		tid := randomHex(16)
		return tid, &kgo.Record{Topic: topic, Value: value, Headers: []kgo.RecordHeader{{Key: "traceparent", Value: []byte("00-" + tid + "-" + randomHex(8) + "-01")}}}
	}

	// Fast successful produces, one trace each.
	const fast = 30
	var okIDs []string
	for range fast {
		tid, rec := traced("ok", []byte("fast"))
		if err := cl.ProduceSync(ctx, rec).FirstErr(); err != nil {
			t.Fatal(err)
		}
		okIDs = append(okIDs, tid)
	}
	// Slow requests: Fetches that long-poll an empty partition for 1s.
	leader := c.Leader()
	const slow = 3
	for range slow {
		req := kmsg.NewPtrFetchRequest()
		req.MaxWaitMillis, req.MinBytes, req.MaxBytes = 1000, 1, 1<<20
		rt := kmsg.NewFetchRequestTopic()
		rt.Topic = "small"
		rp := kmsg.NewFetchRequestTopicPartition()
		rp.FetchOffset, rp.PartitionMaxBytes = 0, 1<<20
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		if _, err := cl.Broker(int(leader.ID)).Request(ctx, req); err != nil {
			t.Fatal(err)
		}
	}
	// A failed produce: 1000 incompressible bytes into max.message.bytes 200.
	value := make([]byte, 1000)
	rand.Read(value)
	errID, rec := traced("small", value)
	if err := cl.ProduceSync(ctx, rec).FirstErr(); !errors.Is(err, kerr.MessageTooLarge) {
		t.Fatalf("produce of 1000 bytes into max.message.bytes 200: %v", err)
	}

	var lastErr string
	clustertest.WaitFor(t, 90*time.Second, "the failed produce's trace in Jaeger", func() bool {
		tr, err := j.Trace(ctx, errID)
		if err != nil || tr == nil {
			lastErr = fmt.Sprint(err)
			return false
		}
		p := spanNamed(tr, "Produce")
		return p != nil && jaegertest.Tag(p.Tags, "error.type") == "MESSAGE_TOO_LARGE"
	})
	clustertest.WaitFor(t, 60*time.Second, "every slow Fetch's trace in Jaeger", func() bool {
		ts, err := j.Traces(ctx, service, "Fetch", 100)
		if err != nil {
			lastErr = err.Error()
			return false
		}
		long := 0
		for _, tr := range ts {
			if f := spanNamed(&tr, "Fetch"); f != nil && f.Duration >= 900_000 { // microseconds
				long++
			}
		}
		lastErr = fmt.Sprintf("%d long Fetch traces of %d", long, len(ts))
		return long >= slow
	})
	kept := 0
	for _, id := range okIDs {
		if tr, err := j.Trace(ctx, id); err == nil && tr != nil {
			kept++
		}
	}
	t.Logf("%d of %d fast successful produces kept; %s", kept, fast, lastErr)
	if kept == fast {
		t.Errorf("all %d fast successful produces were kept: the collector does not sample", fast)
	}
}
