package kafka

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/raftline/raftline/broker/cluster"
)

// DescribeConfigs v0-4, for TOPIC and BROKER resources.
//
// A topic is described with every config raftline honours (broker/topicrules):
// those the topic carries as DYNAMIC_TOPIC_CONFIG, the others with the
// default a new topic would get, STATIC_BROKER_CONFIG when this node's
// flags set it (--default-retention-bytes) and DEFAULT_CONFIG otherwise. A
// topic created here carries the node's defaults it was created with, so
// they show as the topic's own. Synonyms (v1+, when asked) list the topic's
// value, the broker config it falls back to and the default, in Kafka's
// order; documentation (v3+) when asked. Unknown topic:
// UNKNOWN_TOPIC_OR_PARTITION.
//
// A broker (this node's id, or "" for the cluster's defaults; another id is
// INVALID_REQUEST, as Kafka answers a broker asked about another) is
// described with the configs it has, all read-only: they are its flags.
// Requested config names filter either; names raftline does not have are
// left out, as Kafka leaves out unknown names. Any node answers.

func init() { register(32, 0, 4, handleDescribeConfigs) }

func handleDescribeConfigs(l *Listener, _ context.Context, r *request) func() kmsg.Response {
	req := r.kreq.(*kmsg.DescribeConfigsRequest)
	return func() kmsg.Response {
		resp := req.ResponseKind().(*kmsg.DescribeConfigsResponse)
		for _, rr := range req.Resources {
			sr := kmsg.NewDescribeConfigsResponseResource()
			sr.ResourceType, sr.ResourceName = rr.ResourceType, rr.ResourceName
			var entries []configEntry
			var err error
			var msg string
			switch rr.ResourceType {
			case kmsg.ConfigResourceTypeTopic:
				if t, ok := l.cluster.Topic(rr.ResourceName); ok {
					entries = l.topicConfigEntries(t)
				} else if verr := cluster.ValidateTopicName(rr.ResourceName); verr != nil {
					err, msg = kerr.InvalidTopicException, verr.Error()
				} else {
					err, msg = kerr.UnknownTopicOrPartition, fmt.Sprintf("topic %q does not exist", rr.ResourceName)
				}
			case kmsg.ConfigResourceTypeBroker:
				if rr.ResourceName != "" && rr.ResourceName != strconv.Itoa(int(l.cfg.NodeID)) {
					err, msg = kerr.InvalidRequest, fmt.Sprintf("this is broker %d, asked about broker %q", l.cfg.NodeID, rr.ResourceName)
				} else {
					entries = l.brokerConfigEntries()
				}
			default:
				err, msg = kerr.InvalidRequest, fmt.Sprintf("resource type %s is not served; TOPIC and BROKER are", rr.ResourceType)
			}
			if err != nil {
				sr.ErrorCode = cluster.ErrorCode(err)
				sr.ErrorMessage = &msg
			}
			for _, e := range entries {
				if len(rr.ConfigNames) > 0 && !slices.Contains(rr.ConfigNames, e.name) {
					continue
				}
				sr.Configs = append(sr.Configs, e.response(req.IncludeSynonyms, req.IncludeDocumentation))
			}
			resp.Resources = append(resp.Resources, sr)
		}
		return resp
	}
}

// configEntry is one config as described: its value and where it comes
// from, then what it falls back to (synonyms, most specific first, the
// entry's own value first).
type configEntry struct {
	name     string
	value    string
	source   kmsg.ConfigSource
	typ      kmsg.ConfigType
	readOnly bool
	doc      string
	synonyms []configSynonym
}

type configSynonym struct {
	name, value string
	source      kmsg.ConfigSource
}

func (e configEntry) response(synonyms, doc bool) kmsg.DescribeConfigsResponseResourceConfig {
	c := kmsg.NewDescribeConfigsResponseResourceConfig()
	c.Name, c.Value, c.Source, c.ConfigType, c.ReadOnly = e.name, &e.value, e.source, e.typ, e.readOnly
	c.IsDefault = e.source == kmsg.ConfigSourceDefaultConfig
	if doc && e.doc != "" {
		c.Documentation = &e.doc
	}
	if synonyms {
		for _, s := range e.synonyms {
			cs := kmsg.NewDescribeConfigsResponseResourceConfigConfigSynonym()
			cs.Name, cs.Value, cs.Source = s.name, &s.value, s.source
			c.ConfigSynonyms = append(c.ConfigSynonyms, cs)
		}
	}
	return c
}

func configType(t cluster.ConfigType) kmsg.ConfigType {
	switch t {
	case cluster.TypeInt:
		return kmsg.ConfigTypeInt
	case cluster.TypeList:
		return kmsg.ConfigTypeList
	}
	return kmsg.ConfigTypeLong
}

