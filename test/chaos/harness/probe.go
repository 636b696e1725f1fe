//go:build linux

package harness

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"net"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// ProbeResult is the outcome of one Produce request sent to one node.
type ProbeResult struct {
	Node *Node
	ID   uint64
	// Err is a transport failure: no answer at all.
	Err error
	// Code is the partition's Kafka error code (0: acknowledged at Offset).
	Code   int16
	Offset int64
	Took   time.Duration
}

// Acked reports whether the node acknowledged the record.
func (r ProbeResult) Acked() bool { return r.Err == nil && r.Code == 0 }

// String describes the outcome.
func (r ProbeResult) String() string {
	switch {
	case r.Err != nil:
		return fmt.Sprintf("%v: no answer after %v: %v", r.Node, r.Took.Round(time.Millisecond), r.Err)
	case r.Code == 0:
		return fmt.Sprintf("%v: ACKNOWLEDGED at offset %d after %v", r.Node, r.Offset, r.Took.Round(time.Millisecond))
	}
	e := kerr.ErrorForCode(r.Code)
	retriable := "not retriable"
	if kerr.IsRetriable(e) {
		retriable = "retriable"
	}
	return fmt.Sprintf("%v: %v (%s) after %v", r.Node, e, retriable, r.Took.Round(time.Millisecond))
}

// Retriable reports whether the answer was a retriable Kafka error.
func (r ProbeResult) Retriable() bool {
	return r.Err == nil && r.Code != 0 && kerr.IsRetriable(kerr.ErrorForCode(r.Code))
}

// Probe sends one acks=all Produce request for one record (id from the
// book) straight to node n, bypassing any client routing, and waits up to
// timeout plus wait for the answer. timeout is the request's own timeout,
// which the broker must honour. An acknowledged probe is entered in the
// book, so the final check holds the node to it.
func Probe(book *Book, n *Node, topic string, partition int32, timeout, wait time.Duration) ProbeResult {
	id := book.NextID()
	res := ProbeResult{Node: n, ID: id}
	start := time.Now()
	defer func() { res.Took = time.Since(start) }()
	conn, err := net.DialTimeout("tcp", n.Kafka, 2*time.Second)
	if err != nil {
		res.Err = err
		res.Took = time.Since(start)
		return res
	}
	defer conn.Close()
	conn.SetDeadline(start.Add(timeout + wait))

	req := kmsg.NewPtrProduceRequest()
	req.Version = 7 // not flexible: plain request and response headers
	req.Acks = -1
	req.TimeoutMillis = int32(timeout / time.Millisecond)
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Partition = partition
	rp.Records = recordBatch(Value(id))
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)

	resp := kmsg.NewPtrProduceResponse()
	resp.Version = req.Version
	if err := roundTrip(conn, req, resp); err != nil {
		res.Err = err
		res.Took = time.Since(start)
		return res
	}
	res.Took = time.Since(start)
	if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
		res.Err = fmt.Errorf("malformed produce response: %d topics", len(resp.Topics))
		return res
	}
	p := resp.Topics[0].Partitions[0]
	res.Code, res.Offset = p.ErrorCode, p.BaseOffset
	if res.Code == 0 {
		book.Acked(partition, p.BaseOffset, id)
	}
	return res
}

// roundTrip writes one request with correlation id 1 and reads its response;
// only non-flexible versions, whose headers carry no tagged fields.
func roundTrip(conn net.Conn, req kmsg.Request, resp kmsg.Response) error {
	frame := kmsg.NewRequestFormatter(kmsg.FormatterClientID("raftline-chaos-probe")).AppendRequest(nil, req, 1)
	if _, err := conn.Write(frame); err != nil {
		return err
	}
	var size [4]byte
	if _, err := io.ReadFull(conn, size[:]); err != nil {
		return err
	}
	body := make([]byte, binary.BigEndian.Uint32(size[:]))
	if _, err := io.ReadFull(conn, body); err != nil {
		return err
	}
	if len(body) < 4 || binary.BigEndian.Uint32(body) != 1 {
		return fmt.Errorf("response with a wrong correlation id")
	}
	return resp.ReadFrom(body[4:])
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// recordBatch encodes a magic-2 record batch of one record, without a
// producer id, using kmsg's types and filling in the lengths and CRC-32C.
func recordBatch(value []byte) []byte {
	rec := kmsg.Record{Value: value}
	enc := rec.AppendTo(nil)
	rec.Length = int32(len(enc) - 1) // everything after the one-byte zero length
	now := time.Now().UnixMilli()
	b := kmsg.RecordBatch{
		Magic: 2, FirstTimestamp: now, MaxTimestamp: now,
		ProducerID: -1, ProducerEpoch: -1, FirstSequence: -1, PartitionLeaderEpoch: -1,
		NumRecords: 1, Records: rec.AppendTo(nil),
	}
	out := b.AppendTo(nil)
	binary.BigEndian.PutUint32(out[8:], uint32(len(out)-12))                   // length after the offset and length fields
	binary.BigEndian.PutUint32(out[17:], crc32.Checksum(out[21:], castagnoli)) // CRC over attributes onwards
	return out
}

// SendRaw writes raw bytes to addr from the root namespace and returns how
// long the peer took to close the connection: the way to show a slow close
// on the client path, by sending bytes the broker rejects.
func SendRaw(addr string, payload []byte, timeout time.Duration) (time.Duration, error) {
	conn, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	return CloseDelay(conn, payload, timeout)
}

// CloseDelay writes payload on conn and measures how long until the peer's
// close (EOF or reset) arrives.
func CloseDelay(conn net.Conn, payload []byte, timeout time.Duration) (time.Duration, error) {
	start := time.Now()
	conn.SetDeadline(start.Add(timeout))
	if _, err := conn.Write(payload); err != nil {
		return 0, err
	}
	buf := make([]byte, 4096)
	for {
		_, err := conn.Read(buf)
		if err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				return 0, fmt.Errorf("peer did not close within %v", timeout)
			}
			return time.Since(start), nil
		}
	}
}

// APIVersions opens a connection to addr, completes one ApiVersions round
// trip and closes the connection: one short-lived client, as connection
// churn.
func APIVersions(addr string, timeout time.Duration) error {
	conn, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(timeout))
	req := kmsg.NewPtrApiVersionsRequest()
	req.Version = 2 // not flexible
	resp := kmsg.NewPtrApiVersionsResponse()
	resp.Version = req.Version
	if err := roundTrip(conn, req, resp); err != nil {
		return err
	}
	if resp.ErrorCode != 0 {
		return kerr.ErrorForCode(resp.ErrorCode)
	}
	return nil
}
