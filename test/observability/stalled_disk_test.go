//go:build linux

package observability

import (
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/raftline/raftline/alerts"
	"github.com/raftline/raftline/broker/clustertest"
	"github.com/raftline/raftline/internal/clusterspec"
	"github.com/raftline/raftline/test/internal/diskfault"
)

// TestAlerts_LiveClusterUnderLoad_FrozenLeaderDiskPages gives each node of a
// real cluster an ext4 filesystem of its own on a loop device, runs load,
// and freezes the leader's (fsfreeze -f): its log writes hang without an
// error, it keeps its leadership and nothing commits. RaftCommitsStalled
// must page for that node through the real Alertmanager.
func TestAlerts_LiveClusterUnderLoad_FrozenLeaderDiskPages(t *testing.T) {
	if err := diskfault.Check(); err != nil {
		t.Fatalf("this test freezes a real filesystem: %v", err)
	}
	if _, err := exec.LookPath("fsfreeze"); err != nil {
		t.Fatal(err)
	}
	s := &scenario{start: time.Now(), storm: loadStormTiming(t), external: composeExternalLabels(t)}
	dir := t.TempDir()
	ps := newProcs(t)
	ports := clustertest.FreePorts(t, portCount)

	s.hook = startWebhook(t, hostPort(ports[portWebhook]))
	s.amBase = startAlertmanager(t, ps, dir, hostPort(ports[portAlertmanager]), alertmanagerConfig(t, s.hook.URL))
	s.c = startClusterWrapped(t, ps, dir, ports[:9], func(sn clusterspec.Node, bin string, args []string) (string, []string) {
		d, err := diskfault.Ext4(sn.DataDir, filepath.Join(dir, fmt.Sprintf("node-%d.ext4", sn.ID)), 512<<20)
		if err != nil {
			t.Fatal(err)
		}
		return d.Wrap(bin, args...)
		// The 512 MiB filesystem is under the default 1 GiB free-space
		// floor, below which a leader refuses every produce.
	}, append(slices.Clone(nodeFlags), "--storage-min-free-bytes", "16777216")...)
	var nodeAddrs []string
	for _, nd := range s.c.nodes {
		nodeAddrs = append(nodeAddrs, nd.http)
	}
	s.startLoadAndPrometheus(t, ps, dir, ports, nodeAddrs)

	leader := s.c.waitLeader(t, 30*time.Second, nil)
	freeze := func(flag string) error {
		out, err := exec.Command("nsenter", "--target", fmt.Sprint(leader.Pid()), "--mount",
			"fsfreeze", flag, leader.dataDir).CombinedOutput()
		if err != nil {
			return fmt.Errorf("fsfreeze %s %s in node %d's mounts: %v: %s", flag, leader.dataDir, leader.id, err, out)
		}
		return nil
	}
	if err := freeze("-f"); err != nil {
		t.Fatal(err)
	}
	frozen := time.Now()
	// Registered after newProcs, so it runs first: a process blocked on a
	// frozen filesystem cannot exit until it thaws.
	thawed := false
	t.Cleanup(func() {
		if !thawed {
			if err := freeze("-u"); err != nil {
				t.Error(err)
			}
		}
	})
	t.Logf("froze node %d's data directory (the leader)", leader.id)

	const alert = "RaftCommitsStalled"
	inflight := fmt.Sprintf(`raft_log_store_append_oldest_inflight_seconds{job="raftline", instance=%q}`, leader.http)
	var page received
	// A write hangs at once under load; the rule's threshold and `for`,
	// an evaluation and the pager's group_wait follow. Allow a minute more.
	timeout := alerts.DefaultConfig().AppendStall + 30*time.Second + s.storm.GroupWait + time.Minute
	if err := poll(timeout, func() error {
		if r, ok := s.hook.find("/page", "firing", alert); ok {
			page = r
			return nil
		}
		v, err := s.prom.query(inflight)
		return fmt.Errorf("%s = %v (%v); webhook: %s", inflight, v, err, s.hook.describe())
	}); err != nil {
		// Where the frozen node waits, for whoever reads the failure:
		// /metrics answering is what the page needs.
		t.Logf("the frozen node's /metrics: %v", getOK("http://"+leader.http+"/metrics"))
		t.Logf("the frozen node's goroutines that serve /metrics or wait on its disk:\n%s", goroutinesOf(leader.http, "metric", "Collect", "Gather", "syscall", "Mutex", "Lock"))
		t.Fatalf("timed out after %v waiting for the %s page at the pager webhook: %v", timeout, alert, err)
	}
	t.Logf("paged %v after the freeze", page.At.Sub(frozen).Round(time.Second))
	// The frozen leader's page.
	checkPage(t, page, alert, map[string]string{"instance": leader.http, "node_id": fmt.Sprint(leader.id)})

	// Thawed, the write returns and the cluster commits again.
	if err := freeze("-u"); err != nil {
		t.Fatal(err)
	}
	thawed = true
	waitFor(t, 60*time.Second, "the stalled write to return once thawed", func() error {
		expr := fmt.Sprintf("max_over_time(%s[3s]) < 1", inflight)
		ss, err := s.prom.query(expr)
		if err != nil {
			return err
		}
		if len(ss) != 1 {
			v, _ := s.prom.query(inflight)
			return fmt.Errorf("%s = %v", inflight, v)
		}
		return nil
	})
}

// goroutinesOf fetches a node's goroutine dump (/debug/pprof/goroutine,
// debug=2) and keeps the goroutines whose stacks mention any of words.
func goroutinesOf(httpAddr string, words ...string) string {
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get("http://" + httpAddr + "/debug/pprof/goroutine?debug=2")
	if err != nil {
		return err.Error()
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err.Error()
	}
	var out []string
	for _, g := range strings.Split(string(b), "\n\n") {
		for _, w := range words {
			if strings.Contains(g, w) {
				out = append(out, g)
				break
			}
		}
	}
	return strings.Join(out, "\n\n")
}
