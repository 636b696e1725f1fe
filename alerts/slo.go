package alerts

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
)

// SLO is one service level objective of raftline's produce path, the single
// spec its recording rules, multi-window multi-burn-rate alerts, runbooks'
// queries and the error-budget dashboard (dashboards/slo.go) are generated
// from. alerts/DESIGN.md ("Service level objectives") explains the values.
type SLO struct {
	// Name is the objective's CamelCase name; its alerts are
	// <Name>BudgetBurnFast and <Name>BudgetBurnSlow.
	Name string
	// Title is how dashboards and alert summaries name it.
	Title string
	// Objective is the share of valid events that must be good over
	// Period (0.999: 99.9%). The error budget is 1 - Objective.
	Objective float64
	Period    Duration
	SLI       SLI
	// MinEventRate is the traffic guard: events per second both windows
	// of a burn-rate alert must have seen for it to fire. Below it a few
	// failures make a large ratio out of too few events to mean anything.
	MinEventRate float64
}

// SLI is an objective's indicator as two counters: all valid events and the
// bad ones among them, or (Good set instead of Bad) the good ones.
type SLI struct {
	// Total selects the counter of all valid events.
	Total string
	// Bad selects the counter of bad events; Good of good events. Exactly
	// one is set.
	Bad, Good string
	// Describes says what the share of bad events is, after the share
	// ("2% ..."): what one event is and what makes it bad.
	Describes string
}

// BurnWindow is one condition of the multi-window multi-burn-rate alerts
// (the Google SRE workbook, "Alerting on SLOs", method 6): the error ratio
// over Long and over Short are both above Factor times the error budget.
// Long makes it significant, Short makes it resolve soon after the burn
// stops.
type BurnWindow struct {
	Long, Short Duration
	Factor      float64
	Severity    string
}

// The burn-rate conditions. A factor f spends the budget of a 30-day period
// in 30d/f: 14.4 spends 2% of it in an hour, 6 spends 5% in 6 hours, both
// pages; 1 would spend exactly the budget over the period, a ticket.
var BurnWindows = []BurnWindow{
	{Long: Duration(time.Hour), Short: Duration(5 * time.Minute), Factor: 14.4, Severity: SeverityCritical},
	{Long: Duration(6 * time.Hour), Short: Duration(30 * time.Minute), Factor: 6, Severity: SeverityCritical},
	{Long: Duration(72 * time.Hour), Short: Duration(6 * time.Hour), Factor: 1, Severity: SeverityWarning},
}

// SLOFor and TicketFor are how long a burn-rate condition must hold before
// it pages or files a ticket: the short window already keeps a past burn
// from firing, so `for` only rides out a scrape or evaluation artefact.
var (
	SLOPageFor   = Duration(2 * time.Minute)
	SLOTicketFor = Duration(15 * time.Minute)
)

// ProduceLatencyThreshold is the produce latency objective's threshold, a
// bucket boundary of raftline_produce_duration_seconds.
const ProduceLatencyThreshold = 250 * time.Millisecond

// ProduceClientErrors are the Produce error codes a client causes (a topic
// that does not exist, an oversized or corrupt batch, a broken idempotent
// sequence, an invalid request): they are neither good nor bad events of
// the availability SLI, since no broker could have written them. Every
// other code, and one unknown to this list, counts against the objective.
var ProduceClientErrors = []*kerr.Error{
	kerr.UnknownTopicOrPartition,
	kerr.CorruptMessage,
	kerr.InvalidRecord,
	kerr.MessageTooLarge,
	kerr.InvalidRequiredAcks,
	kerr.UnsupportedForMessageFormat,
	kerr.TransactionalIDAuthorizationFailed,
	kerr.OutOfOrderSequenceNumber,
	kerr.InvalidProducerEpoch,
	kerr.UnknownProducerID,
	kerr.InvalidRequest,
}

func clientErrorNames() string {
	var names []string
	for _, e := range ProduceClientErrors {
		names = append(names, e.Message)
	}
	return strings.Join(names, "|")
}

