package clusterfake_test

import (
	"context"
	"errors"
	"testing"

	"github.com/raftline/raftline/broker/cluster"
	"github.com/raftline/raftline/broker/cluster/clusterfake"
)

func TestFake_FollowerForwardsWhatAnyNodeMayAskRefusesTheRest(t *testing.T) {
	ctx := context.Background()
	fake := clusterfake.New(1)
	fake.SetLeader(2)
	if fake.IsLeader() || fake.Role() != "follower" || fake.Leader() != 2 {
		t.Fatalf("follower: leader %v, role %s, leader id %d", fake.IsLeader(), fake.Role(), fake.Leader())
	}
	if err := fake.AutoCreateTopic(ctx, cluster.TopicSpec{Name: "auto", Partitions: 1}); err != nil {
		t.Fatalf("AutoCreateTopic on a follower: %v", err)
	}
	if _, ok := fake.Topic("auto"); !ok {
		t.Fatal("forwarded topic not applied")
	}
	if _, err := fake.InitProducer(ctx); err != nil {
		t.Fatalf("InitProducer on a follower: %v", err)
	}
	if err := fake.RegisterBroker(ctx, cluster.Broker{ID: 3}); err != nil {
		t.Fatalf("RegisterBroker on a follower: %v", err)
	}
	for name, err := range map[string]error{
		"CreateTopic": fake.CreateTopic(ctx, cluster.TopicSpec{Name: "x", Partitions: 1}),
		"DeleteTopic": fake.DeleteTopic(ctx, "auto"),
		"Retention":   fake.Retention(ctx),
	} {
		if !errors.Is(err, cluster.ErrNotLeader) {
			t.Errorf("%s on a follower: %v, want ErrNotLeader", name, err)
		}
	}
	if _, err := fake.Produce("auto", 0, [][]byte{{0}}, nil).Result(); !errors.Is(err, cluster.ErrNotLeader) {
		t.Errorf("Produce on a follower: %v, want ErrNotLeader", err)
	}

	fake.SetLeader(-1)
	if _, err := fake.InitProducer(ctx); !errors.Is(err, cluster.ErrNotLeader) {
		t.Errorf("InitProducer with no leader: %v, want ErrNotLeader", err)
	}
	fake.SetLeader(1)
	fake.FailWrites(cluster.ErrIndeterminate)
	if err := fake.AutoCreateTopic(ctx, cluster.TopicSpec{Name: "y", Partitions: 1}); !errors.Is(err, cluster.ErrIndeterminate) {
		t.Errorf("failed write: %v", err)
	}
	fake.FailWrites(nil)
	if err := fake.DeleteTopic(ctx, "auto"); err != nil {
		t.Errorf("DeleteTopic on the leader: %v", err)
	}
	fake.SetVoters(1, 2, 3)
	if v, _ := fake.Voters(); len(v) != 3 {
		t.Errorf("voters %v", v)
	}
}
