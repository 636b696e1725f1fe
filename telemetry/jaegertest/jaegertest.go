// Package jaegertest runs a real Jaeger (v2, all in memory) for tests and
// benchmarks, on loopback ports reserved through internal/testports until
// the test ends, and reads traces back through its query API. The binary is
// built once by tools/jaeger/build.sh into a cache directory;
// RAFTLINE_JAEGER_BIN points at another one.
package jaegertest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/raftline/raftline/internal/testports"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// Binary returns the Jaeger binary, building it the first time (several
// minutes). It fails the test when Jaeger cannot be built: the tests that
// need it must not pass without it.
func Binary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() { binPath, buildErr = build() })
	if buildErr != nil {
		t.Fatalf("jaeger: %v", buildErr)
	}
	return binPath
}

func build() (string, error) {
	if p := os.Getenv("RAFTLINE_JAEGER_BIN"); p != "" {
		return p, nil
	}
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return "", fmt.Errorf("cannot locate tools/jaeger")
	}
	// The repository root is the nearest directory above holding the
	// build script.
	script := ""
	for dir := filepath.Dir(file); ; dir = filepath.Dir(dir) {
		if p := filepath.Join(dir, "tools", "jaeger", "build.sh"); fileExists(p) {
			script = p
			break
		}
		if filepath.Dir(dir) == dir {
			return "", fmt.Errorf("tools/jaeger/build.sh not found above %s", file)
		}
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(script)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("%s: %v\n%s", script, err, stderr.String())
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	p := lines[len(lines)-1]
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("%s printed %q: %v", script, p, err)
	}
	return p, nil
}

// Jaeger is a running Jaeger.
type Jaeger struct {
	OTLPGRPC string // http://127.0.0.1:port, the OTLP/gRPC receiver
	OTLPHTTP string // http://127.0.0.1:port, the OTLP/HTTP receiver base URL
	Query    string // http://127.0.0.1:port, the query API
	cmd      *exec.Cmd
	log      *syncWriter
}

const config = `service:
  extensions: [jaeger_storage, jaeger_query, healthcheckv2]
  pipelines:
    traces:
      receivers: [otlp]
      processors: [batch]
      exporters: [jaeger_storage_exporter]
  telemetry:
    metrics:
      level: none
    logs:
      level: warn
extensions:
  jaeger_query:
    storage:
      traces: mem
    http:
      endpoint: 127.0.0.1:%d
    grpc:
      endpoint: 127.0.0.1:%d
  jaeger_storage:
    backends:
      mem:
        memory:
          max_traces: 1000000
  healthcheckv2:
    use_v2: true
    http:
      endpoint: 127.0.0.1:%d
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:%d
        max_recv_msg_size_mib: 64
      http:
        endpoint: 127.0.0.1:%d
processors:
  batch:
exporters:
  jaeger_storage_exporter:
    trace_storage: mem
`

