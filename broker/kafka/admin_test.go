package kafka_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"

	"github.com/raftline/raftline/broker/clustertest"
	"github.com/raftline/raftline/broker/fsm"
	"github.com/raftline/raftline/broker/server"
)

// adminCluster starts three nodes keeping partitions on disk, with a node
// default for retention.bytes, as raftline serve has one.
func adminCluster(t *testing.T) (*clustertest.Cluster, *kgo.Client, *kadm.Client) {
	t.Helper()
	c := clustertest.Start(t, clustertest.Options{Configure: func(cfg *server.Config) {
		cfg.Storage = fsm.Disk
		cfg.DefaultRetentionBytes = 64 << 20
		cfg.Kafka.DefaultPartitions = 2
	}})
	cl := c.Client()
	return c, cl, kadm.NewClient(cl)
}

// createAdminTopic creates a topic through kadm and waits until every node has
// applied it: kadm sends the admin requests after it to any node.
func createAdminTopic(t *testing.T, c *clustertest.Cluster, adm *kadm.Client, partitions int32, configs map[string]*string, topic string) {
	t.Helper()
	resp, err := adm.CreateTopic(ctxFor(t), partitions, -1, configs, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		t.Fatalf("create topic %s: %v", topic, err)
	}
	clustertest.WaitFor(t, 10*time.Second, "every node to apply the topic", func() bool {
		for _, n := range c.Nodes {
			if _, ok := n.Server().Cluster.Topic(topic); !ok {
				return false
			}
		}
		return true
	})
}

