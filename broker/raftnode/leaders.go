package raftnode

import (
	"github.com/hashicorp/raft"
)

// leaderWatch reports the leaders Raft observes to an Observer, once per
// (leader, term): a node that briefly loses its leader and finds the same
// one in the same term (a failed pre-vote) saw no new leader.
type leaderWatch struct {
	r    *raft.Raft
	ro   *raft.Observer
	stop chan struct{}
	done chan struct{}
}

func watchLeaders(r *raft.Raft, obs Observer) *leaderWatch {
	w := &leaderWatch{r: r, stop: make(chan struct{}), done: make(chan struct{})}
	ch := make(chan raft.Observation, 64)
	w.ro = raft.NewObserver(ch, false, func(o *raft.Observation) bool {
		_, ok := o.Data.(raft.LeaderObservation)
		return ok
	})
	r.RegisterObserver(w.ro)
	go w.run(ch, obs)
	return w
}

func (w *leaderWatch) run(ch <-chan raft.Observation, obs Observer) {
	defer close(w.done)
	var leader raft.ServerID
	var term uint64
	report := func(id raft.ServerID) {
		if id == "" {
			return
		}
		t := w.r.CurrentTerm()
		if id != leader || t != term {
			leader, term = id, t
			obs.LeaderObserved(LeaderObserved{Leader: id, Term: t})
		}
	}
	// A leader known already was elected before the observer was in place.
	_, id := w.r.LeaderWithID()
	report(id)
	for {
		select {
		case o := <-ch:
			if lo, ok := o.Data.(raft.LeaderObservation); ok {
				report(lo.LeaderID)
			}
		case <-w.stop:
			return
		}
	}
}

// close stops reporting and waits until the last report returned.
func (w *leaderWatch) close() {
	if w == nil {
		return
	}
	select {
	case <-w.stop:
	default:
		close(w.stop)
		w.r.DeregisterObserver(w.ro)
	}
	<-w.done
}
