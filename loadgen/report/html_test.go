package report

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/raftline/raftline/loadgen"
	"github.com/raftline/raftline/loadgen/latency"
)

// runResult is an e2e run of 25 one-second intervals, 5 of them warmup,
// at about rate records/s with latencies scaled by slow, and errors of two
// kinds in a few intervals; its distributions come from a real Recorder.
func runResult(rate float64, slow float64) loadgen.Result {
	r := loadgen.Result{
		Version: loadgen.ResultVersion,
		Config: loadgen.Config{Command: loadgen.CmdE2E, Topic: "t", Rate: rate, Producers: 1, Consumers: 1, Size: 1024,
			Acks: "all", Compression: "none", Warmup: 5 * time.Second, Duration: 20 * time.Second},
		Machine: loadgen.ThisMachine(),
		Started: time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC),
	}
	pub, e2e := latency.NewRecorder(), latency.NewRecorder()
	for i := 1; i <= 25; i++ {
		n := int64(rate) + int64(i%3)*10
		s := loadgen.Sample{At: float64(i), Seconds: 1, Warmup: i <= 5, Sent: n, Acked: n, AckedBytes: n * 1024, Consumed: n, ConsumedBytes: n * 1024}
		base := int64(float64(1000+100*(i%4)) * slow)
		s.Publish = latency.Summary{Count: n, MinMicros: base / 2, P50Micros: base, P90Micros: 2 * base, P99Micros: 4 * base, P999Micros: 8 * base, MaxMicros: 10 * base}
		s.EndToEnd = latency.Summary{Count: n, MinMicros: base, P50Micros: 2 * base, P90Micros: 3 * base, P99Micros: 6 * base, P999Micros: 12 * base, MaxMicros: 15 * base}
		if i == 12 || i == 13 {
			s.Errors = map[string]int64{"NOT_LEADER_FOR_PARTITION": 40, "record_timeout": int64(i)}
		}
		r.Series = append(r.Series, s)
		for k := int64(0); k < n; k++ {
			d := time.Duration(float64(500+k%1000*3) * slow * float64(time.Microsecond))
			pub.Record(d)
			e2e.Record(2 * d)
		}
	}
	ps, es := pub.Summary(), e2e.Summary()
	r.Publish, r.EndToEnd = &ps, &es
	r.PublishDistribution, r.EndToEndDistribution = pub.Distribution(), e2e.Distribution()
	r.Produce = &loadgen.Throughput{Records: 20 * int64(rate), Bytes: 20 * int64(rate) * 1024, Seconds: 20, RecordsPerSec: rate, MiBPerSec: rate / 1024,
		Errors: map[string]int64{"NOT_LEADER_FOR_PARTITION": 80, "record_timeout": 25}}
	r.Consume = &loadgen.Throughput{Records: 20 * int64(rate), Bytes: 20 * int64(rate) * 1024, Seconds: 20, RecordsPerSec: rate, MiBPerSec: rate / 1024,
		Errors: map[string]int64{}}
	return r
}

// node is a parsed XML element.
type node struct {
	XMLName xml.Name
	Attrs   []xml.Attr `xml:",any,attr"`
	Nodes   []node     `xml:",any"`
	Text    string     `xml:",chardata"`
}

func (n node) attr(name string) string {
	for _, a := range n.Attrs {
		if a.Name.Local == name {
			return a.Value
		}
	}
	return ""
}

func (n node) walk(f func(node)) {
	f(n)
	for _, c := range n.Nodes {
		c.walk(f)
	}
}

func (n node) text() string {
	var b strings.Builder
	n.walk(func(m node) { b.WriteString(m.Text) })
	return b.String()
}

// parse checks that the page is well-formed XML and returns its root.
func parse(t *testing.T, page []byte) node {
	t.Helper()
	var root node
	d := xml.NewDecoder(bytes.NewReader(page))
	d.Strict = true
	if err := d.Decode(&root); err != nil {
		t.Fatalf("report is not well-formed: %v", err)
	}
	if root.XMLName.Local != "html" {
		t.Fatalf("root element %q, want html", root.XMLName.Local)
	}
	return root
}

