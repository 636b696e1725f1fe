package alerts

import (
	"math"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/raftline/raftline/telemetry/brokermetrics"
)

// The latency SLI counts requests under the threshold from one bucket, so
// the threshold must be a boundary of the histogram the broker exports, or
// the SLI would silently read the next bucket up.
func TestSLO_LatencyThresholdIsABucketBoundary(t *testing.T) {
	if !slices.Contains(brokermetrics.ProduceDurationBuckets(), ProduceLatencyThreshold.Seconds()) {
		t.Errorf("%v is not a bucket boundary of raftline_produce_duration_seconds: %v",
			ProduceLatencyThreshold, brokermetrics.ProduceDurationBuckets())
	}
	for _, s := range SLOs() {
		if s.SLI.Good != "" && !strings.Contains(s.SLI.Good, `le="`+num(ProduceLatencyThreshold.Seconds())+`"`) {
			t.Errorf("%s: good events %s do not read the threshold's bucket", s.Name, s.SLI.Good)
		}
	}
}

// The windows and factors are the SRE workbook's: each page spends a fixed
// share of a 30-day budget in its long window (2% in 1h, 5% in 6h), the
// ticket 10% in 3 days, and each short window is a twelfth of its long one.
func TestSLO_BurnWindows(t *testing.T) {
	want := []string{"5m", "30m", "1h", "6h", "72h"}
	var got []string
	for _, w := range SLOWindows() {
		got = append(got, w.String())
	}
	if !slices.Equal(got, want) {
		t.Errorf("recorded windows %v, want %v", got, want)
	}
	spend := map[string]float64{"1h": 0.02, "6h": 0.05, "72h": 0.10}
	for _, bw := range BurnWindows {
		for _, s := range SLOs() {
			share := bw.Factor * float64(bw.Long) / float64(s.Period)
			if math.Abs(share-spend[bw.Long.String()]) > 1e-9 {
				t.Errorf("%s: %vx over %s spends %.3f of the budget, want %v", s.Name, bw.Factor, bw.Long, share, spend[bw.Long.String()])
			}
		}
		if bw.Short*12 != bw.Long {
			t.Errorf("short window %s is not a twelfth of %s", bw.Short, bw.Long)
		}
	}
	for _, s := range SLOs() {
		if time.Duration(s.Period) != 30*24*time.Hour || s.MinEventRate <= 0 || s.Budget() <= 0 {
			t.Errorf("%s: period %v, min event rate %v, budget %v", s.Name, s.Period, s.MinEventRate, s.Budget())
		}
	}
}

// Every SLO aggregation keeps cluster beside job, so one Prometheus (or a
// Thanos above several) holding several clusters never mixes their ratios,
// and every alert condition joins on both; the page alerts are critical
// and the tickets warnings.
func TestSLO_RulesKeepJobAndCluster(t *testing.T) {
	by := regexp.MustCompile(`\b(by|on) \(([^)]*)\)`)
	slos := SLOs()
	n := 0
	for _, g := range sloGroups(slos) {
		for _, r := range g.Rules {
			for _, m := range by.FindAllStringSubmatch(r.Expr, -1) {
				n++
				if m[2] != sloBy {
					t.Errorf("%s: %s (%s) does not keep exactly (%s)", r.Name(), m[1], m[2], sloBy)
				}
			}
		}
	}
	if n == 0 {
		t.Fatal("no aggregation found")
	}
	sev := map[string]string{}
	for _, r := range alertRules(t) {
		sev[r.Alert] = r.Labels["severity"]
	}
	for _, s := range slos {
		if sev[s.FastAlert()] != SeverityCritical || sev[s.SlowAlert()] != SeverityWarning {
			t.Errorf("%s: %s is %q, %s is %q", s.Name, s.FastAlert(), sev[s.FastAlert()], s.SlowAlert(), sev[s.SlowAlert()])
		}
	}
}

// Client errors are excluded from the availability SLI by their names as
// the broker labels them (kerr's, except code 6, which the broker names
// NOT_LEADER_OR_FOLLOWER and which is never a client error).
func TestSLO_ClientErrors(t *testing.T) {
	for _, e := range ProduceClientErrors {
		if e.Code == 6 || e.Code == 0 || !regexp.MustCompile(`^[A-Z_]+$`).MatchString(e.Message) {
			t.Errorf("client error %d %q", e.Code, e.Message)
		}
	}
	avail := SLOs()[0]
	if !strings.Contains(avail.SLI.Bad, `"NONE|`) || strings.Contains(avail.SLI.Total, "NONE") {
		t.Errorf("availability: bad %s must exclude NONE, total %s must not", avail.SLI.Bad, avail.SLI.Total)
	}
}
