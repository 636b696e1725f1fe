// Package loadgen drives a Kafka-compatible broker with records and measures
// what it gets back: throughput, publish and end-to-end latency, errors, and
// optionally whether every acknowledged record is consumed exactly once.
//
// The load loop talks to the broker only through the Sink, Source and Admin
// interfaces (see clients.go); package loadgen/kafka implements them with
// franz-go, and tests use in-memory fakes.
package loadgen

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/raftline/raftline/loadgen/payload"
)

// Commands a Runner can run.
const (
	CmdProduce = "produce"
	CmdConsume = "consume"
	CmdE2E     = "e2e"
)

// Config is one load test's settings. It is recorded in the result so that a
// baseline says how it was made; durations are in nanoseconds there.
type Config struct {
	Command string   `json:"command"`
	Brokers []string `json:"brokers"`
	Topic   string   `json:"topic"`
	// Partitions and Replication are used when the topic is created; -1
	// leaves the choice to the broker.
	Partitions  int32 `json:"partitions"`
	Replication int16 `json:"replication"`

	// Producer settings.
	Size            int           `json:"size"`
	Producers       int           `json:"producers"`
	Acks            string        `json:"acks"`
	Idempotent      bool          `json:"idempotent"`
	Compression     string        `json:"compression"`
	Linger          time.Duration `json:"linger_ns"`
	BatchMaxBytes   int32         `json:"batch_max_bytes"`
	DeliveryTimeout time.Duration `json:"delivery_timeout_ns"`
	// MaxBuffered bounds the records a producer client holds unacknowledged;
	// a full buffer blocks the producer, which is what paces closed-loop
	// mode, and its size sets how much queueing closed-loop latency shows.
	MaxBuffered int `json:"max_buffered"`
	// Rate is the total records per second over all producers; 0 sends as
	// fast as the client accepts records (closed loop).
	Rate float64      `json:"rate"`
	Keys payload.Keys `json:"keys"`

	// Consumer settings.
	Consumers int `json:"consumers"`
	// Group is the consumer group; empty means each consumer reads its
	// share of the partitions directly.
	Group string `json:"group,omitempty"`
	// FromEnd starts a plain consume at the end of each partition instead of
	// the start.
	FromEnd bool `json:"from_end,omitempty"`

	// Duration is how long to run after Warmup; 0 means until Records or
	// Stop. Records is how many records to produce (or consume, for the
	// consume command) in total, warmup included; 0 means no limit.
	Duration time.Duration `json:"duration_ns"`
	Warmup   time.Duration `json:"warmup_ns"`
	Records  int64         `json:"records"`

	// Verify checks with a ledger that every acknowledged record is
	// consumed exactly once and in order. DrainTimeout bounds how long
	// consumers may take to catch up after producing stops.
	Verify       bool          `json:"verify"`
	DrainTimeout time.Duration `json:"drain_timeout_ns"`
}

// FixedRate reports whether records are sent open-loop on a schedule.
func (c Config) FixedRate() bool { return c.Rate > 0 }

func (c Config) produces() bool { return c.Command == CmdProduce || c.Command == CmdE2E }

func (c Config) consumes() bool {
	return c.Command == CmdConsume || c.Command == CmdE2E || (c.Command == CmdProduce && c.Verify)
}

// maxBatchBytes is the largest batch franz-go will write by default.
const maxBatchBytes = 100 << 20

// Compressions are the codecs Compression accepts.
var Compressions = []string{"none", "gzip", "snappy", "lz4", "zstd"}

// Validate checks c and returns one error per problem, named after the
// command-line flag that sets the field.
func (c Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	if c.Command != CmdProduce && c.Command != CmdConsume && c.Command != CmdE2E {
		bad("unknown command %q: want produce, consume or e2e", c.Command)
	}
	if len(c.Brokers) == 0 {
		bad("--brokers: at least one broker address is needed")
	}
	for _, b := range c.Brokers {
		if b == "" {
			bad("--brokers: empty broker address in the list")
			break
		}
	}
	if c.Topic == "" {
		bad("--topic: a topic name is needed")
	}
	if c.Partitions == 0 || c.Partitions < -1 {
		bad("--partitions %d: must be positive, or -1 for the broker's default", c.Partitions)
	}
	if c.Replication == 0 || c.Replication < -1 {
		bad("--replication %d: must be positive, or -1 for the broker's default", c.Replication)
	}
	if c.produces() {
		if c.Size < payload.HeaderSize {
			bad("--size %d: must be at least %d bytes, the record id and timestamp every record carries", c.Size, payload.HeaderSize)
		}
		if c.Producers < 1 {
			bad("--producers %d: must be at least 1", c.Producers)
		}
		if c.Acks != "0" && c.Acks != "1" && c.Acks != "all" {
			bad("--acks %q: must be 0, 1 or all", c.Acks)
		}
		if c.Idempotent && c.Acks != "all" {
			bad("--idempotent needs --acks all")
		}
		if !slices.Contains(Compressions, c.Compression) {
			bad("--compression %q: must be one of %s", c.Compression, strings.Join(Compressions, ", "))
		}
		// The upper limits are franz-go's.
		if c.Linger < 0 || c.Linger > time.Minute {
			bad("--linger %v: must be between 0 and 1m", c.Linger)
		}
		if c.BatchMaxBytes < 1 || c.BatchMaxBytes > maxBatchBytes {
			bad("--batch-max-bytes %d: must be between 1 and %d", c.BatchMaxBytes, maxBatchBytes)
		} else if c.Size > int(c.BatchMaxBytes) {
			bad("--size %d: a record must fit in --batch-max-bytes %d", c.Size, c.BatchMaxBytes)
		}
		if c.DeliveryTimeout < 0 || (c.DeliveryTimeout > 0 && c.DeliveryTimeout < time.Second) {
			bad("--delivery-timeout %v: must be at least 1s, or 0 to retry forever", c.DeliveryTimeout)
		}
		if c.MaxBuffered < 1 {
			bad("--max-buffered %d: must be at least 1", c.MaxBuffered)
		}
		if c.Rate < 0 || math.IsNaN(c.Rate) || math.IsInf(c.Rate, 0) {
			bad("--rate %v: must be a number of records per second, or 0 for as fast as possible", c.Rate)
		}
		if c.Keys.Random && c.Keys.Distinct > 0 {
			bad("--keys: cannot be both random and a fixed number")
		}
	}
	if c.Command != CmdProduce && c.Consumers < 1 {
		bad("--consumers %d: must be at least 1", c.Consumers)
	}
	if c.Duration < 0 {
		bad("--duration %v: must not be negative", c.Duration)
	}
	if c.Warmup < 0 {
		bad("--warmup %v: must not be negative", c.Warmup)
	}
	if c.Records < 0 {
		bad("--records %d: must not be negative", c.Records)
	}
	if c.Verify {
		if c.Command == CmdConsume {
			bad("--verify needs to know what was acknowledged: use it with produce or e2e")
		} else if c.Acks == "0" {
			bad("--verify needs acknowledgements: use --acks 1 or all")
		}
	}
	if c.consumes() && c.produces() && c.DrainTimeout <= 0 {
		bad("--drain-timeout %v: must be positive", c.DrainTimeout)
	}
	return errors.Join(errs...)
}
