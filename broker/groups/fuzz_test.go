package groups

import (
	"bytes"
	"encoding/json"
	"testing"
)

// FuzzApply applies a sequence of commands read from JSON (as a Raft entry
// carries them) to two replicas, one of them restored from a snapshot taken
// half way: nothing may panic, and both must end with the same groups.
func FuzzApply(f *testing.F) {
	seq := []Command{
		joinCmd("g", "m1", true), joinCmd("g", "m2", true), joinCmd("g", "m1", false),
		{Kind: KindSync, Group: "g", Sync: &Sync{MemberID: "m1", Generation: 2, Assignments: []Assignment{{MemberID: "m2", Assignment: []byte("x")}}}},
		{Kind: KindCommit, Group: "g", Commit: &Commit{MemberID: "m2", Generation: 2, Offsets: []PartitionOffset{{Topic: "t", Offset: 3}}}},
		{Kind: KindLeave, Group: "g", Leave: []LeavingMember{{MemberID: "m1"}, {InstanceID: "i"}}},
		{Kind: KindExpireMembers, Group: "g", Members: []string{"m2"}},
		{Kind: KindCompleteJoin, Group: "g", Generation: 2},
		{Kind: KindDeleteOffsets, Group: "g", Partitions: []TopicPartition{{Topic: "t"}}},
		{Kind: KindExpireOffsets, RetentionMs: 1},
		{Kind: KindDeleteGroups, Groups: []string{"g"}},
	}
	js, _ := json.Marshal(seq)
	f.Add(js)
	f.Add([]byte(`[{"kind":"join","group":"g","join":{"member_id":"a","new_member":true,"instance_id":"i","protocol_type":"consumer","protocols":[{"name":"r"}]}},{"kind":"join","group":"g","join":{"member_id":"b","new_member":true,"instance_id":"i","protocol_type":"consumer","protocols":[{"name":"r"}]}}]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var cmds []Command
		if err := json.Unmarshal(data, &cmds); err != nil || len(cmds) > 200 {
			return
		}
		a := New()
		var b *Groups
		for i, c := range cmds {
			now := int64(1000 + i)
			a.Apply(c, now, exists)
			if b != nil {
				b.Apply(c, now, exists)
			}
			if i == len(cmds)/2 {
				snap, err := json.Marshal(a)
				if err != nil {
					t.Fatal(err)
				}
				b = New()
				if err := json.Unmarshal(snap, b); err != nil {
					t.Fatal(err)
				}
			}
		}
		if b == nil {
			return
		}
		ja, _ := json.Marshal(a)
		jb, _ := json.Marshal(b)
		if !bytes.Equal(ja, jb) {
			t.Fatalf("a replica restored half way differs:\n%s\n%s", ja, jb)
		}
	})
}
