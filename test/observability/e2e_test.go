package observability

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/raftline/raftline/alerts"
	"github.com/raftline/raftline/dashboards"

	"github.com/raftline/raftline/broker/clustertest"
)

// nodeFlags are the brokers' flags beyond addresses and bootstrap.
var nodeFlags = []string{
	// Generous Raft timeouts (raftline's default is 500ms), so that the
	// only elections are the ones the test makes. A machine busy with
	// other work can stall a node's disk or CPU for a second; an election
	// that causes would rightly page or keep the storm alert firing, and
	// the test would fail for a reason that is not the rules'. A crashed
	// leader is still replaced within a few seconds.
	"--heartbeat-timeout", "2s", "--election-timeout", "2s", "--leader-lease-timeout", "1s",
	// Snapshot every thousand entries or so, checked every couple of
	// seconds: at the test's load each node snapshots several times a
	// minute, so the snapshot panels have snapshots to show (rate() sees a
	// node's snapshots only from its second on).
	"--snapshot-threshold", "1024", "--snapshot-interval", "2s",
	// Keep partitions small so that frequent snapshots stay cheap.
	"--default-retention-bytes", "1048576", "--retention-check-interval", "2s",
	// Partitions in segment files, so the storage panels (segments, index
	// files, syncs) have something to draw.
	"--storage", "disk",
}

// Load generator settings. The rate is modest so the machine stays calm
// between the failovers the test makes; records that wait longer than the
// delivery timeout fail, which a leader crash makes happen, so the load
// test dashboard's failure panels have failures to show.
const (
	loadTopic           = "loadgen"
	loadGroup           = "loadgen-e2e"
	loadRate            = "100"
	loadDeliveryTimeout = "1s"
)

// stormFailovers is how many leader crashes make the storm. Four leader
// changes within the window page (with failing produces); one more leaves
// room for two elections that fall between the same two evaluations.
const stormFailovers = 5

// Port indexes in the block the test takes.
const (
	portProm = 9 + iota
	portAlertmanager
	portWebhook
	portLoadgen
	portCanary
	portCount
)

// scenario is the running system the end-to-end test's steps share.
type scenario struct {
	start    time.Time
	c        *cluster
	prom     *promAPI
	amBase   string
	hook     *webhook
	loadgen  *proc
	lgAddr   string
	storm    stormTiming
	external map[string]string // Prometheus external labels, on every alert
	// stormEndTerm is the raft term when the storm's last failover was
	// over; a later term means elections the test did not make.
	stormEndTerm uint64

	// canary is loadgen canary, scraped as job canary: the black-box SLI
	// of raftline / Produce SLOs.
	canary     *proc
	canaryAddr string
}

// TestAlertsAndDashboards_LiveClusterUnderLoad_FailoverThenElectionStorm
// runs the whole observability path for real. One clean failover must not
// page; an election storm made of repeated leader crashes must page through
// Alertmanager's pager route with the alert's labels and runbook link, and
// resolve once the storm has left the rule's 5-minute window. Meanwhile,
// with the failover, the storm, snapshots and load all in Prometheus's
// history, every dashboard panel must have data to draw and every metric a
// panel or rule reads must be in the nodes' /metrics.
//
// It takes about 7 minutes, most of it waiting for the storm to leave the
// rule's window, within go test's default 10-minute timeout; `make system`
// runs it with -timeout 60m and one test package at a time, which it needs:
// a machine busy with other clusters makes elections of its own.
func TestAlertsAndDashboards_LiveClusterUnderLoad_FailoverThenElectionStorm(t *testing.T) {
	s := &scenario{start: time.Now(), storm: loadStormTiming(t), external: composeExternalLabels(t)}
	dir := t.TempDir() // before newProcs: cleanups kill the processes first
	ps := newProcs(t)
	ports := clustertest.FreePorts(t, portCount)

	s.hook = startWebhook(t, hostPort(ports[portWebhook]))
	s.amBase = startAlertmanager(t, ps, dir, hostPort(ports[portAlertmanager]), alertmanagerConfig(t, s.hook.URL))
	s.c = startCluster(t, ps, dir, ports[:9], nodeFlags...)
	var nodeAddrs []string
	for _, nd := range s.c.nodes {
		nodeAddrs = append(nodeAddrs, nd.http)
		// Said plainly here rather than as a target Prometheus finds down.
		if _, err := scrapeMetrics(nd.http); err != nil {
			t.Fatalf("node %d does not serve its metrics (docs/METRICS.md): %v", nd.id, err)
		}
	}
	// Consumed through a group, so the consumer group panels have a group
	// to draw.
	s.startLoadAndPrometheus(t, ps, dir, ports, nodeAddrs, "--group", loadGroup)
	s.logBlankWhenHealthy(t)
	// Requests a follower refuses: the error panels' data.
	s.refuseFetches(t)

	t.Run("single clean failover does not page", s.singleFailoverDoesNotPage)
	if t.Failed() {
		return // the storm would be measured against a cluster already churning
	}
	var stormEnd time.Time
	paged := t.Run("election storm pages the pager with labels and runbook", func(t *testing.T) {
		stormEnd = s.electionStormPages(t)
	})
	s.refuseFetches(t)
	t.Run("every dashboard panel query returns data", s.everyPanelHasData)
	t.Run("annotations mark the elections and restarts", s.annotationsMarkFailovers)
	t.Run("every dashboard variable has values", s.everyVariableHasValues)
	t.Run("every metric a panel or rule reads is exported", s.everyReferencedMetricIsExported)
	if paged {
		t.Run("storm page resolves once the cluster is calm", func(t *testing.T) {
			s.stormPageResolves(t, stormEnd)
		})
	}
	if err := s.loadgen.ExitErr(); err != nil {
		t.Errorf("the load generator stopped during the test: %v", err)
	}
	if err := s.canary.ExitErr(); err != nil {
		t.Errorf("the canary stopped during the test: %v", err)
	}
	t.Logf("whole scenario took %v", time.Since(s.start).Round(time.Second))
}

