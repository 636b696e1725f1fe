package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// writeResult writes one result file in the layout loadgen and natsload share.
func writeResult(t *testing.T, dir, system, shape string, run int, rps float64, p50us, p99us int64, errs map[string]int64) {
	t.Helper()
	r := map[string]any{
		"produce":         map[string]any{"records_per_sec": rps, "errors": errs},
		"publish_latency": map[string]any{"p50_us": p50us, "p99_us": p99us},
	}
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, fmt.Sprintf("%s-%s-%d.json", system, shape, run))
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// fill writes three runs of every system and shape: records/s base, base*2
// and base*10 (median base*2), latencies likewise.
func fill(t *testing.T, dir string) {
	for si, sys := range systems {
		for _, sh := range shapes {
			base := float64(1000 * (si + 1))
			for run, f := range []float64{1, 2, 10} {
				var errs map[string]int64
				if sys == "jetstream" && sh.name == "max-4p" {
					errs = map[string]int64{"timeout": 2}
				}
				writeResult(t, dir, sys, sh.name, run+1, base*f, int64(base*f), int64(10*base*f), errs)
			}
		}
	}
}

func TestLoadFiguresTakesMediansAndSumsErrors(t *testing.T) {
	dir := t.TempDir()
	fill(t, dir)
	figs, measured, err := loadFigures(dir, 3)
	if err != nil {
		t.Fatal(err)
	}
	if time.Since(measured) > time.Minute {
		t.Errorf("measured %v, want the time the results were written", measured)
	}
	got := figs[key{"jetstream", "max-4p"}]
	want := figures{recordsPerSec: 4000, p50ms: 4, p99ms: 40, minRecordsPerSec: 2000, maxRecordsPerSec: 20000, errors: 6}
	if got != want {
		t.Fatalf("jetstream max-4p = %+v, want %+v", got, want)
	}
	if got := figs[key{"raftline", "sync-1p"}]; got.recordsPerSec != 2000 || got.errors != 0 {
		t.Fatalf("raftline sync-1p = %+v, want 2000 records/s and no errors", got)
	}
}

func TestLoadFiguresRefusesAMissingRun(t *testing.T) {
	dir := t.TempDir()
	fill(t, dir)
	if err := os.Remove(filepath.Join(dir, "raftline-rate-1000-2.json")); err != nil {
		t.Fatal(err)
	}
	if _, _, err := loadFigures(dir, 3); err == nil || !strings.Contains(err.Error(), "raftline-rate-1000-2.json") {
		t.Fatalf("err = %v, want one naming the missing run", err)
	}
}

func TestRenderShowsBothSystemsAndRatios(t *testing.T) {
	dir := t.TempDir()
	fill(t, dir)
	figs, _, err := loadFigures(dir, 3)
	if err != nil {
		t.Fatal(err)
	}
	o := options{runs: 3, seconds: 10, warmup: 2, natsVersion: "v2.15.3", load: "1.0 1.1 1.2 -> 1.5 1.3 1.2"}
	s := render(o, time.Date(2026, 12, 7, 15, 30, 0, 0, time.UTC), figs)
	for _, want := range []string{
		beginMarker, endMarker, "nats-server v2.15.3", "2026-12-07 15:30 UTC", "1.0 1.1 1.2 -> 1.5 1.3 1.2",
		"sync_interval: always",
		// raftline 2,000, JetStream default 4,000, sync always 6,000.
		"| max throughput, 1 producer | records/s | 2,000 (1,000-10,000) | 4,000 (2,000-20,000) | 0.50 | 6,000 (3,000-30,000) | 0.33 |",
		"| | publish p50 ms | 2.00 | 4.00 | 0.50 | 6.00 | 0.33 |",
		"| | publish p99 ms | 20.00 | 40.00 | 0.50 | 60.00 | 0.33 |",
		"| fixed rate 1,000/s | records/s |",
		"jetstream max-4p: 6",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("section lacks %q:\n%s", want, s)
		}
	}
}

func TestSpliceReplacesBetweenMarkersOrInsertsBeforeTelemetry(t *testing.T) {
	doc := "# Benchmarks\n\n## Storage\n\ntext\n\n## Telemetry overhead\n\nmore\n"
	first := splice(doc, beginMarker+"\nA\n"+endMarker+"\n")
	want := "# Benchmarks\n\n## Storage\n\ntext\n\n" + beginMarker + "\nA\n" + endMarker + "\n\n## Telemetry overhead\n\nmore\n"
	if first != want {
		t.Fatalf("first splice:\n%q\nwant\n%q", first, want)
	}
	second := splice(first, beginMarker+"\nB\n"+endMarker+"\n")
	if strings.Contains(second, "\nA\n") || strings.Count(second, beginMarker) != 1 ||
		second != strings.Replace(want, "\nA\n", "\nB\n", 1) {
		t.Fatalf("second splice:\n%q", second)
	}
	if got := splice("# B\n", "S\n"); got != "# B\n\nS\n" {
		t.Fatalf("splice without a telemetry section = %q", got)
	}
}

func TestThousandsAndMedian(t *testing.T) {
	for x, want := range map[float64]string{0: "0", 999: "999", 1000: "1,000", 43769.4: "43,769", 1234567: "1,234,567"} {
		if got := thousands(x); got != want {
			t.Errorf("thousands(%v) = %q, want %q", x, got, want)
		}
	}
	if got := median([]float64{3, 1, 2}); got != 2 {
		t.Errorf("median of 3,1,2 = %v", got)
	}
	if got := median([]float64{4, 1, 3, 2}); got != 2.5 {
		t.Errorf("median of 4,1,3,2 = %v", got)
	}
}
