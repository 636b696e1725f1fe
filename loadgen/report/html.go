package report

import (
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"maps"
	"math"
	"slices"
	"time"

	"github.com/raftline/raftline/loadgen"
	"github.com/raftline/raftline/loadgen/latency"
)

// Run is one result in an HTML report, with the label its series carry.
type Run struct {
	Label  string
	Result loadgen.Result
}

// DefaultThresholds are loadgen compare's defaults.
var DefaultThresholds = Thresholds{ThroughputDrop: 5, P99Rise: 10}

// Chart ids, one per chart the report can hold; tests look them up.
const (
	ChartThroughput      = "throughput"
	ChartPublishOverTime = "publish-latency"
	ChartE2EOverTime     = "e2e-latency"
	ChartDistribution    = "latency-distribution"
	ChartErrors          = "errors"
)

// Series colours, by what they show; in a comparison the baseline is dashed.
var palette = []string{"#1f77b4", "#2ca02c", "#d62728", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf", "#7f7f7f", "#bcbd22"}

const baseDash = "7 4"

// WriteHTML writes a self-contained HTML report of runs: one run, or a
// baseline and a new run overlaid (the first is the baseline, drawn dashed),
// with th judging the second against the first. The charts are inline SVG;
// the page has no scripts and loads nothing, which its Content-Security-Policy
// enforces. The output is well-formed XML.
func WriteHTML(w io.Writer, th Thresholds, runs ...Run) error {
	if len(runs) == 0 || len(runs) > 2 {
		return fmt.Errorf("report: %d runs; want one, or a baseline and a new run", len(runs))
	}
	p := page{Runs: runs}
	last := runs[len(runs)-1].Result
	p.Title = fmt.Sprintf("loadgen %s: topic %s", last.Config.Command, last.Config.Topic)
	if len(runs) == 2 {
		p.Title = fmt.Sprintf("loadgen %s: %s against %s", last.Config.Command, runs[1].Label, runs[0].Label)
		c := Compare(runs[0].Result, runs[1].Result, th)
		p.Comparison = &c
	}
	for _, r := range runs {
		p.Summaries = append(p.Summaries, summarize(r))
	}
	p.Charts = append(p.Charts, throughputChart(runs))
	pub := func(r loadgen.Result) *latency.Summary { return r.Publish }
	e2e := func(r loadgen.Result) *latency.Summary { return r.EndToEnd }
	pubS := func(s loadgen.Sample) latency.Summary { return s.Publish }
	e2eS := func(s loadgen.Sample) latency.Summary { return s.EndToEnd }
	if has(runs, pub) {
		p.Charts = append(p.Charts, latencyChart(runs, ChartPublishOverTime, "Publish latency over time (p50, p99, p99.9 per interval)", pubS))
	}
	if has(runs, e2e) {
		p.Charts = append(p.Charts, latencyChart(runs, ChartE2EOverTime, "End-to-end latency over time (p50, p99, p99.9 per interval)", e2eS))
	}
	if has(runs, pub) || has(runs, e2e) {
		p.Charts = append(p.Charts, distributionChart(runs))
	}
	p.Charts = append(p.Charts, errorsChart(runs))
	return pageTemplate.Execute(w, p)
}

type page struct {
	Title      string
	Runs       []Run
	Summaries  []runSummary
	Comparison *Comparison
	Charts     []template.HTML
}

// runSummary is one run's headline figures, as the text table has them.
type runSummary struct {
	Label, Describe, Machine, Started string
	Interrupted                       bool
	Throughput                        []throughputRow
	Latency                           []latencyRow
	Errors                            []errorRow
	Verify                            string
}

type throughputRow struct {
	Name                       string
	Records, Bytes             int64
	Seconds, PerSec, MiBPerSec float64
	Errors                     int64
}

type latencyRow struct {
	Name                                string
	Count                               int64
	Min, P50, P90, P99, P999, Max, Mean string
}

type errorRow struct {
	Side, Kind string
	N          int64
}

func summarize(run Run) runSummary {
	r := run.Result
	machine, _ := json.Marshal(r.Machine)
	s := runSummary{
		Label:       run.Label,
		Describe:    describe(r.Config),
		Machine:     string(machine),
		Interrupted: r.Interrupted,
	}
	if !r.Started.IsZero() {
		s.Started = r.Started.UTC().Format(time.RFC3339)
	}
	for _, side := range []struct {
		name string
		t    *loadgen.Throughput
	}{{"produce", r.Produce}, {"consume", r.Consume}} {
		if side.t == nil {
			continue
		}
		t := side.t
		s.Throughput = append(s.Throughput, throughputRow{side.name, t.Records, t.Bytes, t.Seconds, t.RecordsPerSec, t.MiBPerSec, t.ErrorCount()})
		for _, k := range slices.Sorted(maps.Keys(t.Errors)) {
			s.Errors = append(s.Errors, errorRow{side.name, k, t.Errors[k]})
		}
	}
	for _, l := range []struct {
		name string
		s    *latency.Summary
	}{{"publish", r.Publish}, {"end-to-end", r.EndToEnd}} {
		if l.s == nil {
			continue
		}
		x := l.s
		s.Latency = append(s.Latency, latencyRow{l.name, x.Count, Micros(x.MinMicros), Micros(x.P50Micros), Micros(x.P90Micros),
			Micros(x.P99Micros), Micros(x.P999Micros), Micros(x.MaxMicros), Micros(int64(math.Round(x.MeanMicros)))})
	}
	if r.Verify != nil {
		s.Verify = r.Verify.String()
	}
	return s
}

func has(runs []Run, f func(loadgen.Result) *latency.Summary) bool {
	for _, r := range runs {
		if s := f(r.Result); s != nil && s.Count > 0 {
			return true
		}
	}
	return false
}

// name labels a series of run i: with one run the series' own name, in a
// comparison prefixed with the run's label.
func name(runs []Run, i int, what string) string {
	if len(runs) == 1 {
		return what
	}
	return runs[i].Label + " " + what
}

func dash(runs []Run, i int) string {
	if len(runs) == 2 && i == 0 {
		return baseDash
	}
	return ""
}

// warmupBands shades each run's warmup; runs with the same warmup share one.
func warmupBands(runs []Run) []band {
	var out []band
	seen := map[time.Duration]bool{}
	for _, r := range runs {
		wu := r.Result.Config.Warmup
		if wu <= 0 || seen[wu] {
			continue
		}
		seen[wu] = true
		label := "warmup"
		if len(runs) == 2 && runs[0].Result.Config.Warmup != runs[1].Result.Config.Warmup {
			label = r.Label + " warmup"
		}
		out = append(out, band{0, wu.Seconds(), label})
	}
	return out
}

func perSecond(n int64, s loadgen.Sample) float64 {
	if s.Seconds <= 0 {
		return math.NaN()
	}
	return float64(n) / s.Seconds
}

func throughputChart(runs []Run) template.HTML {
	c := chart{ID: ChartThroughput, Title: "Throughput over time (records/s per interval)", XLabel: "seconds since start", YLabel: "records/s",
		YMinZero: true, Bands: warmupBands(runs), Empty: "no intervals recorded"}
	for i, run := range runs {
		r := run.Result
		for _, side := range []struct {
			what  string
			color string
			on    bool
			n     func(loadgen.Sample) int64
		}{
			{"acked/s", palette[0], r.Produce != nil, func(s loadgen.Sample) int64 { return s.Acked }},
			{"consumed/s", palette[1], r.Consume != nil, func(s loadgen.Sample) int64 { return s.Consumed }},
		} {
			if !side.on {
				continue
			}
			sr := series{Name: name(runs, i, side.what), Color: side.color, Dash: dash(runs, i)}
			for _, s := range r.Series {
				sr.X = append(sr.X, s.At)
				sr.Y = append(sr.Y, perSecond(side.n(s), s))
			}
			c.Series = append(c.Series, sr)
		}
	}
	return c.svg()
}

func latencyChart(runs []Run, id, title string, f func(loadgen.Sample) latency.Summary) template.HTML {
	c := chart{ID: id, Title: title, XLabel: "seconds since start", YLabel: "latency", YLog: true, YFormat: fmtMicros,
		Bands: warmupBands(runs), Empty: "no latencies recorded"}
	for i, run := range runs {
		for j, q := range []struct {
			what string
			v    func(latency.Summary) int64
		}{
			{"p50", func(s latency.Summary) int64 { return s.P50Micros }},
			{"p99", func(s latency.Summary) int64 { return s.P99Micros }},
			{"p99.9", func(s latency.Summary) int64 { return s.P999Micros }},
		} {
			sr := series{Name: name(runs, i, q.what), Color: palette[j], Dash: dash(runs, i)}
			for _, s := range run.Result.Series {
				l := f(s)
				y := math.NaN()
				if l.Count > 0 {
					// A latency under 1µs shows at 1µs on the log axis.
					y = max(float64(q.v(l)), 1)
				}
				sr.X = append(sr.X, s.At)
				sr.Y = append(sr.Y, y)
			}
			c.Series = append(c.Series, sr)
		}
	}
	return c.svg()
}

const distributionTitle = "Latency by percentile (HdrHistogram plot)"

// distributionChart is HdrHistogram's percentile plot: latency against
// percentile on a 1/(1-p) axis, so that 90%, 99%, 99.9% are equally spaced.
func distributionChart(runs []Run) template.HTML {
	c := chart{ID: ChartDistribution, Title: distributionTitle,
		XLabel: "percentile", YLabel: "latency", XLog: true, YFormat: fmtMicros, YMinZero: true, Empty: "no latencies recorded"}
	var maxX float64
	for i, run := range runs {
		r := run.Result
		for j, kind := range []struct {
			what string
			s    *latency.Summary
			d    []latency.Point
		}{
			{"publish", r.Publish, r.PublishDistribution},
			{"end-to-end", r.EndToEnd, r.EndToEndDistribution},
		} {
			if kind.s == nil || kind.s.Count == 0 {
				continue
			}
			pts := kind.d
			if len(pts) == 0 {
				pts = fromSummary(*kind.s)
				// A result written before distributions were recorded.
				c.Title = distributionTitle + ": " + name(runs, i, "summary percentiles only")
			}
			sr := series{Name: name(runs, i, kind.what), Color: palette[j], Dash: dash(runs, i)}
			for _, p := range pts {
				x := inverseTail(p.Percentile, kind.s.Count)
				maxX = max(maxX, x)
				sr.X = append(sr.X, x)
				sr.Y = append(sr.Y, float64(p.Micros))
			}
			c.Series = append(c.Series, sr)
		}
	}
	for t := 1.0; ; t *= 10 {
		c.XTicks = append(c.XTicks, t)
		if t >= maxX {
			break
		}
	}
	c.XFormat = percentOfTail
	return c.svg()
}

// percentOfTail labels the tick at 1/(1-p) = x, a power of ten, with p:
// 0%, 90%, 99%, 99.9%, ...
func percentOfTail(x float64) string {
	decimals := max(int(math.Round(math.Log10(x)))-2, 0)
	return fmt.Sprintf("%.*f%%", decimals, 100*(1-1/x))
}

// inverseTail is 1/(1-p) for p in percent; the 100th percentile, the
// maximum, is placed at the count, the resolution of the distribution.
func inverseTail(p float64, count int64) float64 {
	if p >= 100 {
		return max(float64(count), 1)
	}
	return 1 / (1 - p/100)
}

// fromSummary is the distribution of a result written before distributions
// were recorded: its percentiles, as far as its count resolves them.
func fromSummary(s latency.Summary) []latency.Point {
	pts := []latency.Point{{Percentile: 0, Micros: s.MinMicros}}
	for _, q := range []latency.Point{
		{Percentile: 50, Micros: s.P50Micros}, {Percentile: 90, Micros: s.P90Micros},
		{Percentile: 99, Micros: s.P99Micros}, {Percentile: 99.9, Micros: s.P999Micros},
	} {
		if 1/(1-q.Percentile/100) <= float64(s.Count)*1.0001 {
			pts = append(pts, q)
		}
	}
	return append(pts, latency.Point{Percentile: 100, Micros: s.MaxMicros})
}

func errorsChart(runs []Run) template.HTML {
	c := chart{ID: ChartErrors, Title: "Errors over time (per second per interval, by kind)", XLabel: "seconds since start", YLabel: "errors/s",
		YMinZero: true, Bands: warmupBands(runs), Empty: "no intervals recorded"}
	kinds := map[string]bool{}
	for _, run := range runs {
		for _, s := range run.Result.Series {
			for k := range s.Errors {
				kinds[k] = true
			}
		}
	}
	sorted := slices.Sorted(maps.Keys(kinds))
	for i, run := range runs {
		all := series{Name: name(runs, i, "all errors"), Color: palette[2], Dash: dash(runs, i)}
		byKind := make([]series, len(sorted))
		for j, k := range sorted {
			byKind[j] = series{Name: name(runs, i, k), Color: palette[(3+j)%len(palette)], Dash: dash(runs, i)}
		}
		for _, s := range run.Result.Series {
			all.X = append(all.X, s.At)
			all.Y = append(all.Y, perSecond(s.ErrorCount(), s))
			for j, k := range sorted {
				byKind[j].X = append(byKind[j].X, s.At)
				byKind[j].Y = append(byKind[j].Y, perSecond(s.Errors[k], s))
			}
		}
		c.Series = append(c.Series, all)
		c.Series = append(c.Series, byKind...)
	}
	return c.svg()
}

var funcs = template.FuncMap{
	"micros": Micros,
	"value":  value,
	"change": func(r Row) string {
		if ch := r.Change(); !math.IsNaN(ch) {
			return fmt.Sprintf("%+.1f%%", ch)
		}
		return "n/a"
	},
	"f1": func(v float64) string { return fmt.Sprintf("%.1f", v) },
	"f2": func(v float64) string { return fmt.Sprintf("%.2f", v) },
}

var pageTemplate = template.Must(template.Must(template.New("report").Funcs(funcs).Parse(styleTemplate)).Parse(`<!DOCTYPE html>
<html lang="en" xmlns="http://www.w3.org/1999/xhtml">
<head>
<meta charset="utf-8"/>
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'"/>
<meta name="viewport" content="width=device-width, initial-scale=1"/>
<title>{{.Title}}</title>
<style>
{{template "style"}}</style>
</head>
<body>
<h1>{{.Title}}</h1>
{{range .Summaries}}<section class="run">
<h2>{{.Label}}</h2>
<p>{{.Describe}}{{if .Interrupted}} (interrupted: results so far){{end}}</p>
{{if .Started}}<p class="note">started {{.Started}} on {{.Machine}}</p>{{end}}
{{if .Throughput}}<table class="throughput"><tr><th></th><th>records</th><th>bytes</th><th>seconds</th><th>records/s</th><th>MiB/s</th><th>errors</th></tr>
{{range .Throughput}}<tr><td>{{.Name}}</td><td>{{.Records}}</td><td>{{.Bytes}}</td><td>{{f2 .Seconds}}</td><td>{{f1 .PerSec}}</td><td>{{f2 .MiBPerSec}}</td><td>{{.Errors}}</td></tr>
{{end}}</table>{{end}}
{{if .Latency}}<table class="latency"><tr><th>latency</th><th>count</th><th>min</th><th>p50</th><th>p90</th><th>p99</th><th>p99.9</th><th>max</th><th>mean</th></tr>
{{range .Latency}}<tr><td>{{.Name}}</td><td>{{.Count}}</td><td>{{.Min}}</td><td>{{.P50}}</td><td>{{.P90}}</td><td>{{.P99}}</td><td>{{.P999}}</td><td>{{.Max}}</td><td>{{.Mean}}</td></tr>
{{end}}</table>{{end}}
{{if .Errors}}<table class="errors"><tr><th>errors</th><th>kind</th><th>count</th></tr>
{{range .Errors}}<tr><td>{{.Side}}</td><td>{{.Kind}}</td><td>{{.N}}</td></tr>
{{end}}</table>{{else}}<p>No errors.</p>{{end}}
{{if .Verify}}<p class="verify">{{.Verify}}</p>{{end}}
</section>
{{end}}{{with .Comparison}}<section class="comparison">
<h2>Comparison</h2>
<table><tr><th>metric</th><th>base</th><th>new</th><th>change</th><th></th></tr>
{{range .Rows}}<tr><td>{{.Metric}}</td><td>{{value .Base .Unit}}</td><td>{{value .New .Unit}}</td><td>{{change .}}</td><td>{{if .Failed}}<span class="fail">REGRESSION</span>{{end}}</td></tr>
{{end}}</table>
{{range .Notes}}<p class="note">note: {{.}}</p>
{{end}}{{if .OK}}<p class="pass">PASS: no regression beyond the thresholds</p>{{else}}<p class="fail">FAIL</p><ul>{{range .Failures}}<li>{{.}}</li>{{end}}</ul>{{end}}
</section>
{{end}}<section class="charts">
{{range .Charts}}<figure>{{.}}</figure>
{{end}}</section>
</body>
</html>
`))

// styleTemplate is the pages' shared style sheet, inline as their
// Content-Security-Policy requires.
const styleTemplate = `{{define "style"}}body { font: 14px/1.4 system-ui, sans-serif; margin: 24px; color: #222; max-width: 900px; }
h1 { font-size: 20px; } h2 { font-size: 17px; margin-top: 28px; }
table { border-collapse: collapse; margin: 8px 0 16px; }
th, td { border: 1px solid #ccc; padding: 3px 8px; text-align: right; }
th:first-child, td:first-child { text-align: left; }
.fail { color: #b00; font-weight: bold; } .pass { color: #070; font-weight: bold; }
.note { color: #555; }
figure { margin: 12px 0 20px; }
svg.chart { display: block; background: #fff; }
svg.chart text { font: 12px system-ui, sans-serif; fill: #333; }
svg.chart .title { font-size: 14px; font-weight: bold; }
svg.chart .plot { fill: none; stroke: #999; }
svg.chart .grid { stroke: #e4e4e4; }
svg.chart .ytick { text-anchor: end; }
svg.chart .xtick, svg.chart .xlabel, svg.chart .ylabel, svg.chart .empty { text-anchor: middle; }
svg.chart .band rect { fill: #f0f0f0; } svg.chart .band text { fill: #888; }
svg.chart .series { fill: none; stroke-width: 2; stroke-linejoin: round; }
{{end}}`
