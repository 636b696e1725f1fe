package observability

import (
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/raftline/raftline/alerts"
	"github.com/raftline/raftline/broker/clustertest"
)

// TestAlerts_LiveClusterUnderLoad_RollingRestartPagesNobody_CrashLoopPages
// restarts the nodes of a real cluster under load one after the other
// (each stopped with SIGTERM and started again on its data directory, as a
// deploy does; the leader first whenever it has not been restarted yet, so
// leadership moves two or three times) and checks that no paging alert is even
// pending and the pager hears nothing, while RaftLeaderChanged reaching
// Alertmanager shows the alert path works. Then it crash-loops one follower
// (SIGKILL and restart, again and again) until RaftNodeCrashLooping pages
// for that node through the real Alertmanager.
func TestAlerts_LiveClusterUnderLoad_RollingRestartPagesNobody_CrashLoopPages(t *testing.T) {
	s := &scenario{start: time.Now(), storm: loadStormTiming(t), external: composeExternalLabels(t)}
	dir := t.TempDir()
	ps := newProcs(t)
	ports := clustertest.FreePorts(t, portCount)

	s.hook = startWebhook(t, hostPort(ports[portWebhook]))
	s.amBase = startAlertmanager(t, ps, dir, hostPort(ports[portAlertmanager]), alertmanagerConfig(t, s.hook.URL))
	s.c = startCluster(t, ps, dir, ports[:9], nodeFlags...)
	var nodeAddrs []string
	for _, nd := range s.c.nodes {
		nodeAddrs = append(nodeAddrs, nd.http)
	}
	s.startLoadAndPrometheus(t, ps, dir, ports, nodeAddrs)

	if !t.Run("rolling restart, leader first, under load pages nobody", s.rollingRestartPagesNobody) {
		return
	}
	t.Run("crash-looping follower pages", s.crashLoopPages)
	if err := s.loadgen.ExitErr(); err != nil {
		t.Errorf("the load generator stopped during the test: %v", err)
	}
	t.Logf("whole scenario took %v", time.Since(s.start).Round(time.Second))
}

// criticalAlerts is every paging alert of the shipped rules.
func criticalAlerts() []string {
	var out []string
	for _, g := range alerts.Groups(alerts.DefaultConfig()) {
		for _, r := range g.Rules {
			if r.Alert != "" && r.Labels["severity"] == alerts.SeverityCritical {
				out = append(out, r.Alert)
			}
		}
	}
	return out
}

func (s *scenario) rollingRestartPagesNobody(t *testing.T) {
	st := s.storm
	phaseStart := time.Now()
	termBefore := s.c.term()
	// The worst order a healthy rolling restart can take: whenever the
	// leader has not been restarted yet, it goes next, so leadership moves
	// at two restarts or three rather than at the one a careful operator
	// would leave for last.
	restartedIDs := map[int]bool{}
	for range s.c.nodes {
		leader := s.c.waitLeader(t, 30*time.Second, nil)
		nd := leader
		if restartedIDs[nd.id] {
			for _, n := range s.c.nodes {
				if !restartedIDs[n.id] {
					nd = n
					break
				}
			}
		}
		restartedIDs[nd.id] = true
		wasLeader := nd == leader
		if err := nd.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		if _, err := nd.Wait(30 * time.Second); err != nil {
			t.Fatalf("node %d did not stop on SIGTERM: %v", nd.id, err)
		}
		if err := nd.Start(); err != nil {
			t.Fatal(err)
		}
		waitFor(t, 60*time.Second, fmt.Sprintf("restarted node %d to be ready", nd.id), func() error {
			if err := nd.ExitErr(); err != nil {
				t.Fatalf("restarted node %d did not come back: %v", nd.id, err)
			}
			return nd.ready()
		})
		l := s.c.waitLeader(t, 60*time.Second, nil)
		t.Logf("restarted node %d (leader before: %v); node %d leads, term %d", nd.id, wasLeader, l.id, s.c.term())
	}
	restarted := time.Now()
	elections := s.c.term() - termBefore
	t.Logf("rolling restart took %v; raft term %d -> %d", restarted.Sub(phaseStart).Round(time.Second), termBefore, s.c.term())

	// The leader was restarted at some point, so there was an election:
	// Prometheus counts it and the info alert reaches Alertmanager, which
	// shows the quiet below is not a broken alert path.
	waitFor(t, 60*time.Second, "Prometheus to count the restart's leader changes", func() error {
		return atLeast(s.prom, st.Changes, 1)
	})
	waitFor(t, 60*time.Second, "RaftLeaderChanged (info) to reach Alertmanager", func() error {
		as, err := alertmanagerAlerts(s.amBase, "RaftLeaderChanged")
		if err != nil {
			return err
		}
		if len(as) == 0 {
			return fmt.Errorf("Alertmanager holds no RaftLeaderChanged alert")
		}
		return nil
	})
	// Every node restarted once in the last minutes: the restarts are in
	// Prometheus, as the crash-loop rule reads them.
	waitFor(t, 60*time.Second, "Prometheus to see every node's new process", func() error {
		ss, err := s.prom.query(`changes(process_start_time_seconds{job="raftline"}[15m]) >= 1`)
		if err != nil {
			return err
		}
		if len(ss) != len(s.c.nodes) {
			return fmt.Errorf("%d of %d nodes seen restarted", len(ss), len(s.c.nodes))
		}
		return nil
	})

	// A page could come no earlier than the storm's `for` plus the pager's
	// group_wait after the restart; watch that long and a margin.
	watchUntil := time.Now().Add(st.For + st.GroupWait + 15*time.Second)
	for time.Now().Before(watchUntil) && len(s.pagesSince(phaseStart)) == 0 {
		time.Sleep(pollInterval)
	}
	if pages := s.pagesSince(phaseStart); len(pages) > 0 {
		t.Errorf("a rolling restart paged (raft term %d before it, %d now): %s", termBefore, s.c.term(), s.hook.describe())
	}
	crit := strings.Join(criticalAlerts(), "|")
	if n, _, err := maxOver(s.prom, fmt.Sprintf(`count(ALERTS{alertname=~%q})`, crit), phaseStart); err != nil {
		t.Fatal(err)
	} else if n > 0 {
		ss, _ := s.prom.queryRange(fmt.Sprintf(`ALERTS{alertname=~%q}`, crit), phaseStart, time.Now(), time.Second)
		t.Errorf("paging alerts were pending or firing during the rolling restart: %+v", ss)
	}
	peak, _, err := maxOver(s.prom, st.Changes, phaseStart)
	if err != nil {
		t.Fatal(err)
	}
	if peak >= st.Threshold {
		t.Errorf("the rolling restart drove %s to %.0f, at or over the storm threshold %v", st.Changes, peak, st.Threshold)
	}
	t.Logf("rolling restart: %d term(s), %s peaked at %.0f (storm pages at %v); watched %v after it; no page",
		elections, st.Changes, peak, st.Threshold, time.Since(restarted).Round(time.Second))
}

