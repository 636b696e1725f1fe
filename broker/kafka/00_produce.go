package kafka

import (
	"context"
	"errors"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/raftline/raftline/broker/cluster"
	"github.com/raftline/raftline/broker/recordbatch"
)

// Produce v3-9 (record batch magic 2 only).
//
// Only the Raft leader accepts writes; a follower answers every partition
// with NOT_LEADER_OR_FOLLOWER so the client refreshes metadata and re-routes.
// Each partition's batches become one Raft entry, proposed on the
// connection's reading goroutine so a connection's writes keep their order;
// the FSM assigns the offsets. Batches are checked before proposing: magic,
// length, CRC-32C, record count, topic max.message.bytes; compression is
// passed through untouched.
//
// acks=-1 answers once the entry is committed by a quorum and applied, with
// the assigned base offset. acks=1 answers once the entry is in the leader's
// own log; the base offset is then given when the entry has already been
// applied, else -1. acks=0 gets no response at all. A leader below its
// free-space floor refuses before proposing (cluster.ErrNoSpace): the
// retriable KAFKA_STORAGE_ERROR, NOT_LEADER_OR_FOLLOWER before v4.
// Transactional produce is refused (no transaction coordinator).

func init() { register(0, 3, 9, handleProduce) }

type producePart struct {
	resp     *kmsg.ProduceResponseTopicPartition
	topic    string
	records  int64
	bytes    int64
	proposal cluster.Proposal
	endSpan  func(error)
}

func handleProduce(l *Listener, ctx context.Context, r *request) func() kmsg.Response {
	req := r.kreq.(*kmsg.ProduceRequest)
	resp := req.ResponseKind().(*kmsg.ProduceResponse)
	var parts []*producePart
	isLeader := l.cluster.IsLeader()
	for _, rt := range req.Topics {
		st := kmsg.NewProduceResponseTopic()
		st.Topic = rt.Topic
		st.Partitions = make([]kmsg.ProduceResponseTopicPartition, len(rt.Partitions))
		resp.Topics = append(resp.Topics, st)
		rst := &resp.Topics[len(resp.Topics)-1]
		for i, rp := range rt.Partitions {
			sp := &rst.Partitions[i]
			*sp = kmsg.NewProduceResponseTopicPartition()
			sp.Partition = rp.Partition
			sp.BaseOffset, sp.LogAppendTime, sp.LogStartOffset = -1, -1, -1
			batches, headers, code := l.checkProduce(req, rt.Topic, rp, isLeader)
			if sp.ErrorCode = code; code != 0 {
				continue
			}
			pp := &producePart{resp: sp, topic: rt.Topic, bytes: int64(len(rp.Records))}
			for _, h := range headers {
				pp.records += int64(h.RecordCount)
			}
			var ext []byte
			if l.tracer != nil {
				ext, pp.endSpan = l.tracer.StartProduce(ctx, rt.Topic, rp.Partition, int(pp.records), batches)
			}
			pp.proposal = l.cluster.Produce(rt.Topic, rp.Partition, batches, ext)
			parts = append(parts, pp)
		}
	}
	timeout := time.Duration(req.TimeoutMillis) * time.Millisecond
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	return func() kmsg.Response {
		deadline := time.NewTimer(timeout)
		defer deadline.Stop()
		for _, pp := range parts {
			l.finishProduce(req.Acks, pp, deadline.C)
			if req.Version < 4 && pp.resp.ErrorCode == kerr.KafkaStorageError.Code {
				// KAFKA_STORAGE_ERROR came with Produce v4 (KIP-112);
				// as Kafka does, older clients are told
				// NOT_LEADER_OR_FOLLOWER, which they retry too.
				pp.resp.ErrorCode = kerr.NotLeaderForPartition.Code
			}
		}
		if req.Acks == 0 {
			return nil
		}
		return resp
	}
}

// finishProduce waits for one partition's proposal as acks asks and fills its
// response.
func (l *Listener) finishProduce(acks int16, pp *producePart, deadline <-chan time.Time) {
	p := pp.proposal
	var err error
	wait := p.Done()
	if acks == 1 {
		wait = p.Stored()
	}
	if acks != 0 {
		select {
		case <-wait:
		case <-deadline:
			err = kerr.RequestTimedOut
		case <-l.ctx.Done():
			err = cluster.ErrShutdown
		}
	}
	applied := false
	if err == nil {
		select {
		case <-p.Done():
			applied = true
			res, perr := p.Result()
			err = perr
			if err == nil {
				err = res.Err
				pp.resp.BaseOffset, pp.resp.LogStartOffset = res.BaseOffset, res.LogStart
			}
		default: // acks=1 or 0, stored but not yet applied
		}
	}
	pp.resp.ErrorCode = cluster.ErrorCode(err)
	if pp.endSpan != nil {
		if applied || err != nil {
			pp.endSpan(err)
		} else {
			go func() { <-p.Done(); _, e := p.Result(); pp.endSpan(e) }()
		}
	}
	if err == nil {
		l.obs.Produced(pp.topic, pp.records, pp.bytes)
	}
}

// checkProduce validates one partition's records before anything is proposed.
func (l *Listener) checkProduce(req *kmsg.ProduceRequest, topic string, rp kmsg.ProduceRequestTopicPartition, isLeader bool) ([][]byte, []recordbatch.Header, int16) {
	if req.TransactionID != nil {
		return nil, nil, kerr.TransactionalIDAuthorizationFailed.Code
	}
	if req.Acks != 0 && req.Acks != 1 && req.Acks != -1 {
		return nil, nil, kerr.InvalidRequiredAcks.Code
	}
	if !isLeader {
		return nil, nil, kerr.NotLeaderForPartition.Code
	}
	if _, err := l.cluster.Partition(topic, rp.Partition); err != nil {
		return nil, nil, cluster.ErrorCode(err)
	}
	t, ok := l.cluster.Topic(topic)
	if !ok { // deleted since
		return nil, nil, kerr.UnknownTopicOrPartition.Code
	}
	batches, headers, err := recordbatch.Split(rp.Records)
	if err != nil {
		if errors.Is(err, recordbatch.ErrUnsupportedMagic) {
			return nil, nil, kerr.UnsupportedForMessageFormat.Code
		}
		return nil, nil, kerr.CorruptMessage.Code
	}
	for _, h := range headers {
		if int64(h.Length) > t.MaxMessageBytes {
			return nil, nil, kerr.MessageTooLarge.Code
		}
		if h.IsControl() {
			return nil, nil, kerr.InvalidRecord.Code
		}
	}
	return batches, headers, 0
}
