package compose

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"gopkg.in/yaml.v3"

	"github.com/raftline/raftline/telemetry/jaegertest"
)

// otelPorts are the host ports of the otelcol service in the test's stack:
// the OTLP receivers compose.yaml publishes (OTLP_GRPC_PORT,
// OTLP_HTTP_PORT), and the collector's own metrics and health_check, which
// compose.yaml leaves to the compose network and the test's override
// publishes so the test can read them; plus the query API of the test's
// Jaeger.
type otelPorts struct{ grpc, http, metrics, health, jaegerQuery int }

const otelPortCount = 5

func newOtelPorts(p []int) otelPorts {
	return otelPorts{grpc: p[0], http: p[1], metrics: p[2], health: p[3], jaegerQuery: p[4]}
}

// writeOverride writes the compose file the test adds to compose.yaml: it
// only publishes the collector's metrics and health_check ports on
// 127.0.0.1; the service, its image, configuration and everything it talks
// to are compose.yaml's.
func (p otelPorts) writeOverride(t testing.TB) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "observe.yaml")
	body := fmt.Sprintf("services:\n  otelcol:\n    ports:\n      - 127.0.0.1:%d:8888\n      - 127.0.0.1:%d:13133\n", p.metrics, p.health)
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// testJaegerConfig runs Jaeger v2 in memory, with OTLP/gRPC on 4317, where
// compose/otelcol/tail-sampling.yaml's exporter sends, and the query API on
// 16686, as the stack's jaeger service does.
const testJaegerConfig = `service:
  extensions: [jaeger_storage, jaeger_query]
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
      endpoint: 0.0.0.0:16686
    grpc:
      endpoint: 0.0.0.0:16685
  jaeger_storage:
    backends:
      mem:
        memory:
          max_traces: 100000
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 0.0.0.0:4317
processors:
  batch:
exporters:
  jaeger_storage_exporter:
    trace_storage: mem
`

// startJaeger runs a real Jaeger in the stack's network under the service
// name jaeger, standing in for compose.yaml's jaeger service, whose official
// image cannot be pulled here: an image FROM scratch holding the Jaeger
// binary telemetry/jaegertest builds from source (tools/jaeger). Its query
// API is published on the reserved port; it is removed when the test ends.
func (s *stack) startJaeger(t *testing.T) *jaegertest.Jaeger {
	t.Helper()
	bin := jaegertest.Binary(t)
	dir := t.TempDir()
	copyFile(t, bin, filepath.Join(dir, "jaeger"), 0o755)
	files := map[string]string{
		"jaeger.yaml": testJaegerConfig,
		"Dockerfile":  "FROM scratch\nCOPY jaeger /jaeger\nCOPY jaeger.yaml /etc/jaeger.yaml\nENTRYPOINT [\"/jaeger\", \"--config\", \"file:/etc/jaeger.yaml\"]\n",
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	image := "raftline-jaeger-test:" + randomID()
	if _, err := run(ctx, s.env, "docker", "build", "-q", "-t", image, dir); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { run(context.Background(), s.env, "docker", "image", "rm", "-f", image) })
	name := s.project + "-jaeger"
	// Removed before the stack's teardown removes the network it is on.
	t.Cleanup(func() {
		if t.Failed() {
			if out, err := run(context.Background(), s.env, "docker", "logs", "--tail=60", name); err == nil {
				t.Logf("jaeger log:\n%s", out)
			}
		}
		run(context.Background(), s.env, "docker", "rm", "-f", "-v", name)
	})
	if _, err := run(ctx, s.env, "docker", "run", "-d", "--name", name,
		"--network", s.project+"_default", "--network-alias", "jaeger",
		"-p", fmt.Sprintf("127.0.0.1:%d:16686", s.otel.jaegerQuery), image); err != nil {
		t.Fatal(err)
	}
	j := &jaegertest.Jaeger{Query: "http://127.0.0.1:" + strconv.Itoa(s.otel.jaegerQuery)}
	waitFor(t, 60*time.Second, "the test's Jaeger to answer queries", func() error {
		return httpOK(j.Query + "/api/services")
	})
	return j
}

func copyFile(t testing.TB, src, dst string, mode os.FileMode) {
	t.Helper()
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}

// httpOK is nil when GET url answers 200.
func httpOK(url string) error {
	resp, err := httpClient.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return nil
}

