package dashboards

import (
	"fmt"
	"strconv"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/prometheus"
	"github.com/grafana/grafana-foundation-sdk/go/timeseries"
	"github.com/grafana/grafana-foundation-sdk/go/units"

	"github.com/raftline/raftline/alerts"
)

// UIDSLO is the error-budget dashboard's uid.
const UIDSLO = "raftline-slo"

// canarySLI is, per objective, the canary's black-box view of the same
// indicator over $__rate_interval: the share of its probes that were good.
var canarySLI = map[string]string{
	"ProduceAvailability": `sum(rate(loadgen_canary_produced_total{job="$canary_job", cluster=~"$cluster", result="success"}[$__rate_interval]))` +
		` / sum(rate(loadgen_canary_produced_total{job="$canary_job", cluster=~"$cluster"}[$__rate_interval]))`,
	"ProduceLatency": `sum(rate(loadgen_canary_publish_latency_seconds_bucket{job="$canary_job", cluster=~"$cluster", le="` +
		strconv.FormatFloat(alerts.ProduceLatencyThreshold.Seconds(), 'f', -1, 64) + `"}[$__rate_interval]))` +
		` / sum(rate(loadgen_canary_publish_latency_seconds_count{job="$canary_job", cluster=~"$cluster"}[$__rate_interval]))`,
}

// slo is the error-budget dashboard: for each objective of alerts.SLOs(),
// the SLI now, the budget left over the period, the burn rate over every
// window the alerts read against their factors, and the broker's SLI beside
// the canary's. Objectives, budgets, windows and factors are the alert
// rules' own Go values, so the dashboard cannot drift from what pages.
func slo() *dashboard.DashboardBuilder {
	b := newDashboard(UIDSLO, "raftline / Produce SLOs",
		"Produce availability and latency objectives: SLIs, error budget left over 30 days, burn rates against the alerts' thresholds, and the canary's black-box view.",
		jobVariable("canary_job", "Canary job", "loadgen_canary_produced_total", "canary"))
	for _, s := range alerts.SLOs() {
		b = sloRow(b, s)
	}
	return b
}

func sloRow(b *dashboard.DashboardBuilder, s alerts.SLO) *dashboard.DashboardBuilder {
	sel := `{job="$job", cluster=~"$cluster"}`
	budget := num(s.Budget())
	objective := percentText(s.Objective)
	short, long := alerts.SLOWindows()[0], alerts.BurnWindows[0].Long
	b = b.WithRow(dashboard.NewRowBuilder(fmt.Sprintf("%s: %s over %s", s.Title, objective, "30 days")))
	b = b.WithPanel(statPanel(s.Title+": SLI, last "+long.String(), units.PercentUnit,
		fmt.Sprintf("Share of good events over the last %s (the page's long window). The objective is %s over 30 days; red below it.", long, objective),
		query(fmt.Sprintf("1 - %s%s", s.ErrorRatioRecord(long), sel), "SLI")).
		Decimals(3).
		Thresholds(thresholds("red", step{s.Objective, "green"})).
		Span(halfWidth / 2))
	b = b.WithPanel(statPanel(s.Title+": error budget left, 30 days", units.PercentUnit,
		fmt.Sprintf("Share of the 30-day error budget (%s of events may be bad) not yet spent, from the error ratio over the last 30 days (recorded every minute). Below 0 the objective is missed; orange under 25%%.", percentText(s.Budget())),
		query(fmt.Sprintf("1 - %s%s / %s", s.ErrorRatioRecord(s.Period), sel, budget), "budget left")).
		Decimals(1).
		Thresholds(budgetThresholds()).
		Span(halfWidth / 2))
	b = b.WithPanel(statPanel(s.Title+": burn rate, last "+short.String(), units.Short,
		fmt.Sprintf("Error ratio over the last %s divided by the budget: 1 spends the budget exactly in 30 days. The page needs %s over both %s and %s.", short, num(alerts.BurnWindows[0].Factor), long, short),
		query(fmt.Sprintf("%s%s / %s", s.ErrorRatioRecord(short), sel, budget), "burn rate")).
		Decimals(1).
		Thresholds(burnThresholds()).
		Span(halfWidth / 2))
	b = b.WithPanel(statPanel(s.Title+": events/s", units.Short,
		fmt.Sprintf("Valid events per second over the last %s. The burn-rate alerts need at least %s/s in both their windows (the traffic guard).", short, num(s.MinEventRate)),
		query(fmt.Sprintf("%s%s", s.EventRateRecord(short), sel), "events/s")).
		Thresholds(thresholds("orange", step{s.MinEventRate, "green"})).
		Span(halfWidth / 2))

	var burns []*timeseriesQuery
	for _, w := range alerts.SLOWindows() {
		burns = append(burns, &timeseriesQuery{fmt.Sprintf("%s%s / %s", s.ErrorRatioRecord(w), sel, budget), w.String()})
	}
	b = b.WithPanel(burnPanel(timeseriesPanel(s.Title+": burn rate per window", units.Short,
		fmt.Sprintf("Error ratio over each alert window divided by the budget (%s). Dashed lines are the alerts' factors: %s. A page needs its long and short window both above the factor; the ticket 1x over 72h and 6h.",
			percentText(s.Budget()), factorsText()),
		targets(burns)...)))
	b = b.WithPanel(withObjective(timeseriesPanel(s.Title+": broker SLI and canary", units.PercentUnit,
		fmt.Sprintf("Share of good events: the brokers' SLI over %s (%s) beside the canary's probes (loadgen canary, a few records a second produced and read back) over the graph's rate interval. The dashed line is the objective, %s. The canary sees what a client sees; a gap means the brokers count something clients do not (or the other way round).",
			short, s.SLI.Describes, objective),
		query(fmt.Sprintf("1 - %s%s", s.ErrorRatioRecord(short), sel), "brokers"),
		query(canarySLI[s.Name], "canary")), s.Objective))
	return b
}

