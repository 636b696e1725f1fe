package raftnode_test

import (
	"testing"

	"github.com/hashicorp/raft"

	"github.com/raftline/raftline/broker/raftnode"
)

// counting counts the events it sees; with done set, RPCSent asks for the
// outcome.
type counting struct {
	raftnode.NopObserver
	done            bool
	applied, result int
}

func (c *counting) EntryApplied(raftnode.EntryApplied) { c.applied++ }

func (c *counting) RPCSent(raftnode.RPCSent) func(raftnode.RPCDone) {
	if !c.done {
		return nil
	}
	return func(raftnode.RPCDone) { c.result++ }
}

func TestMulti_FansOutAndLeavesOutNil(t *testing.T) {
	if raftnode.Multi() != nil || raftnode.Multi(nil, nil) != nil {
		t.Error("Multi of no observer is not nil")
	}
	one := &counting{}
	if raftnode.Multi(nil, one) != raftnode.Observer(one) {
		t.Error("Multi of one observer is not that observer")
	}

	a, b, c := &counting{done: true}, &counting{}, &counting{done: true}
	m := raftnode.Multi(raftnode.Multi(a, b), nil, c)
	m.EntryApplied(raftnode.EntryApplied{})
	if a.applied != 1 || b.applied != 1 || c.applied != 1 {
		t.Errorf("applied seen %d, %d, %d times", a.applied, b.applied, c.applied)
	}
	done := m.RPCSent(raftnode.RPCSent{Target: "2", Request: &raft.AppendEntriesRequest{}})
	if done == nil {
		t.Fatal("no outcome function though two observers want the outcome")
	}
	done(raftnode.RPCDone{})
	if a.result != 1 || b.result != 0 || c.result != 1 {
		t.Errorf("outcomes seen %d, %d, %d times", a.result, b.result, c.result)
	}
	if raftnode.Multi(b, &counting{}).RPCSent(raftnode.RPCSent{}) != nil {
		t.Error("an outcome function though no observer wants the outcome")
	}
}
