package serveflags

import (
	"flag"
	"time"

	"github.com/raftline/raftline/broker/server"
)

// kafkaFrontDoor declares the flags that bound what Kafka clients can make
// a node hold and wait for (broker/kafka's budgets and deadlines), and
// returns the function that checks them and fills c.Kafka; it needs
// c.Kafka.MaxFrameBytes set.
func kafkaFrontDoor(fs *flag.FlagSet) func(c *server.Config, bad func(name, format string, a ...any)) {
	var (
		connBytes = fs.Int64("kafka-max-inflight-bytes", 100<<20, "request bytes one Kafka connection may have read and not yet handled; past it the connection is not read until its earlier requests are handled (a lone request is always read; --max-request-bytes bounds it)")
		nodeBytes = fs.Int64("kafka-node-max-inflight-bytes", 256<<20, "request bytes the node holds across its Kafka connections, counted as they arrive, not as declared (at least --max-request-bytes). Past it reading waits, and connections whose frame has received nothing for 1s are closed to make room. A client holds at most what it sent plus 64 KiB: 40 connections that declare ~100 MiB frames, 30 of them sending 1 MiB, stay within 64 MiB of resident memory")
		firstReq  = fs.Duration("kafka-first-request-timeout", 10*time.Second, "time a new Kafka connection has to send its first whole request before it is closed")
		frame     = fs.Duration("kafka-frame-timeout", 30*time.Second, "time a Kafka request has from its first byte to its last, and a response has to be read by the client, before the connection is closed")
		idle      = fs.Duration("kafka-idle-timeout", 10*time.Minute, "Kafka connections with nothing sent, pending or answered for this long are closed")
		rejectLog = fs.Duration("kafka-reject-log-interval", time.Minute, "the first refused request or closed Kafka connection per client host and reason is logged; the rest are counted (raftline_kafka_rejected_requests_total) and summarised per reason this often")
	)
	return func(c *server.Config, bad func(name, format string, a ...any)) {
		k := &c.Kafka
		if *connBytes < 1024 {
			bad("kafka-max-inflight-bytes", "%d is below 1024", *connBytes)
		}
		k.MaxConnInflightBytes = *connBytes
		if *nodeBytes < int64(k.MaxFrameBytes) {
			bad("kafka-node-max-inflight-bytes", "%d is below --max-request-bytes %d: a request that large could never be read", *nodeBytes, k.MaxFrameBytes)
		}
		k.MaxNodeInflightBytes = *nodeBytes
		for _, d := range []struct {
			name string
			v    time.Duration
			to   *time.Duration
		}{
			{"kafka-first-request-timeout", *firstReq, &k.FirstRequestTimeout},
			{"kafka-frame-timeout", *frame, &k.FrameTimeout},
			{"kafka-idle-timeout", *idle, &k.IdleTimeout},
			{"kafka-reject-log-interval", *rejectLog, &k.RejectLogInterval},
		} {
			if d.v <= 0 {
				bad(d.name, "%v is not a positive duration", d.v)
			}
			*d.to = d.v
		}
	}
}