// startLoadAndPrometheus starts the load generator (with extra flags), the
// canary and Prometheus (evaluating the committed rules, sending to the
// Alertmanager on its port) against the scenario's cluster, and waits until
// Prometheus scrapes every target and sees the load flowing.
func (s *scenario) startLoadAndPrometheus(t *testing.T, ps *procs, dir string, ports []int, nodeAddrs []string, extra ...string) {
	t.Helper()
	s.lgAddr = hostPort(ports[portLoadgen])
	s.loadgen = ps.add(newProc(dir, "loadgen", loadgenBin, append([]string{"e2e",
		"--brokers", strings.Join(s.c.kafkaAddrs(), ","),
		"--topic", loadTopic, "--partitions", "3",
		"--rate", loadRate, "--size", "256",
		"--delivery-timeout", loadDeliveryTimeout,
		"--duration", "30m", // the test stops it long before
		"--metrics-addr", s.lgAddr, "--quiet",
	}, extra...)...))
	if err := s.loadgen.Start(); err != nil {
		t.Fatal(err)
	}
	s.canaryAddr = hostPort(ports[portCanary])
	s.canary = ps.add(newProc(dir, "canary", loadgenBin, "canary",
		"--brokers", strings.Join(s.c.kafkaAddrs(), ","),
		"--rate", "5", "--timeout", "10s", "--metrics-addr", s.canaryAddr))
	if err := s.canary.Start(); err != nil {
		t.Fatal(err)
	}
	s.prom = startPrometheus(t, ps, dir, hostPort(ports[portProm]), promConfig{
		ExternalLabels: s.external,
		RulesFile:      filepath.Join(repoRoot, "alerts", "rules.yml"),
		Alertmanager:   hostPort(ports[portAlertmanager]),
		Nodes:          nodeAddrs,
		Loadgen:        s.lgAddr,
		Canary:         s.canaryAddr,
	})
	// Registered after newProcs, so it runs while everything still runs.
	t.Cleanup(func() { s.logHistory(t) })
	s.waitForScrapesAndLoad(t)
}

// waitForScrapesAndLoad waits until Prometheus scrapes all five targets
// (three nodes, the load generator, the canary) and sees the load flowing.
func (s *scenario) waitForScrapesAndLoad(t *testing.T) {
	t.Helper()
	waitFor(t, 60*time.Second, "Prometheus to scrape all three nodes, the load generator and the canary", func() error {
		if err := s.loadgen.ExitErr(); err != nil {
			return err
		}
		ts, err := s.prom.targets()
		if err != nil {
			return err
		}
		for _, tg := range ts {
			if tg.Health != "up" {
				return fmt.Errorf("target %s (job %s) is %s: %s", tg.ScrapeURL, tg.Labels["job"], tg.Health, tg.LastError)
			}
		}
		if len(ts) != 5 {
			return fmt.Errorf("%d targets, want 5", len(ts))
		}
		return nil
	})
	// Both views of the load: the load generator's acknowledgements and
	// the brokers' own produce, fetch and commit series, which appear
	// with the first record and need two scrapes for a rate.
	for _, expr := range []string{
		`sum(rate(loadgen_records_acked_total{job="loadgen"}[1m]))`,
		`sum(rate(loadgen_records_consumed_total{job="loadgen"}[1m]))`,
		`sum(rate(raftline_produced_records_total{job="raftline"}[1m]))`,
		`sum(rate(raftline_fetched_records_total{job="raftline"}[1m]))`,
		`sum(rate(raft_commit_duration_seconds_count{job="raftline"}[1m]))`,
	} {
		waitFor(t, 90*time.Second, "load in Prometheus: "+expr, func() error {
			if err := s.loadgen.ExitErr(); err != nil {
				return err
			}
			return atLeast(s.prom, expr, math.SmallestNonzeroFloat64)
		})
	}
}

