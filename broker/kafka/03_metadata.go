package kafka

import (
	"context"
	"net"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/raftline/raftline/broker/cluster"
)

// Metadata v0-12.
//
// Brokers are the nodes registered through Raft; the Raft leader is the
// controller and the leader of every partition, and every voter is a replica
// and in sync (a write is acknowledged only once a quorum has it).
// The leader epoch (v7+) is the Raft term this node knows (epochs.go).
// v0: an empty topic list means all topics; v1+: null means all.
// v10+: topic ids. v12: a topic may be named by id only.
//
// Unknown topics are created when the request allows it (always before v4)
// and auto-creation is on, with the default partition count and configs.
// Kafka answers LEADER_NOT_AVAILABLE while it creates a topic, because its
// partitions have no leaders yet; clients then back off and ask again, and
// kafka-go's Writer hands the error to the application. Here the creation is
// one Raft entry and the Raft leader leads every partition from the moment
// it is applied, so the answer waits for it instead: the leader answers once
// it has applied the creation, a follower (which forwards the creation to
// the leader) once it has applied it too, and the topic comes back with its
// partitions and leader in this same response. Only when that takes longer
// than autoCreateWait is the client told LEADER_NOT_AVAILABLE, as Kafka
// would, and it asks again.

func init() { register(3, 0, 12, handleMetadata) }

func handleMetadata(l *Listener, ctx context.Context, r *request) func() kmsg.Response {
	req := r.kreq.(*kmsg.MetadataRequest)
	return func() kmsg.Response {
		resp := req.ResponseKind().(*kmsg.MetadataResponse)
		resp.Brokers = l.brokers(r.external)
		resp.ClusterID = &l.cfg.ClusterID
		resp.ControllerID = l.cluster.Leader()

		all := req.Topics == nil || (req.Version == 0 && len(req.Topics) == 0)
		if all {
			for _, t := range l.cluster.Topics() {
				resp.Topics = append(resp.Topics, l.topicMetadata(t))
			}
			return resp
		}
		autoCreate := l.cfg.AutoCreateTopics && (req.Version < 4 || req.AllowAutoTopicCreation)
		// One deadline for every topic the request creates, so that
		// many of them cannot add up to a client's timeout.
		var createCtx context.Context
		for _, rt := range req.Topics {
			if rt.Topic == nil {
				mt := kmsg.NewMetadataResponseTopic()
				mt.TopicID = rt.TopicID
				if t, ok := l.topicByID(rt.TopicID); ok {
					mt = l.topicMetadata(t)
				} else {
					mt.ErrorCode = kerr.UnknownTopicID.Code
				}
				resp.Topics = append(resp.Topics, mt)
				continue
			}
			name := *rt.Topic
			if t, ok := l.cluster.Topic(name); ok {
				resp.Topics = append(resp.Topics, l.topicMetadata(t))
				continue
			}
			if !autoCreate {
				mt := kmsg.NewMetadataResponseTopic()
				mt.Topic = &name
				mt.ErrorCode = kerr.UnknownTopicOrPartition.Code
				resp.Topics = append(resp.Topics, mt)
				continue
			}
			if createCtx == nil {
				var cancel context.CancelFunc
				createCtx, cancel = context.WithTimeout(ctx, autoCreateWait)
				defer cancel()
			}
			resp.Topics = append(resp.Topics, l.autoCreate(createCtx, name))
		}
		return resp
	}
}

// autoCreateWait bounds how long a Metadata answer waits for the topics it
// auto-creates: on the leader, for the creations to be applied; on a
// follower, for the forward to the leader and then for the entries to reach
// this node (within --raft-commit-timeout when healthy). It is half the
// shortest request timeout among the clients raftline is tested with
// (kafka-go's Writer reads for 10 s), so a slow creation costs the client a
// retry, never a timeout.
const autoCreateWait = 5 * time.Second

// topicPollInterval is how often a follower looks for a topic it had the
// leader create: the replicated state has no notification for topic
// changes, and the lookup is a map read.
const topicPollInterval = 2 * time.Millisecond