func ctxFor(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func str(s string) *string { return &s }

// configsOn reads a topic's configs as a node has applied them.
func configsOn(t *testing.T, n *clustertest.Node, topic string) map[string]string {
	t.Helper()
	tp, ok := n.Server().Cluster.Topic(topic)
	if !ok {
		return nil
	}
	return tp.Configs
}

// waitConfigs waits until every running node holds want as the topic's
// configs.
func waitConfigs(t *testing.T, c *clustertest.Cluster, topic string, want map[string]string) {
	t.Helper()
	clustertest.Wait(t, 10*time.Second, "every node to apply the configs", func() error {
		for _, n := range c.Nodes {
			if !n.Up() {
				continue
			}
			if got := configsOn(t, n, topic); !maps.Equal(got, want) {
				return fmt.Errorf("node %d holds %v, want %v", n.ID, got, want)
			}
		}
		return nil
	})
}

func findConfig(t *testing.T, rc kadm.ResourceConfig, key string) kadm.Config {
	t.Helper()
	for _, c := range rc.Configs {
		if c.Key == key {
			return c
		}
	}
	t.Fatalf("%s: no config %s in %+v", rc.Name, key, rc.Configs)
	return kadm.Config{}
}

func TestDescribeConfigs_Topic_ValuesSourcesSynonymsFromEveryNode(t *testing.T) {
	c, kcl, adm := adminCluster(t)
	ctx := ctxFor(t)
	createAdminTopic(t, c, adm, 1, map[string]*string{"retention.ms": str("3600000")}, "t")
	// kadm sends DescribeConfigs to any node; ask each in turn.
	for _, n := range c.Nodes {
		req := kmsg.NewPtrDescribeConfigsRequest()
		req.IncludeSynonyms, req.IncludeDocumentation = true, true
		rr := kmsg.NewDescribeConfigsRequestResource()
		rr.ResourceType, rr.ResourceName = kmsg.ConfigResourceTypeTopic, "t"
		req.Resources = append(req.Resources, rr)
		var resp *kmsg.DescribeConfigsResponse
		clustertest.Wait(t, 10*time.Second, "the topic on node "+strconv.Itoa(int(n.ID)), func() error {
			resp = request(t, kcl, n.ID, req).(*kmsg.DescribeConfigsResponse)
			return kerr.ErrorForCode(resp.Resources[0].ErrorCode)
		})
		got := map[string]kmsg.DescribeConfigsResponseResourceConfig{}
		for _, cfg := range resp.Resources[0].Configs {
			got[cfg.Name] = cfg
		}
		for _, want := range []struct {
			name, value string
			source      kmsg.ConfigSource
			synonyms    []string
		}{
			{"retention.ms", "3600000", kmsg.ConfigSourceDynamicTopicConfig, []string{"retention.ms", "log.retention.ms"}},
			// Filled in from the node's default at creation: the topic's own.
			{"retention.bytes", strconv.Itoa(64 << 20), kmsg.ConfigSourceDynamicTopicConfig, []string{"retention.bytes", "log.retention.bytes", "log.retention.bytes"}},
			{"segment.bytes", "134217728", kmsg.ConfigSourceDefaultConfig, []string{"log.segment.bytes"}},
			{"segment.ms", "604800000", kmsg.ConfigSourceDefaultConfig, []string{"log.roll.ms"}},
			{"cleanup.policy", "delete", kmsg.ConfigSourceDefaultConfig, []string{"log.cleanup.policy"}},
			{"max.message.bytes", "1048588", kmsg.ConfigSourceDefaultConfig, []string{"message.max.bytes"}},
		} {
			cfg, ok := got[want.name]
			if !ok {
				t.Fatalf("node %d: no %s", n.ID, want.name)
			}
			var syn []string
			for _, s := range cfg.ConfigSynonyms {
				syn = append(syn, s.Name)
			}
			if cfg.Value == nil || *cfg.Value != want.value || cfg.Source != want.source || strings.Join(syn, ",") != strings.Join(want.synonyms, ",") {
				t.Errorf("node %d: %s = %v source %v synonyms %v; want %s %v %v", n.ID, want.name, cfg.Value, cfg.Source, syn, want.value, want.source, want.synonyms)
			}
			if cfg.Documentation == nil || *cfg.Documentation == "" || cfg.ReadOnly || cfg.IsSensitive {
				t.Errorf("node %d: %s: documentation %v, read-only %v, sensitive %v", n.ID, want.name, cfg.Documentation, cfg.ReadOnly, cfg.IsSensitive)
			}
		}
		if len(got) != 6 {
			t.Errorf("node %d described %d configs, want the 6 raftline honours", n.ID, len(got))
		}
	}

	// Through kadm; names filter; an unknown topic.
	rcs, err := adm.DescribeTopicConfigs(ctx, "t")
	if err != nil {
		t.Fatal(err)
	}
	if v := findConfig(t, rcs[0], "retention.ms"); v.MaybeValue() != "3600000" {
		t.Errorf("kadm: retention.ms %q", v.MaybeValue())
	}
	req := kmsg.NewPtrDescribeConfigsRequest()
	for _, topic := range []string{"t", "missing"} {
		rr := kmsg.NewDescribeConfigsRequestResource()
		rr.ResourceType, rr.ResourceName, rr.ConfigNames = kmsg.ConfigResourceTypeTopic, topic, []string{"segment.ms", "no.such.config"}
		req.Resources = append(req.Resources, rr)
	}
	resp := request(t, kcl, c.Leader().ID, req).(*kmsg.DescribeConfigsResponse)
	if r := resp.Resources[0]; r.ErrorCode != 0 || len(r.Configs) != 1 || r.Configs[0].Name != "segment.ms" {
		t.Errorf("filtered: %v %+v, want only segment.ms", kerr.ErrorForCode(r.ErrorCode), r.Configs)
	}
	if r := resp.Resources[1]; r.ErrorCode != kerr.UnknownTopicOrPartition.Code || r.ErrorMessage == nil {
		t.Errorf("unknown topic: %v, want UNKNOWN_TOPIC_OR_PARTITION with a message", kerr.ErrorForCode(r.ErrorCode))
	}
}

func TestDescribeConfigs_Broker_ReadOnlyFlags(t *testing.T) {
	c, kcl, adm := adminCluster(t)
	ctx := ctxFor(t)
	for _, n := range c.Nodes {
		rcs, err := adm.DescribeBrokerConfigs(ctx, n.ID)
		if err != nil {
			t.Fatal(err)
		}
		rc := rcs[0]
		if rc.Err != nil {
			t.Fatalf("broker %d: %v %s", n.ID, rc.Err, rc.ErrMessage)
		}
		for key, want := range map[string]struct {
			value  string
			source kmsg.ConfigSource
		}{
			"broker.id":           {strconv.Itoa(int(n.ID)), kmsg.ConfigSourceStaticBrokerConfig},
			"log.retention.bytes": {strconv.Itoa(64 << 20), kmsg.ConfigSourceStaticBrokerConfig},
			"log.retention.ms":    {"604800000", kmsg.ConfigSourceDefaultConfig},
			"num.partitions":      {"2", kmsg.ConfigSourceStaticBrokerConfig},
			"log.dirs":            {filepath.Join(n.Cfg.DataDir, "partitions"), kmsg.ConfigSourceStaticBrokerConfig},
			"message.max.bytes":   {"1048588", kmsg.ConfigSourceDefaultConfig},
			// The group coordinator's settings: clustertest's short
			// initial delay and minimum session, the others Kafka's defaults.
			"group.initial.rebalance.delay.ms": {"100", kmsg.ConfigSourceStaticBrokerConfig},
			"group.min.session.timeout.ms":     {"1000", kmsg.ConfigSourceStaticBrokerConfig},
			"group.max.session.timeout.ms":     {"1800000", kmsg.ConfigSourceDefaultConfig},
			"offsets.retention.minutes":        {"10080", kmsg.ConfigSourceDefaultConfig},
		} {
			got := findConfig(t, rc, key)
			if got.MaybeValue() != want.value || got.Source != want.source {
				t.Errorf("broker %d: %s = %q from %v, want %q from %v", n.ID, key, got.MaybeValue(), got.Source, want.value, want.source)
			}
		}
	}
	// A node asked about another is INVALID_REQUEST.
	req := kmsg.NewPtrDescribeConfigsRequest()
	rr := kmsg.NewDescribeConfigsRequestResource()
	rr.ResourceType, rr.ResourceName = kmsg.ConfigResourceTypeBroker, "2"
	req.Resources = append(req.Resources, rr)
	if r := request(t, kcl, 1, req).(*kmsg.DescribeConfigsResponse).Resources[0]; r.ErrorCode != kerr.InvalidRequest.Code {
		t.Errorf("node 1 asked about broker 2: %v, want INVALID_REQUEST", kerr.ErrorForCode(r.ErrorCode))
	}
}

// alterErr returns a check of an alter of one resource: its error.
func alterErr(t *testing.T) func(kadm.AlterConfigsResponses, error) error {
	return func(rs kadm.AlterConfigsResponses, err error) error {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		if len(rs) != 1 {
			t.Fatalf("%d responses", len(rs))
		}
		return rs[0].Err
	}
}

func TestIncrementalAlterConfigs_SetDeleteAppend_FromEveryNode(t *testing.T) {
	c, kcl, adm := adminCluster(t)
	ctx := ctxFor(t)
	createAdminTopic(t, c, adm, 1, nil, "t")
	want := map[string]string{"retention.bytes": strconv.Itoa(64 << 20)}
	waitConfigs(t, c, "t", want)

	// kadm sends these to any node: through each, the change lands on all.
	for i, n := range c.Nodes {
		req := kmsg.NewPtrIncrementalAlterConfigsRequest()
		rr := kmsg.NewIncrementalAlterConfigsRequestResource()
		rr.ResourceType, rr.ResourceName = kmsg.ConfigResourceTypeTopic, "t"
		rc := kmsg.NewIncrementalAlterConfigsRequestResourceConfig()
		rc.Name, rc.Op, rc.Value = "retention.ms", kmsg.IncrementalAlterConfigOpSet, str(strconv.Itoa(60000*(i+1)))
		rr.Configs = append(rr.Configs, rc)
		req.Resources = append(req.Resources, rr)
		r := request(t, kcl, n.ID, req).(*kmsg.IncrementalAlterConfigsResponse).Resources[0]
		if r.ErrorCode != 0 {
			t.Fatalf("through node %d (leader %v): %v %v", n.ID, n.Server().Cluster.IsLeader(), kerr.ErrorForCode(r.ErrorCode), r.ErrorMessage)
		}
		want["retention.ms"] = strconv.Itoa(60000 * (i + 1))
		// The node that took the change answers once it holds it.
		if got := configsOn(t, n, "t"); !maps.Equal(got, want) {
			t.Errorf("node %d answered the alter holding %v, want %v", n.ID, got, want)
		}
		waitConfigs(t, c, "t", want)
	}

	// SET and DELETE together; DELETE of retention.bytes goes back to the
	// node's default, as at creation.
	err := alterErr(t)(adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{
		{Op: kadm.SetConfig, Name: "segment.bytes", Value: str("1048576")},
		{Op: kadm.DeleteConfig, Name: "retention.ms"},
		{Op: kadm.DeleteConfig, Name: "retention.bytes"},
		{Op: kadm.AppendConfig, Name: "cleanup.policy", Value: str("delete")},
	}, "t"))
	if err != nil {
		t.Fatal(err)
	}
	want = map[string]string{"segment.bytes": "1048576", "retention.bytes": strconv.Itoa(64 << 20), "cleanup.policy": "delete"}
	waitConfigs(t, c, "t", want)

	for _, tc := range []struct {
		name string
		op   kadm.AlterConfig
		want error
	}{
		{"append to a number", kadm.AlterConfig{Op: kadm.AppendConfig, Name: "retention.ms", Value: str("1")}, kerr.InvalidConfig},
		{"subtract from a number", kadm.AlterConfig{Op: kadm.SubtractConfig, Name: "segment.ms", Value: str("1")}, kerr.InvalidConfig},
		{"append compact", kadm.AlterConfig{Op: kadm.AppendConfig, Name: "cleanup.policy", Value: str("compact")}, kerr.InvalidConfig},
		{"segment too small", kadm.AlterConfig{Op: kadm.SetConfig, Name: "segment.bytes", Value: str("100")}, kerr.InvalidConfig},
		{"not honoured", kadm.AlterConfig{Op: kadm.SetConfig, Name: "compression.type", Value: str("zstd")}, kerr.InvalidConfig},
		{"set without a value", kadm.AlterConfig{Op: kadm.SetConfig, Name: "retention.ms"}, kerr.InvalidRequest},
	} {
		if err := alterErr(t)(adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{tc.op}, "t")); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
	if err := alterErr(t)(adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{{Name: "retention.ms", Value: str("1")}}, "missing")); !errors.Is(err, kerr.UnknownTopicOrPartition) {
		t.Errorf("unknown topic: %v", err)
	}
	// validate_only checks and changes nothing.
	if err := alterErr(t)(adm.ValidateAlterTopicConfigs(ctx, []kadm.AlterConfig{{Name: "retention.ms", Value: str("5000")}}, "t")); err != nil {
		t.Errorf("validate only: %v", err)
	}
	if err := alterErr(t)(adm.ValidateAlterTopicConfigs(ctx, []kadm.AlterConfig{{Name: "retention.ms", Value: str("x")}}, "t")); !errors.Is(err, kerr.InvalidConfig) {
		t.Errorf("validate only, bad value: %v", err)
	}
	// Broker configs are flags.
	rs, err := adm.AlterBrokerConfigs(ctx, []kadm.AlterConfig{{Name: "log.retention.ms", Value: str("1")}}, 1)
	if err != nil || len(rs) != 1 || !errors.Is(rs[0].Err, kerr.InvalidRequest) || rs[0].ErrMessage == "" {
		t.Errorf("broker alter: %v %+v, want INVALID_REQUEST with a message", err, rs)
	}
	c.WaitReplicasIdentical()
	waitConfigs(t, c, "t", want)
}

