package server_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/raftline/raftline/broker/clustertest"
	"github.com/raftline/raftline/broker/server"
)

// The stop announcement is an HTTP endpoint anyone can reach: a notice it
// cannot use (not JSON, unknown fields, this node, a node outside the
// cluster) is refused with a 400 that says why and changes nothing; a
// notice from a member is answered with whether this node is stopping too.
func TestStoppingEndpoint_RefusesBadNotices_AnswersWhetherStopping(t *testing.T) {
	c := clustertest.Start(t, clustertest.Options{})
	c.WaitStable()
	s := c.Nodes[0].Server()
	peer := c.Nodes[1].ID
	post := func(body string) (int, string) {
		t.Helper()
		resp, err := http.Post("http://"+s.HTTPAddr()+server.StoppingPath, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, strings.TrimSpace(string(b))
	}
	for _, bad := range []struct{ body, says string }{
		{`not json`, "body must be"},
		{`{"node_id": 2, "extra": true}`, "unknown field"},
		{`{"node_id": "2"}`, "body must be"},
		{fmt.Sprintf(`{"node_id": %d}`, c.Nodes[0].ID), "is this node"},
		{`{"node_id": 99}`, "not a member"},
		{strings.Repeat(" ", 8<<10) + `{"node_id": 2}`, "body must be"},
	} {
		code, msg := post(bad.body)
		if code != http.StatusBadRequest || !strings.Contains(msg, bad.says) {
			t.Errorf("notice %.40q: %d %q, want 400 saying %q", bad.body, code, msg, bad.says)
		}
	}

	var reply server.StoppingReply
	answer := func() {
		t.Helper()
		code, msg := post(fmt.Sprintf(`{"node_id": %d}`, peer))
		if code != http.StatusOK {
			t.Fatalf("notice from node %d: %d %s", peer, code, msg)
		}
		if err := json.Unmarshal([]byte(msg), &reply); err != nil {
			t.Fatalf("reply %q: %v", msg, err)
		}
	}
	answer()
	if reply != (server.StoppingReply{NodeID: c.Nodes[0].ID, Stopping: false}) {
		t.Fatalf("running node answered %+v", reply)
	}
	s.Node.BeginStop()
	answer()
	if !reply.Stopping {
		t.Fatalf("stopping node answered %+v", reply)
	}
}