// refuseFetches sends a Fetch to each follower, checks that it is refused
// with NOT_LEADER_OR_FOLLOWER (6), waits until Prometheus has scraped the
// count, and does it again: rate() sees the increase of an error series
// only from its second value on.
func (s *scenario) refuseFetches(t *testing.T) {
	t.Helper()
	leader := s.c.waitLeader(t, 30*time.Second, nil)
	var followers []*node
	for _, nd := range s.c.nodes {
		if nd != leader {
			followers = append(followers, nd)
		}
	}
	refuse := func() {
		for _, nd := range followers {
			code, err := fetchFromFollower(nd.kafka, loadTopic)
			if err != nil {
				t.Fatalf("fetch from follower %d: %v", nd.id, err)
			}
			if code != 6 {
				t.Fatalf("follower %d answered a Fetch with error code %d, want 6 (NOT_LEADER_OR_FOLLOWER)", nd.id, code)
			}
		}
	}
	refuse()
	for _, nd := range followers {
		expr := fmt.Sprintf(`raftline_kafka_request_errors_total{job="raftline", node_id="%d", api="Fetch"}`, nd.id)
		waitFor(t, 30*time.Second, "Prometheus to scrape the refused fetch", func() error {
			return atLeast(s.prom, expr, 1)
		})
	}
	refuse()
}

// logHistory logs every alert Prometheus had pending or firing during the
// run, every notification the webhook received, and the load generator's
// failures, so that a run's alerting can be read from its log.
func (s *scenario) logHistory(t *testing.T) {
	ss, err := s.prom.queryRange(`ALERTS`, s.start, time.Now(), time.Second)
	if err != nil {
		t.Logf("alert history: %v", err)
	}
	var lines []string
	for _, x := range ss {
		var labels []string
		for k, v := range x.Metric {
			if k != "__name__" && k != "alertname" && k != "alertstate" && k != "severity" && s.external[k] != v {
				labels = append(labels, k+"="+v)
			}
		}
		sort.Strings(labels)
		var runs []string
		for i := 0; i < len(x.Times); {
			j := i
			for j+1 < len(x.Times) && x.Times[j+1]-x.Times[j] <= 1.5 {
				j++
			}
			runs = append(runs, fmt.Sprintf("+%v..+%v", s.since(x.Times[i]), s.since(x.Times[j])))
			i = j + 1
		}
		lines = append(lines, fmt.Sprintf("%s %s {%s}: %s", x.Metric["alertname"], x.Metric["alertstate"],
			strings.Join(labels, ", "), strings.Join(runs, " ")))
	}
	sort.Strings(lines)
	t.Logf("alerts pending or firing during the run (time since the test started):\n  %s", strings.Join(lines, "\n  "))
	t.Logf("notifications received: %s", s.hook.describe())
	if e, err := scrapeMetrics(s.lgAddr); err == nil {
		var kinds []string
		for _, ls := range e["loadgen_records_failed_total"] {
			kinds = append(kinds, ls["kind"])
		}
		t.Logf("load generator failure kinds: %v", kinds)
	}
}

// since renders a Prometheus timestamp as seconds since the test started.
func (s *scenario) since(ts float64) time.Duration {
	return time.Unix(int64(ts), 0).Sub(s.start).Round(time.Second)
}

// atLeast checks that expr has a series at or above min now.
func atLeast(prom *promAPI, expr string, min float64) error {
	ss, err := prom.query(expr)
	if err != nil {
		return err
	}
	for _, s := range ss {
		if s.last() >= min {
			return nil
		}
	}
	return fmt.Errorf("%s: no series at or above %v (%v)", expr, min, ss)
}

// maxOver returns the largest value expr took between start and now at
// one-second steps (the evaluation interval), and whether it had any.
func maxOver(prom *promAPI, expr string, start time.Time) (float64, bool, error) {
	ss, err := prom.queryRange(expr, start, time.Now(), time.Second)
	if err != nil {
		return 0, false, err
	}
	best, found := math.Inf(-1), false
	for _, s := range ss {
		for _, v := range s.Values {
			if !math.IsNaN(v) {
				best, found = math.Max(best, v), true
			}
		}
	}
	return best, found, nil
}

