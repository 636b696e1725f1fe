// Package groups is the replicated state machine of Kafka's classic
// consumer-group protocol: groups, their members, generations, chosen
// protocol, assignments and committed offsets.
//
// It is deterministic and has no clock, no Raft and no I/O of its own: every
// change is a Command applied at a time the command's entry carries, and
// everything a command needs that could differ between replicas (a new
// member's id, the retention of offsets, whether a rebalance waits for the
// initial delay) is decided by the proposer and carried in the command. So
// every replica that applies the same commands holds the same groups. What
// is not replicated (heartbeats, session and rebalance timers, waiting
// requests) is the coordinator's, on the leader (broker/groups/coordinator).
//
// The semantics and error codes follow Apache Kafka's GroupCoordinator and
// GroupMetadata (classic protocol); see ../DESIGN.md, Consumer groups.
package groups

import (
	"encoding/json"
	"sort"
)

// State is a group's state, named as Kafka names it.
type State string

// A group's states. Dead groups are removed at once, so a group read from
// the state is never Dead; the name is what Describe answers for a group
// that does not exist.
const (
	Empty               State = "Empty"
	PreparingRebalance  State = "PreparingRebalance"
	CompletingRebalance State = "CompletingRebalance"
	Stable              State = "Stable"
	Dead                State = "Dead"
)

// ConsumerProtocolType is the protocol type of Kafka consumers.
const ConsumerProtocolType = "consumer"

// MaxOffsetMetadata bounds a committed offset's metadata string, Kafka's
// offset.metadata.max.bytes default.
const MaxOffsetMetadata = 4096

// Group is one consumer group.
type Group struct {
	Name         string `json:"name"`
	State        State  `json:"state"`
	ProtocolType string `json:"protocol_type,omitempty"`
	// Protocol is the protocol (assignor) chosen for the current
	// generation, "" when none.
	Protocol   string `json:"protocol,omitempty"`
	Generation int32  `json:"generation"`
	Leader     string `json:"leader,omitempty"`
	// Members in the order they joined: the first is leader when the
	// leader must be replaced, as in Kafka.
	Members []*Member `json:"members,omitempty"`
	// Offsets are the committed offsets by topic and partition.
	Offsets map[string]map[int32]Offset `json:"offsets,omitempty"`
	// Commits counts the offset commits applied since the group was
	// created.
	Commits int64 `json:"commits"`
	// StateSinceMs is the time of the last state change (Kafka's
	// currentStateTimestamp): the retention of an empty group's offsets
	// counts from it.
	StateSinceMs int64 `json:"state_since_ms"`
	// DelayedJoin marks a rebalance begun from Empty with the initial
	// rebalance delay: it completes only when the coordinator says so
	// (CompleteJoin), not when every member has joined, as Kafka's
	// InitialDelayedJoin.
	DelayedJoin bool `json:"delayed_join,omitempty"`
}

// Member is one member of a group.
type Member struct {
	ID string `json:"id"`
	// InstanceID is group.instance.id, set for static members.
	InstanceID         string     `json:"instance_id,omitempty"`
	ClientID           string     `json:"client_id,omitempty"`
	ClientHost         string     `json:"client_host,omitempty"`
	SessionTimeoutMs   int32      `json:"session_timeout_ms"`
	RebalanceTimeoutMs int32      `json:"rebalance_timeout_ms"`
	Protocols          []Protocol `json:"protocols"`
	Assignment         []byte     `json:"assignment,omitempty"`
	// Joined is set while the member has joined the rebalance in
	// progress (Kafka's isAwaitingJoin).
	Joined bool `json:"joined,omitempty"`
	// JoinedGeneration is the generation of the member's last completed
	// join: a JoinGroup waiting since an older one is answered once this
	// moves.
	JoinedGeneration int32 `json:"joined_generation"`
}

// Protocol is one protocol (assignor) a member supports, with its metadata.
type Protocol struct {
	Name     string `json:"name"`
	Metadata []byte `json:"metadata,omitempty"`
}

// Offset is a committed offset.
type Offset struct {
	Offset       int64  `json:"offset"`
	LeaderEpoch  int32  `json:"leader_epoch"`
	Metadata     string `json:"metadata,omitempty"`
	CommitTimeMs int64  `json:"commit_time_ms"`
}

// Groups is every group. It is not safe for concurrent use: the state
// machine applies commands under its lock and reads under it.
type Groups struct {
	groups map[string]*Group
}

// New returns no groups.
func New() *Groups { return &Groups{groups: map[string]*Group{}} }

// Get returns the live group, or nil. The caller must not keep it past the
// lock it reads under, nor change it.
func (gs *Groups) Get(name string) *Group { return gs.groups[name] }

