package groups

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Kind names what a Command does.
type Kind string

// The commands. They are written into the Raft log as JSON: only ever add.
const (
	KindJoin          Kind = "join"
	KindSync          Kind = "sync"
	KindLeave         Kind = "leave"
	KindExpireMembers Kind = "expire_members"
	KindCompleteJoin  Kind = "complete_join"
	KindCommit        Kind = "commit"
	KindDeleteGroups  Kind = "delete_groups"
	KindDeleteOffsets Kind = "delete_offsets"
	KindExpireOffsets Kind = "expire_offsets"
)

// Command is one change to the groups. Exactly the fields its Kind uses are
// set; JSON leaves the rest out.
type Command struct {
	Kind  Kind   `json:"kind"`
	Group string `json:"group,omitempty"`

	Join   *Join   `json:"join,omitempty"`
	Sync   *Sync   `json:"sync,omitempty"`
	Commit *Commit `json:"commit,omitempty"`
	// Leave lists the members leaving (KindLeave).
	Leave []LeavingMember `json:"leave,omitempty"`
	// Members are the member ids whose sessions expired
	// (KindExpireMembers).
	Members []string `json:"members,omitempty"`
	// Generation is the generation whose rebalance the coordinator's
	// timer ends (KindCompleteJoin): a later one is left alone.
	Generation int32 `json:"generation,omitempty"`
	// Groups are the groups to delete (KindDeleteGroups).
	Groups []string `json:"groups,omitempty"`
	// Partitions are the offsets to delete (KindDeleteOffsets).
	Partitions []TopicPartition `json:"partitions,omitempty"`
	// RetentionMs is offsets.retention.minutes in milliseconds
	// (KindExpireOffsets), carried so every replica expires the same.
	RetentionMs int64 `json:"retention_ms,omitempty"`
}

// Join is a JoinGroup.
type Join struct {
	// MemberID is the member's id: the one it sent, or one the proposer
	// made for it when NewMember is set.
	MemberID string `json:"member_id"`
	// NewMember is set for a member joining without an id (or with the id
	// the coordinator gave it in MEMBER_ID_REQUIRED): it is added, or, for
	// a known static member, replaces the old member id.
	NewMember          bool       `json:"new_member,omitempty"`
	InstanceID         string     `json:"instance_id,omitempty"`
	ClientID           string     `json:"client_id,omitempty"`
	ClientHost         string     `json:"client_host,omitempty"`
	SessionTimeoutMs   int32      `json:"session_timeout_ms"`
	RebalanceTimeoutMs int32      `json:"rebalance_timeout_ms"`
	ProtocolType       string     `json:"protocol_type"`
	Protocols          []Protocol `json:"protocols"`
	// InitialDelay has a rebalance this join starts in an empty group
	// wait for the coordinator (group.initial.rebalance.delay.ms > 0).
	InitialDelay bool `json:"initial_delay,omitempty"`
}

// Sync is a SyncGroup. Only the leader's, with the assignments, changes the
// group; the others are answered from the state (CheckSync).
type Sync struct {
	MemberID     string       `json:"member_id"`
	InstanceID   string       `json:"instance_id,omitempty"`
	Generation   int32        `json:"generation"`
	ProtocolType string       `json:"protocol_type,omitempty"`
	Protocol     string       `json:"protocol,omitempty"`
	Assignments  []Assignment `json:"assignments,omitempty"`
}

// Assignment is one member's assignment, from the leader.
type Assignment struct {
	MemberID   string `json:"member_id"`
	Assignment []byte `json:"assignment,omitempty"`
}

// LeavingMember is one member in a LeaveGroup: by member id, or by instance
// id for static members (v3+).
type LeavingMember struct {
	MemberID   string `json:"member_id,omitempty"`
	InstanceID string `json:"instance_id,omitempty"`
}

// Commit is an OffsetCommit.
type Commit struct {
	MemberID   string `json:"member_id,omitempty"`
	InstanceID string `json:"instance_id,omitempty"`
	// Generation is -1 for a commit outside group management (kcat,
	// admin tools), allowed only for an empty or unknown group.
	Generation int32             `json:"generation"`
	Offsets    []PartitionOffset `json:"offsets"`
}

// PartitionOffset is one partition's offset to commit.
type PartitionOffset struct {
	Topic       string `json:"topic"`
	Partition   int32  `json:"partition"`
	Offset      int64  `json:"offset"`
	LeaderEpoch int32  `json:"leader_epoch"`
	Metadata    string `json:"metadata,omitempty"`
}

// TopicPartition names a partition.
type TopicPartition struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
}

// Result is what applying a command answers its proposer.
type Result struct {
	// Err is the command's error as a whole (a kerr error), or nil.
	Err error
	// Join is a join's outcome when Err is nil.
	Join *JoinOutcome
	// Assignment is a sync's answer (the leader's own assignment).
	Assignment []byte
	// Errs are per item errors, nil for success: per leaving member
	// (KindLeave), per partition (KindCommit, KindDeleteOffsets), per
	// group (KindDeleteGroups), in the command's order.
	Errs []error
}

// JoinOutcome says how to answer a JoinGroup that was applied.
type JoinOutcome struct {
	MemberID string
	// Response, when set, answers at once; otherwise the request waits
	// until the member's join completes (JoinedGeneration passes
	// FromGeneration).
	Response       *JoinResponse
	FromGeneration int32
}

// JoinResponse is the answer to a JoinGroup.
type JoinResponse struct {
	MemberID     string
	Generation   int32
	ProtocolType string
	Protocol     string
	Leader       string
	// Members are given to the leader only: every member with its
	// metadata for the chosen protocol.
	Members []JoinMember
}

// JoinMember is one member as the leader is told of it.
type JoinMember struct {
	MemberID   string
	InstanceID string
	Metadata   []byte
}

// TopicExists tells a commit whether a partition exists; the state machine
// answers from its topics as of the same entry.
type TopicExists func(topic string, partition int32) bool

// Apply applies c at nowMs, the time its entry carries.
func (gs *Groups) Apply(c Command, nowMs int64, exists TopicExists) Result {
	switch c.Kind {
	case KindJoin:
		if c.Join == nil {
			return Result{Err: kerr.InvalidRequest}
		}
		return gs.join(c.Group, c.Join, nowMs)
	case KindSync:
		if c.Sync == nil {
			return Result{Err: kerr.InvalidRequest}
		}
		return gs.sync(c.Group, c.Sync, nowMs)
	case KindLeave:
		return gs.leave(c.Group, c.Leave, nowMs)
	case KindExpireMembers:
		gs.expireMembers(c.Group, c.Members, nowMs)
	case KindCompleteJoin:
		if g := gs.groups[c.Group]; g != nil && g.State == PreparingRebalance && g.Generation == c.Generation {
			gs.completeJoin(g, nowMs)
		}
	case KindCommit:
		if c.Commit == nil {
			return Result{Err: kerr.InvalidRequest}
		}
		return gs.commit(c.Group, c.Commit, nowMs, exists)
	case KindDeleteGroups:
		return gs.deleteGroups(c.Groups)
	case KindDeleteOffsets:
		return gs.deleteOffsets(c.Group, c.Partitions)
	case KindExpireOffsets:
		gs.expireOffsets(nowMs, c.RetentionMs)
	default:
		return Result{Err: kerr.InvalidRequest}
	}
	return Result{}
}

// consumerTopics reads the topics of consumer protocol metadata.
func consumerTopics(metadata []byte) ([]string, bool) {
	var m kmsg.ConsumerMemberMetadata
	if err := m.ReadFrom(metadata); err != nil {
		return nil, false
	}
	return m.Topics, true
}
