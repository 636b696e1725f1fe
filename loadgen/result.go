package loadgen

import (
	"time"

	"github.com/raftline/raftline/loadgen/latency"
	"github.com/raftline/raftline/loadgen/ledger"
)

// ResultVersion is the version of the Result JSON layout. Raise it when a
// field changes meaning so that old baselines are not compared blindly.
const ResultVersion = 1

// Result is everything a run measured. It is what --json writes and what
// compare reads.
type Result struct {
	Version int       `json:"version"`
	Config  Config    `json:"config"`
	Machine Machine   `json:"machine"`
	Started time.Time `json:"started"`
	// Interrupted is set when the run was stopped before its duration or
	// record count was reached.
	Interrupted bool `json:"interrupted"`

	// Produce and Consume are nil when the run did not produce or consume.
	Produce *Throughput `json:"produce,omitempty"`
	Consume *Throughput `json:"consume,omitempty"`
	// Publish is the time from send (the intended send time at a fixed
	// rate) to acknowledgement; EndToEnd from the same time to consumption.
	Publish  *latency.Summary `json:"publish_latency,omitempty"`
	EndToEnd *latency.Summary `json:"e2e_latency,omitempty"`
	Verify   *ledger.Report   `json:"verify,omitempty"`
	// Lag sums up the consumer lag of the series; nil when none was known.
	Lag *Lag `json:"lag,omitempty"`

	// PublishDistribution and EndToEndDistribution are the percentile
	// distributions of Publish and EndToEnd (latency.Recorder.Distribution),
	// for the HTML report's percentile plot. Absent in results written
	// before they were recorded.
	PublishDistribution  []latency.Point `json:"publish_distribution,omitempty"`
	EndToEndDistribution []latency.Point `json:"e2e_distribution,omitempty"`

	Series []Sample `json:"series"`
}

// Throughput is one direction of traffic. Records, Bytes and the rates
// count the records acknowledged (or consumed) in the measured window, from
// the end of warmup to the end of the duration or Stop; Errors cover the
// whole run.
type Throughput struct {
	// Sent is the number of records handed to the client in the window
	// (produce only).
	Sent    int64 `json:"sent,omitempty"`
	Records int64 `json:"records"`
	Bytes   int64 `json:"bytes"`
	// Seconds is from the start of the window to the last record in it.
	Seconds       float64 `json:"seconds"`
	RecordsPerSec float64 `json:"records_per_sec"`
	MiBPerSec     float64 `json:"mib_per_sec"`
	// WarmupRecords were acknowledged or consumed during warmup, and
	// AfterRecords after the window closed: records that were in flight
	// then, or that consumers caught up on.
	WarmupRecords int64 `json:"warmup_records"`
	AfterRecords  int64 `json:"after_records"`
	// Foreign counts consumed records that this run did not produce, in the
	// commands that read back their own records; they are not measured.
	Foreign int64            `json:"foreign,omitempty"`
	Errors  map[string]int64 `json:"errors"`
}

// ErrorCount is the total of Errors.
func (t *Throughput) ErrorCount() int64 {
	var n int64
	for _, c := range t.Errors {
		n += c
	}
	return n
}

// Sample is one progress interval, normally a second.
type Sample struct {
	// At is the end of the interval in seconds since the start.
	At      float64 `json:"t"`
	Seconds float64 `json:"seconds"`
	Warmup  bool    `json:"warmup,omitempty"`

	Sent          int64            `json:"sent"`
	Acked         int64            `json:"acked"`
	AckedBytes    int64            `json:"acked_bytes"`
	Consumed      int64            `json:"consumed"`
	ConsumedBytes int64            `json:"consumed_bytes"`
	Errors        map[string]int64 `json:"errors,omitempty"`
	Publish       latency.Summary  `json:"publish_latency"`
	EndToEnd      latency.Summary  `json:"e2e_latency"`
	// Lag is the consumer lag at the end of the interval (e2e): records
	// acknowledged to this run that the consumers have not read yet.
	// CommittedLag is the group's lag by its committed offsets as the
	// broker reported it during the interval (with --group): what a lag
	// exporter or `kafka-consumer-groups --describe` would show, which
	// trails Lag by up to the client's auto-commit interval. Each is
	// absent while unknown.
	Lag          *int64 `json:"lag,omitempty"`
	CommittedLag *int64 `json:"committed_lag,omitempty"`
}

// Lag sums up a run's consumer lag series.
type Lag struct {
	Records   *LagStat `json:"records,omitempty"`   // Sample.Lag
	Committed *LagStat `json:"committed,omitempty"` // Sample.CommittedLag
}

// LagStat is the largest value of one lag series, when it was reached
// (seconds since the start), and the last value.
type LagStat struct {
	Max   int64   `json:"max"`
	MaxAt float64 `json:"max_at"`
	Final int64   `json:"final"`
}

func (l *LagStat) add(n *int64, at float64) *LagStat {
	if n == nil {
		return l
	}
	if l == nil {
		l = &LagStat{Max: *n, MaxAt: at}
	}
	if *n > l.Max {
		l.Max, l.MaxAt = *n, at
	}
	l.Final = *n
	return l
}

func summarizeLag(series []Sample) *Lag {
	var l Lag
	for _, s := range series {
		l.Records = l.Records.add(s.Lag, s.At)
		l.Committed = l.Committed.add(s.CommittedLag, s.At)
	}
	if l.Records == nil && l.Committed == nil {
		return nil
	}
	return &l
}

// ErrorCount is the total of Errors.
func (s Sample) ErrorCount() int64 {
	var n int64
	for _, c := range s.Errors {
		n += c
	}
	return n
}
