package main

import (
	"bytes"
	"encoding/xml"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/raftline/raftline/internal/chromium"
	"github.com/raftline/raftline/loadgen/report"
)

// svgSeries parses an HTML report (well-formed XML) and returns, for each
// chart id, the names of its series paths that have points.
func svgSeries(t *testing.T, path string) map[string][]string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	d := xml.NewDecoder(bytes.NewReader(b))
	d.Strict = true
	out := map[string][]string{}
	chart := ""
	for {
		tok, err := d.Token()
		if err != nil {
			if err.Error() != "EOF" {
				t.Fatalf("%s: not well-formed: %v", path, err)
			}
			return out
		}
		se, ok := tok.(xml.StartElement)
		if !ok {
			continue
		}
		attr := func(name string) string {
			for _, a := range se.Attr {
				if a.Name.Local == name {
					return a.Value
				}
			}
			return ""
		}
		switch se.Name.Local {
		case "svg":
			chart = attr("id")
			out[chart] = nil
		case "path":
			if attr("class") == "series" && strings.HasPrefix(attr("d"), "M") {
				out[chart] = append(out[chart], attr("data-series"))
			}
		}
	}
}

func TestCLI_Fake_HTMLReportBesideJSON_AndCompareOverlay(t *testing.T) {
	brokers := fakeBrokers(t)
	dir := t.TempDir()
	common := []string{"--brokers", brokers, "--topic", "html", "--partitions", "3", "--quiet",
		"--rate", "2000", "--duration", "3s", "--warmup", "500ms"}

	base := filepath.Join(dir, "base.json")
	mustRun(t, exitOK, append([]string{"e2e", "--json", base}, common...)...)
	charts := svgSeries(t, filepath.Join(dir, "base.html"))
	for id, want := range map[string][]string{
		report.ChartThroughput:      {"acked/s", "consumed/s"},
		report.ChartPublishOverTime: {"p50", "p99", "p99.9"},
		report.ChartE2EOverTime:     {"p50", "p99", "p99.9"},
		report.ChartDistribution:    {"publish", "end-to-end"},
		report.ChartErrors:          {"all errors"},
	} {
		if got := strings.Join(charts[id], ","); got != strings.Join(want, ",") {
			t.Errorf("base.html chart %s: series %q, want %q", id, got, want)
		}
	}
	if res := mustRead(t, base); len(res.PublishDistribution) < 10 || len(res.EndToEndDistribution) < 10 {
		t.Errorf("distributions of %d and %d points", len(res.PublishDistribution), len(res.EndToEndDistribution))
	}

	// --compare overlays the baseline on the new run's report.
	cur := filepath.Join(dir, "new.result")
	mustRun(t, exitOK, append([]string{"e2e", "--json", cur, "--compare", base}, common...)...)
	charts = svgSeries(t, filepath.Join(dir, "new.html"))
	for _, id := range []string{report.ChartThroughput, report.ChartDistribution} {
		var b, n int
		for _, s := range charts[id] {
			b += boolInt(strings.HasPrefix(s, "base "))
			n += boolInt(strings.HasPrefix(s, "new "))
		}
		if b != 2 || n != 2 {
			t.Errorf("new.html chart %s: series %q, want two of each run", id, charts[id])
		}
	}
	page, _ := os.ReadFile(filepath.Join(dir, "new.html"))
	if !strings.Contains(string(page), "Comparison") {
		t.Error("new.html has no comparison table")
	}

	// loadgen compare --html writes the same overlay from two files.
	overlay := filepath.Join(dir, "overlay.html")
	code, stdout, stderr := runCLI(t, "compare", "--throughput-drop", "100", "--p99-rise", "1e6", "--html", overlay, base, cur)
	if code != exitOK {
		t.Fatalf("compare: exit %d\n%s%s", code, stdout, stderr)
	}
	if charts := svgSeries(t, overlay); len(charts[report.ChartE2EOverTime]) != 6 {
		t.Errorf("overlay.html e2e latency series %q, want p50, p99, p99.9 of both runs", charts[report.ChartE2EOverTime])
	}

	// The reports of the runs, as a browser draws them.
	b := chromium.Start(t)
	b.Open(t, filepath.Join(dir, "base.html")).CheckCharts(t, "base.html", map[string]int{
		report.ChartThroughput: 2, report.ChartPublishOverTime: 3, report.ChartE2EOverTime: 3,
		report.ChartDistribution: 2, report.ChartErrors: 1})
	b.Open(t, filepath.Join(dir, "new.html")).CheckCharts(t, "new.html", map[string]int{
		report.ChartThroughput: 4, report.ChartPublishOverTime: 6, report.ChartE2EOverTime: 6,
		report.ChartDistribution: 4, report.ChartErrors: 2})
}

func TestBadFlags_Compare(t *testing.T) {
	base := writeResult(t, "base.json", 1000, 2000)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"produce", "--compare", base}, "needs --json"},
		{[]string{"produce", "--json", filepath.Join(t.TempDir(), "r.json"), "--compare", "/does/not/exist.json"}, "--compare: open /does/not/exist.json"},
	} {
		code, _, stderr := runCLI(t, tc.args...)
		if code != exitUsage || !strings.Contains(stderr, tc.want) {
			t.Errorf("%q: exit %d, stderr lacks %q:\n%s", tc.args, code, tc.want, stderr)
		}
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// loadgen report writes the report of a saved result, also one written
// before results had distributions.
func TestReport_OfSavedResult(t *testing.T) {
	base := writeResult(t, "base.json", 1000, 2000)
	cur := writeResult(t, "cur.json", 900, 2500)
	code, stdout, stderr := runCLI(t, "report", cur)
	want := strings.TrimSuffix(cur, ".json") + ".html"
	if code != exitOK || strings.TrimSpace(stdout) != want {
		t.Fatalf("report: exit %d, stdout %q, want %s\n%s", code, stdout, want, stderr)
	}
	// The result has no series: its charts over time are empty.
	if charts := svgSeries(t, want); len(charts) != 4 || len(charts[report.ChartDistribution]) != 1 {
		t.Errorf("charts %v: want throughput, publish latency, the distribution and errors", charts)
	}
	out := filepath.Join(t.TempDir(), "x.html")
	if code, _, stderr := runCLI(t, "report", "--compare", base, cur, "--out", out); code != exitOK {
		t.Fatalf("report --compare: exit %d\n%s", code, stderr)
	}
	if charts := svgSeries(t, out); strings.Join(charts[report.ChartDistribution], ",") != "base publish,new publish" {
		t.Errorf("overlay distribution series %q", charts[report.ChartDistribution])
	}
	for _, args := range [][]string{{"report"}, {"report", base, cur}, {"report", "/does/not/exist.json"}} {
		if code, _, _ := runCLI(t, args...); code != exitUsage {
			t.Errorf("%q: exit %d, want %d", args, code, exitUsage)
		}
	}
}