// Start runs Jaeger until the test ends, on ports reserved until then.
func Start(t testing.TB) *Jaeger {
	t.Helper()
	bin := Binary(t)
	// Reserved before the cleanup that kills Jaeger is registered, so they
	// are released only after it.
	ports := testports.Reserve(t, 5)
	cfg := filepath.Join(t.TempDir(), "jaeger.yaml")
	if err := os.WriteFile(cfg, fmt.Appendf(nil, config, ports[0], ports[1], ports[2], ports[3], ports[4]), 0o644); err != nil {
		t.Fatal(err)
	}
	j := &Jaeger{
		Query:    "http://127.0.0.1:" + strconv.Itoa(ports[0]),
		OTLPGRPC: "http://127.0.0.1:" + strconv.Itoa(ports[3]),
		OTLPHTTP: "http://127.0.0.1:" + strconv.Itoa(ports[4]),
		log:      &syncWriter{w: &bytes.Buffer{}},
	}
	j.cmd = exec.Command(bin, "--config", "file:"+cfg)
	j.cmd.Stdout, j.cmd.Stderr = j.log, j.log
	if err := j.cmd.Start(); err != nil {
		t.Fatalf("start jaeger: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- j.cmd.Wait() }()
	t.Cleanup(func() {
		j.cmd.Process.Kill()
		<-exited
		if t.Failed() {
			t.Logf("jaeger log:\n%s", j.log.String())
		}
	})
	health := "http://127.0.0.1:" + strconv.Itoa(ports[2]) + "/status"
	deadline := time.Now().Add(60 * time.Second)
	for wait := 10 * time.Millisecond; ; wait = min(2*wait, 200*time.Millisecond) {
		select {
		case err := <-exited:
			exited <- err
			t.Fatalf("jaeger exited: %v\n%s", err, j.log.String())
		default:
		}
		err := checkHealth(health)
		if err == nil {
			return j
		}
		if time.Now().After(deadline) {
			t.Fatalf("jaeger not healthy after 60s: %v\n%s", err, j.log.String())
		}
		time.Sleep(wait)
	}
}

// healthClient bounds each health check, so a port that accepts and never
// answers cannot stall Start past its deadline.
var healthClient = &http.Client{Timeout: 3 * time.Second}

// checkHealth is nil when GET addr (a URL) answers 200 OK.
func checkHealth(addr string) error {
	resp, err := healthClient.Get(addr)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return errors.New("GET " + addr + ": " + resp.Status)
	}
	return nil
}

// Trace is one trace as the query API returns it.
type Trace struct {
	TraceID   string             `json:"traceID"`
	Spans     []Span             `json:"spans"`
	Processes map[string]Process `json:"processes"`
}

// Span is one span of a Trace.
type Span struct {
	TraceID       string      `json:"traceID"`
	SpanID        string      `json:"spanID"`
	OperationName string      `json:"operationName"`
	References    []Reference `json:"references"`
	StartTime     int64       `json:"startTime"` // µs since the epoch
	Duration      int64       `json:"duration"`  // µs
	Tags          []KeyValue  `json:"tags"`
	ProcessID     string      `json:"processID"`
}

// Reference is a span's parent (CHILD_OF) or link (FOLLOWS_FROM).
type Reference struct {
	RefType string `json:"refType"`
	TraceID string `json:"traceID"`
	SpanID  string `json:"spanID"`
}

// Process is the emitting service of spans.
type Process struct {
	ServiceName string     `json:"serviceName"`
	Tags        []KeyValue `json:"tags"`
}

// KeyValue is a tag.
type KeyValue struct {
	Key   string `json:"key"`
	Type  string `json:"type"`
	Value any    `json:"value"`
}

// Tag returns a tag's value as text ("" when absent).
func Tag(tags []KeyValue, key string) string {
	for _, kv := range tags {
		if kv.Key == key {
			return fmt.Sprint(kv.Value)
		}
	}
	return ""
}

// Traces searches the query API for a service's traces, optionally of one
// operation.
func (j *Jaeger) Traces(ctx context.Context, service, operation string, limit int) ([]Trace, error) {
	q := url.Values{"service": {service}, "limit": {strconv.Itoa(limit)}, "lookback": {"1h"}}
	if operation != "" {
		q.Set("operation", operation)
	}
	return j.get(ctx, "/api/traces?"+q.Encode())
}

// Trace fetches one trace by id (hex).
func (j *Jaeger) Trace(ctx context.Context, id string) (*Trace, error) {
	ts, err := j.get(ctx, "/api/traces/"+id)
	if err != nil {
		return nil, err
	}
	if len(ts) != 1 {
		return nil, fmt.Errorf("trace %s: %d results", id, len(ts))
	}
	return &ts[0], nil
}

func (j *Jaeger) get(ctx context.Context, path string) ([]Trace, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, j.Query+path, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var body struct {
		Data   []Trace `json:"data"`
		Errors []struct {
			Msg string `json:"msg"`
		} `json:"errors"`
	}
	if resp.StatusCode == http.StatusNotFound {
		return nil, nil
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return nil, fmt.Errorf("%s: %s: %v", path, resp.Status, err)
	}
	if len(body.Errors) > 0 {
		return nil, fmt.Errorf("%s: %s", path, body.Errors[0].Msg)
	}
	return body.Data, nil
}

type syncWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (s *syncWriter) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.String()
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
