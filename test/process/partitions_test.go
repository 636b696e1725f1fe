//go:build unix

package process

import (
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"testing"
)

// GET /v1/partitions answers for the topic (and partition) asked for, and
// says so in JSON when the topic or partition does not exist or the query
// is malformed, instead of listing everything.
func TestPartitionsEndpoint_FiltersByTopicAndPartition(t *testing.T) {
	c := newCluster(t, 1)
	nd := c.nodes[0]
	c.waitReady(nd)
	cl := newClient(t, c.kafkaAddrs())
	createTopic(t, cl, "three", 3)
	createTopic(t, cl, "two", 2)
	c.waitTopic("three", 3, nd)
	c.waitTopic("two", 2, nd)

	get := func(query string) (int, []byte) {
		t.Helper()
		resp, err := httpClient.Get("http://" + nd.http + "/v1/partitions" + query)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt != "application/json" {
			t.Errorf("GET %s: Content-Type %q, want JSON", query, resp.Header.Get("Content-Type"))
		}
		return resp.StatusCode, body
	}
	for _, ok := range []struct {
		query string
		want  []string // topic/partition, in order
	}{
		{"", []string{"three/0", "three/1", "three/2", "two/0", "two/1"}},
		{"?topic=three", []string{"three/0", "three/1", "three/2"}},
		{"?topic=two", []string{"two/0", "two/1"}},
		{"?topic=three&partition=1", []string{"three/1"}},
		{"?partition=0&topic=two", []string{"two/0"}},
	} {
		code, body := get(ok.query)
		if code != http.StatusOK {
			t.Errorf("GET /v1/partitions%s: %d %s", ok.query, code, body)
			continue
		}
		var v partitionsView
		if err := json.Unmarshal(body, &v); err != nil {
			t.Fatalf("GET /v1/partitions%s: %v: %s", ok.query, err, body)
		}
		var got []string
		for _, p := range v.Partitions {
			got = append(got, fmt.Sprintf("%s/%d", p.Topic, p.Partition))
		}
		if strings.Join(got, " ") != strings.Join(ok.want, " ") || v.NodeID != nd.id {
			t.Errorf("GET /v1/partitions%s: node %d lists %v, want %v", ok.query, v.NodeID, got, ok.want)
		}
	}
	for _, bad := range []struct {
		query string
		code  int
		want  string // in the error
	}{
		{"?topic=nope", http.StatusNotFound, `"nope"`},
		{"?topic=three&partition=3", http.StatusNotFound, "3"},
		{"?topic=three&partition=one", http.StatusBadRequest, `"one"`},
		{"?topic=three&partition=-1", http.StatusBadRequest, `"-1"`},
		{"?partition=0", http.StatusBadRequest, "topic"},
		{"?topic=", http.StatusBadRequest, "topic"},
		{"?topic=three&topic=two", http.StatusBadRequest, "topic"},
		{"?topics=three", http.StatusBadRequest, `"topics"`},
	} {
		code, body := get(bad.query)
		var e struct{ Error string }
		if err := json.Unmarshal(body, &e); err != nil || e.Error == "" {
			t.Errorf("GET /v1/partitions%s: %d, body %q is not a JSON error (%v)", bad.query, code, body, err)
			continue
		}
		if code != bad.code || !strings.Contains(e.Error, bad.want) {
			t.Errorf("GET /v1/partitions%s: %d %q, want %d and an error naming %s", bad.query, code, e.Error, bad.code, bad.want)
		}
	}
}
