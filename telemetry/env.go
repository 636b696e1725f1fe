package telemetry

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/raftline/raftline/telemetry/spanqueue"
)

// Protocols an OTLP trace exporter can speak.
const (
	ProtocolGRPC = "grpc"
	ProtocolHTTP = "http/protobuf"
)

// DefaultServiceName is service.name when OTEL_SERVICE_NAME is unset.
const DefaultServiceName = "raftline"

// TracingConfig says where and how much to trace. The zero value traces
// nothing.
type TracingConfig struct {
	// Endpoint is the full OTLP traces URL (http://host:4318/v1/traces,
	// or http://host:4317 for gRPC). Empty: no OTLP export.
	Endpoint string
	Protocol string // ProtocolGRPC or ProtocolHTTP (default)
	// Sampler and SamplerArg are OTEL_TRACES_SAMPLER and its argument.
	Sampler    string
	SamplerArg string
	Queue      spanqueue.Options
	// Ratios are head sampling ratios per operation (OpProduce, OpFetch,
	// OpGroup) for the traces raftline starts; see OperationSampler.
	Ratios map[string]float64
}

// FromEnv reads the standard OpenTelemetry variables: OTEL_SERVICE_NAME,
// OTEL_SDK_DISABLED, OTEL_TRACES_EXPORTER (otlp or none),
// OTEL_EXPORTER_OTLP_[TRACES_]ENDPOINT, OTEL_EXPORTER_OTLP_[TRACES_]PROTOCOL,
// OTEL_TRACES_SAMPLER, OTEL_TRACES_SAMPLER_ARG and OTEL_BSP_* for the export
// queue. The exporters read the rest of OTEL_EXPORTER_OTLP_* (headers,
// certificates, compression) themselves. Every bad value is reported.
func FromEnv(getenv func(string) string) (serviceName string, tc TracingConfig, err error) {
	var errs []error
	serviceName = getenv("OTEL_SERVICE_NAME")
	if serviceName == "" {
		serviceName = DefaultServiceName
	}
	tc.Sampler, tc.SamplerArg = getenv("OTEL_TRACES_SAMPLER"), getenv("OTEL_TRACES_SAMPLER_ARG")
	if _, err := Sampler(tc.Sampler, tc.SamplerArg); err != nil {
		errs = append(errs, err)
	}
	tc.Protocol = firstSet(getenv, "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL")
	switch tc.Protocol {
	case "":
		tc.Protocol = ProtocolHTTP
	case ProtocolGRPC, ProtocolHTTP:
	default:
		errs = append(errs, fmt.Errorf("OTEL_EXPORTER_OTLP_PROTOCOL=%q: want %s or %s", tc.Protocol, ProtocolGRPC, ProtocolHTTP))
	}
	if ep := getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"); ep != "" {
		tc.Endpoint = withScheme(ep)
	} else if ep := getenv("OTEL_EXPORTER_OTLP_ENDPOINT"); ep != "" {
		tc.Endpoint = withScheme(ep)
		if tc.Protocol == ProtocolHTTP {
			// The generic endpoint is a base URL; the signal path is added.
			tc.Endpoint = strings.TrimSuffix(tc.Endpoint, "/") + "/v1/traces"
		}
	}
	switch exp := getenv("OTEL_TRACES_EXPORTER"); exp {
	case "", "otlp":
	case "none":
		tc.Endpoint = ""
	default:
		errs = append(errs, fmt.Errorf("OTEL_TRACES_EXPORTER=%q: only otlp and none are supported", exp))
	}
	if v := getenv("OTEL_SDK_DISABLED"); strings.EqualFold(v, "true") {
		tc.Endpoint = ""
	}
	intVar := func(name string, dst *int) {
		if v := getenv(name); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n <= 0 {
				errs = append(errs, fmt.Errorf("%s=%q: want a positive integer", name, v))
				return
			}
			*dst = n
		}
	}
	msVar := func(name string, dst *time.Duration) {
		var ms int
		intVar(name, &ms)
		if ms > 0 {
			*dst = time.Duration(ms) * time.Millisecond
		}
	}
	intVar("OTEL_BSP_MAX_QUEUE_SIZE", &tc.Queue.QueueSize)
	intVar("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", &tc.Queue.BatchSize)
	msVar("OTEL_BSP_SCHEDULE_DELAY", &tc.Queue.Delay)
	msVar("OTEL_BSP_EXPORT_TIMEOUT", &tc.Queue.ExportTimeout)
	return serviceName, tc, errors.Join(errs...)
}

func firstSet(getenv func(string) string, names ...string) string {
	for _, n := range names {
		if v := getenv(n); v != "" {
			return v
		}
	}
	return ""
}

func withScheme(ep string) string {
	if strings.Contains(ep, "://") {
		return ep
	}
	return "http://" + ep
}

// Sampler builds the sampler OTEL_TRACES_SAMPLER names (default
// parentbased_always_on), with OTEL_TRACES_SAMPLER_ARG as the ratio of the
// traceidratio samplers (default 1).
func Sampler(name, arg string) (sdktrace.Sampler, error) {
	ratio := 1.0
	if arg != "" && strings.HasSuffix(name, "traceidratio") {
		r, err := strconv.ParseFloat(arg, 64)
		if err != nil || r < 0 || r > 1 {
			return nil, fmt.Errorf("OTEL_TRACES_SAMPLER_ARG=%q: want a ratio between 0 and 1", arg)
		}
		ratio = r
	}
	switch name {
	case "", "parentbased_always_on":
		return sdktrace.ParentBased(sdktrace.AlwaysSample()), nil
	case "parentbased_always_off":
		return sdktrace.ParentBased(sdktrace.NeverSample()), nil
	case "parentbased_traceidratio":
		return sdktrace.ParentBased(sdktrace.TraceIDRatioBased(ratio)), nil
	case "always_on":
		return sdktrace.AlwaysSample(), nil
	case "always_off":
		return sdktrace.NeverSample(), nil
	case "traceidratio":
		return sdktrace.TraceIDRatioBased(ratio), nil
	}
	return nil, fmt.Errorf("OTEL_TRACES_SAMPLER=%q: want always_on, always_off, traceidratio or parentbased_ one of them", name)
}
