package dashboards

import (
	"fmt"
	"strconv"
	"time"

	"github.com/grafana/grafana-foundation-sdk/go/timeseries"

	"github.com/raftline/raftline/alerts"
)

// alertLimits are the alert thresholds the dashboards draw, in the panels'
// units (seconds, entries, a ratio). They are read from the alert rules'
// Go configuration here and nowhere else, so that a panel's red line is
// the value its alert fires at and the two cannot drift apart.
type alertLimits struct {
	FollowerLag       float64 // entries; RaftFollowerLagging
	CommitP99         float64 // seconds; RaftCommitLatencyHigh
	FsyncP99          float64 // seconds; RaftFsyncSlow
	LastContact       float64 // seconds; RaftLastContactHigh
	ProduceErrorRatio float64 // errors per request; BrokerProduceErrorRate
	MemoryShare       float64 // resident share of the memory limit; MemoryNearLimit
	ClockSkew         float64 // seconds; RaftLeaderClockSkew
}

// alertLimitsFrom is the one place the dashboards read alerts.Config.
func alertLimitsFrom(c alerts.Config) alertLimits {
	return alertLimits{
		FollowerLag:       float64(c.FollowerLagEntries),
		CommitP99:         c.CommitLatencyP99.Seconds(),
		FsyncP99:          c.FsyncP99.Seconds(),
		LastContact:       c.LastContact.Seconds(),
		ProduceErrorRatio: c.ProduceErrorRatio,
		MemoryShare:       c.MemoryShare,
		ClockSkew:         c.ClockSkew.Seconds(),
	}
}

// alertLimit holds the thresholds of the generated rules (rules.yml).
var alertLimit = alertLimitsFrom(alerts.DefaultConfig())

// alertWarnShare is where panels turn orange, as a share of the alert
// threshold: half way there is worth a look before anything fires.
const alertWarnShare = 0.5

// alertSteps are a panel's thresholds for an alert's value: orange from
// half of it, red from the value itself.
func alertSteps(crit float64) (warn, red float64) { return crit * alertWarnShare, crit }

// withAlertLimit draws an alert's threshold on a graph (dashed lines,
// orange at half, red at the threshold); see withLimits.
func withAlertLimit(p *timeseries.PanelBuilder, crit float64) *timeseries.PanelBuilder {
	warn, red := alertSteps(crit)
	return withLimits(p, warn, red)
}

// alertLimitText is the sentence a panel description ends with to state
// the lines drawn: fmtValue formats a value in the panel's unit.
func alertLimitText(alert string, crit float64, fmtValue func(float64) string) string {
	warn, red := alertSteps(crit)
	return fmt.Sprintf(" Dashed lines: %s (orange), %s (red), the threshold %s fires at.", fmtValue(warn), fmtValue(red), alert)
}

// fmtSeconds formats seconds as a Go duration ("250ms").
func fmtSeconds(s float64) string { return time.Duration(s * float64(time.Second)).String() }

// fmtCount formats a number of entries.
func fmtCount(n float64) string { return strconv.FormatFloat(n, 'f', -1, 64) + " entries" }

// fmtPercent formats a ratio as a percentage.
func fmtPercent(r float64) string { return strconv.FormatFloat(r*100, 'f', -1, 64) + " %" }
