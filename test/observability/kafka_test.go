package observability

import (
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// fetchFromFollower sends one Fetch (v4) for partition 0 of topic straight
// to a follower's Kafka port and returns the partition's error code. A
// follower is not the partition's leader and answers
// NOT_LEADER_OR_FOLLOWER, which is the error the broker dashboards' error
// panels exist to show. Clients that follow Metadata never make that
// mistake on a healthy cluster, so the test makes it on purpose.
func fetchFromFollower(addr, topic string) (int16, error) {
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))

	req := kmsg.NewPtrFetchRequest()
	req.SetVersion(4)
	req.ReplicaID = -1
	req.MaxWaitMillis = 0
	req.MinBytes = 1
	req.MaxBytes = 1 << 20
	p := kmsg.NewFetchRequestTopicPartition()
	p.Partition = 0
	p.PartitionMaxBytes = 1 << 20
	tp := kmsg.NewFetchRequestTopic()
	tp.Topic = topic
	tp.Partitions = []kmsg.FetchRequestTopicPartition{p}
	req.Topics = []kmsg.FetchRequestTopic{tp}

	const correlationID = 1
	frame := kmsg.NewRequestFormatter(kmsg.FormatterClientID("observability-test")).AppendRequest(nil, req, correlationID)
	if _, err := conn.Write(frame); err != nil {
		return 0, err
	}
	var size [4]byte
	if _, err := io.ReadFull(conn, size[:]); err != nil {
		return 0, err
	}
	body := make([]byte, binary.BigEndian.Uint32(size[:]))
	if _, err := io.ReadFull(conn, body); err != nil {
		return 0, err
	}
	if len(body) < 4 || binary.BigEndian.Uint32(body) != correlationID {
		return 0, fmt.Errorf("fetch: response does not answer correlation id %d", correlationID)
	}
	resp := kmsg.NewPtrFetchResponse()
	resp.SetVersion(4)
	if err := resp.ReadFrom(body[4:]); err != nil {
		return 0, fmt.Errorf("fetch: %w", err)
	}
	if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
		return 0, fmt.Errorf("fetch: response has %d topics", len(resp.Topics))
	}
	return resp.Topics[0].Partitions[0].ErrorCode, nil
}