type timeseriesQuery struct{ expr, legend string }

func targets(qs []*timeseriesQuery) []*prometheus.DataqueryBuilder {
	var out []*prometheus.DataqueryBuilder
	for _, q := range qs {
		out = append(out, query(q.expr, q.legend))
	}
	return out
}

// burnThresholds colours burn rates by the alerts' factors: the ticket's,
// then the pages' (lowest first).
func burnThresholds() *dashboard.ThresholdsConfigBuilder {
	colors := map[string]string{alerts.SeverityWarning: "yellow", alerts.SeverityCritical: "orange"}
	var steps []step
	for i := len(alerts.BurnWindows) - 1; i >= 0; i-- {
		bw := alerts.BurnWindows[i]
		c := colors[bw.Severity]
		if i == 0 {
			c = "red"
		}
		steps = append(steps, step{bw.Factor, c})
	}
	return thresholds("green", steps...)
}

// budgetThresholds colour the error budget left: red once it is spent,
// orange in its last quarter.
func budgetThresholds() *dashboard.ThresholdsConfigBuilder {
	return thresholds("red", step{0, "orange"}, step{0.25, "green"})
}

// sloLink opens the Produce SLOs dashboard over the same time range, data
// source, cluster and job.
func sloLink() cog.Builder[dashboard.DashboardLink] {
	return dataLink("Produce SLOs: budgets, burn rates per window, canary",
		"/d/"+UIDSLO+"/raftline-produce-slos?${__url_time_range}&${datasource:queryparam}&${cluster:queryparam}&${job:queryparam}")
}

func factorsText() string {
	out := ""
	for i, bw := range alerts.BurnWindows {
		if i > 0 {
			out += ", "
		}
		out += fmt.Sprintf("%sx over %s and %s (%s)", num(bw.Factor), bw.Long, bw.Short, bw.Severity)
	}
	return out
}

func burnPanel(p *timeseries.PanelBuilder) *timeseries.PanelBuilder {
	return p.Thresholds(burnThresholds()).
		ThresholdsStyle(dashedThresholds()).
		Span(halfWidth)
}

// withObjective draws the objective as a dashed line: green above, red
// below.
func withObjective(p *timeseries.PanelBuilder, objective float64) *timeseries.PanelBuilder {
	return p.Thresholds(thresholds("red", step{objective, "green"})).
		ThresholdsStyle(dashedThresholds()).
		Decimals(3)
}

func dashedThresholds() *common.GraphThresholdsStyleConfigBuilder {
	return common.NewGraphThresholdsStyleConfigBuilder().Mode(common.GraphThresholdsStyleModeDashed)
}

func num(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

func percentText(f float64) string { return num(f*100) + "%" }
