package serveflags

import (
	"flag"
	"strings"

	"github.com/raftline/raftline/telemetry"

	"github.com/raftline/raftline/telemetry/groupmetrics"
)

// maxConsumerLagSeries bounds --consumer-lag-max-series: three series each,
// a million group-partitions is already more than a Prometheus should take
// from one target.
const maxConsumerLagSeries = 1_000_000

// telemetryFlags declares the flags that shape what the node's /metrics
// exports, and returns the function that checks them and fills s.
func telemetryFlags(fs *flag.FlagSet) func(s *Serve, bad func(name, format string, a ...any)) {
	lagSeries := fs.Int("consumer-lag-max-series", groupmetrics.DefaultMaxSeries, "consumer group partitions whose lag, lag seconds and committed offset /metrics exports (three series each); beyond it those with the smallest lag are left out and counted in raftline_consumer_group_series_dropped_total")
	ratios := fs.String("trace-sample-ratios", "", "head sampling ratio per operation for the traces the node starts, as operation=ratio,... with operations "+strings.Join(telemetry.Operations(), ", ")+" (e.g. produce=0.1,fetch=0.01); an operation not given, and a request whose producer sent a trace context, is sampled as OTEL_TRACES_SAMPLER says")
	return func(s *Serve, bad func(name, format string, a ...any)) {
		r, err := telemetry.ParseSampleRatios(*ratios)
		if err != nil {
			bad("trace-sample-ratios", "%v", err)
		}
		s.TraceSampleRatios = r
		if *lagSeries < 1 || *lagSeries > maxConsumerLagSeries {
			bad("consumer-lag-max-series", "%d is not between 1 and %d", *lagSeries, maxConsumerLagSeries)
		}
		s.ConsumerLagMaxSeries = *lagSeries
	}
}