// pagesSince returns the notifications the pager received after t0.
func (s *scenario) pagesSince(t0 time.Time) []received {
	var out []received
	for _, r := range s.hook.all() {
		if r.Path == "/page" && r.At.After(t0) {
			out = append(out, r)
		}
	}
	return out
}

// singleFailoverDoesNotPage crashes the leader once, restarts it, and
// watches for as long as a page would take to arrive: the storm expression
// must stay below its threshold, the storm alert must never even be
// pending, and the pager must hear nothing. RaftLeaderChanged reaching
// Alertmanager shows that the quiet is not a broken alert path.
func (s *scenario) singleFailoverDoesNotPage(t *testing.T) {
	st := s.storm
	phaseStart := time.Now()
	termBefore := s.c.term()
	leader := s.c.failover(t, 30*time.Second)
	t.Logf("failover: node %d leads after %v", leader.id, time.Since(phaseStart).Round(time.Millisecond))

	waitFor(t, 60*time.Second, "Prometheus to count the failover's election", func() error {
		return atLeast(s.prom, st.Changes, 1)
	})
	counted := time.Now()
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

	// A page could come no earlier than the rule's `for` plus the pager
	// route's group_wait after the expression crossed the threshold. Watch
	// that long after Prometheus counted the election, plus a margin for
	// evaluation and delivery, and stop early if a page arrives.
	watchUntil := counted.Add(st.For + st.GroupWait + 15*time.Second)
	for time.Now().Before(watchUntil) && len(s.pagesSince(phaseStart)) == 0 {
		time.Sleep(pollInterval)
	}

	if pages := s.pagesSince(phaseStart); len(pages) > 0 {
		t.Errorf("a single failover paged (raft term %d before it, %d now): %s", termBefore, s.c.term(), s.hook.describe())
	}
	peak, found, err := maxOver(s.prom, st.Changes, phaseStart)
	if err != nil {
		t.Fatal(err)
	}
	if !found {
		t.Fatalf("%s had no value during the failover", st.Changes)
	}
	if peak >= st.Threshold {
		t.Errorf("one failover drove %s to %.2f, at or over the paging threshold %v", st.Changes, peak, st.Threshold)
	}
	if n, _, err := maxOver(s.prom, fmt.Sprintf(`count(ALERTS{alertname=%q})`, st.Alert), phaseStart); err != nil {
		t.Fatal(err)
	} else if n > 0 {
		t.Errorf("%s was pending or firing after a single failover", st.Alert)
	}
	t.Logf("single failover: storm expression peaked at %.2f (pages at %v); watched %v after Prometheus counted it; no page",
		peak, st.Threshold, time.Since(counted).Round(time.Second))
}

// electionStormPages crashes the leader again and again and waits for the
// storm page. It returns when the storm's last election was over.
func (s *scenario) electionStormPages(t *testing.T) time.Time {
	st := s.storm
	stormStart := time.Now()
	for i := range stormFailovers {
		l := s.c.failover(t, 30*time.Second)
		t.Logf("storm failover %d: node %d leads, %v into the storm", i+1, l.id, time.Since(stormStart).Round(time.Millisecond))
	}
	stormEnd := time.Now()
	s.stormEndTerm = s.c.term()

	// Once the threshold is crossed: a scrape, two rule evaluations, the
	// rule's `for` and the route's group_wait. Allow a minute more.
	var page received
	waitFor(t, st.For+st.GroupWait+time.Minute, "the storm page at the pager webhook", func() error {
		if r, ok := s.hook.find("/page", "firing", st.Alert); ok {
			page = r
			return nil
		}
		v, _ := s.prom.query(st.Expr)
		return fmt.Errorf("storm expression now %v; webhook: %s", v, s.hook.describe())
	})
	t.Logf("paged %v after the storm's first crash, %v after its last",
		page.At.Sub(stormStart).Round(time.Second), page.At.Sub(stormEnd).Round(time.Second))

	if page.N.Receiver != st.Receiver {
		t.Errorf("page came through receiver %q, want %q", page.N.Receiver, st.Receiver)
	}
	s.checkStormAlert(t, page, "firing")
	if r, ok := s.hook.find("/ticket", "firing", st.Alert); ok {
		t.Errorf("the storm also went to the ticket receiver at %v", r.At)
	}

	// The storm already says leadership changed: Alertmanager inhibits the
	// info alert (same cluster and job).
	waitFor(t, 30*time.Second, "RaftLeaderChanged to be inhibited by the storm", func() error {
		as, err := alertmanagerAlerts(s.amBase, "RaftLeaderChanged")
		if err != nil {
			return err
		}
		for _, x := range as {
			if x.Status.State == "suppressed" && len(x.Status.InhibitedBy) > 0 {
				return nil
			}
		}
		return fmt.Errorf("RaftLeaderChanged in Alertmanager: %+v", as)
	})
	return stormEnd
}