// charts returns the report's charts by id.
func charts(root node) map[string]node {
	out := map[string]node{}
	root.walk(func(n node) {
		if n.XMLName.Local == "svg" {
			out[n.attr("id")] = n
		}
	})
	return out
}

// paths returns a chart's series paths by name.
func paths(svg node) map[string]node {
	out := map[string]node{}
	svg.walk(func(n node) {
		if n.XMLName.Local == "path" && n.attr("class") == "series" {
			out[n.attr("data-series")] = n
		}
	})
	return out
}

// coords parses a path's "Mx,y Lx,y ..." data.
func coords(t *testing.T, d string) [][2]float64 {
	t.Helper()
	var out [][2]float64
	for _, p := range strings.Fields(d) {
		xy := strings.Split(p[1:], ",")
		x, err1 := strconv.ParseFloat(xy[0], 64)
		y, err2 := strconv.ParseFloat(xy[1], 64)
		if len(xy) != 2 || err1 != nil || err2 != nil {
			t.Fatalf("bad path element %q in %q", p, d)
		}
		out = append(out, [2]float64{x, y})
	}
	return out
}

func render(t *testing.T, runs ...Run) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := WriteHTML(&b, DefaultThresholds, runs...); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestWriteHTML_SelfContainedAndWellFormed(t *testing.T) {
	page := render(t, Run{"this run", runResult(1000, 1)})
	root := parse(t, page)
	s := string(page)
	for _, bad := range []string{"<script", "<link", "<img", "<iframe", "url(", "@import", "src="} {
		if strings.Contains(s, bad) {
			t.Errorf("report contains %q", bad)
		}
	}
	// The only URLs are XML namespaces.
	for _, u := range []string{"http://", "https://"} {
		for i := strings.Index(s, u); i >= 0; i = strings.Index(s[i+1:], u) + i + 1 {
			if ns := s[i:]; !strings.HasPrefix(ns, "http://www.w3.org/") {
				t.Fatalf("report refers to %.60s", ns)
			}
			if strings.Index(s[i+1:], u) < 0 {
				break
			}
		}
	}
	if !strings.Contains(s, `Content-Security-Policy" content="default-src 'none'`) {
		t.Error("no Content-Security-Policy forbidding loads")
	}
	if !strings.Contains(root.text(), "NOT_LEADER_FOR_PARTITION") || !strings.Contains(root.text(), "records/s") {
		t.Errorf("summary tables missing:\n%s", root.text())
	}
}

func TestWriteHTML_ChartsHaveTheirSeries(t *testing.T) {
	root := parse(t, render(t, Run{"this run", runResult(1000, 1)}))
	cs := charts(root)
	want := map[string][]string{
		ChartThroughput:      {"acked/s", "consumed/s"},
		ChartPublishOverTime: {"p50", "p99", "p99.9"},
		ChartE2EOverTime:     {"p50", "p99", "p99.9"},
		ChartDistribution:    {"publish", "end-to-end"},
		ChartErrors:          {"all errors", "NOT_LEADER_FOR_PARTITION", "record_timeout"},
	}
	if len(cs) != len(want) {
		t.Errorf("charts %v, want %d", keys(cs), len(want))
	}
	for id, names := range want {
		svg, ok := cs[id]
		if !ok {
			t.Errorf("no chart %s", id)
			continue
		}
		w, _ := strconv.ParseFloat(svg.attr("width"), 64)
		h, _ := strconv.ParseFloat(svg.attr("height"), 64)
		ps := paths(svg)
		for _, name := range names {
			p, ok := ps[name]
			if !ok {
				t.Errorf("chart %s: no series %q (has %v)", id, name, keys(ps))
				continue
			}
			pts := coords(t, p.attr("d"))
			if min := 5; len(pts) < min {
				t.Errorf("chart %s series %s: %d points", id, name, len(pts))
			}
			for _, xy := range pts {
				if xy[0] < marginLeft-0.5 || xy[0] > w-marginRight+0.5 || xy[1] < 0 || xy[1] > h-marginBottom+0.5 {
					t.Errorf("chart %s series %s: point %v outside the plot", id, name, xy)
					break
				}
			}
		}
		var legend []string
		svg.walk(func(n node) {
			if n.attr("class") == "legend" {
				legend = append(legend, n.text())
			}
		})
		if fmt.Sprint(legend) != fmt.Sprint(names) {
			t.Errorf("chart %s: legend %v, want %v", id, legend, names)
		}
	}
	// Throughput runs left to right across the 25 intervals.
	pts := coords(t, paths(cs[ChartThroughput])["acked/s"].attr("d"))
	if len(pts) != 25 || pts[0][0] != marginLeft || pts[24][0] != chartWidth-marginRight {
		t.Errorf("throughput: %d points from x %v to %v", len(pts), pts[0][0], pts[len(pts)-1][0])
	}
}

