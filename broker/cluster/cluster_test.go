package cluster_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/raftline/raftline/broker/cluster"
	"github.com/raftline/raftline/broker/fsm"
	"github.com/raftline/raftline/broker/raftnode"
	"github.com/raftline/raftline/broker/topicrules"
)

func TestErrorCode_SentinelsAndKafkaErrors(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want int16
	}{
		{nil, 0},
		{kerr.MessageTooLarge, kerr.MessageTooLarge.Code},
		{fmt.Errorf("wrapped: %w", kerr.UnknownTopicOrPartition), kerr.UnknownTopicOrPartition.Code},
		{cluster.ErrNotLeader, kerr.NotLeaderForPartition.Code},
		{fmt.Errorf("%w: dial refused", cluster.ErrNotLeader), kerr.NotLeaderForPartition.Code},
		{cluster.ErrShutdown, kerr.NotLeaderForPartition.Code},
		{raftnode.ErrShutdown, kerr.NotLeaderForPartition.Code},
		{fmt.Errorf("%w: lost", cluster.ErrIndeterminate), kerr.RequestTimedOut.Code},
		{context.DeadlineExceeded, kerr.RequestTimedOut.Code},
		{errors.New("disk on fire"), kerr.UnknownServerError.Code},
	} {
		if got := cluster.ErrorCode(tc.err); got != tc.want {
			t.Errorf("ErrorCode(%v) = %d, want %d", tc.err, got, tc.want)
		}
	}
}

func TestView_Partition_OneBoundsCheck(t *testing.T) {
	s := fsm.New()
	if res := s.ApplyCommand(1, fsm.Command{Op: fsm.OpCreateTopic, Topic: &fsm.CreateTopic{Name: "t", Partitions: 2}}); res.Err != nil {
		t.Fatal(res.Err)
	}
	v := cluster.NewView(s)
	for _, tc := range []struct {
		topic string
		p     int32
		ok    bool
	}{{"t", 0, true}, {"t", 1, true}, {"t", 2, false}, {"t", -1, false}, {"nope", 0, false}} {
		part, err := v.Partition(tc.topic, tc.p)
		if tc.ok != (err == nil) || tc.ok != (part != nil) {
			t.Errorf("Partition(%q, %d) = %v, %v", tc.topic, tc.p, part, err)
		}
		if !tc.ok && !errors.Is(err, kerr.UnknownTopicOrPartition) {
			t.Errorf("Partition(%q, %d): %v, want UNKNOWN_TOPIC_OR_PARTITION", tc.topic, tc.p, err)
		}
		if _, derr := v.Digest(tc.topic, tc.p); (derr == nil) != tc.ok {
			t.Errorf("Digest(%q, %d): %v", tc.topic, tc.p, derr)
		}
	}
	topic, ok := v.Topic("t")
	if !ok || topic.Partitions != 2 || topic.MaxMessageBytes != topicrules.DefaultMaxMessageBytes {
		t.Fatalf("Topic(t) = %+v, %v", topic, ok)
	}
}

func TestForwardHandler_RefusesWhatCannotBeForwarded(t *testing.T) {
	h := new(cluster.Cluster).ForwardHandler() // refusals never reach Raft
	del, err := fsm.Encode(fsm.Command{Op: fsm.OpDeleteTopic, Delete: "t"})
	if err != nil {
		t.Fatal(err)
	}
	produce, err := fsm.Encode(fsm.Command{Op: fsm.OpProduce, Produce: []fsm.ProducePartition{{Topic: "t"}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		body []byte
		want int
	}{
		{"garbage", []byte{0xff}, http.StatusBadRequest},
		{"delete topic", del, http.StatusBadRequest},
		{"record data", produce, http.StatusBadRequest},
		{"oversized", make([]byte, 1<<20+1), http.StatusRequestEntityTooLarge},
	} {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(http.MethodPost, cluster.ForwardPath, bytes.NewReader(tc.body)))
		if w.Code != tc.want {
			t.Errorf("%s: status %d, want %d (%s)", tc.name, w.Code, tc.want, w.Body)
		}
	}
}
