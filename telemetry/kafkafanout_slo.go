package telemetry

import (
	"time"

	"github.com/raftline/raftline/broker/kafka"
)

var _ kafka.ProduceObserver = kafkaFanout(nil)

// ProduceAnswered passes a Produce request's partition outcomes on to the
// observers that take them.
func (f kafkaFanout) ProduceAnswered(d time.Duration, codes []int16) {
	for _, o := range f {
		if po, ok := o.(kafka.ProduceObserver); ok {
			po.ProduceAnswered(d, codes)
		}
	}
}