// AlterConfigs (33) replaces the configs: those left out go back to their
// defaults, the node's for retention.bytes.
func TestAlterConfigs_ReplacesTheSet(t *testing.T) {
	c, _, adm := adminCluster(t)
	ctx := ctxFor(t)
	createAdminTopic(t, c, adm, 1, map[string]*string{"retention.ms": str("1000"), "segment.ms": str("60000")}, "t")
	if err := alterErr(t)(adm.AlterTopicConfigsState(ctx, []kadm.AlterConfig{{Name: "max.message.bytes", Value: str("2000")}}, "t")); err != nil {
		t.Fatal(err)
	}
	waitConfigs(t, c, "t", map[string]string{"max.message.bytes": "2000", "retention.bytes": strconv.Itoa(64 << 20)})
	if err := alterErr(t)(adm.AlterTopicConfigsState(ctx, []kadm.AlterConfig{{Name: "segment.ms", Value: str("5")}}, "t")); !errors.Is(err, kerr.InvalidConfig) {
		t.Errorf("segment.ms=5: %v, want INVALID_CONFIG", err)
	}
	// A record batch over the new max.message.bytes is refused.
	cl := c.Client(kgo.MaxBufferedRecords(1))
	r := &kgo.Record{Topic: "t", Value: incompressible(3000)}
	if err := cl.ProduceSync(ctx, r).FirstErr(); !errors.Is(err, kerr.MessageTooLarge) {
		t.Errorf("3000-byte record after max.message.bytes=2000: %v, want MESSAGE_TOO_LARGE", err)
	}
}