// autoCreate creates the topic and returns its metadata once this node has
// applied the creation, or LEADER_NOT_AVAILABLE when that outlasts ctx. It
// logs only a creation this request made: a topic that already exists on
// the leader (created through CreateTopics, or by another node's client a
// moment ago, and not yet applied here) was not created here.
func (l *Listener) autoCreate(ctx context.Context, name string) kmsg.MetadataResponseTopic {
	mt := kmsg.NewMetadataResponseTopic()
	mt.Topic = &name
	if cluster.ValidateTopicName(name) != nil {
		mt.ErrorCode = kerr.InvalidTopicException.Code
		return mt
	}
	configs := map[string]string{}
	l.withDefaultConfigs(configs)
	spec := cluster.TopicSpec{Name: name, Partitions: l.cfg.DefaultPartitions, Configs: configs}
	switch code := cluster.ErrorCode(l.cluster.AutoCreateTopic(ctx, spec)); code {
	case 0:
		l.log.InfoContext(ctx, "auto-created topic", "topic", name, "partitions", spec.Partitions)
	case kerr.TopicAlreadyExists.Code:
	case kerr.NotLeaderForPartition.Code:
		// No leader to create it: what Kafka says when it has no
		// controller, and clients wait for one.
		mt.ErrorCode = kerr.LeaderNotAvailable.Code
		return mt
	default:
		mt.ErrorCode = code
		return mt
	}
	if t, ok := l.awaitTopic(ctx, name); ok {
		return l.topicMetadata(t)
	}
	mt.ErrorCode = kerr.LeaderNotAvailable.Code
	return mt
}

// awaitTopic waits until this node has applied the topic's creation, or
// for ctx.
func (l *Listener) awaitTopic(ctx context.Context, name string) (cluster.Topic, bool) {
	if t, ok := l.cluster.Topic(name); ok {
		return t, true
	}
	tick := time.NewTicker(topicPollInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return cluster.Topic{}, false
		case <-tick.C:
			if t, ok := l.cluster.Topic(name); ok {
				return t, true
			}
		}
	}
}

// withDefaultConfigs adds the broker's default topic configs that configs
// does not set.
func (l *Listener) withDefaultConfigs(configs map[string]string) {
	for k, v := range l.cfg.DefaultTopicConfigs {
		if _, ok := configs[k]; !ok {
			configs[k] = v
		}
	}
}

func (l *Listener) topicByID(id [16]byte) (cluster.Topic, bool) {
	for _, t := range l.cluster.Topics() {
		if t.ID == id {
			return t, true
		}
	}
	return cluster.Topic{}, false
}

func (l *Listener) topicMetadata(t cluster.Topic) kmsg.MetadataResponseTopic {
	mt := kmsg.NewMetadataResponseTopic()
	name := t.Name
	mt.Topic = &name
	mt.TopicID = t.ID
	leader := l.cluster.Leader()
	epoch := l.cluster.LeaderEpoch()
	replicas := l.replicaIDs()
	for i := range t.Partitions {
		p := kmsg.NewMetadataResponseTopicPartition()
		p.Partition = i
		p.Leader = leader
		p.LeaderEpoch = epoch
		p.Replicas = replicas
		p.ISR = replicas
		if leader < 0 {
			p.ErrorCode = kerr.LeaderNotAvailable.Code
		}
		mt.Partitions = append(mt.Partitions, p)
	}
	return mt
}

// replicaIDs are the voters of the Raft configuration (this node alone when
// the configuration cannot be read).
func (l *Listener) replicaIDs() []int32 {
	ids, err := l.cluster.Voters()
	if err != nil {
		return []int32{l.cfg.NodeID}
	}
	return ids
}

// brokers lists the registered nodes, with this node added from its own
// configuration until its registration has been applied. A client of the
// external listener gets each node's external address (its primary one when
// the node has none).
func (l *Listener) brokers(external bool) []kmsg.MetadataResponseBroker {
	var out []kmsg.MetadataResponseBroker
	self := false
	for _, n := range l.cluster.Brokers() {
		addr := n.KafkaAddr
		if external && n.ExternalKafkaAddr != "" {
			addr = n.ExternalKafkaAddr
		}
		if b, ok := brokerOf(n.ID, addr); ok {
			out = append(out, b)
			self = self || n.ID == l.cfg.NodeID
		}
	}
	if !self {
		addr := l.cfg.AdvertisedAddr
		if external && l.cfg.AdvertisedExternalAddr != "" {
			addr = l.cfg.AdvertisedExternalAddr
		}
		if b, ok := brokerOf(l.cfg.NodeID, addr); ok {
			out = append(out, b)
		}
	}
	return out
}

func brokerOf(id int32, addr string) (kmsg.MetadataResponseBroker, bool) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return kmsg.MetadataResponseBroker{}, false
	}
	p, err := strconv.Atoi(port)
	if err != nil {
		return kmsg.MetadataResponseBroker{}, false
	}
	b := kmsg.NewMetadataResponseBroker()
	b.NodeID, b.Host, b.Port = id, host, int32(p)
	return b, true
}

func (l *Listener) hasTopic(name string) bool {
	_, ok := l.cluster.Topic(name)
	return ok
}