// SLOs returns the objectives rules.yml and the SLO dashboard are generated
// from.
func SLOs() []SLO {
	partitions := "raftline_produce_partition_requests_total"
	valid := fmt.Sprintf(`%s{job=%q, error_code!~%q}`, partitions, Job, clientErrorNames())
	bad := fmt.Sprintf(`%s{job=%q, error_code!~%q}`, partitions, Job, "NONE|"+clientErrorNames())
	return []SLO{
		{
			Name:         "ProduceAvailability",
			Title:        "Produce availability",
			Objective:    0.999,
			Period:       Duration(30 * 24 * time.Hour),
			MinEventRate: 1,
			SLI: SLI{
				Total:     valid,
				Bad:       bad,
				Describes: "of the partitions of Produce requests (acks 1 or all) were answered with a broker error",
			},
		},
		{
			Name:         "ProduceLatency",
			Title:        "Produce latency",
			Objective:    0.99,
			Period:       Duration(30 * 24 * time.Hour),
			MinEventRate: 1,
			SLI: SLI{
				Total:     fmt.Sprintf(`raftline_produce_duration_seconds_count{job=%q}`, Job),
				Good:      fmt.Sprintf(`raftline_produce_duration_seconds_bucket{job=%q, le=%q}`, Job, num(ProduceLatencyThreshold.Seconds())),
				Describes: fmt.Sprintf("of the written Produce requests (acks 1 or all) took longer than %v", ProduceLatencyThreshold),
			},
		},
	}
}

// Budget is the error budget: the share of events that may be bad.
func (s SLO) Budget() float64 { return math.Round((1-s.Objective)*1e9) / 1e9 }

// periodText is the period in days, as people say it.
func (s SLO) periodText() string {
	return num(time.Duration(s.Period).Hours()/24) + " days"
}

// snake is the objective's name in recorded series: produce_availability.
func (s SLO) snake() string {
	var b strings.Builder
	for i, r := range s.Name {
		if r >= 'A' && r <= 'Z' {
			if i > 0 {
				b.WriteByte('_')
			}
			r += 'a' - 'A'
		}
		b.WriteRune(r)
	}
	return b.String()
}

// ErrorRatioRecord names the recorded error ratio over w:
// job_cluster:slo_produce_availability_errors:ratio_rate5m.
func (s SLO) ErrorRatioRecord(w Duration) string {
	return "job_cluster:slo_" + s.snake() + "_errors:ratio_rate" + w.String()
}

// EventRateRecord names the recorded rate of valid events over w.
func (s SLO) EventRateRecord(w Duration) string {
	return "job_cluster:slo_" + s.snake() + "_events:rate" + w.String()
}

// FastAlert and SlowAlert are the names of the objective's paging and
// ticket alerts.
func (s SLO) FastAlert() string { return s.Name + "BudgetBurnFast" }
func (s SLO) SlowAlert() string { return s.Name + "BudgetBurnSlow" }

// SLOWindows are the windows error ratios are recorded over: every window
// of BurnWindows, shortest first.
func SLOWindows() []Duration {
	var ws []Duration
	for _, bw := range BurnWindows {
		for _, w := range []Duration{bw.Short, bw.Long} {
			if !containsDuration(ws, w) {
				ws = append(ws, w)
			}
		}
	}
	for i := 1; i < len(ws); i++ {
		for j := i; j > 0 && ws[j] < ws[j-1]; j-- {
			ws[j], ws[j-1] = ws[j-1], ws[j]
		}
	}
	return ws
}

func containsDuration(ws []Duration, w Duration) bool {
	for _, x := range ws {
		if x == w {
			return true
		}
	}
	return false
}

// sloBy is the aggregation every SLO series keeps: per scrape job and per
// cluster (the label a multi-cluster Prometheus or Thanos adds; absent in a
// single cluster's Prometheus, where it groups to nothing).
const sloBy = "job, cluster"

// ErrorRatioExpr is the SLI's error ratio over w, aggregated by job and
// cluster.
func (s SLO) ErrorRatioExpr(w Duration) string {
	total := fmt.Sprintf("sum by (%s) (rate(%s[%s]))", sloBy, s.SLI.Total, w)
	if s.SLI.Bad != "" {
		return fmt.Sprintf("sum by (%s) (rate(%s[%s]))\n/\n%s", sloBy, s.SLI.Bad, w, total)
	}
	return fmt.Sprintf("1 - (\n  sum by (%s) (rate(%s[%s]))\n  /\n  %s\n)", sloBy, s.SLI.Good, w, total)
}

// longWindow is from which windows on ratios are recorded in the slower
// group: reading hours or days of raw samples every few seconds would cost
// Prometheus more than the minute's delay it saves.
const longWindow = Duration(6 * time.Hour)