// The percentile plot puts each percentile at 1/(1-p) on a log axis: 90%,
// 99% and 99.9% are equally spaced and sit on their ticks.
func TestWriteHTML_DistributionAxis(t *testing.T) {
	r := runResult(1000, 1)
	root := parse(t, render(t, Run{"r", r}))
	svg := charts(root)[ChartDistribution]
	ticks := map[string]float64{}
	svg.walk(func(n node) {
		if n.attr("class") == "xtick" {
			ticks[n.text()], _ = strconv.ParseFloat(n.attr("x"), 64)
		}
	})
	for _, l := range []string{"0%", "90%", "99%", "99.9%", "99.99%"} {
		if _, ok := ticks[l]; !ok {
			t.Fatalf("no tick %s: %v", l, ticks)
		}
	}
	step := ticks["90%"] - ticks["0%"]
	for _, pair := range [][2]string{{"90%", "99%"}, {"99%", "99.9%"}} {
		if d := ticks[pair[1]] - ticks[pair[0]]; math.Abs(d-step) > 0.2 {
			t.Errorf("%s to %s is %.1f, 0%% to 90%% is %.1f", pair[0], pair[1], d, step)
		}
	}
	pts := coords(t, paths(svg)["publish"].attr("d"))
	if len(pts) != len(r.PublishDistribution) {
		t.Fatalf("%d points, distribution has %d", len(pts), len(r.PublishDistribution))
	}
	for i, p := range r.PublishDistribution {
		for l, x := range map[string]float64{"90%": 90, "99%": 99, "99.9%": 99.9} {
			if math.Abs(p.Percentile-x) < 1e-9 && math.Abs(pts[i][0]-ticks[l]) > 0.2 {
				t.Errorf("p%v at x %.1f, its tick at %.1f", p.Percentile, pts[i][0], ticks[l])
			}
		}
		if i > 0 && pts[i][1] > pts[i-1][1] {
			t.Errorf("latency falls from point %d to %d", i-1, i)
		}
	}
}

func TestWriteHTML_CompareOverlaysBothRuns(t *testing.T) {
	base, cur := runResult(1000, 1), runResult(800, 2)
	root := parse(t, render(t, Run{"base", base}, Run{"new", cur}))
	cs := charts(root)
	for _, id := range []string{ChartThroughput, ChartPublishOverTime, ChartE2EOverTime, ChartDistribution, ChartErrors} {
		ps := paths(cs[id])
		var b, n int
		for name, p := range ps {
			switch {
			case strings.HasPrefix(name, "base "):
				b++
				if p.attr("stroke-dasharray") == "" {
					t.Errorf("chart %s: baseline series %s is not dashed", id, name)
				}
			case strings.HasPrefix(name, "new "):
				n++
				if p.attr("stroke-dasharray") != "" {
					t.Errorf("chart %s: new series %s is dashed", id, name)
				}
			default:
				t.Errorf("chart %s: series %q belongs to neither run", id, name)
			}
		}
		if b == 0 || b != n {
			t.Errorf("chart %s: %d baseline and %d new series", id, b, n)
		}
	}
	// The slower run is higher on the latency chart (smaller y).
	ps := paths(cs[ChartPublishOverTime])
	bp, np := coords(t, ps["base p99"].attr("d")), coords(t, ps["new p99"].attr("d"))
	for i := range bp {
		if np[i][1] >= bp[i][1] {
			t.Fatalf("interval %d: new p99 at y %v, base at %v", i, np[i][1], bp[i][1])
		}
	}
	text := root.text()
	for _, want := range []string{"Comparison", "REGRESSION", "FAIL", "produce records/s fell 20.0%"} {
		if !strings.Contains(text, want) {
			t.Errorf("no %q in the report:\n%s", want, text)
		}
	}
}