// segment.bytes altered on a live topic rolls every replica's segments at
// the new size, and a node restarted from a snapshot keeps it.
func TestAlterConfigs_SegmentBytes_RollsOnEveryReplicaAndSurvivesRestart(t *testing.T) {
	c, _, adm := adminCluster(t)
	ctx := ctxFor(t)
	createAdminTopic(t, c, adm, 1, nil, "t")
	if err := alterErr(t)(adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{{Name: "segment.bytes", Value: str("1048576")}}, "t")); err != nil {
		t.Fatal(err)
	}
	waitConfigs(t, c, "t", map[string]string{"segment.bytes": "1048576", "retention.bytes": strconv.Itoa(64 << 20)})
	cl := c.Client(kgo.ProducerBatchMaxBytes(200 << 10))
	value := incompressible(100 << 10)
	produce := func(n int) {
		for range n {
			if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "t", Value: value}).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
	}
	produce(30) // 3 MiB
	segments := func(n *clustertest.Node) int {
		logs, _ := filepath.Glob(filepath.Join(n.Cfg.DataDir, "partitions", "t", "0", "*.log"))
		return len(logs)
	}
	c.WaitReplicasIdentical()
	for _, n := range c.Nodes {
		if got := segments(n); got < 3 {
			t.Fatalf("node %d: %d segments for 3 MiB with segment.bytes=1 MiB, want at least 3", n.ID, got)
		}
	}
	for _, n := range c.Nodes {
		if err := n.Server().Node.Snapshot(); err != nil {
			t.Fatalf("snapshot on node %d: %v", n.ID, err)
		}
	}
	f := c.Followers()[0]
	c.Restart(f)
	c.WaitStable()
	before := segments(f)
	produce(20)
	c.WaitReplicasIdentical()
	if got := segments(f); got < before+1 {
		t.Fatalf("restarted node %d: %d segments after 2 MiB more, had %d", f.ID, got, before)
	}
	if got := configsOn(t, f, "t")["segment.bytes"]; got != "1048576" {
		t.Fatalf("restarted node: segment.bytes %q", got)
	}
}

