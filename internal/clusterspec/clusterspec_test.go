package clusterspec

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/raftline/raftline/broker/httpapi"
)

func TestLocal_ConsecutivePortsAndOwnDataDirs(t *testing.T) {
	s := Local("127.0.0.1", "/data", 3, 9092, 9644, 9192)
	want := []Node{
		{ID: 1, Host: "127.0.0.1", KafkaPort: 9092, HTTPPort: 9644, RaftPort: 9192, DataDir: "/data/node-1"},
		{ID: 2, Host: "127.0.0.1", KafkaPort: 9093, HTTPPort: 9645, RaftPort: 9193, DataDir: "/data/node-2"},
		{ID: 3, Host: "127.0.0.1", KafkaPort: 9094, HTTPPort: 9646, RaftPort: 9194, DataDir: "/data/node-3"},
	}
	if !slices.Equal(s.Nodes, want) {
		t.Fatalf("nodes\n %+v\nwant\n %+v", s.Nodes, want)
	}
	if got := strings.Join(s.KafkaAddrs(), ","); got != "127.0.0.1:9092,127.0.0.1:9093,127.0.0.1:9094" {
		t.Errorf("KafkaAddrs = %s", got)
	}
	if got := strings.Join(s.HTTPAddrs(), ","); got != "127.0.0.1:9644,127.0.0.1:9645,127.0.0.1:9646" {
		t.Errorf("HTTPAddrs = %s", got)
	}
}

func TestOnHosts_SamePortsOnEachHost(t *testing.T) {
	s := OnHosts([]string{"10.0.0.1", "10.0.0.2"}, "/d", 9092, 9644, 9192)
	if len(s.Nodes) != 2 || s.Nodes[1] != (Node{ID: 2, Host: "10.0.0.2", KafkaPort: 9092, HTTPPort: 9644, RaftPort: 9192, DataDir: "/d/node-2"}) {
		t.Fatalf("nodes %+v", s.Nodes)
	}
	if got := s.Bootstrap(); got != "1=10.0.0.1:9192,2=10.0.0.2:9192" {
		t.Fatalf("Bootstrap = %s", got)
	}
}

func TestServeArgs_PlaceTheNodeThenArgs(t *testing.T) {
	s := Local("::1", "/d", 2, 1000, 2000, 3000)
	s.Args = []string{"--log-level", "debug"}
	got := s.ServeArgs(s.Nodes[1])
	want := []string{"serve",
		"--node-id", "2",
		"--data-dir", "/d/node-2",
		"--kafka-addr", "[::1]:1001",
		"--http-addr", "[::1]:2001",
		"--raft-addr", "[::1]:3001",
		"--bootstrap", "1=[::1]:3000,2=[::1]:3001",
		"--log-level", "debug",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("ServeArgs\n %q\nwant\n %q", got, want)
	}
	// Appending to one node's arguments must not reach another's.
	_ = append(got, "--extra")
	if again := s.ServeArgs(s.Nodes[0]); slices.Contains(again, "--extra") {
		t.Fatalf("arguments shared between calls: %q", again)
	}
}

// fakeNode serves a /v1/cluster view the test can change.
type fakeNode struct {
	srv  *httptest.Server
	view atomic.Pointer[httpapi.ClusterView]
}

func newFakeNode(t *testing.T, v httpapi.ClusterView) *fakeNode {
	f := &fakeNode{}
	f.view.Store(&v)
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/cluster" {
			http.NotFound(w, r)
			return
		}
		json.NewEncoder(w).Encode(f.view.Load())
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeNode) addr() string { return strings.TrimPrefix(f.srv.URL, "http://") }

func (f *fakeNode) set(v httpapi.ClusterView) { f.view.Store(&v) }

func view(id, leader int32, term uint64) httpapi.ClusterView {
	state := "follower"
	if id == leader {
		state = "leader"
	}
	return httpapi.ClusterView{NodeID: id, State: state, LeaderID: leader, Term: term}
}

func TestCheckLeader(t *testing.T) {
	a, b, c := newFakeNode(t, view(1, 2, 5)), newFakeNode(t, view(2, 2, 5)), newFakeNode(t, view(3, 2, 5))
	addrs := []string{a.addr(), b.addr(), c.addr()}
	got, err := CheckLeader(addrs)
	if err != nil || got.LeaderID != 2 || got.Term != 5 || got.LeaderIndex() != 1 || len(got.Views) != 3 {
		t.Fatalf("agreed cluster: %+v, %v", got, err)
	}
	// The leader need not be asked.
	if got, err := CheckLeader([]string{a.addr(), c.addr()}); err != nil || got.LeaderID != 2 || got.LeaderIndex() != -1 {
		t.Fatalf("followers only: %+v, %v", got, err)
	}

	for name, set := range map[string]func(){
		"no leader":        func() { c.set(view(3, -1, 5)) },
		"another leader":   func() { c.set(view(3, 1, 5)) },
		"another term":     func() { c.set(view(3, 2, 6)) },
		"leader not state": func() { b.set(httpapi.ClusterView{NodeID: 2, State: "candidate", LeaderID: 2, Term: 5}) },
	} {
		set()
		if _, err := CheckLeader(addrs); err == nil || !strings.Contains(err.Error(), "node 1: follower, leader 2, term 5") {
			t.Errorf("%s: err = %v, want one describing the views", name, err)
		}
		a.set(view(1, 2, 5))
		b.set(view(2, 2, 5))
		c.set(view(3, 2, 5))
	}
	if _, err := CheckLeader(nil); err == nil {
		t.Error("no addresses: no error")
	}
}

func TestWaitLeader_WaitsForAgreementAndAccept_TimesOutWithTheLastError(t *testing.T) {
	a, b := newFakeNode(t, view(1, -1, 1)), newFakeNode(t, view(2, -1, 1))
	addrs := func() []string { return []string{a.addr(), b.addr()} }
	go func() {
		time.Sleep(100 * time.Millisecond)
		a.set(view(1, 1, 2))
		b.set(view(2, 1, 2))
	}()
	got, err := WaitLeader(10*time.Second, 10*time.Millisecond, addrs, nil)
	if err != nil || got.LeaderID != 1 || got.Term != 2 {
		t.Fatalf("WaitLeader = %+v, %v", got, err)
	}

	_, err = WaitLeader(200*time.Millisecond, 10*time.Millisecond, addrs, func(a Agreement) error {
		if a.LeaderID == 1 {
			return errTest
		}
		return nil
	})
	if err == nil || !strings.Contains(err.Error(), errTest.Error()) || !strings.Contains(err.Error(), "200ms") {
		t.Fatalf("WaitLeader past its timeout: %v, want the accept function's last error", err)
	}
}

var errTest = errors.New("node 1 still leads")