// brokerDefault is the value a topic without the config gets from this
// node: its flag when it has one (DefaultTopicConfigs), else Kafka's (or
// the store's) default; and the broker-level synonyms behind it.
func (l *Listener) brokerDefault(c cluster.ConfigInfo) (string, kmsg.ConfigSource, []configSynonym) {
	def := configSynonym{c.BrokerName, c.Default, kmsg.ConfigSourceDefaultConfig}
	if v, ok := l.cfg.DefaultTopicConfigs[c.Name]; ok {
		return v, kmsg.ConfigSourceStaticBrokerConfig, []configSynonym{{c.BrokerName, v, kmsg.ConfigSourceStaticBrokerConfig}, def}
	}
	return c.Default, kmsg.ConfigSourceDefaultConfig, []configSynonym{def}
}

// topicConfigEntries describes every config raftline honours for t.
func (l *Listener) topicConfigEntries(t cluster.Topic) []configEntry {
	var out []configEntry
	for _, c := range cluster.TopicConfigs() {
		e := configEntry{name: c.Name, typ: configType(c.Type), doc: c.Doc}
		var fallback []configSynonym
		e.value, e.source, fallback = l.brokerDefault(c)
		if v, ok := t.Configs[c.Name]; ok {
			e.value, e.source = v, kmsg.ConfigSourceDynamicTopicConfig
			e.synonyms = []configSynonym{{c.Name, v, kmsg.ConfigSourceDynamicTopicConfig}}
		}
		e.synonyms = append(e.synonyms, fallback...)
		out = append(out, e)
	}
	return out
}

// brokerConfigEntries describes the node's configs, sorted by name: the
// broker-level defaults of the topic configs and what else it has. All are
// read-only: they are the node's flags, which AlterConfigs cannot change.
func (l *Listener) brokerConfigEntries() []configEntry {
	static := func(name, value, kafkaDefault string, typ kmsg.ConfigType, doc string) configEntry {
		src := kmsg.ConfigSourceStaticBrokerConfig
		if value == kafkaDefault {
			src = kmsg.ConfigSourceDefaultConfig
		}
		return configEntry{name: name, value: value, source: src, typ: typ, readOnly: true, doc: doc,
			synonyms: []configSynonym{{name, value, src}}}
	}
	out := []configEntry{
		static("broker.id", strconv.Itoa(int(l.cfg.NodeID)), "", kmsg.ConfigTypeInt, "This node's id (--node-id)."),
		static("num.partitions", strconv.Itoa(int(l.cfg.DefaultPartitions)), "1", kmsg.ConfigTypeInt,
			"Partitions of a topic created without a count, or by producing to it."),
		static("auto.create.topics.enable", strconv.FormatBool(l.cfg.AutoCreateTopics), "true", kmsg.ConfigTypeBoolean,
			"Whether Metadata and Produce create a topic that does not exist."),
	}
	g := l.cfg.Groups
	// An initial delay of 0 is a setting too; the others are left out
	// when unset (a listener without a coordinator).
	if g.MaxSessionTimeout > 0 {
		out = append(out,
			static("group.initial.rebalance.delay.ms", strconv.FormatInt(g.InitialRebalanceDelay.Milliseconds(), 10), "3000", kmsg.ConfigTypeInt,
				"How long the first rebalance of an empty group waits for more members (--group-initial-rebalance-delay)."),
			static("group.min.session.timeout.ms", strconv.FormatInt(g.MinSessionTimeout.Milliseconds(), 10), "6000", kmsg.ConfigTypeInt,
				"The shortest session timeout a group member may ask for."),
			static("group.max.session.timeout.ms", strconv.FormatInt(g.MaxSessionTimeout.Milliseconds(), 10), "1800000", kmsg.ConfigTypeInt,
				"The longest session timeout a group member may ask for."))
	}
	if g.OffsetsRetention != 0 {
		minutes := int64(-1)
		if g.OffsetsRetention > 0 {
			minutes = int64(g.OffsetsRetention / time.Minute)
		}
		out = append(out, static("offsets.retention.minutes", strconv.FormatInt(minutes, 10), "10080", kmsg.ConfigTypeInt,
			"How long an empty group's committed offsets are kept (--offsets-retention)."))
	}
	if l.cfg.LogDir != "" {
		out = append(out, static("log.dirs", l.cfg.LogDir, "", kmsg.ConfigTypeString, "Where this node keeps its partitions (one log directory)."))
	}
	for _, c := range cluster.TopicConfigs() {
		value, source, synonyms := l.brokerDefault(c)
		out = append(out, configEntry{name: c.BrokerName, value: value, source: source, typ: configType(c.Type),
			readOnly: true, doc: c.Doc, synonyms: synonyms})
	}
	slices.SortFunc(out, func(a, b configEntry) int {
		switch {
		case a.name < b.name:
			return -1
		case a.name > b.name:
			return 1
		}
		return 0
	})
	return out
}