func TestCreatePartitions_GrowsOnDisk_ServesAndSurvivesRestart(t *testing.T) {
	c, kcl, adm := adminCluster(t)
	ctx := ctxFor(t)
	createAdminTopic(t, c, adm, 2, nil, "t")
	// Validate only: nothing changes.
	rs, err := adm.ValidateCreatePartitions(ctx, 3, "t")
	if err != nil || rs["t"].Err != nil {
		t.Fatalf("validate: %v %+v", err, rs)
	}
	if tp, _ := c.Leader().Server().Cluster.Topic("t"); tp.Partitions != 2 {
		t.Fatalf("validate only grew the topic to %d", tp.Partitions)
	}
	rs, err = adm.CreatePartitions(ctx, 3, "t")
	if err != nil || rs["t"].Err != nil {
		t.Fatalf("create partitions: %v %+v", err, rs)
	}
	clustertest.WaitFor(t, 10*time.Second, "every node to hold 5 partitions", func() bool {
		for _, n := range c.Nodes {
			if tp, _ := n.Server().Cluster.Topic("t"); tp.Partitions != 5 {
				return false
			}
		}
		return true
	})
	for _, tc := range []struct {
		set  int
		want error
	}{{5, kerr.InvalidPartitions}, {3, kerr.InvalidPartitions}, {10001, kerr.InvalidPartitions}} {
		rs, err := adm.UpdatePartitions(ctx, tc.set, "t")
		if err != nil || !errors.Is(rs["t"].Err, tc.want) || rs["t"].ErrMessage == "" {
			t.Errorf("set %d: %v %+v, want %v with a message", tc.set, err, rs, tc.want)
		}
	}
	if rs, err := adm.CreatePartitions(ctx, 1, "missing"); err == nil && !errors.Is(rs["missing"].Err, kerr.UnknownTopicOrPartition) {
		t.Errorf("unknown topic: %+v", rs)
	}
	// A follower is not the controller.
	req := kmsg.NewPtrCreatePartitionsRequest()
	rt := kmsg.NewCreatePartitionsRequestTopic()
	rt.Topic, rt.Count = "t", 9
	req.Topics = append(req.Topics, rt)
	f := c.Followers()[0]
	if r := request(t, kcl, f.ID, req).(*kmsg.CreatePartitionsResponse).Topics[0]; r.ErrorCode != kerr.NotController.Code {
		t.Errorf("follower: %v, want NOT_CONTROLLER", kerr.ErrorForCode(r.ErrorCode))
	}

	// The new partitions take records and serve them.
	cl := c.Client(kgo.RecordPartitioner(kgo.ManualPartitioner()))
	for p := range int32(5) {
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "t", Partition: p, Value: []byte("p" + strconv.Itoa(int(p)))}).FirstErr(); err != nil {
			t.Fatalf("produce to partition %d: %v", p, err)
		}
	}
	ends, err := adm.ListEndOffsets(ctx, "t")
	if err != nil {
		t.Fatal(err)
	}
	for p := range int32(5) {
		if o, _ := ends.Lookup("t", p); o.Offset != 1 || o.Err != nil {
			t.Errorf("partition %d: end offset %d %v, want 1", p, o.Offset, o.Err)
		}
	}
	for _, n := range c.Nodes {
		if _, err := os.Stat(filepath.Join(n.Cfg.DataDir, "partitions", "t", "4")); err != nil {
			t.Errorf("node %d: %v", n.ID, err)
		}
	}
	// A snapshot holds them; a node restarted from it and one restarted
	// with the growth in its Raft log after the snapshot both hold them.
	for _, n := range c.Nodes {
		if err := n.Server().Node.Snapshot(); err != nil {
			t.Fatalf("snapshot on node %d: %v", n.ID, err)
		}
	}
	if _, err := adm.CreatePartitions(ctx, 1, "t"); err != nil {
		t.Fatal(err)
	}
	clustertest.WaitFor(t, 10*time.Second, "every node to hold 6 partitions", func() bool {
		for _, n := range c.Nodes {
			if tp, _ := n.Server().Cluster.Topic("t"); tp.Partitions != 6 {
				return false
			}
		}
		return true
	})
	cl = c.Client(kgo.RecordPartitioner(kgo.ManualPartitioner())) // one that knows of partition 5
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "t", Partition: 5, Value: []byte("p5")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	c.Restart(f)
	c.WaitStable()
	c.WaitReplicasIdentical()
	if d := c.Digests(f); d["t/5"].HighWatermark != 1 || d["t/4"].HighWatermark != 1 {
		t.Fatalf("restarted node %d: t/4 %+v, t/5 %+v", f.ID, d["t/4"], d["t/5"])
	}
}

