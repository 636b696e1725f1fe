package kafka

import (
	"context"
	"net"
	"strconv"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/raftline/raftline/broker/cluster"
)

// Metadata v0-12.
//
// Brokers are the nodes registered through Raft; the Raft leader is the
// controller and the leader of every partition, and every voter is a replica
// and in sync (a write is acknowledged only once a quorum has it).
// Unknown topics are created when the request allows it and auto-creation is
// on, with the default partition count; the client is told
// LEADER_NOT_AVAILABLE until this node has applied the creation, as Kafka does.
// Leader epochs are -1: clients then skip OffsetForLeaderEpoch validation.
// v0: an empty topic list means all topics; v1+: null means all.
// v10+: topic ids. v12: a topic may be named by id only.

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
			mt := kmsg.NewMetadataResponseTopic()
			mt.Topic = &name
			mt.ErrorCode = kerr.UnknownTopicOrPartition.Code
			if autoCreate {
				mt.ErrorCode = l.autoCreate(ctx, name)
			}
			resp.Topics = append(resp.Topics, mt)
		}
		return resp
	}
}

func (l *Listener) autoCreate(ctx context.Context, name string) int16 {
	if cluster.ValidateTopicName(name) != nil {
		return kerr.InvalidTopicException.Code
	}
	configs := map[string]string{}
	l.withDefaultConfigs(configs)
	err := l.cluster.AutoCreateTopic(ctx, cluster.TopicSpec{Name: name, Partitions: l.cfg.DefaultPartitions, Configs: configs})
	if code := cluster.ErrorCode(err); code != 0 && code != kerr.TopicAlreadyExists.Code {
		return code
	}
	l.log.Info("auto-created topic", "topic", name, "partitions", l.cfg.DefaultPartitions)
	return kerr.LeaderNotAvailable.Code
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
	replicas := l.replicaIDs()
	for i := range t.Partitions {
		p := kmsg.NewMetadataResponseTopicPartition()
		p.Partition = i
		p.Leader = leader
		p.LeaderEpoch = -1
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
