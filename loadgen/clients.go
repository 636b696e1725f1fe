package loadgen

import (
	"context"
	"errors"
	"time"
)

// Record is one record to produce.
type Record struct {
	Key, Value []byte
}

// Ack is the outcome of producing one record.
type Ack struct {
	Partition int32
	Offset    int64
	Err       error
}

// Sink is a producer.
type Sink interface {
	// Produce sends r asynchronously and calls done exactly once with the
	// outcome, possibly from another goroutine. It may block while the
	// client's buffer is full: that back-pressure is what paces the
	// closed-loop mode, and what the fixed-rate mode measures as latency.
	Produce(ctx context.Context, r Record, done func(Ack))
	// Flush waits until every record produced so far is acknowledged or
	// failed, or ctx ends.
	Flush(ctx context.Context) error
	// Close releases the client. Records still pending fail.
	Close()
}

// Message is one consumed record.
type Message struct {
	Partition int32
	Offset    int64
	Key       []byte
	Value     []byte
}

// Source is a consumer.
type Source interface {
	// Poll waits for records until ctx ends. Errors are problems fetching
	// some partitions; consumption goes on after them.
	Poll(ctx context.Context) ([]Message, []error)
	Close()
}

// Clients creates the broker clients a run uses.
type Clients interface {
	// Sink returns the i-th producer.
	Sink(i int) (Sink, error)
	// Source returns the i-th consumer. With offsets nil it joins the
	// configured consumer group, starting from the beginning of the topic
	// (or its end with Config.FromEnd) where the group has no committed
	// offsets. Otherwise it reads exactly those partitions from those
	// offsets, without a group.
	Source(i int, offsets map[int32]int64) (Source, error)
	// Offsets returns, for every partition of the topic, its first offset,
	// or with end set the offset the next record will be written at.
	Offsets(ctx context.Context, end bool) (map[int32]int64, error)
}

// Observer is told about every record as it happens, to export live
// metrics. Warmup records are included.
type Observer interface {
	Sent()
	Acked(publish time.Duration)
	Failed(kind string)
	Consumed()
	EndToEnd(d time.Duration)
}

// LagObserver is an Observer that is also told the consumer lag at every
// progress interval: Lag with the records acknowledged to the run but not
// yet consumed, CommittedLag with the group's lag by its committed offsets
// as the broker reports it. Either is called only while it is known.
type LagObserver interface {
	Lag(records int64)
	CommittedLag(records int64)
}

// GroupLagger is implemented by Clients that can ask the broker for the
// configured group's committed lag: for every partition the group has an
// offset for or is assigned, the high watermark minus the committed offset
// (the whole partition where nothing is committed), summed. The runner polls
// it once per progress interval while a group consumes.
type GroupLagger interface {
	CommittedLag(ctx context.Context) (int64, error)
}

// FatalError is a consumer error that no retry will cure, such as a broker
// refusing the consumer group outright. A Source returns it from Poll to end
// the run at once, instead of counting the same error until the drain
// timeout; Run then returns it.
type FatalError struct{ Err error }

func (e *FatalError) Error() string { return e.Err.Error() }

func (e *FatalError) Unwrap() error { return e.Err }

// KindError is an error labelled with the kind it is counted under, such
// as a Kafka error code name. Clients wrap their errors in it so that the
// load loop can count them without knowing the client library.
type KindError struct {
	Kind string
	Err  error
}

func (e *KindError) Error() string { return e.Kind + ": " + e.Err.Error() }

func (e *KindError) Unwrap() error { return e.Err }

// ErrorKind returns the kind err is counted under.
func ErrorKind(err error) string {
	var ke *KindError
	switch {
	case errors.As(err, &ke):
		return ke.Kind
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	}
	return "other"
}