// incompressible returns n bytes no codec shrinks.
func incompressible(n int) []byte {
	b := make([]byte, n)
	x := uint32(2463534242)
	for i := range b {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		b[i] = byte(x)
	}
	return b
}

func TestDescribeLogDirs_EveryNodeSizesAndSpace(t *testing.T) {
	c, _, adm := adminCluster(t)
	ctx := ctxFor(t)
	createAdminTopic(t, c, adm, 2, nil, "t")
	cl := c.Client(kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "t", Partition: 1, Value: incompressible(1000)}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	c.WaitReplicasIdentical()
	all, err := adm.DescribeAllLogDirs(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 3 {
		t.Fatalf("log dirs of %d brokers, want 3", len(all))
	}
	for _, n := range c.Nodes {
		dirs := all[n.ID]
		dir, ok := dirs[filepath.Join(n.Cfg.DataDir, "partitions")]
		if len(dirs) != 1 || !ok || dir.Err != nil {
			t.Fatalf("broker %d: %+v", n.ID, dirs)
		}
		p0, _ := dir.Topics.Lookup("t", 0)
		p1, _ := dir.Topics.Lookup("t", 1)
		if p0.Size != 0 || p1.Size < 1000 || p1.OffsetLag != 0 {
			t.Errorf("broker %d: sizes %d and %d, lag %d; want 0, at least 1000, 0", n.ID, p0.Size, p1.Size, p1.OffsetLag)
		}
		if dir.TotalBytes <= 0 || dir.UsableBytes <= 0 || dir.UsableBytes > dir.TotalBytes {
			t.Errorf("broker %d: total %d usable %d", n.ID, dir.TotalBytes, dir.UsableBytes)
		}
	}
	// Asked for one partition and an unknown topic: just that partition.
	dirs, err := adm.DescribeBrokerLogDirs(ctx, c.Nodes[0].ID, kadm.TopicsSet{"t": {1: {}}, "missing": {0: {}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range dirs {
		if len(d.Topics) != 1 || len(d.Topics["t"]) != 1 {
			t.Errorf("filtered: %+v", d.Topics)
		}
	}
}

func TestListOffsets_MaxTimestamp(t *testing.T) {
	c, _, adm := adminCluster(t)
	ctx := ctxFor(t)
	createAdminTopic(t, c, adm, 1, nil, "t")
	ends, err := adm.ListMaxTimestampOffsets(ctx, "t")
	if err != nil {
		t.Fatal(err)
	}
	if o, ok := ends.Lookup("t", 0); !ok || o.Err != nil || o.Offset != -1 || o.Timestamp != -1 {
		t.Fatalf("empty partition: %+v, want offset and timestamp -1", o)
	}
	base := time.Now().Add(-time.Hour).UnixMilli()
	cl := c.Client(kgo.ProducerLinger(0))
	// Three batches; the largest timestamp is in the middle one, second
	// of its records, and again later: the first one is the answer.
	for _, ts := range [][]int64{{base + 5, base + 10}, {base + 20, base + 90, base + 30}, {base + 90, base + 40}} {
		var rs []*kgo.Record
		for _, s := range ts {
			rs = append(rs, &kgo.Record{Topic: "t", Value: []byte("v"), Timestamp: time.UnixMilli(s)})
		}
		if err := cl.ProduceSync(ctx, rs...).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	ends, err = adm.ListMaxTimestampOffsets(ctx, "t")
	if err != nil {
		t.Fatal(err)
	}
	if o, ok := ends.Lookup("t", 0); !ok || o.Err != nil || o.Offset != 3 || o.Timestamp != base+90 {
		t.Fatalf("max timestamp: offset %d timestamp %d (%v), want offset 3 at %d", o.Offset, o.Timestamp, o.Err, base+90)
	}
	// Before v7 the timestamp is not one ListOffsets knows.
	versions := kversion.Stable()
	versions.SetMaxKeyVersion(2, 6)
	v6 := c.Client(kgo.MaxVersions(versions))
	req := kmsg.NewPtrListOffsetsRequest()
	rt := kmsg.NewListOffsetsRequestTopic()
	rt.Topic = "t"
	rp := kmsg.NewListOffsetsRequestTopicPartition()
	rp.Timestamp = -3
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	if p := request(t, v6, c.Leader().ID, req).(*kmsg.ListOffsetsResponse).Topics[0].Partitions[0]; p.ErrorCode != kerr.UnsupportedVersion.Code {
		t.Errorf("v6 with -3: %v, want UNSUPPORTED_VERSION", kerr.ErrorForCode(p.ErrorCode))
	}
}

// retention.* altered on a live topic apply at the next retention pass on
// every replica.
func TestAlterConfigs_Retention_NextPassTrims(t *testing.T) {
	c := clustertest.Start(t, clustertest.Options{Configure: func(cfg *server.Config) {
		cfg.RetentionInterval = 50 * time.Millisecond
	}})
	adm := kadm.NewClient(c.Client())
	ctx := ctxFor(t)
	createAdminTopic(t, c, adm, 1, nil, "t")
	cl := c.Client()
	for i := range 10 {
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "t", Value: []byte(strconv.Itoa(i))}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	if err := alterErr(t)(adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{{Name: "retention.bytes", Value: str("0")}}, "t")); err != nil {
		t.Fatal(err)
	}
	clustertest.Wait(t, 10*time.Second, "every replica trimmed to retention.bytes=0", func() error {
		for _, n := range c.Nodes {
			if start, next := highWatermark(t, n, "t", 0); start != next || next != 10 {
				return fmt.Errorf("node %d holds offsets %d to %d", n.ID, start, next)
			}
		}
		return nil
	})
}