// checkStormAlert checks the storm alert in a notification: its status, its
// labels (the rule's, the job's and Prometheus's external labels), rendered
// annotations, and a runbook link to the committed runbook.
func (s *scenario) checkStormAlert(t *testing.T, r received, status string) {
	t.Helper()
	st := s.storm
	if r.N.Status != status {
		t.Errorf("notification status %q, want %q", r.N.Status, status)
	}
	var a *notifiedAlert
	for i := range r.N.Alerts {
		if r.N.Alerts[i].Labels["alertname"] == st.Alert {
			a = &r.N.Alerts[i]
		}
	}
	if a == nil {
		t.Fatalf("notification carries no %s alert", st.Alert)
	}
	if a.Status != status {
		t.Errorf("alert status %q, want %q", a.Status, status)
	}
	want := map[string]string{"alertname": st.Alert, "severity": alerts.SeverityCritical, "job": alerts.Job}
	for k, v := range s.external {
		want[k] = v
	}
	for k, v := range want {
		if a.Labels[k] != v {
			t.Errorf("label %s = %q, want %q (labels %v)", k, a.Labels[k], v, a.Labels)
		}
	}
	runbook := a.Annotations["runbook_url"]
	if runbook != alerts.RunbookURL(st.Alert) {
		t.Errorf("runbook_url = %q, want %q", runbook, alerts.RunbookURL(st.Alert))
	}
	rel := "docs/runbooks/" + st.Alert + ".md"
	if !strings.HasSuffix(runbook, "/"+rel) {
		t.Errorf("runbook_url %q does not point at %s", runbook, rel)
	}
	if _, err := os.Stat(filepath.Join(repoRoot, filepath.FromSlash(rel))); err != nil {
		t.Errorf("runbook_url points at %s, which is not in the repository: %v", rel, err)
	}
	for _, k := range []string{"summary", "description"} {
		if v := a.Annotations[k]; strings.TrimSpace(v) == "" || strings.Contains(v, "{{") {
			t.Errorf("annotation %s = %q, want rendered text", k, v)
		}
	}
	if m := regexp.MustCompile(`(\d+) leader changes in`).FindStringSubmatch(a.Annotations["summary"]); m == nil {
		t.Errorf("summary %q does not state the number of elections", a.Annotations["summary"])
	} else if n, _ := strconv.Atoi(m[1]); float64(n) < st.Threshold {
		t.Errorf("summary %q states fewer elections than the threshold %v", a.Annotations["summary"], st.Threshold)
	}
}

// panelQuery is one query of one dashboard panel, variables expanded.
type panelQuery struct{ where, expr string }

// panelQueries lists every panel's queries with the variables a default
// dashboard load uses.
func panelQueries(t *testing.T) []panelQuery {
	t.Helper()
	qs, err := dashboards.Queries()
	if err != nil {
		t.Fatal(err)
	}
	var all []panelQuery
	for _, d := range qs {
		for _, p := range d.Panels {
			if len(p.Exprs) == 0 {
				t.Errorf("%s / %s has no query", d.UID, p.Title)
			}
			for i, e := range p.Exprs {
				x, err := dashboards.Expand(e, dashboards.DefaultVars())
				if err != nil {
					t.Errorf("%s / %s: %v", d.UID, p.Title, err)
					continue
				}
				all = append(all, panelQuery{fmt.Sprintf("%s / %s (%s, query %d)", d.UID, p.Title, p.Type, i+1), x})
			}
		}
	}
	return all
}

// logBlankWhenHealthy logs the panel queries that have no value now, on a
// healthy cluster under load before the test has caused any fault. Those
// panels read "No data" in normal operation; whether that is what they
// should show is the dashboards' call, so it is reported, not failed.
func (s *scenario) logBlankWhenHealthy(t *testing.T) {
	var blank []string
	for _, q := range panelQueries(t) {
		ss, err := s.prom.query(q.expr)
		if err != nil {
			t.Errorf("%s: %v", q.where, err)
			continue
		}
		if !slices.ContainsFunc(ss, sample.finite) {
			blank = append(blank, q.where)
		}
	}
	if len(blank) > 0 {
		t.Logf("panel queries with no value on a healthy cluster under load, before any fault:\n  %s", strings.Join(blank, "\n  "))
	}
}

