package kafka

import (
	"context"
	"net"
	"strconv"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/raftline/raftline/broker/fsm"
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

func handleMetadata(s *Server, ctx context.Context, r *request) func() kmsg.Response {
	req := r.kreq.(*kmsg.MetadataRequest)
	return func() kmsg.Response {
		resp := req.ResponseKind().(*kmsg.MetadataResponse)
		resp.Brokers = s.brokers(r.external)
		resp.ClusterID = &s.cfg.ClusterID
		resp.ControllerID = s.node.Leader()

		all := req.Topics == nil || (req.Version == 0 && len(req.Topics) == 0)
		if all {
			for _, t := range s.state.Topics() {
				resp.Topics = append(resp.Topics, s.topicMetadata(t))
			}
			return resp
		}
		autoCreate := s.cfg.AutoCreateTopics && (req.Version < 4 || req.AllowAutoTopicCreation)
		for _, rt := range req.Topics {
			if rt.Topic == nil {
				mt := kmsg.NewMetadataResponseTopic()
				mt.TopicID = rt.TopicID
				if t := s.topicByID(rt.TopicID); t != nil {
					mt = s.topicMetadata(t)
				} else {
					mt.ErrorCode = kerr.UnknownTopicID.Code
				}
				resp.Topics = append(resp.Topics, mt)
				continue
			}
			name := *rt.Topic
			if t := s.state.Topic(name); t != nil {
				resp.Topics = append(resp.Topics, s.topicMetadata(t))
				continue
			}
			mt := kmsg.NewMetadataResponseTopic()
			mt.Topic = &name
			mt.ErrorCode = kerr.UnknownTopicOrPartition.Code
			if autoCreate {
				mt.ErrorCode = s.autoCreate(ctx, name)
			}
			resp.Topics = append(resp.Topics, mt)
		}
		return resp
	}
}

func (s *Server) autoCreate(ctx context.Context, name string) int16 {
	if fsm.ValidateTopicName(name) != nil {
		return kerr.InvalidTopicException.Code
	}
	configs := map[string]string{}
	s.withDefaultConfigs(configs)
	res, err := s.cluster.ApplyMeta(ctx, fsm.Command{Op: fsm.OpCreateTopic, Topic: &fsm.CreateTopic{Name: name, Partitions: s.cfg.DefaultPartitions, Configs: configs}})
	if err == nil {
		err = res.Err
	}
	if err != nil && codeOf(err) != kerr.TopicAlreadyExists.Code {
		return codeOf(err)
	}
	s.log.Info("auto-created topic", "topic", name, "partitions", s.cfg.DefaultPartitions)
	return kerr.LeaderNotAvailable.Code
}

// withDefaultConfigs adds the broker's default topic configs that configs
// does not set.
func (s *Server) withDefaultConfigs(configs map[string]string) {
	for k, v := range s.cfg.DefaultTopicConfigs {
		if _, ok := configs[k]; !ok {
			configs[k] = v
		}
	}
}

func (s *Server) topicByID(id [16]byte) *fsm.Topic {
	for _, t := range s.state.Topics() {
		if t.ID == id {
			return t
		}
	}
	return nil
}

func (s *Server) topicMetadata(t *fsm.Topic) kmsg.MetadataResponseTopic {
	mt := kmsg.NewMetadataResponseTopic()
	name := t.Name
	mt.Topic = &name
	mt.TopicID = t.ID
	leader := s.node.Leader()
	replicas := s.replicaIDs()
	for i := range t.Partitions {
		p := kmsg.NewMetadataResponseTopicPartition()
		p.Partition = int32(i)
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

// replicaIDs are the voters of the Raft configuration.
func (s *Server) replicaIDs() []int32 {
	members, err := s.node.Members()
	if err != nil {
		return []int32{s.cfg.NodeID}
	}
	var ids []int32
	for _, m := range members {
		if m.Voter {
			ids = append(ids, m.ID)
		}
	}
	return ids
}

// brokers lists the registered nodes, with this node added from its own
// configuration until its registration has been applied. A client of the
// external listener gets each node's external address (its primary one when
// the node has none).
func (s *Server) brokers(external bool) []kmsg.MetadataResponseBroker {
	var out []kmsg.MetadataResponseBroker
	self := false
	for _, n := range s.state.Brokers() {
		addr := n.KafkaAddr
		if external && n.ExternalKafkaAddr != "" {
			addr = n.ExternalKafkaAddr
		}
		if b, ok := brokerOf(n.ID, addr); ok {
			out = append(out, b)
			self = self || n.ID == s.cfg.NodeID
		}
	}
	if !self {
		addr := s.cfg.AdvertisedAddr
		if external && s.cfg.AdvertisedExternalAddr != "" {
			addr = s.cfg.AdvertisedExternalAddr
		}
		if b, ok := brokerOf(s.cfg.NodeID, addr); ok {
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
