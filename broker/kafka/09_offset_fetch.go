package kafka

import (
	"context"
	"sort"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/raftline/raftline/broker/groups"
)

// OffsetFetch v0-8.
//
// Answered on the coordinator from the applied state: each partition asked
// for with its committed offset, leader epoch and metadata, or offset -1
// when none is committed (an unknown group has none). No topics (v2+) is
// every committed offset of the group. v8 asks for several groups at once,
// each answered with its own error code. RequireStable (v7+) has nothing to
// wait for: there are no transactions.

func init() { register(9, 0, 8, handleOffsetFetch) }

// fetchedOffset is one partition's answer.
type fetchedOffset struct {
	partition int32
	offset    int64
	epoch     int32
	metadata  *string
}

// fetchOffsets answers one group's topics (nil: every committed offset),
// sorted by topic then partition when every offset is asked for.
func (l *Listener) fetchOffsets(group string, topics map[string][]int32, all bool) (map[string][]fetchedOffset, []string, error) {
	out := map[string][]fetchedOffset{}
	var order []string
	err := l.cluster.GroupOffsets(group, func(offsets map[string]map[int32]groups.Offset) {
		answer := func(topic string, p int32) fetchedOffset {
			if o, ok := offsets[topic][p]; ok {
				return fetchedOffset{partition: p, offset: o.Offset, epoch: o.LeaderEpoch, metadata: kmsg.StringPtr(o.Metadata)}
			}
			return fetchedOffset{partition: p, offset: -1, epoch: -1, metadata: kmsg.StringPtr("")}
		}
		if all {
			for topic, ps := range offsets {
				order = append(order, topic)
				parts := make([]int32, 0, len(ps))
				for p := range ps {
					parts = append(parts, p)
				}
				sort.Slice(parts, func(i, j int) bool { return parts[i] < parts[j] })
				for _, p := range parts {
					out[topic] = append(out[topic], answer(topic, p))
				}
			}
			sort.Strings(order)
			return
		}
		for topic, ps := range topics {
			for _, p := range ps {
				out[topic] = append(out[topic], answer(topic, p))
			}
		}
	})
	return out, order, err
}

func handleOffsetFetch(l *Listener, _ context.Context, r *request) func() kmsg.Response {
	req := r.kreq.(*kmsg.OffsetFetchRequest)
	return func() kmsg.Response {
		resp := req.ResponseKind().(*kmsg.OffsetFetchResponse)
		if req.Version >= 8 {
			for _, g := range req.Groups {
				rg := kmsg.NewOffsetFetchResponseGroup()
				rg.Group = g.Group
				topics := map[string][]int32{}
				for _, t := range g.Topics {
					topics[t.Topic] = append(topics[t.Topic], t.Partitions...)
				}
				all := g.Topics == nil
				if g.Group == "" {
					rg.ErrorCode = kerr.InvalidGroupID.Code
					resp.Groups = append(resp.Groups, rg)
					continue
				}
				got, order, err := l.fetchOffsets(g.Group, topics, all)
				if err != nil {
					rg.ErrorCode = groupCode(err)
					resp.Groups = append(resp.Groups, rg)
					continue
				}
				if !all {
					order = nil
					for _, t := range g.Topics {
						order = append(order, t.Topic)
					}
				}
				seen := map[string]bool{}
				for _, topic := range order {
					if seen[topic] {
						continue
					}
					seen[topic] = true
					rt := kmsg.NewOffsetFetchResponseGroupTopic()
					rt.Topic = topic
					for _, o := range got[topic] {
						rp := kmsg.NewOffsetFetchResponseGroupTopicPartition()
						rp.Partition, rp.Offset, rp.LeaderEpoch, rp.Metadata = o.partition, o.offset, o.epoch, o.metadata
						rt.Partitions = append(rt.Partitions, rp)
					}
					rg.Topics = append(rg.Topics, rt)
				}
				resp.Groups = append(resp.Groups, rg)
			}
			return resp
		}
		topics := map[string][]int32{}
		for _, t := range req.Topics {
			topics[t.Topic] = append(topics[t.Topic], t.Partitions...)
		}
		all := req.Topics == nil && req.Version >= 2
		fail := func(code int16) kmsg.Response {
			resp.ErrorCode = code
			// Before v2 the error is per partition only.
			for _, t := range req.Topics {
				rt := kmsg.NewOffsetFetchResponseTopic()
				rt.Topic = t.Topic
				for _, p := range t.Partitions {
					rp := kmsg.NewOffsetFetchResponseTopicPartition()
					rp.Partition, rp.Offset, rp.LeaderEpoch, rp.ErrorCode = p, -1, -1, code
					rt.Partitions = append(rt.Partitions, rp)
				}
				resp.Topics = append(resp.Topics, rt)
			}
			return resp
		}
		if req.Group == "" {
			return fail(kerr.InvalidGroupID.Code)
		}
		got, order, err := l.fetchOffsets(req.Group, topics, all)
		if err != nil {
			return fail(groupCode(err))
		}
		if !all {
			order = nil
			for _, t := range req.Topics {
				order = append(order, t.Topic)
			}
		}
		seen := map[string]bool{}
		for _, topic := range order {
			if seen[topic] {
				continue
			}
			seen[topic] = true
			rt := kmsg.NewOffsetFetchResponseTopic()
			rt.Topic = topic
			for _, o := range got[topic] {
				rp := kmsg.NewOffsetFetchResponseTopicPartition()
				rp.Partition, rp.Offset, rp.LeaderEpoch, rp.Metadata = o.partition, o.offset, o.epoch, o.metadata
				rt.Partitions = append(rt.Partitions, rp)
			}
			resp.Topics = append(resp.Topics, rt)
		}
		return resp
	}
}