// sloGroups returns the SLO rule groups: ratios over the short windows with
// the alerts (evaluated at Prometheus's interval), and over the long windows
// every minute.
func sloGroups(slos []SLO) []Group {
	short := Group{Name: "raftline.slo"}
	long := Group{Name: "raftline.slo.long", Interval: Duration(time.Minute)}
	for _, s := range slos {
		for _, w := range SLOWindows() {
			g := &short
			if w >= longWindow {
				g = &long
			}
			g.Rules = append(g.Rules,
				Rule{Record: s.EventRateRecord(w), Expr: fmt.Sprintf("sum by (%s) (rate(%s[%s]))", sloBy, s.SLI.Total, w)},
				Rule{Record: s.ErrorRatioRecord(w), Expr: s.ErrorRatioExpr(w)},
			)
		}
	}
	for _, s := range slos {
		short.Rules = append(short.Rules, s.burnAlert(SeverityCritical), s.burnAlert(SeverityWarning))
		// The error ratio over the whole period, for the budget left
		// (dashboards/slo.go), with the long windows every minute.
		long.Rules = append(long.Rules, Rule{Record: s.ErrorRatioRecord(s.Period), Expr: s.ErrorRatioExpr(s.Period)})
	}
	return []Group{short, long}
}

// BurnCondition is one window pair's condition: the burn rate (error ratio
// over the budget) over both windows above the factor, with enough events
// in both. Its value is the long window's burn rate.
func (s SLO) BurnCondition(bw BurnWindow) string {
	budget := num(s.Budget())
	burn := func(w Duration) string { return fmt.Sprintf("%s / %s", s.ErrorRatioRecord(w), budget) }
	return fmt.Sprintf("%s > %s\nand on (%s)\n%s > %s\nand on (%s)\n%s >= %s\nand on (%s)\n%s >= %s",
		burn(bw.Long), num(bw.Factor), sloBy, burn(bw.Short), num(bw.Factor),
		sloBy, s.EventRateRecord(bw.Long), num(s.MinEventRate),
		sloBy, s.EventRateRecord(bw.Short), num(s.MinEventRate))
}

// burnAlert is the objective's alert of one severity: the or of its window
// pairs, each labelled with its long window so a notification says which.
func (s SLO) burnAlert(severity string) Rule {
	var conds, pairs []string
	for _, bw := range BurnWindows {
		if bw.Severity != severity {
			continue
		}
		conds = append(conds, fmt.Sprintf("label_replace(\n%s,\n%q, %q, %q, %q)",
			indent(s.BurnCondition(bw)), "long_window", bw.Long.String(), "", ""))
		pairs = append(pairs, fmt.Sprintf("%sx over %s and %s", num(bw.Factor), bw.Long, bw.Short))
	}
	name, forDur, acts := s.FastAlert(), SLOPageFor, "Users are affected now: at this rate"
	if severity == SeverityWarning {
		name, forDur, acts = s.SlowAlert(), SLOTicketFor, "At this rate"
	}
	// Annotations read the recorded ratio of the window that fired (the
	// long_window label is the record's suffix); an absent cluster label
	// matches cluster="".
	ratio := `{{ with printf "job_cluster:slo_%s_errors:ratio_rate%s{job=%q,cluster=%q}" "` + s.snake() + `" $labels.long_window $labels.job $labels.cluster | query }}{{ . | first | value | humanizePercentage }}{{ end }}`
	left := fmt.Sprintf(`{{ with printf "%s / (job_cluster:slo_%%s_errors:ratio_rate%%s{job=%%q,cluster=%%q} / %s)" "%s" $labels.long_window $labels.job $labels.cluster | query }}{{ . | first | value | humanizeDuration }}{{ end }}`,
		num(time.Duration(s.Period).Seconds()), num(s.Budget()), s.snake())
	return alert(name, severity, forDur, strings.Join(conds, "\nor\n"),
		s.Title+` is burning its error budget {{ $value | printf "%.1f" }}x as fast as it may, over {{ $labels.long_window }}.`,
		"In job {{ $labels.job }}{{ with $labels.cluster }} (cluster {{ . }}){{ end }}, "+ratio+" "+s.SLI.Describes+
			" over the last {{ $labels.long_window }}: "+`{{ $value | printf "%.1f" }}`+" times the error budget of "+percent(s.Budget())+
			" (objective "+percent(s.Objective)+" over "+s.periodText()+"; fires at "+strings.Join(pairs, ", ")+"). "+
			acts+" the error budget of a whole "+s.periodText()+" would last "+left+".")
}

func indent(s string) string { return "  " + strings.ReplaceAll(s, "\n", "\n  ") }