// everyPanelHasData runs every query of every dashboard panel, with the
// variables a default dashboard load uses, over the test so far, as a
// panel showing the last few minutes would. A query with no series, or
// with nothing but NaN, draws nothing and fails.
func (s *scenario) everyPanelHasData(t *testing.T) {
	prom, since := s.prom, s.start
	all := panelQueries(t)
	var err error
	// The check must be able to fail: a metric nobody exports is empty.
	if ss, err := prom.queryRange(`rate(raftline_no_such_metric_total{job="raftline"}[1m])`, since, time.Now(), 2*time.Second); err != nil || slices.ContainsFunc(ss, sample.finite) {
		t.Fatalf("a query of a metric nobody exports was not seen as empty: %v %v", ss, err)
	}
	// Everything the panels need has happened by now; the wait only lets
	// the last of it (a snapshot's rate, a 1m window) reach Prometheus.
	var empty, sparse []string
	err = poll(90*time.Second, func() error {
		empty, sparse = empty[:0], sparse[:0]
		end := time.Now()
		for _, q := range all {
			ss, err := prom.queryRange(q.expr, since, end, 2*time.Second)
			if err != nil {
				empty = append(empty, fmt.Sprintf("%s: %v", q.where, err))
				continue
			}
			if !slices.ContainsFunc(ss, sample.finite) {
				what := "no series"
				if len(ss) > 0 {
					what = fmt.Sprintf("%d series, every value NaN", len(ss))
				}
				empty = append(empty, fmt.Sprintf("%s: %s\n      %s", q.where, what, q.expr))
				continue
			}
			if c := coverage(ss, since, end, 2*time.Second); c < 0.5 {
				sparse = append(sparse, fmt.Sprintf("%s: %.0f%%", q.where, 100*c))
			}
		}
		if len(empty) > 0 {
			return fmt.Errorf("%d of %d queries empty", len(empty), len(all))
		}
		return nil
	})
	if err != nil {
		t.Errorf("panels with nothing to draw over the last %v:\n  %s", time.Since(since).Round(time.Second), strings.Join(empty, "\n  "))
	}
	t.Logf("%d panel queries checked", len(all))
	if len(sparse) > 0 {
		// Not a failure: these draw only under the conditions the test
		// creates (elections, snapshots, errors). Listed so that a panel
		// that is blank in normal operation is seen.
		t.Logf("panel queries with a value in under half of the run's steps:\n  %s", strings.Join(sparse, "\n  "))
	}
}

// annotationsMarkFailovers runs the dashboards' annotation queries over
// the test so far, as Grafana would for a dashboard showing it: the
// failovers killed and restarted leaders, so the election and restart
// annotations must mark something. Annotations of events the test does not
// cause (membership changes) are only logged when empty.
func (s *scenario) annotationsMarkFailovers(t *testing.T) {
	as, err := dashboards.Annotations()
	if err != nil {
		t.Fatal(err)
	}
	must := map[string]bool{"Elections": true, "Restarts": true}
	seen := map[string]bool{}
	for _, a := range as {
		v := dashboards.DefaultVars()
		v.Interval = "2s"
		expr, err := dashboards.Expand(a.Expr, v)
		if err != nil {
			t.Errorf("%s / annotation %s: %v", a.Dashboard, a.Name, err)
			continue
		}
		ss, err := s.prom.queryRange(expr, s.start, time.Now(), 2*time.Second)
		if err != nil {
			t.Errorf("%s / annotation %s: %v", a.Dashboard, a.Name, err)
			continue
		}
		marked := 0
		for _, x := range ss {
			for _, val := range x.Values {
				if !math.IsNaN(val) {
					marked++
				}
			}
		}
		switch {
		case marked > 0:
			seen[a.Name] = true
			t.Logf("%s / annotation %s: %d steps marked", a.Dashboard, a.Name, marked)
		case must[a.Name]:
			t.Errorf("%s / annotation %s marks nothing over a run with failovers:\n  %s", a.Dashboard, a.Name, expr)
		default:
			t.Logf("%s / annotation %s marks nothing (the test causes no such event)", a.Dashboard, a.Name)
		}
	}
	for name := range must {
		if !seen[name] {
			t.Errorf("no dashboard annotation %q marks anything", name)
		}
	}
}

// coverage is the share of a range query's steps at which at least one
// series had a finite value: how much of the run a panel drew something.
func coverage(ss []sample, start, end time.Time, step time.Duration) float64 {
	steps := int(end.Sub(start)/step) + 1
	drawn := map[float64]bool{}
	for _, s := range ss {
		for i, v := range s.Values {
			if !math.IsNaN(v) && !math.IsInf(v, 0) {
				drawn[s.Times[i]] = true
			}
		}
	}
	return float64(len(drawn)) / float64(steps)
}

