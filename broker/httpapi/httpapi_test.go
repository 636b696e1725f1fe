package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// fakeBackend records the filter it was asked for and answers the errors a
// node would for topic "t" with 2 partitions.
type fakeBackend struct {
	asked   []PartitionFilter
	failure error
}

func (*fakeBackend) Ready() bool                       { return true }
func (b *fakeBackend) Failure() error                  { return b.failure }
func (*fakeBackend) ClusterView() (ClusterView, error) { return ClusterView{}, nil }

func (b *fakeBackend) Partitions(f PartitionFilter) (PartitionsView, error) {
	b.asked = append(b.asked, f)
	if f.Topic != "" && f.Topic != "t" {
		return PartitionsView{}, fmt.Errorf("%w %q", ErrUnknownTopic, f.Topic)
	}
	if f.Partition >= 2 {
		return PartitionsView{}, fmt.Errorf("%w %d", ErrUnknownPartition, f.Partition)
	}
	return PartitionsView{NodeID: 1}, nil
}

func TestPartitions_QueryBecomesTheFilter_ErrorsInJSON(t *testing.T) {
	for _, c := range []struct {
		query string
		code  int
		want  PartitionFilter // asked of the backend, when it is asked
		err   string          // in the JSON error
	}{
		{"", 200, AllPartitions, ""},
		{"?topic=t", 200, PartitionFilter{Topic: "t", Partition: -1}, ""},
		{"?topic=t&partition=1", 200, PartitionFilter{Topic: "t", Partition: 1}, ""},
		{"?topic=a%20b", 404, PartitionFilter{Topic: "a b", Partition: -1}, `unknown topic "a b"`},
		{"?topic=t&partition=2", 404, PartitionFilter{Topic: "t", Partition: 2}, "unknown partition 2"},
		{"?topic=t&partition=x", 400, PartitionFilter{}, `partition "x" is not a partition number`},
		{"?topic=t&partition=-1", 400, PartitionFilter{}, `partition "-1"`},
		{"?topic=t&partition=99999999999", 400, PartitionFilter{}, `partition "99999999999"`},
		{"?partition=0", 400, PartitionFilter{}, "partition needs a topic"},
		{"?topic=", 400, PartitionFilter{}, "empty topic"},
		{"?topic=t&topic=u", 400, PartitionFilter{}, "topic given 2 times"},
		{"?topics=t", 400, PartitionFilter{}, `unknown parameter "topics"`},
		{"?topic=%zz", 400, PartitionFilter{}, "malformed query"},
	} {
		b := &fakeBackend{}
		rec := httptest.NewRecorder()
		Handler(b, http.NotFoundHandler()).ServeHTTP(rec, httptest.NewRequest("GET", "/v1/partitions"+c.query, nil))
		if rec.Code != c.code || rec.Header().Get("Content-Type") != "application/json" {
			t.Errorf("%s: %d %s, want %d in JSON: %s", c.query, rec.Code, rec.Header().Get("Content-Type"), c.code, rec.Body)
			continue
		}
		if c.code == 400 {
			if len(b.asked) != 0 {
				t.Errorf("%s: the backend was asked %+v", c.query, b.asked)
			}
		} else if len(b.asked) != 1 || b.asked[0] != c.want {
			t.Errorf("%s: the backend was asked %+v, want %+v", c.query, b.asked, c.want)
		}
		if c.err != "" {
			var e ErrorBody
			if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || !strings.Contains(e.Error, c.err) {
				t.Errorf("%s: body %s (%v), want an error containing %q", c.query, rec.Body, err, c.err)
			}
		}
	}
}

// A node stopped by a storage fault answers /readyz 503 with the fault, so
// an operator (or a load balancer's log) reads why without the node's log.
func TestReadyz_Failure_NotReadyWithTheReason(t *testing.T) {
	b := &fakeBackend{}
	get := func() *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		Handler(b, http.NotFoundHandler()).ServeHTTP(rec, httptest.NewRequest("GET", "/readyz", nil))
		return rec
	}
	if rec := get(); rec.Code != http.StatusOK {
		t.Fatalf("healthy: %d %s", rec.Code, rec.Body)
	}
	b.failure = errors.New("storage fault: raft_log_write /data/raft/wal: no space left on device")
	rec := get()
	if rec.Code != http.StatusServiceUnavailable || !strings.Contains(rec.Body.String(), "not ready: the node stopped: storage fault: raft_log_write /data/raft/wal: no space left on device") {
		t.Fatalf("failed: %d %q", rec.Code, rec.Body)
	}
}
