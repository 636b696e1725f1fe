package telemetry_test

import (
	"strings"
	"testing"
	"time"

	"github.com/raftline/raftline/telemetry"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestFromEnv(t *testing.T) {
	for _, c := range []struct {
		name     string
		env      map[string]string
		service  string
		endpoint string
		protocol string
		err      string
	}{
		{name: "nothing set: no tracing", env: nil, service: "raftline", protocol: "http/protobuf"},
		{name: "base endpoint, http", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318/", "OTEL_SERVICE_NAME": "broker"},
			service: "broker", endpoint: "http://collector:4318/v1/traces", protocol: "http/protobuf"},
		{name: "base endpoint, grpc", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "collector:4317", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"},
			service: "raftline", endpoint: "http://collector:4317", protocol: "grpc"},
		{name: "traces endpoint used as is", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://a:4318", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "https://b/custom"},
			service: "raftline", endpoint: "https://b/custom", protocol: "http/protobuf"},
		{name: "traces protocol wins", env: map[string]string{"OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "grpc", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://a:4317"},
			service: "raftline", endpoint: "http://a:4317", protocol: "grpc"},
		{name: "exporter none", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://a:4318", "OTEL_TRACES_EXPORTER": "none"},
			service: "raftline", protocol: "http/protobuf"},
		{name: "sdk disabled", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://a:4318", "OTEL_SDK_DISABLED": "true"},
			service: "raftline", protocol: "http/protobuf"},
		{name: "bad values, each reported", env: map[string]string{
			"OTEL_EXPORTER_OTLP_PROTOCOL": "http/json", "OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": "2",
			"OTEL_TRACES_EXPORTER": "zipkin", "OTEL_BSP_MAX_QUEUE_SIZE": "-1"},
			err: "OTEL_EXPORTER_OTLP_PROTOCOL|OTEL_TRACES_SAMPLER_ARG|OTEL_TRACES_EXPORTER|OTEL_BSP_MAX_QUEUE_SIZE"},
		{name: "unknown sampler", env: map[string]string{"OTEL_TRACES_SAMPLER": "jaeger_remote"}, err: "OTEL_TRACES_SAMPLER"},
	} {
		t.Run(c.name, func(t *testing.T) {
			service, tc, err := telemetry.FromEnv(env(c.env))
			if c.err != "" {
				if err == nil {
					t.Fatal("no error")
				}
				for _, want := range strings.Split(c.err, "|") {
					if !strings.Contains(err.Error(), want) {
						t.Errorf("error %q does not name %s", err, want)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if service != c.service || tc.Endpoint != c.endpoint || tc.Protocol != c.protocol {
				t.Errorf("got service %q endpoint %q protocol %q", service, tc.Endpoint, tc.Protocol)
			}
		})
	}
}

func TestFromEnv_QueueAndSampler(t *testing.T) {
	_, tc, err := telemetry.FromEnv(env(map[string]string{
		"OTEL_BSP_MAX_QUEUE_SIZE": "100", "OTEL_BSP_MAX_EXPORT_BATCH_SIZE": "10",
		"OTEL_BSP_SCHEDULE_DELAY": "250", "OTEL_BSP_EXPORT_TIMEOUT": "3000",
		"OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0.25",
	}))
	if err != nil {
		t.Fatal(err)
	}
	q := tc.Queue
	if q.QueueSize != 100 || q.BatchSize != 10 || q.Delay != 250*time.Millisecond || q.ExportTimeout != 3*time.Second {
		t.Errorf("queue %+v", q)
	}
	s, err := telemetry.Sampler(tc.Sampler, tc.SamplerArg)
	if err != nil {
		t.Fatal(err)
	}
	if d := s.Description(); !strings.Contains(d, "TraceIDRatioBased{0.25}") || !strings.HasPrefix(d, "ParentBased") {
		t.Errorf("sampler %s", d)
	}
}
