package kafka_test

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/raftline/raftline/broker/cluster"
	"github.com/raftline/raftline/broker/cluster/clusterfake"
	"github.com/raftline/raftline/broker/groups/coordinator"
)

// The oldest versions of the group APIs (kafka-python and sarama's defaults
// use them), raw on the wire against the fake's coordinator.
func TestFakeGroups_OldVersions_JoinSyncCommitFetchDescribeLeave(t *testing.T) {
	fake := clusterfake.New(1)
	fake.ServeGroupsFor(t, coordinator.Config{})
	addr := listen(t, fake)
	if err := fake.CreateTopic(t.Context(), cluster.TopicSpec{Name: "t", Partitions: 2}); err != nil {
		t.Fatal(err)
	}

	join := kmsg.NewPtrJoinGroupRequest()
	join.SetVersion(0)
	join.Group, join.SessionTimeoutMillis, join.ProtocolType = "old", 10000, "consumer"
	p := kmsg.NewJoinGroupRequestProtocol()
	p.Name, p.Metadata = "range", []byte{0, 0, 0, 0, 0, 0, 0, 0}
	join.Protocols = append(join.Protocols, p)
	jr := rawRequest(t, addr, join).(*kmsg.JoinGroupResponse)
	if jr.ErrorCode != 0 || jr.Generation != 1 || jr.LeaderID != jr.MemberID || len(jr.Members) != 1 {
		t.Fatalf("v0 join: %v generation %d leader %q member %q", code(jr.ErrorCode), jr.Generation, jr.LeaderID, jr.MemberID)
	}

	sync := kmsg.NewPtrSyncGroupRequest()
	sync.SetVersion(0)
	sync.Group, sync.Generation, sync.MemberID = "old", jr.Generation, jr.MemberID
	ga := kmsg.NewSyncGroupRequestGroupAssignment()
	ga.MemberID, ga.MemberAssignment = jr.MemberID, []byte("a")
	sync.GroupAssignment = append(sync.GroupAssignment, ga)
	if sr := rawRequest(t, addr, sync).(*kmsg.SyncGroupResponse); sr.ErrorCode != 0 || string(sr.MemberAssignment) != "a" {
		t.Fatalf("v0 sync: %v %q", code(sr.ErrorCode), sr.MemberAssignment)
	}

	commit := kmsg.NewPtrOffsetCommitRequest()
	commit.SetVersion(2)
	commit.Group, commit.Generation, commit.MemberID = "old", jr.Generation, jr.MemberID
	ct := kmsg.NewOffsetCommitRequestTopic()
	ct.Topic = "t"
	cp := kmsg.NewOffsetCommitRequestTopicPartition()
	cp.Partition, cp.Offset, cp.Metadata = 0, 42, kmsg.StringPtr("meta")
	ct.Partitions = append(ct.Partitions, cp)
	commit.Topics = append(commit.Topics, ct)
	if cr := rawRequest(t, addr, commit).(*kmsg.OffsetCommitResponse); cr.Topics[0].Partitions[0].ErrorCode != 0 {
		t.Fatalf("v2 commit: %v", code(cr.Topics[0].Partitions[0].ErrorCode))
	}

	fetch := kmsg.NewPtrOffsetFetchRequest()
	fetch.SetVersion(1)
	fetch.Group = "old"
	ft := kmsg.NewOffsetFetchRequestTopic()
	ft.Topic, ft.Partitions = "t", []int32{0, 1}
	fetch.Topics = append(fetch.Topics, ft)
	fr := rawRequest(t, addr, fetch).(*kmsg.OffsetFetchResponse)
	if len(fr.Topics) != 1 || len(fr.Topics[0].Partitions) != 2 {
		t.Fatalf("v1 fetch: %+v", fr)
	}
	if got := fr.Topics[0].Partitions[0]; got.Offset != 42 || got.Metadata == nil || *got.Metadata != "meta" {
		t.Fatalf("v1 fetch of the committed partition: %+v", got)
	}
	if got := fr.Topics[0].Partitions[1]; got.Offset != -1 || got.ErrorCode != 0 {
		t.Fatalf("v1 fetch of a partition with nothing committed: %+v", got)
	}

	describe := kmsg.NewPtrDescribeGroupsRequest()
	describe.SetVersion(0)
	describe.Groups = []string{"old", "none"}
	dr := rawRequest(t, addr, describe).(*kmsg.DescribeGroupsResponse)
	if dr.Groups[0].State != "Stable" || dr.Groups[0].Protocol != "range" || len(dr.Groups[0].Members) != 1 ||
		string(dr.Groups[0].Members[0].MemberAssignment) != "a" || dr.Groups[1].State != "Dead" {
		t.Fatalf("v0 describe: %+v", dr.Groups)
	}

	leave := kmsg.NewPtrLeaveGroupRequest()
	leave.SetVersion(0)
	leave.Group, leave.MemberID = "old", jr.MemberID
	if lr := rawRequest(t, addr, leave).(*kmsg.LeaveGroupResponse); lr.ErrorCode != 0 {
		t.Fatalf("v0 leave: %v", code(lr.ErrorCode))
	}
	leave.MemberID = "gone"
	if lr := rawRequest(t, addr, leave).(*kmsg.LeaveGroupResponse); !errWas(lr.ErrorCode, kerr.UnknownMemberID) {
		t.Fatalf("v0 leave of an unknown member: %v", code(lr.ErrorCode))
	}

	// On a node that does not lead, the group APIs are not coordinated.
	fake.SetLeader(2)
	hb := kmsg.NewPtrHeartbeatRequest()
	hb.SetVersion(0)
	hb.Group, hb.MemberID = "old", jr.MemberID
	// The coordinator looks at leadership at every request.
	if hr := rawRequest(t, addr, hb).(*kmsg.HeartbeatResponse); !errWas(hr.ErrorCode, kerr.NotCoordinator) {
		t.Fatalf("heartbeat on a follower: %v, want NOT_COORDINATOR", code(hr.ErrorCode))
	}
}

func errWas(c int16, want *kerr.Error) bool { return c == want.Code }
