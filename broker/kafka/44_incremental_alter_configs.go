package kafka

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/raftline/raftline/broker/cluster"
)

// IncrementalAlterConfigs v0-1.
//
// Each config of a topic is changed by its operation: SET (a null value is
// INVALID_REQUEST), DELETE (back to its default: the node's, as at the
// topic's creation; deleting an unset config changes nothing), APPEND and
// SUBTRACT for list configs (cleanup.policy, whose only value raftline
// takes is delete), which on any other config are INVALID_CONFIG, as Kafka
// answers them. An unknown operation is INVALID_REQUEST. Everything else is
// AlterConfigs': checked with topicrules, one entry applied to the configs
// as the leader has them (forwarded from a follower), ValidateOnly, broker
// configs refused.

func init() { register(44, 0, 1, handleIncrementalAlterConfigs) }

func handleIncrementalAlterConfigs(l *Listener, ctx context.Context, r *request) func() kmsg.Response {
	req := r.kreq.(*kmsg.IncrementalAlterConfigsRequest)
	return func() kmsg.Response {
		resp := req.ResponseKind().(*kmsg.IncrementalAlterConfigsResponse)
		ctx, cancel := adminTimeout(ctx, 0)
		defer cancel()
		seen := seenResources(len(req.Resources), func(i int) (kmsg.ConfigResourceType, string) {
			return req.Resources[i].ResourceType, req.Resources[i].ResourceName
		})
		for _, rr := range req.Resources {
			sr := kmsg.NewIncrementalAlterConfigsResponseResource()
			sr.ResourceType, sr.ResourceName = rr.ResourceType, rr.ResourceName
			code, msg := l.incrementalAlter(ctx, rr, seen, req.ValidateOnly)
			sr.ErrorCode = code
			if msg != "" {
				sr.ErrorMessage = &msg
			}
			resp.Resources = append(resp.Resources, sr)
		}
		return resp
	}
}

func (l *Listener) incrementalAlter(ctx context.Context, rr kmsg.IncrementalAlterConfigsRequestResource, seen map[configResource]int, validateOnly bool) (int16, string) {
	names := make([]string, len(rr.Configs))
	for i, c := range rr.Configs {
		names[i] = c.Name
	}
	change := cluster.ConfigChange{Topic: rr.ResourceName, Set: map[string]string{}}
	if rr.ResourceType == kmsg.ConfigResourceTypeTopic {
		var current map[string]string
		if t, ok := l.cluster.Topic(rr.ResourceName); ok {
			current = t.Configs
		}
		for _, c := range rr.Configs {
			switch c.Op {
			case kmsg.IncrementalAlterConfigOpSet:
				if c.Value == nil {
					return kerr.InvalidRequest.Code, fmt.Sprintf("SET of %s without a value", c.Name)
				}
				change.Set[c.Name] = *c.Value
			case kmsg.IncrementalAlterConfigOpDelete:
				change.Delete = append(change.Delete, c.Name)
			case kmsg.IncrementalAlterConfigOpAppend, kmsg.IncrementalAlterConfigOpSubtract:
				info, ok := cluster.TopicConfig(c.Name)
				if !ok || info.Type != cluster.TypeList {
					return kerr.InvalidConfig.Code, fmt.Sprintf("config value %s is not allowed for config key %s: it is not a list", strings.ToLower(c.Op.String()), c.Name)
				}
				old, ok := current[c.Name]
				if !ok {
					old = l.cfg.DefaultTopicConfigs[c.Name]
					if old == "" {
						old = info.Default
					}
				}
				var value string
				if c.Value != nil {
					value = *c.Value
				}
				change.Set[c.Name] = editList(old, value, c.Op == kmsg.IncrementalAlterConfigOpAppend)
			default:
				return kerr.InvalidRequest.Code, fmt.Sprintf("unknown config operation %d for %s", c.Op, c.Name)
			}
		}
	}
	return l.alterConfigs(ctx, rr.ResourceType, rr.ResourceName, names, seen, change, validateOnly)
}

// editList appends the items of value (comma-separated) that list lacks, or
// subtracts those it has, as Kafka does for list configs.
func editList(list, value string, add bool) string {
	split := func(s string) []string {
		var out []string
		for _, item := range strings.Split(s, ",") {
			if item = strings.TrimSpace(item); item != "" {
				out = append(out, item)
			}
		}
		return out
	}
	items := split(list)
	for _, v := range split(value) {
		if add && !slices.Contains(items, v) {
			items = append(items, v)
		} else if !add {
			items = slices.DeleteFunc(items, func(s string) bool { return s == v })
		}
	}
	return strings.Join(items, ",")
}