// collectorMetrics scrapes the collector's own metrics and sums each
// family's samples whose labels include match.
func collectorMetrics(addr string, match map[string]string) (map[string]float64, error) {
	resp, err := httpClient.Get("http://" + addr + "/metrics")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s/metrics: %s", addr, resp.Status)
	}
	parser := expfmt.NewTextParser(model.LegacyValidation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		return nil, err
	}
	out := map[string]float64{}
	for name, mf := range families {
	metrics:
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			for k, v := range match {
				if labels[k] != v {
					continue metrics
				}
			}
			switch {
			case m.Counter != nil:
				out[name] += m.GetCounter().GetValue()
			case m.Gauge != nil:
				out[name] += m.GetGauge().GetValue()
			case m.Untyped != nil:
				out[name] += m.GetUntyped().GetValue()
			}
		}
	}
	return out, nil
}

// testOtelcol starts the otelcol service of compose.yaml, as configured
// (compose/otelcol/tail-sampling.yaml, exporting to jaeger:4317), beside the
// running nodes, whose OTEL_EXPORTER_OTLP_ENDPOINT names it, and a real
// Jaeger in the jaeger service's place. Its healthcheck (the health_check
// extension, probed by /raftline health) passes; a produce that fails with
// MESSAGE_TOO_LARGE, traced by its producer, reaches Jaeger as a trace kept
// by the errors policy, its Produce span from the nodes' service; and the
// collector's own metrics, which Prometheus scrapes, count the spans the
// nodes sent and the decision. Spans a process on the host sends to the
// published OTLP port go through the same collector.
func testOtelcol(t *testing.T, s *stack) {
	j := s.startJaeger(t)
	// --no-deps: the jaeger service's image is not here; the test's Jaeger
	// answers for it on the network.
	s.mustCompose(t, 2*time.Minute, "up", "-d", "--no-deps", "otelcol")
	s.waitHealthy(t, 2*time.Minute, "otelcol")
	if err := httpOK(fmt.Sprintf("http://127.0.0.1:%d/", s.otel.health)); err != nil {
		t.Errorf("health_check: %v", err)
	}
	metricsAddr := "127.0.0.1:" + strconv.Itoa(s.otel.metrics)

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cl := newHostClient(t, s, kgo.RequiredAcks(kgo.AllISRAcks()))
	limit := "200"
	resp, err := kadm.NewClient(cl).CreateTopic(ctx, 1, -1, map[string]*string{"max.message.bytes": &limit}, "otelcol-small")
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		t.Fatal(err)
	}
	// 1000 incompressible bytes into max.message.bytes 200: the Produce
	// span ends with status ERROR, error.type MESSAGE_TOO_LARGE.
	value := make([]byte, 1000)
	rand.Read(value)
	traceID := randomHex(16)
	rec := &kgo.Record{Topic: "otelcol-small", Value: value, Headers: []kgo.RecordHeader{
		{Key: "traceparent", Value: []byte("00-" + traceID + "-" + randomHex(8) + "-01")},
	}}
	if err := cl.ProduceSync(ctx, rec).FirstErr(); !errors.Is(err, kerr.MessageTooLarge) {
		t.Fatalf("produce of 1000 bytes into max.message.bytes 200: %v", err)
	}

	// decision_wait (10s) after the trace's first span, then the batch.
	waitFor(t, 90*time.Second, "the failed produce's trace in Jaeger, through the collector", func() error {
		tr, err := j.Trace(ctx, traceID)
		if err != nil {
			return err
		}
		if tr == nil {
			return fmt.Errorf("trace %s not found", traceID)
		}
		for _, sp := range tr.Spans {
			if sp.OperationName != "Produce" {
				continue
			}
			if svc := tr.Processes[sp.ProcessID].ServiceName; svc != "raftline" {
				return fmt.Errorf("the Produce span comes from service %q, want raftline (compose.yaml's OTEL_SERVICE_NAME)", svc)
			}
			if et := jaegertest.Tag(sp.Tags, "error.type"); et != "MESSAGE_TOO_LARGE" {
				return fmt.Errorf("the Produce span has error.type %q, want MESSAGE_TOO_LARGE", et)
			}
			return nil
		}
		return fmt.Errorf("trace %s has %d spans, no Produce span", traceID, len(tr.Spans))
	})
	waitFor(t, 30*time.Second, "the collector's metrics to count the nodes' spans and the errors policy's decision", func() error {
		received, err := collectorMetrics(metricsAddr, map[string]string{"receiver": "otlp", "transport": "http"})
		if err != nil {
			return err
		}
		kept, err := collectorMetrics(metricsAddr, map[string]string{"policy": "errors", "sampled": "true"})
		if err != nil {
			return err
		}
		if n := received["otelcol_receiver_accepted_spans"]; n == 0 {
			return errors.New("otelcol_receiver_accepted_spans{transport=\"http\"} is 0")
		}
		if n := kept["otelcol_processor_tail_sampling_count_traces_sampled"]; n == 0 {
			return errors.New("otelcol_processor_tail_sampling_count_traces_sampled{policy=\"errors\",sampled=\"true\"} is 0")
		}
		sent, err := collectorMetrics(metricsAddr, map[string]string{"exporter": "otlp_grpc/jaeger"})
		if err != nil {
			return err
		}
		if n := sent["otelcol_exporter_sent_spans"]; n == 0 {
			return errors.New("otelcol_exporter_sent_spans{exporter=\"otlp_grpc/jaeger\"} is 0")
		}
		return nil
	})

	// A process on the host: OTLP/HTTP to the published port, a failed
	// span, kept whole and found in Jaeger under its own service.
	hostTrace := randomHex(16)
	now := time.Now().UnixNano()
	body := fmt.Sprintf(`{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"host-client"}}]},`+
		`"scopeSpans":[{"spans":[{"traceId":%q,"spanId":%q,"name":"host-operation","kind":3,`+
		`"startTimeUnixNano":"%d","endTimeUnixNano":"%d","status":{"code":2}}]}]}]}`,
		hostTrace, randomHex(8), now-int64(time.Millisecond), now)
	post, err := httpClient.Post(fmt.Sprintf("http://127.0.0.1:%d/v1/traces", s.otel.http), "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	post.Body.Close()
	if post.StatusCode != http.StatusOK {
		t.Fatalf("OTLP/HTTP export to the published port: %s", post.Status)
	}
	waitFor(t, 90*time.Second, "the host process's trace in Jaeger, through the collector", func() error {
		tr, err := j.Trace(ctx, hostTrace)
		if err != nil {
			return err
		}
		if tr == nil || len(tr.Spans) != 1 || tr.Processes[tr.Spans[0].ProcessID].ServiceName != "host-client" {
			return fmt.Errorf("trace %s: %+v", hostTrace, tr)
		}
		return nil
	})
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return fmt.Sprintf("%x", b)
}

