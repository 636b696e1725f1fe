package fsm

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/raftline/raftline/broker/groups"
)

func groupsJSON(t *testing.T, s *State) string {
	t.Helper()
	var js []byte
	s.ReadGroups(func(gs *groups.Groups) {
		var err error
		if js, err = json.Marshal(gs); err != nil {
			t.Fatal(err)
		}
	})
	return string(js)
}

func (r *replica) group(c groups.Command) *groups.Result {
	r.t.Helper()
	res := r.apply(Command{Op: OpGroup, TimeMs: 5000, Group: &c})
	if res.Group == nil {
		r.t.Fatalf("group command answered %+v", res)
	}
	return res.Group
}

func TestGroups_SnapshotCarriesThem_DeletedTopicDropsOffsets(t *testing.T) {
	eachStorage(t, func(t *testing.T, st storage) {
		r := populated(t, st)
		join := r.group(groups.Command{Kind: groups.KindJoin, Group: "g", Join: &groups.Join{
			MemberID: "m1", NewMember: true, SessionTimeoutMs: 10000, RebalanceTimeoutMs: 10000,
			ProtocolType: "consumer", Protocols: []groups.Protocol{{Name: "range"}},
		}})
		if join.Err != nil {
			t.Fatal(join.Err)
		}
		commit := r.group(groups.Command{Kind: groups.KindCommit, Group: "simple", Commit: &groups.Commit{Generation: -1, Offsets: []groups.PartitionOffset{
			{Topic: "events", Partition: 2, Offset: 3}, {Topic: "audit", Partition: 0, Offset: 1}, {Topic: "events", Partition: 3, Offset: 1},
		}}})
		if commit.Errs[0] != nil || commit.Errs[1] != nil || commit.Errs[2] == nil {
			t.Fatalf("commit answered %v: partition 3 of events does not exist", commit.Errs)
		}
		before := groupsJSON(t, r.s)
		snap := takeSnapshot(t, r.s)
		back := restored(t, st, snap)
		if got := groupsJSON(t, back.s); got != before {
			t.Fatalf("restored groups\n%s\nwant\n%s", got, before)
		}
		changed := back.s.GroupsChanged()
		back.apply(Command{Op: OpDeleteTopic, TimeMs: 6000, Delete: "events"})
		select {
		case <-changed:
		default:
			t.Fatal("deleting a topic did not announce a change to the groups")
		}
		var left int
		back.s.ReadGroups(func(gs *groups.Groups) { left = gs.Get("simple").OffsetCount() })
		if left != 1 {
			t.Fatalf("%d offsets left after deleting events, want audit's 1", left)
		}
	})
}

func TestGroups_SnapshotWithoutGroups_HasNoGroupsKey(t *testing.T) {
	r := newReplica(t, storages[0])
	if b := snapshotBytes(t, r.s); bytes.Contains(b, []byte(`"groups"`)) {
		t.Fatalf("snapshot without groups names them: %s", b)
	}
	bad := metaSnapshot(`{"groups":[{"name":1}]}`)
	if err := r.s.Restore(bytes.NewReader(bad), nil); err == nil {
		t.Fatal("a snapshot with unreadable groups restored")
	}
}
