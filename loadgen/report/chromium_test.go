package report

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/raftline/raftline/internal/chromium"
)

// These tests open generated reports in a real headless Chromium (Debian's
// chromium, installed by scripts/ensure-tools.sh; internal/chromium): every
// chart lays out at a non-zero size with its series drawn across it, and
// the page logs no errors.

func TestChromium_ReportRendersWithoutErrors(t *testing.T) {
	dir := t.TempDir()
	single := filepath.Join(dir, "single.html")
	overlay := filepath.Join(dir, "overlay.html")
	os.WriteFile(single, render(t, Run{"this run", runResult(1000, 1)}), 0o644)
	os.WriteFile(overlay, render(t, Run{"base", runResult(1000, 1)}, Run{"new", runResult(800, 2)}), 0o644)

	b := chromium.Start(t)
	b.Open(t, single).CheckCharts(t, "single.html", map[string]int{
		ChartThroughput: 2, ChartPublishOverTime: 3, ChartE2EOverTime: 3, ChartDistribution: 2, ChartErrors: 3})
	b.Open(t, overlay).CheckCharts(t, "overlay.html", map[string]int{
		ChartThroughput: 4, ChartPublishOverTime: 6, ChartE2EOverTime: 6, ChartDistribution: 4, ChartErrors: 6})
}

// The console check sees errors: a report-like page that breaks its own
// Content-Security-Policy (an image from elsewhere) and throws one.
func TestChromium_ConsoleErrorsAreSeen(t *testing.T) {
	page := filepath.Join(t.TempDir(), "bad.html")
	os.WriteFile(page, []byte(`<!DOCTYPE html><html><head>
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'"/>
</head><body><img src="https://example.invalid/x.png"/><svg class="chart"></svg></body></html>`), 0o644)
	p := chromium.Start(t).Open(t, page)
	if cs := p.Charts(t); len(cs) != 1 {
		t.Fatalf("%d charts, want 1", len(cs))
	}
	var n int
	p.Eval(t, `setTimeout(() => { throw new Error("thrown on purpose") }, 0); 0`, &n)
	deadline := time.Now().Add(chromium.Timeout)
	for {
		errs := strings.Join(p.Errors(), "\n")
		if strings.Contains(errs, "Content Security Policy") && strings.Contains(errs, "thrown on purpose") {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("errors seen: %q; want the CSP violation and the exception", errs)
		}
		p.Sync(t)
	}
}

func TestChromium_TimeSeriesPageRendersWithoutErrors(t *testing.T) {
	page := filepath.Join(t.TempDir(), "soak.html")
	var rss, fds []TimeSeries
	for node := range 3 {
		r := TimeSeries{Name: fmt.Sprintf("node %d", node+1)}
		for s := 0.0; s <= 600; s += 5 {
			r.X = append(r.X, s)
			r.Y = append(r.Y, 100+float64(node)*10+s/60)
		}
		rss = append(rss, r)
		fds = append(fds, TimeSeries{Name: r.Name, X: r.X, Y: r.Y})
	}
	var b bytes.Buffer
	err := TimeSeriesPage{Title: "soak", Failures: []string{"a failure"}, Notes: []string{"a note"}, Charts: []TimeChart{
		{ID: "rss", Title: "RSS", YLabel: "MiB", Series: rss, Bands: []TimeBand{{From: 100, To: 120, Label: "restart"}}},
		{ID: "fds", Title: "open files", YLabel: "files", Series: fds},
	}}.WriteHTML(&b)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(page, b.Bytes(), 0o644)
	chromium.Start(t).Open(t, page).CheckCharts(t, "soak.html", map[string]int{"rss": 3, "fds": 3})
}