// labelValuesQuery matches Grafana's label_values(selector, label) and
// label_values(label) variable queries.
var labelValuesQuery = regexp.MustCompile(`^\s*label_values\(\s*(?:(.*?)\s*,\s*)?([A-Za-z_][A-Za-z0-9_]*)\s*\)\s*$`)

// dashboardVariable is a query variable of a committed dashboard.
type dashboardVariable struct {
	dashboard, name, query string
}

// queryVariables reads the query variables from the committed JSON, which
// is what Grafana runs.
func queryVariables(t *testing.T) []dashboardVariable {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(repoRoot, "dashboards", "json", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	var out []dashboardVariable
	for _, f := range files {
		d := readJSONObject(t, f)
		tmpl, _ := d["templating"].(map[string]any)
		list, _ := tmpl["list"].([]any)
		for _, raw := range list {
			v, _ := raw.(map[string]any)
			if typ, _ := v["type"].(string); typ != "query" {
				continue
			}
			name, _ := v["name"].(string)
			q := variableQuery(v)
			out = append(out, dashboardVariable{filepath.Base(f), name, q})
		}
	}
	return out
}

// variableQuery returns a query variable's PromQL-side query, which Grafana
// stores either as a string or as an object with a "query" field.
func variableQuery(v map[string]any) string {
	switch q := v["query"].(type) {
	case string:
		return q
	case map[string]any:
		if s, ok := q["query"].(string); ok {
			return s
		}
	}
	s, _ := v["definition"].(string)
	return s
}

// everyVariableHasValues runs each dashboard variable's label_values query:
// a variable with no values leaves every panel that uses it empty.
func (s *scenario) everyVariableHasValues(t *testing.T) {
	prom, since := s.prom, s.start
	vars := queryVariables(t)
	if len(vars) == 0 {
		t.Fatal("no query variables found in dashboards/json")
	}
	wantValues := map[string][]string{"job": {"raftline"}, "loadgen_job": {"loadgen"}, "canary_job": {"canary"}, "node": {"1", "2", "3"}}
	for _, v := range vars {
		m := labelValuesQuery.FindStringSubmatch(v.query)
		if m == nil {
			t.Errorf("%s: variable %s: query %q is not label_values(...), which this test knows how to run", v.dashboard, v.name, v.query)
			continue
		}
		selector, err := dashboards.Expand(m[1], dashboards.DefaultVars())
		if err != nil {
			t.Errorf("%s: variable %s: %v", v.dashboard, v.name, err)
			continue
		}
		if selector == "" {
			selector = `{__name__=~".+"}`
		}
		vals, err := prom.labelValues(m[2], selector, since, time.Now())
		if err != nil {
			t.Errorf("%s: variable %s: %v", v.dashboard, v.name, err)
			continue
		}
		for _, w := range wantValues[v.name] {
			if !slices.Contains(vals, w) {
				t.Errorf("%s: variable %s (%s) offers %v, missing %q", v.dashboard, v.name, v.query, vals, w)
			}
		}
		// cluster is an external label: Prometheus puts it on what leaves
		// it (alerts, federation, remote write), not on its own series, so
		// a single Prometheus offers no value and the variable stays on
		// All (".*", which matches series without the label); the panels'
		// data is checked with it.
		if len(vals) == 0 && !(v.name == "cluster" && dashboards.DefaultVars().Cluster == ".*") {
			t.Errorf("%s: variable %s (%s) has no values", v.dashboard, v.name, v.query)
		}
	}
}

// everyReferencedMetricIsExported scrapes each node and the load generator
// directly and looks up every metric name a panel, a dashboard variable or
// an alert rule reads. Some series exist only on the leader (follower lag,
// commit latency), so a raftline name must be exported by at least one
// node; names missing on some nodes are logged. Every raftline series must
// carry node_id (docs/METRICS.md), and raft_snapshots_total{result="failure"}
// must exist on every node from start-up, as SnapshotFailing needs.
func (s *scenario) everyReferencedMetricIsExported(t *testing.T) {
	c, loadgenAddr := s.c, s.lgAddr
	perNode := map[int]exposition{}
	union := map[string]bool{}
	for _, nd := range c.nodes {
		e, err := scrapeMetrics(nd.http)
		if err != nil {
			t.Fatalf("node %d: %v", nd.id, err)
		}
		perNode[nd.id] = e
		for name, series := range e {
			union[name] = true
			for _, ls := range series {
				if ls["node_id"] != fmt.Sprint(nd.id) {
					t.Errorf("node %d exports %s%v without node_id=%q", nd.id, name, ls, fmt.Sprint(nd.id))
					break
				}
			}
		}
	}
	lg, err := scrapeMetrics(loadgenAddr)
	if err != nil {
		t.Fatalf("load generator: %v", err)
	}
	canary, err := scrapeMetrics(s.canaryAddr)
	if err != nil {
		t.Fatalf("canary: %v", err)
	}
	// Series the rules record are Prometheus's, not an exporter's; the
	// panels that read them are checked for data in everyPanelHasData.
	recorded := map[string]bool{}
	for _, g := range alerts.Groups(alerts.DefaultConfig()) {
		for _, r := range g.Rules {
			recorded[r.Record] = r.Record != ""
		}
	}

	byJob, err := dashboards.MetricNamesByJob()
	if err != nil {
		t.Fatal(err)
	}
	need := map[string]map[string][]string{} // job -> name -> who reads it
	add := func(job, name, who string) {
		if need[job] == nil {
			need[job] = map[string][]string{}
		}
		need[job][name] = append(need[job][name], who)
	}
	for job, names := range byJob {
		for _, n := range names {
			if !recorded[n] {
				add(job, n, "dashboards")
			}
		}
	}
	for _, n := range alerts.MetricNames() {
		add(alerts.Job, n, "alerts")
	}
	for _, v := range queryVariables(t) {
		m := labelValuesQuery.FindStringSubmatch(v.query)
		if m == nil || m[1] == "" {
			continue
		}
		name := regexp.MustCompile(`^[A-Za-z_:][A-Za-z0-9_:]*`).FindString(m[1])
		job := alerts.Job
		switch {
		case strings.HasPrefix(name, "loadgen_canary_"):
			job = "canary"
		case strings.HasPrefix(name, "loadgen_"):
			job = "loadgen"
		}
		add(job, name, "dashboard variable "+v.name)
	}

	for job, names := range need {
		var exported func(string) bool
		switch job {
		case alerts.Job:
			exported = func(n string) bool { return union[n] }
		case "loadgen":
			exported = func(n string) bool { return len(lg[n]) > 0 }
		case "canary":
			exported = func(n string) bool { return len(canary[n]) > 0 }
		default:
			t.Errorf("queries read job %q, which nothing in the test scrapes: %v", job, sortedKeys(names))
			continue
		}
		for _, n := range sortedKeys(names) {
			if !exported(n) {
				t.Errorf("%s (read by %s) is not in any %s /metrics", n, strings.Join(slices.Compact(names[n]), ", "), job)
				continue
			}
			if job != alerts.Job {
				continue
			}
			var missing []int
			for _, nd := range c.nodes {
				if len(perNode[nd.id][n]) == 0 {
					missing = append(missing, nd.id)
				}
			}
			if len(missing) > 0 {
				t.Logf("%s is exported, but not by node(s) %v", n, missing)
			}
		}
	}

	for _, nd := range c.nodes {
		found := false
		for _, ls := range perNode[nd.id]["raft_snapshots_total"] {
			found = found || ls["result"] == "failure"
		}
		if !found {
			t.Errorf(`node %d does not export raft_snapshots_total{result="failure"}; SnapshotFailing cannot see a first failure without it`, nd.id)
		}
	}
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// stormPageResolves waits for the pager to be told the storm is over: once
// fewer elections than the threshold remain in the rule's window,
// Prometheus resolves the alert and Alertmanager sends the resolution at
// the pager route's next group_interval.
func (s *scenario) stormPageResolves(t *testing.T, stormEnd time.Time) {
	st := s.storm
	var r received
	waitFor(t, time.Until(stormEnd.Add(st.Window+st.GroupInterval+time.Minute)), "the storm's resolution at the pager webhook", func() error {
		if got, ok := s.hook.find("/page", "resolved", st.Alert); ok {
			r = got
			return nil
		}
		v, err := s.prom.query(st.Expr)
		calm := "no election since"
		if term := s.c.term(); term != s.stormEndTerm {
			calm = fmt.Sprintf("the cluster elected on its own since (term %d then, %d now): the alert is right to stay, is the machine overloaded?",
				s.stormEndTerm, term)
		}
		return fmt.Errorf("storm expression now %v (%v); %s; webhook: %s", v, err, calm, s.hook.describe())
	})
	t.Logf("resolved %v after the storm's last election", r.At.Sub(stormEnd).Round(time.Second))
	s.checkStormAlert(t, r, "resolved")
	if err := atLeast(s.prom, st.Expr, st.Threshold); err == nil {
		t.Errorf("resolution sent while %s is still at or over %v", st.Expr, st.Threshold)
	}
}

func readJSONObject(t *testing.T, path string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var d map[string]any
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return d
}