// otelcolConfig is the part of the collector's configuration the checks
// read.
type otelcolConfig struct {
	Receivers struct {
		OTLP struct {
			Protocols struct {
				GRPC struct{ Endpoint string } `yaml:"grpc"`
				HTTP struct{ Endpoint string } `yaml:"http"`
			} `yaml:"protocols"`
		} `yaml:"otlp"`
	} `yaml:"receivers"`
	Exporters  map[string]struct{ Endpoint string } `yaml:"exporters"`
	Extensions struct {
		HealthCheck struct{ Endpoint string } `yaml:"health_check"`
	} `yaml:"extensions"`
	Service struct {
		Extensions []string `yaml:"extensions"`
		Telemetry  struct {
			Metrics struct {
				Readers []struct {
					Pull struct {
						Exporter struct {
							Prometheus struct {
								Host string `yaml:"host"`
								Port int    `yaml:"port"`
							} `yaml:"prometheus"`
						} `yaml:"exporter"`
					} `yaml:"pull"`
				} `yaml:"readers"`
			} `yaml:"metrics"`
		} `yaml:"telemetry"`
		Pipelines map[string]struct {
			Receivers  []string `yaml:"receivers"`
			Processors []string `yaml:"processors"`
			Exporters  []string `yaml:"exporters"`
		} `yaml:"pipelines"`
	} `yaml:"service"`
}

// otelcolConfigPath is the collector's --config as the otelcol service
// passes it, and the repository file mounted there.
func otelcolConfigPath(f composeFile) (containerPath, hostPath string, err error) {
	s, ok := f.Services["otelcol"]
	if !ok {
		return "", "", errors.New("no otelcol service")
	}
	containerPath = strings.TrimPrefix(flagValue(s.Command, "config"), "file:")
	if containerPath == "" {
		return "", "", fmt.Errorf("otelcol: no --config in its command %q", s.Command)
	}
	if hostPath = s.hostPath(containerPath); hostPath == "" {
		return "", "", fmt.Errorf("otelcol: nothing is mounted at %s", containerPath)
	}
	return containerPath, hostPath, nil
}

func readOtelcolConfig(f composeFile) (otelcolConfig, error) {
	var cfg otelcolConfig
	_, path, err := otelcolConfigPath(f)
	if err != nil {
		return cfg, err
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return cfg, err
	}
	err = yaml.Unmarshal(b, &cfg)
	return cfg, err
}

// ports are the ports the collector listens on: the OTLP receivers, the
// health_check extension and its own metrics.
func (c otelcolConfig) ports() []string {
	var out []string
	for _, ep := range []string{c.Receivers.OTLP.Protocols.GRPC.Endpoint, c.Receivers.OTLP.Protocols.HTTP.Endpoint, c.Extensions.HealthCheck.Endpoint} {
		if _, p, err := net.SplitHostPort(ep); err == nil {
			out = append(out, p)
		}
	}
	for _, r := range c.Service.Telemetry.Metrics.Readers {
		if p := r.Pull.Exporter.Prometheus.Port; p != 0 {
			out = append(out, strconv.Itoa(p))
		}
	}
	return out
}

