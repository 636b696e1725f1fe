package kafka_test

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/raftline/raftline/broker/cluster"
)

// fakeRequest sends req to the listener at addr with franz-go (flexible
// versions included) and returns the response.
func fakeRequest(t *testing.T, addr string, req kmsg.Request) kmsg.Response {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := cl.Broker(1).Request(ctx, req)
	if err != nil {
		t.Fatalf("%T: %v", req, err)
	}
	return resp
}

// Odd and hostile admin requests get Kafka's codes, never a panic, a hang
// or a change.
func TestFakeAdmin_BadInput_ClearErrors(t *testing.T) {
	fake, addr := fakeWithTopic(t, 2)
	str := func(s string) *string { return &s }

	describe := kmsg.NewPtrDescribeConfigsRequest()
	for _, r := range []struct {
		typ   kmsg.ConfigResourceType
		name  string
		names []string
	}{{8, "1", nil}, {0, "x", nil}, {kmsg.ConfigResourceTypeTopic, "bad/name", nil}, {kmsg.ConfigResourceTypeTopic, "", nil}, {kmsg.ConfigResourceTypeTopic, "t", []string{}}} {
		rr := kmsg.NewDescribeConfigsRequestResource()
		rr.ResourceType, rr.ResourceName, rr.ConfigNames = r.typ, r.name, r.names
		describe.Resources = append(describe.Resources, rr)
	}
	dr := fakeRequest(t, addr, describe).(*kmsg.DescribeConfigsResponse).Resources
	for i, want := range []*kerr.Error{kerr.InvalidRequest, kerr.InvalidRequest, kerr.InvalidTopicException, kerr.InvalidTopicException, nil} {
		if got := kerr.ErrorForCode(dr[i].ErrorCode); got != want && !(want == nil && got == nil) {
			t.Errorf("describe %d (%s %q): %v, want %v", i, dr[i].ResourceType, dr[i].ResourceName, got, want)
		}
	}
	if n := len(dr[4].Configs); n != 6 {
		t.Errorf("an empty list of names described %d configs, want all 6", n)
	}

	alter := kmsg.NewPtrAlterConfigsRequest()
	addAlter := func(typ kmsg.ConfigResourceType, name string, kv ...*string) {
		rr := kmsg.NewAlterConfigsRequestResource()
		rr.ResourceType, rr.ResourceName = typ, name
		for i := 0; i+1 < len(kv); i += 2 {
			c := kmsg.NewAlterConfigsRequestResourceConfig()
			c.Name, c.Value = *kv[i], kv[i+1]
			rr.Configs = append(rr.Configs, c)
		}
		alter.Resources = append(alter.Resources, rr)
	}
	addAlter(kmsg.ConfigResourceTypeTopic, "t", str("retention.ms"), str("1"), str("retention.ms"), str("2"))
	addAlter(kmsg.ConfigResourceTypeBroker, "1", str("log.retention.ms"), str("1"))
	addAlter(kmsg.ConfigResourceTypeBroker, "7")
	addAlter(kmsg.ConfigResourceTypeBroker, "") // nothing to alter: done
	addAlter(8, "1")
	addAlter(kmsg.ConfigResourceTypeTopic, "missing", str("retention.ms"), str("1"))
	addAlter(kmsg.ConfigResourceTypeTopic, "t", str("retention.ms"), nil) // a null value: left out, so default
	ar := fakeRequest(t, addr, alter).(*kmsg.AlterConfigsResponse).Resources
	for i, want := range []*kerr.Error{kerr.InvalidRequest, kerr.InvalidRequest, kerr.InvalidRequest, nil, kerr.InvalidRequest, kerr.UnknownTopicOrPartition, kerr.InvalidRequest} {
		if got := kerr.ErrorForCode(ar[i].ErrorCode); got != want && !(want == nil && got == nil) {
			t.Errorf("alter %d (%s %q): %v, want %v", i, ar[i].ResourceType, ar[i].ResourceName, got, want)
		}
	}
	// "t" named twice: both refused, nothing changed.
	if tp, _ := fake.Topic("t"); len(tp.Configs) != 0 {
		t.Errorf("refused alters changed the configs: %v", tp.Configs)
	}

	inc := kmsg.NewPtrIncrementalAlterConfigsRequest()
	for _, c := range []struct {
		name string
		op   kmsg.IncrementalAlterConfigOp
		val  *string
	}{{"retention.ms", 9, str("1")}, {"retention.ms", kmsg.IncrementalAlterConfigOpSet, nil}, {"cleanup.policy", kmsg.IncrementalAlterConfigOpSubtract, str("delete")}} {
		rr := kmsg.NewIncrementalAlterConfigsRequestResource()
		rr.ResourceType, rr.ResourceName = kmsg.ConfigResourceTypeTopic, "t"+c.name+string(rune('0'+c.op))
		fake.CreateTopic(context.Background(), clusterSpec(rr.ResourceName))
		rc := kmsg.NewIncrementalAlterConfigsRequestResourceConfig()
		rc.Name, rc.Op, rc.Value = c.name, c.op, c.val
		rr.Configs = append(rr.Configs, rc)
		inc.Resources = append(inc.Resources, rr)
	}
	ir := fakeRequest(t, addr, inc).(*kmsg.IncrementalAlterConfigsResponse).Resources
	for i, want := range []*kerr.Error{kerr.InvalidRequest, kerr.InvalidRequest, kerr.InvalidConfig} {
		if got := kerr.ErrorForCode(ir[i].ErrorCode); got != want {
			t.Errorf("incremental %d (%q): %v, want %v", i, ir[i].ResourceName, got, want)
		}
	}

	grow := kmsg.NewPtrCreatePartitionsRequest()
	for _, c := range []struct {
		topic  string
		count  int32
		assign bool
	}{{"t", -5, false}, {"w", 0, false}, {"u", 3, false}, {"u", 4, false}, {"missing", 3, false}} {
		rt := kmsg.NewCreatePartitionsRequestTopic()
		rt.Topic, rt.Count = c.topic, c.count
		grow.Topics = append(grow.Topics, rt)
	}
	rt := kmsg.NewCreatePartitionsRequestTopic()
	rt.Topic, rt.Count = "v", 5
	rt.Assignment = append(rt.Assignment, kmsg.NewCreatePartitionsRequestTopicAssignment())
	grow.Topics = append(grow.Topics, rt)
	fake.CreateTopic(context.Background(), clusterSpec("v"))
	fake.CreateTopic(context.Background(), clusterSpec("w"))
	gr := fakeRequest(t, addr, grow).(*kmsg.CreatePartitionsResponse).Topics
	for i, want := range []*kerr.Error{kerr.InvalidPartitions, kerr.InvalidPartitions, kerr.InvalidRequest, kerr.InvalidRequest, kerr.UnknownTopicOrPartition, kerr.InvalidReplicaAssignment} {
		if got := kerr.ErrorForCode(gr[i].ErrorCode); got != want {
			t.Errorf("create partitions %d (%q): %v, want %v", i, gr[i].Topic, got, want)
		}
	}

	logDirs := kmsg.NewPtrDescribeLogDirsRequest()
	ld := kmsg.NewDescribeLogDirsRequestTopic()
	ld.Topic, ld.Partitions = "t", []int32{-1, 1, 99}
	logDirs.Topics = append(logDirs.Topics, ld, kmsg.DescribeLogDirsRequestTopic{Topic: "missing", Partitions: []int32{0}})
	dirs := fakeRequest(t, addr, logDirs).(*kmsg.DescribeLogDirsResponse).Dirs
	if len(dirs) != 1 || len(dirs[0].Topics) != 1 || len(dirs[0].Topics[0].Partitions) != 1 || dirs[0].Topics[0].Partitions[0].Partition != 1 {
		t.Errorf("log dirs for t/-1, t/1, t/99, missing/0: %+v", dirs)
	}

	epochs := kmsg.NewPtrOffsetForLeaderEpochRequest()
	epochs.ReplicaID = 5
	et := kmsg.NewOffsetForLeaderEpochRequestTopic()
	et.Topic = "t"
	ep := kmsg.NewOffsetForLeaderEpochRequestTopicPartition()
	ep.Partition, ep.LeaderEpoch = 0, 1
	et.Partitions = append(et.Partitions, ep)
	epochs.Topics = append(epochs.Topics, et)
	if p := fakeRequest(t, addr, epochs).(*kmsg.OffsetForLeaderEpochResponse).Topics[0].Partitions[0]; p.ErrorCode != kerr.UnknownServerError.Code {
		t.Errorf("OffsetForLeaderEpoch from replica 5: %v, want UNKNOWN_SERVER_ERROR", kerr.ErrorForCode(p.ErrorCode))
	}
	epochs.ReplicaID = -1
	epochs.Topics[0].Partitions[0].Partition = -1
	if p := fakeRequest(t, addr, epochs).(*kmsg.OffsetForLeaderEpochResponse).Topics[0].Partitions[0]; p.ErrorCode != kerr.UnknownTopicOrPartition.Code {
		t.Errorf("OffsetForLeaderEpoch for partition -1: %v", kerr.ErrorForCode(p.ErrorCode))
	}

	// A follower is not the controller; its config alters are forwarded.
	fake.SetLeader(2)
	grow.Topics = grow.Topics[:1]
	grow.Topics[0].Count = 9
	if r := fakeRequest(t, addr, grow).(*kmsg.CreatePartitionsResponse).Topics[0]; r.ErrorCode != kerr.NotController.Code {
		t.Errorf("create partitions on a follower: %v, want NOT_CONTROLLER", kerr.ErrorForCode(r.ErrorCode))
	}
	if tp, _ := fake.Topic("t"); tp.Partitions != 2 {
		t.Errorf("partitions %d after refused grows", tp.Partitions)
	}
}

func clusterSpec(name string) cluster.TopicSpec {
	return cluster.TopicSpec{Name: name, Partitions: 1}
}
