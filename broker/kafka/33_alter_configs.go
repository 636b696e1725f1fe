package kafka

import (
	"context"
	"fmt"
	"maps"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/raftline/raftline/broker/cluster"
)

// AlterConfigs v0-2.
//
// A topic's configs are replaced by the request's: those it leaves out go
// back to their defaults (the node's, as at the topic's creation). The
// result is checked with topicrules (INVALID_CONFIG, with the reason) and
// proposed as one entry (fsm.OpAlterConfigs), on the leader or forwarded to
// it from a follower, as Kafka brokers forward config changes to the
// controller: clients send them to any broker. A follower answers once it
// has applied the change too (awaitConfigs). ValidateOnly checks without
// proposing. A resource or config named twice is INVALID_REQUEST, an
// unknown topic UNKNOWN_TOPIC_OR_PARTITION.
//
// Broker configs are the node's flags and cannot change at run time: an
// alter naming any is INVALID_REQUEST with a message saying so (one naming
// none changes nothing and succeeds).

func init() { register(33, 0, 2, handleAlterConfigs) }

func handleAlterConfigs(l *Listener, ctx context.Context, r *request) func() kmsg.Response {
	req := r.kreq.(*kmsg.AlterConfigsRequest)
	return func() kmsg.Response {
		resp := req.ResponseKind().(*kmsg.AlterConfigsResponse)
		ctx, cancel := adminTimeout(ctx, 0)
		defer cancel()
		seen := seenResources(len(req.Resources), func(i int) (kmsg.ConfigResourceType, string) {
			return req.Resources[i].ResourceType, req.Resources[i].ResourceName
		})
		for _, rr := range req.Resources {
			sr := kmsg.NewAlterConfigsResponseResource()
			sr.ResourceType, sr.ResourceName = rr.ResourceType, rr.ResourceName
			names := make([]string, len(rr.Configs))
			set := map[string]string{}
			for i, c := range rr.Configs {
				names[i] = c.Name
				if c.Value != nil {
					set[c.Name] = *c.Value
				}
			}
			change := cluster.ConfigChange{Topic: rr.ResourceName, Replace: true, Set: set}
			code, msg := l.alterConfigs(ctx, rr.ResourceType, rr.ResourceName, names, seen, change, req.ValidateOnly)
			sr.ErrorCode = code
			if msg != "" {
				sr.ErrorMessage = &msg
			}
			resp.Resources = append(resp.Resources, sr)
		}
		return resp
	}
}

type configResource struct {
	typ  kmsg.ConfigResourceType
	name string
}

// seenResources counts how often each resource is named in a request.
func seenResources(n int, at func(int) (kmsg.ConfigResourceType, string)) map[configResource]int {
	seen := map[configResource]int{}
	for i := range n {
		t, name := at(i)
		seen[configResource{t, name}]++
	}
	return seen
}

// alterConfigs checks and applies one resource's change for AlterConfigs
// and IncrementalAlterConfigs; names are the configs the request names.
func (l *Listener) alterConfigs(ctx context.Context, typ kmsg.ConfigResourceType, name string, names []string, seen map[configResource]int, change cluster.ConfigChange, validateOnly bool) (int16, string) {
	if seen[configResource{typ, name}] > 1 {
		return kerr.InvalidRequest.Code, "resource named more than once in the request"
	}
	for i, n := range names {
		for _, m := range names[:i] {
			if n == m {
				return kerr.InvalidRequest.Code, fmt.Sprintf("config %s named more than once", n)
			}
		}
	}
	switch typ {
	case kmsg.ConfigResourceTypeTopic:
	case kmsg.ConfigResourceTypeBroker:
		if name != "" && name != strconv.Itoa(int(l.cfg.NodeID)) {
			return kerr.InvalidRequest.Code, fmt.Sprintf("this is broker %d, asked to alter broker %q", l.cfg.NodeID, name)
		}
		if len(names) > 0 {
			return kerr.InvalidRequest.Code, fmt.Sprintf("broker configs (%s) are the node's command-line flags and cannot be altered at run time; topic configs can", strings.Join(names, ", "))
		}
		return 0, ""
	default:
		return kerr.InvalidRequest.Code, fmt.Sprintf("resource type %s cannot be altered; TOPIC can", typ)
	}
	t, ok := l.cluster.Topic(name)
	if !ok {
		return kerr.UnknownTopicOrPartition.Code, fmt.Sprintf("topic %q does not exist", name)
	}
	change.Defaults = l.cfg.DefaultTopicConfigs
	result := change.Apply(t.Configs)
	if err := cluster.ValidateConfigs(result); err != nil {
		return kerr.InvalidConfig.Code, err.Error()
	}
	if validateOnly {
		return 0, ""
	}
	if err := l.cluster.AlterTopicConfigs(ctx, change); err != nil {
		return adminErrorCode(err), err.Error()
	}
	l.awaitConfigs(ctx, name, result)
	return 0, ""
}

// awaitConfigs waits, bounded as Metadata waits for a topic it created
// (autoCreateWait), until this node has applied a topic's configs as the
// change made them: a follower answers after the leader applied a change
// it forwarded, and a client that describes the topic through the same
// node next should see it. A concurrent change of the same topic ends the
// wait at the bound; the answer is the same.
func (l *Listener) awaitConfigs(ctx context.Context, topic string, want map[string]string) {
	ctx, cancel := context.WithTimeout(ctx, autoCreateWait)
	defer cancel()
	tick := time.NewTicker(topicPollInterval)
	defer tick.Stop()
	for {
		if t, ok := l.cluster.Topic(topic); !ok || maps.Equal(t.Configs, want) {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}
