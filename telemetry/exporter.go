package telemetry

import (
	"context"
	"fmt"

	"go.opentelemetry.io/otel/exporters/otlp/otlptrace"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
)

// newExporter builds the OTLP trace exporter. Creating it does not connect:
// a receiver that is down only makes exports fail later, counted as drops.
func newExporter(tc TracingConfig) (*otlptrace.Exporter, error) {
	var client otlptrace.Client
	switch tc.Protocol {
	case ProtocolGRPC:
		client = otlptracegrpc.NewClient(otlptracegrpc.WithEndpointURL(tc.Endpoint))
	case ProtocolHTTP, "":
		client = otlptracehttp.NewClient(otlptracehttp.WithEndpointURL(tc.Endpoint))
	default:
		return nil, fmt.Errorf("OTLP protocol %q: want %s or %s", tc.Protocol, ProtocolGRPC, ProtocolHTTP)
	}
	exp, err := otlptrace.New(context.Background(), client)
	if err != nil {
		return nil, fmt.Errorf("OTLP trace exporter for %s: %w", tc.Endpoint, err)
	}
	return exp, nil
}