// Names returns every group's name, sorted.
func (gs *Groups) Names() []string {
	names := make([]string, 0, len(gs.groups))
	for n := range gs.groups {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Len is the number of groups.
func (gs *Groups) Len() int { return len(gs.groups) }

// MarshalJSON writes every group, sorted by name, for a snapshot.
func (gs *Groups) MarshalJSON() ([]byte, error) {
	list := make([]*Group, 0, len(gs.groups))
	for _, n := range gs.Names() {
		list = append(list, gs.groups[n])
	}
	return json.Marshal(list)
}

// UnmarshalJSON replaces the groups with a snapshot's.
func (gs *Groups) UnmarshalJSON(b []byte) error {
	var list []*Group
	if err := json.Unmarshal(b, &list); err != nil {
		return err
	}
	gs.groups = make(map[string]*Group, len(list))
	for _, g := range list {
		if g == nil {
			continue
		}
		gs.groups[g.Name] = g
	}
	return nil
}

// Member returns the member with id, or nil.
func (g *Group) Member(id string) *Member {
	if id == "" {
		return nil
	}
	for _, m := range g.Members {
		if m.ID == id {
			return m
		}
	}
	return nil
}

// StaticMember returns the member with instance id, or nil.
func (g *Group) StaticMember(instanceID string) *Member {
	if instanceID == "" {
		return nil
	}
	for _, m := range g.Members {
		if m.InstanceID == instanceID {
			return m
		}
	}
	return nil
}

// fenced reports whether a request from memberID with instanceID comes from
// a static member that another member id has replaced (Kafka's
// isStaticMemberFenced).
func (g *Group) fenced(memberID, instanceID string) bool {
	if instanceID == "" {
		return false
	}
	m := g.StaticMember(instanceID)
	return m != nil && m.ID != memberID
}

// MaxRebalanceTimeoutMs is the longest rebalance timeout of the members,
// which bounds a rebalance (Kafka's group.rebalanceTimeoutMs).
func (g *Group) MaxRebalanceTimeoutMs() int32 {
	var t int32
	for _, m := range g.Members {
		t = max(t, m.RebalanceTimeoutMs)
	}
	return t
}

// OffsetCount is the number of committed offsets.
func (g *Group) OffsetCount() int {
	n := 0
	for _, ps := range g.Offsets {
		n += len(ps)
	}
	return n
}

// metadataFor is the member's metadata for protocol name.
func (m *Member) metadataFor(name string) []byte {
	for _, p := range m.Protocols {
		if p.Name == name {
			return p.Metadata
		}
	}
	return nil
}

// matches reports whether protocols are the member's, names and metadata in
// order (Kafka's MemberMetadata.matches).
func (m *Member) matches(protocols []Protocol) bool {
	if len(protocols) != len(m.Protocols) {
		return false
	}
	for i, p := range protocols {
		if p.Name != m.Protocols[i].Name || string(p.Metadata) != string(m.Protocols[i].Metadata) {
			return false
		}
	}
	return true
}

// supports reports whether a member joining with protocolType and protocols
// may join: an empty group takes any non-empty protocol set; otherwise the
// type must be the group's and one of the protocols supported by every
// member (Kafka's supportsProtocols).
func (g *Group) supports(protocolType string, protocols []Protocol) bool {
	if len(g.Members) == 0 {
		return protocolType != "" && len(protocols) > 0
	}
	if protocolType != g.ProtocolType {
		return false
	}
	for _, p := range protocols {
		if g.supportedBy(p.Name) == len(g.Members) {
			return true
		}
	}
	return false
}

// supportedBy counts the members supporting protocol name.
func (g *Group) supportedBy(name string) int {
	n := 0
	for _, m := range g.Members {
		if m.hasProtocol(name) {
			n++
		}
	}
	return n
}

func (m *Member) hasProtocol(name string) bool {
	for _, p := range m.Protocols {
		if p.Name == name {
			return true
		}
	}
	return false
}

// selectProtocol chooses the protocol of the next generation as Kafka does:
// among the protocols every member supports, each member votes for the first
// of its own list, and the most votes win. Kafka breaks a tie by map order;
// here the name decides, so every replica chooses the same.
func (g *Group) selectProtocol() string {
	votes := map[string]int{}
	for _, m := range g.Members {
		for _, p := range m.Protocols {
			if g.supportedBy(p.Name) == len(g.Members) {
				votes[p.Name]++
				break
			}
		}
	}
	best, n := "", -1
	for name, v := range votes {
		if v > n || v == n && name < best {
			best, n = name, v
		}
	}
	return best
}

// SubscribedTopics are the topics the members of a consumer group subscribe
// to, read from their metadata for the chosen protocol; ok is false when
// they cannot be known (another protocol type, no protocol chosen, metadata
// that does not parse), and Kafka then takes every topic as subscribed.
func (g *Group) SubscribedTopics() (topics map[string]bool, ok bool) {
	if g.ProtocolType != ConsumerProtocolType || g.Protocol == "" {
		return nil, false
	}
	topics = map[string]bool{}
	for _, m := range g.Members {
		ts, ok := consumerTopics(m.metadataFor(g.Protocol))
		if !ok {
			return nil, false
		}
		for _, t := range ts {
			topics[t] = true
		}
	}
	return topics, true
}
