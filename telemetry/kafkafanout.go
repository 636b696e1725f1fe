package telemetry

import (
	"context"
	"time"

	"github.com/raftline/raftline/broker/kafka"
)

// kafkaFanout reports Kafka events to several observers.
type kafkaFanout []kafka.Observer

func (f kafkaFanout) ConnOpened() {
	for _, o := range f {
		o.ConnOpened()
	}
}

func (f kafkaFanout) ConnClosed() {
	for _, o := range f {
		o.ConnClosed()
	}
}

func (f kafkaFanout) RequestDone(ctx context.Context, api string, d time.Duration, codes []int16) {
	for _, o := range f {
		o.RequestDone(ctx, api, d, codes)
	}
}

func (f kafkaFanout) Produced(topic string, records, bytes int64) {
	for _, o := range f {
		o.Produced(topic, records, bytes)
	}
}

func (f kafkaFanout) Fetched(topic string, records, bytes int64) {
	for _, o := range f {
		o.Fetched(topic, records, bytes)
	}
}

func (f kafkaFanout) Rejected(reason string) {
	for _, o := range f {
		o.Rejected(reason)
	}
}

func (f kafkaFanout) BudgetWaited(scope string) {
	for _, o := range f {
		o.BudgetWaited(scope)
	}
}

func (f kafkaFanout) InflightBytes(delta int64) {
	for _, o := range f {
		o.InflightBytes(delta)
	}
}
