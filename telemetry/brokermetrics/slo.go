package brokermetrics

import (
	"context"
	"slices"
	"time"

	"go.opentelemetry.io/otel/attribute"

	"github.com/raftline/raftline/broker/kafka"
	"github.com/raftline/raftline/telemetry/internal/instr"
	"github.com/raftline/raftline/telemetry/internal/kcode"
)

// The produce service level indicators (alerts/slo.go): every partition of
// every answered Produce request counted by its outcome, and the latency of
// the Produce requests whose every partition was written. They are apart from
// raftline_kafka_request_errors_total, which counts failed partitions against
// requests, so that the availability ratio has the same unit above and below
// the line.

// OutcomeOK is the error_code label of a partition written.
const OutcomeOK = "NONE"

var _ kafka.ProduceObserver = (*Metrics)(nil)

// ProduceDurationBuckets are the bucket boundaries of
// raftline_produce_duration_seconds; a latency objective's threshold must be
// one of them for its SLI to be exact.
func ProduceDurationBuckets() []float64 { return slices.Clone(instr.Buckets) }

// outcomeName is the error_code label of a partition's answer.
func outcomeName(code int16) string {
	if code == 0 {
		return OutcomeOK
	}
	return kcode.Name(code)
}

// newProduceSLI creates the SLI instruments, with the written outcome
// exported at 0 from start so ratios have a denominator series at once.
func (m *Metrics) newProduceSLI(reg *instr.Registrar) {
	m.prodPartitions = reg.Counter("raftline_produce_partition_requests_total",
		"Partitions of answered Produce requests (acks 1 or all), by the error code each was answered with: NONE for a partition written.")
	m.prodDuration = reg.Seconds("raftline_produce_duration_seconds",
		"Latency of answered Produce requests (acks 1 or all) whose every partition was written, from the request read to its response written.")
	m.outcomes = instr.NewOptCache(func(code int16) instr.Opt {
		return instr.NewOpt(attribute.String("error_code", outcomeName(code)))
	})
	if reg.Err == nil {
		m.prodPartitions.Add(context.Background(), 0, m.outcomes.Get(0).Add...)
	}
}

// ProduceAnswered implements kafka.ProduceObserver.
func (m *Metrics) ProduceAnswered(d time.Duration, codes []int16) {
	ctx := context.Background()
	ok := true
	for _, c := range codes {
		m.prodPartitions.Add(ctx, 1, m.outcomes.Get(c).Add...)
		ok = ok && c == 0
	}
	if ok && len(codes) > 0 {
		m.prodDuration.Record(ctx, d.Seconds())
	}
}
