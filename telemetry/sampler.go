package telemetry

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// The operations whose head sampling ratio can be set on its own
// (TracingConfig.Ratios): Produce requests, Fetch requests, and the group
// requests that have a span (JoinGroup, SyncGroup, OffsetCommit, ...).
const (
	OpProduce = "produce"
	OpFetch   = "fetch"
	OpGroup   = "group"
)

// Operations lists the operations a ratio can be given for.
func Operations() []string { return []string{OpProduce, OpFetch, OpGroup} }

// ParseSampleRatios reads op=ratio,... (raftline serve
// --trace-sample-ratios), for example produce=0.1,fetch=0.01. Empty is none.
func ParseSampleRatios(s string) (map[string]float64, error) {
	out := map[string]float64{}
	if strings.TrimSpace(s) == "" {
		return out, nil
	}
	for _, kv := range strings.Split(s, ",") {
		op, v, ok := strings.Cut(strings.TrimSpace(kv), "=")
		if !ok {
			return nil, fmt.Errorf("%q is not operation=ratio", kv)
		}
		if !slices.Contains(Operations(), op) {
			return nil, fmt.Errorf("operation %q: want one of %s", op, strings.Join(Operations(), ", "))
		}
		r, err := strconv.ParseFloat(v, 64)
		if err != nil || r < 0 || r > 1 {
			return nil, fmt.Errorf("%s=%q: want a ratio between 0 and 1", op, v)
		}
		if _, dup := out[op]; dup {
			return nil, fmt.Errorf("%s given twice", op)
		}
		out[op] = r
	}
	return out, nil
}

// OperationSampler samples the traces raftline starts itself at a ratio
// per operation: a Produce or Fetch server span, or a group request's
// server span, that has no parent is sampled with
// TraceIDRatioBased(ratios[op]). Everything else, operations without a
// ratio, spans with a parent (the Raft side of a write follows its
// Produce), and requests whose producer sent its trace context (the
// client's decision, with the parentbased_ samplers), is decided by base.
func OperationSampler(base sdktrace.Sampler, ratios map[string]float64) sdktrace.Sampler {
	if len(ratios) == 0 {
		return base
	}
	s := &opSampler{base: base, ops: map[string]sdktrace.Sampler{}}
	for op, r := range ratios {
		s.ops[op] = sdktrace.TraceIDRatioBased(r)
	}
	return s
}

type opSampler struct {
	base sdktrace.Sampler
	ops  map[string]sdktrace.Sampler
}

func (s *opSampler) ShouldSample(p sdktrace.SamplingParameters) sdktrace.SamplingResult {
	if !trace.SpanContextFromContext(p.ParentContext).IsValid() && p.Kind == trace.SpanKindServer {
		op := OpGroup
		switch p.Name {
		case "Produce":
			op = OpProduce
		case "Fetch":
			op = OpFetch
		}
		if r, ok := s.ops[op]; ok {
			return r.ShouldSample(p)
		}
	}
	return s.base.ShouldSample(p)
}

func (s *opSampler) Description() string {
	var parts []string
	for _, op := range Operations() {
		if r, ok := s.ops[op]; ok {
			parts = append(parts, op+"="+r.Description())
		}
	}
	return "OperationSampler{" + strings.Join(parts, ",") + ";" + s.base.Description() + "}"
}