// crashLoopPages kills a follower with SIGKILL and restarts it, again and
// again, each time once Prometheus has scraped the new process, until the
// crash-loop page for that node arrives.
func (s *scenario) crashLoopPages(t *testing.T) {
	leader := s.c.waitLeader(t, 30*time.Second, nil)
	var nd *node
	for _, n := range s.c.nodes {
		if n != leader {
			nd = n
			break
		}
	}
	const alert = "RaftNodeCrashLooping"
	start := time.Now()
	restarts := fmt.Sprintf(`changes(process_start_time_seconds{job="raftline", instance=%q}[15m])`, nd.http)
	var page received
	for cycle := 1; ; cycle++ {
		if r, ok := s.hook.find("/page", "firing", alert); ok {
			page = r
			break
		}
		if cycle > 6 {
			v, _ := s.prom.query(restarts)
			t.Fatalf("no %s page after %d restarts of node %d (%s = %v); webhook: %s", alert, cycle-1, nd.id, restarts, v, s.hook.describe())
		}
		before, _ := s.prom.query(restarts)
		if err := nd.Kill(); err != nil {
			t.Fatal(err)
		}
		if err := nd.Start(); err != nil {
			t.Fatal(err)
		}
		waitFor(t, 60*time.Second, fmt.Sprintf("Prometheus to scrape node %d's new process", nd.id), func() error {
			if err := nd.ExitErr(); err != nil {
				t.Fatalf("node %d did not come back: %v", nd.id, err)
			}
			after, err := s.prom.query(restarts)
			if err != nil {
				return err
			}
			if len(after) == 0 || (len(before) > 0 && after[0].last() <= before[0].last()) {
				return fmt.Errorf("%s = %v, was %v", restarts, after, before)
			}
			return nil
		})
		// The page, if due, follows within an evaluation and the pager's
		// group_wait; wait that long before the next crash.
		_ = poll(s.storm.GroupWait+10*time.Second, func() error {
			if _, ok := s.hook.find("/page", "firing", alert); ok {
				return nil
			}
			return fmt.Errorf("no page yet")
		})
		t.Logf("crash %d of node %d done %v into the loop", cycle, nd.id, time.Since(start).Round(time.Second))
	}
	t.Logf("paged %v after the first crash", page.At.Sub(start).Round(time.Second))
	checkPage(t, page, alert, map[string]string{"instance": nd.http, "severity": alerts.SeverityCritical})
}

// checkPage checks that a page came through the pager receiver and carries
// alert with the labels want and its runbook link.
func checkPage(t *testing.T, page received, alert string, want map[string]string) {
	t.Helper()
	var found bool
	for _, a := range page.N.Alerts {
		if a.Labels["alertname"] != alert {
			continue
		}
		found = true
		for k, v := range want {
			if a.Labels[k] != v {
				t.Errorf("page labels %v, want %s=%s", a.Labels, k, v)
			}
		}
		if a.Annotations["runbook_url"] != alerts.RunbookURL(alert) {
			t.Errorf("runbook_url %q", a.Annotations["runbook_url"])
		}
	}
	if !found {
		t.Errorf("the page carries no %s alert: %+v", alert, page.N)
	}
	if page.N.Receiver != "pager" {
		t.Errorf("page came through receiver %q, want pager", page.N.Receiver)
	}
}
