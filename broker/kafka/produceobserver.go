package kafka

import (
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// ProduceObserver is an optional extension of Observer. When the listener's
// Observer implements it, every answered Produce request (acks 1 or all;
// acks=0 has no answer and so no outcome) is also reported with the error
// code of each of its partitions, 0 for a partition written, and its latency
// from the request read to the response being written: the service level
// indicators of produce availability and latency.
type ProduceObserver interface {
	ProduceAnswered(d time.Duration, partitionCodes []int16)
}

// reportProduce hands an answered Produce response's partition outcomes to
// obs, when it is a ProduceObserver.
func reportProduce(obs Observer, d time.Duration, resp kmsg.Response) {
	po, ok := obs.(ProduceObserver)
	if !ok {
		return
	}
	pr, ok := resp.(*kmsg.ProduceResponse)
	if !ok || pr == nil {
		return
	}
	var buf [8]int16
	codes := buf[:0]
	for _, t := range pr.Topics {
		for _, p := range t.Partitions {
			codes = append(codes, p.ErrorCode)
		}
	}
	po.ProduceAnswered(d, codes)
}
