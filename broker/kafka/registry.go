package kafka

import (
	"context"
	"sort"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

const apiVersionsKey = 18

// handlerFunc prepares a request (see Listener.prepare) and returns the function
// that produces its response. A nil response writes nothing (acks=0).
type handlerFunc func(l *Listener, ctx context.Context, r *request) func() kmsg.Response

type apiHandler struct {
	min, max int16
	fn       handlerFunc
}

// handlers is filled by each API file's init; ApiVersions answers from it.
var handlers = map[int16]apiHandler{}

func register(key, min, max int16, fn handlerFunc) {
	if max > kmsg.RequestForKey(key).MaxVersion() {
		panic("kafka: registering a version kmsg cannot decode")
	}
	handlers[key] = apiHandler{min: min, max: max, fn: fn}
}

func supported(key int16) (min, max int16, ok bool) {
	h, ok := handlers[key]
	return h.min, h.max, ok
}

// apiKeys lists the served keys in order.
func apiKeys() []int16 {
	keys := make([]int16, 0, len(handlers))
	for k := range handlers {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i] < keys[j] })
	return keys
}

// errorCodes collects the non-zero error codes of a response, for metrics.
func errorCodes(resp kmsg.Response) []int16 {
	var out []int16
	add := func(c int16) {
		if c != 0 {
			out = append(out, c)
		}
	}
	switch r := resp.(type) {
	case *kmsg.ProduceResponse:
		for _, t := range r.Topics {
			for _, p := range t.Partitions {
				add(p.ErrorCode)
			}
		}
	case *kmsg.FetchResponse:
		add(r.ErrorCode)
		for _, t := range r.Topics {
			for _, p := range t.Partitions {
				add(p.ErrorCode)
			}
		}
	case *kmsg.ListOffsetsResponse:
		for _, t := range r.Topics {
			for _, p := range t.Partitions {
				add(p.ErrorCode)
			}
		}
	case *kmsg.MetadataResponse:
		for _, t := range r.Topics {
			add(t.ErrorCode)
		}
	case *kmsg.CreateTopicsResponse:
		for _, t := range r.Topics {
			add(t.ErrorCode)
		}
	case *kmsg.DeleteTopicsResponse:
		for _, t := range r.Topics {
			add(t.ErrorCode)
		}
	case *kmsg.DeleteRecordsResponse:
		for _, t := range r.Topics {
			for _, p := range t.Partitions {
				add(p.ErrorCode)
			}
		}
	case *kmsg.ApiVersionsResponse:
		// UNSUPPORTED_VERSION here is the normal negotiation with a client
		// newer than the broker (KIP-511), not a failed request.
		if r.ErrorCode != kerr.UnsupportedVersion.Code {
			add(r.ErrorCode)
		}
	case *kmsg.DescribeClusterResponse:
		add(r.ErrorCode)
	case *kmsg.InitProducerIDResponse:
		add(r.ErrorCode)
	case *kmsg.FindCoordinatorResponse:
		add(r.ErrorCode)
		for _, c := range r.Coordinators {
			add(c.ErrorCode)
		}
	case *kmsg.OffsetCommitResponse:
		for _, t := range r.Topics {
			for _, p := range t.Partitions {
				add(p.ErrorCode)
			}
		}
	case *kmsg.OffsetFetchResponse:
		add(r.ErrorCode)
		for _, t := range r.Topics {
			for _, p := range t.Partitions {
				add(p.ErrorCode)
			}
		}
		for _, g := range r.Groups {
			add(g.ErrorCode)
			for _, t := range g.Topics {
				for _, p := range t.Partitions {
					add(p.ErrorCode)
				}
			}
		}
	case *kmsg.JoinGroupResponse:
		// MEMBER_ID_REQUIRED is the protocol's normal first answer to a
		// v4+ member, not a failure.
		if r.ErrorCode != kerr.MemberIDRequired.Code {
			add(r.ErrorCode)
		}
	case *kmsg.HeartbeatResponse:
		add(r.ErrorCode)
	case *kmsg.LeaveGroupResponse:
		add(r.ErrorCode)
		for _, m := range r.Members {
			add(m.ErrorCode)
		}
	case *kmsg.SyncGroupResponse:
		add(r.ErrorCode)
	case *kmsg.DescribeGroupsResponse:
		for _, g := range r.Groups {
			add(g.ErrorCode)
		}
	case *kmsg.ListGroupsResponse:
		add(r.ErrorCode)
	case *kmsg.DeleteGroupsResponse:
		for _, g := range r.Groups {
			add(g.ErrorCode)
		}
	case *kmsg.OffsetDeleteResponse:
		add(r.ErrorCode)
		for _, t := range r.Topics {
			for _, p := range t.Partitions {
				add(p.ErrorCode)
			}
		}
	}
	return out
}