// A result written before distributions were recorded still gets a
// percentile plot, from its summary's percentiles.
func TestWriteHTML_OldResultWithoutDistribution(t *testing.T) {
	r := runResult(1000, 1)
	r.PublishDistribution, r.EndToEndDistribution = nil, nil
	root := parse(t, render(t, Run{"old", r}))
	pts := coords(t, paths(charts(root)[ChartDistribution])["publish"].attr("d"))
	if len(pts) != 6 { // min, p50, p90, p99, p99.9, max
		t.Errorf("%d points, want 6", len(pts))
	}
}

// A run without intervals or latencies still renders, saying so.
func TestWriteHTML_EmptyRun(t *testing.T) {
	r := loadgen.Result{Version: loadgen.ResultVersion, Config: loadgen.Config{Command: loadgen.CmdProduce, Topic: "t"},
		Produce: &loadgen.Throughput{}, Publish: &latency.Summary{}}
	root := parse(t, render(t, Run{"empty", r}))
	cs := charts(root)
	if len(cs) != 2 {
		t.Errorf("charts %v, want throughput and errors", keys(cs))
	}
	if !strings.Contains(root.text(), "no intervals recorded") {
		t.Error("empty charts do not say so")
	}
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestTickLabels(t *testing.T) {
	_, _, ticks := niceLinear(0, 1)
	var got []string
	for _, v := range ticks {
		got = append(got, fmtNum(v))
	}
	if s := strings.Join(got, " "); s != "0 0.2 0.4 0.6 0.8 1" {
		t.Errorf("ticks %s", s)
	}
	for v, want := range map[float64]string{0: "0", 250: "250µs", 2500: "2.5ms", 1.2e6: "1.2s", 3 * 0.1 * 1e3: "300µs"} {
		if got := fmtMicros(v); got != want {
			t.Errorf("fmtMicros(%v) = %s, want %s", v, got, want)
		}
	}
	for x, want := range map[float64]string{1: "0%", 10: "90%", 100: "99%", 1000: "99.9%", 1e5: "99.999%"} {
		if got := percentOfTail(x); got != want {
			t.Errorf("percentOfTail(%v) = %s, want %s", x, got, want)
		}
	}
}

// Intervals without latencies break the line; a point alone between two
// gaps is drawn as a dot.
func TestChart_GapsAndLonePoints(t *testing.T) {
	nan := math.NaN()
	c := chart{ID: "c", Series: []series{{Name: "s", Color: "#000", X: []float64{1, 2, 3, 4, 5, 6}, Y: []float64{1, 2, nan, 3, nan, 4}}}}
	var root node
	if err := xml.Unmarshal([]byte(c.svg()), &root); err != nil {
		t.Fatal(err)
	}
	var d string
	var dots int
	root.walk(func(n node) {
		switch n.XMLName.Local {
		case "path":
			d = n.attr("d")
		case "circle":
			dots++
		}
	})
	if got := regexp.MustCompile(`[ML]`).FindAllString(d, -1); strings.Join(got, "") != "MLMM" {
		t.Errorf("path %q: commands %v, want M L M M", d, got)
	}
	if dots != 2 {
		t.Errorf("%d dots, want 2 (the points at x 4 and 6)", dots)
	}
}