// The nodes' spans go to the otelcol service, which runs the shipped
// tail-sampling configuration and sends what it keeps to Jaeger; the OTLP
// ports published for the host are the collector's; its healthcheck probes
// its health_check extension; Prometheus scrapes its own metrics (checked
// with the other targets in TestPrometheusConfig_AsMounted).
func TestComposeFile_TracesGoThroughTheCollector(t *testing.T) {
	f := loadCompose(t)
	_, host, err := otelcolConfigPath(f)
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(composeDir, "otelcol", "tail-sampling.yaml"); host != want {
		t.Errorf("otelcol runs %s, want the shipped %s", host, want)
	}
	cfg, err := readOtelcolConfig(f)
	if err != nil {
		t.Fatal(err)
	}
	s := f.Services["otelcol"]
	if !localImages[s.Image] {
		t.Errorf("otelcol: image %q, want raftline-otelcol:local (make image)", s.Image)
	}

	// Nodes export OTLP/HTTP to the collector's HTTP receiver.
	for _, n := range raftlineServices {
		ep := f.Services[n].Environment["OTEL_EXPORTER_OTLP_ENDPOINT"]
		u, err := url.Parse(ep)
		if err != nil || u.Hostname() != "otelcol" {
			t.Errorf("%s: OTEL_EXPORTER_OTLP_ENDPOINT %q, want the otelcol service", n, ep)
			continue
		}
		_, httpPort, _ := net.SplitHostPort(cfg.Receivers.OTLP.Protocols.HTTP.Endpoint)
		if u.Port() != httpPort {
			t.Errorf("%s: exports to port %s; the collector's OTLP/HTTP receiver is on %q", n, u.Port(), cfg.Receivers.OTLP.Protocols.HTTP.Endpoint)
		}
	}

	// The traces pipeline receives OTLP, tail-samples, and exports to the
	// jaeger service's OTLP/gRPC port.
	pipe, ok := cfg.Service.Pipelines["traces"]
	if !ok || !slices.Contains(pipe.Receivers, "otlp") || !slices.Contains(pipe.Processors, "tail_sampling") || len(pipe.Exporters) == 0 {
		t.Errorf("traces pipeline %+v: want otlp through tail_sampling to an exporter", pipe)
	}
	for _, name := range pipe.Exporters {
		ep := cfg.Exporters[name].Endpoint
		if h, _, _ := net.SplitHostPort(ep); h != "jaeger" {
			t.Errorf("exporter %s sends to %q, want the jaeger service", name, ep)
		} else if err := listens(f, ep); err != nil {
			t.Errorf("exporter %s: %v", name, err)
		}
	}
	if _, ok := f.Services["otelcol"].DependsOn["jaeger"]; !ok {
		t.Error("otelcol does not wait for jaeger, where it sends")
	}

	// The host's OTLP ports are the collector's, and no one else's.
	for _, want := range []string{"127.0.0.1:4317:4317", "127.0.0.1:4318:4318"} {
		if !slices.Contains(s.Ports, want) {
			t.Errorf("otelcol: ports %v lack %s", s.Ports, want)
		}
		for name, other := range f.Services {
			if name != "otelcol" && slices.Contains(other.Ports, want) {
				t.Errorf("%s publishes %s: host processes would skip tail sampling", name, want)
			}
		}
	}
	for _, p := range cfg.ports() {
		if !slices.Contains([]string{"4317", "4318", "13133", "8888"}, p) {
			t.Errorf("the collector listens on %s, which the otelcol image does not EXPOSE", p)
		}
	}

	// The healthcheck probes health_check, which the service enables.
	if !slices.Contains(cfg.Service.Extensions, "health_check") {
		t.Error("the collector's service does not enable health_check")
	}
	probe := flagValue(s.Healthcheck.Test, "url")
	if i := slices.Index(s.Healthcheck.Test, "--url"); probe == "" && i >= 0 && i+1 < len(s.Healthcheck.Test) {
		probe = s.Healthcheck.Test[i+1]
	}
	u, err := url.Parse(probe)
	_, hcPort, _ := net.SplitHostPort(cfg.Extensions.HealthCheck.Endpoint)
	if err != nil || u.Hostname() != "127.0.0.1" || u.Port() != hcPort {
		t.Errorf("otelcol: healthcheck probes %q; health_check listens on %q", probe, cfg.Extensions.HealthCheck.Endpoint)
	}
}
