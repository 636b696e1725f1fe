package alerts

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/raftline/raftline/internal/promql"
	"github.com/raftline/raftline/telemetry/catalog"
)

// promqlBlocks returns the ```promql code blocks of a markdown file, each as
// its lines with the block's indentation and # comment lines removed.
func promqlBlocks(md string) [][]string {
	var blocks [][]string
	var cur []string
	in := false
	indent := ""
	for _, line := range strings.Split(md, "\n") {
		trimmed := strings.TrimSpace(line)
		switch {
		case !in && trimmed == "```promql":
			in, cur = true, nil
			indent = line[:len(line)-len(strings.TrimLeft(line, " \t"))]
		case in && trimmed == "```":
			in = false
			blocks = append(blocks, cur)
		case in && strings.HasPrefix(trimmed, "#"):
		case in:
			cur = append(cur, strings.TrimPrefix(line, indent))
		}
	}
	return blocks
}

// Runbooks quote the alert's expression and give diagnosis queries. The
// quoted expression must be the rule's, and every query must parse and read
// only metrics that exist, or the runbook misleads whoever is paged.
func TestRunbooks_QueriesAreCurrent(t *testing.T) {
	documented := exportedSeries()
	known := func(name string) bool {
		// Prometheus and Alertmanager scrape themselves (compose/prometheus.yml):
		// the Watchdog and absent-target runbooks read their metrics. It
		// scrapes the OpenTelemetry Collector too (job otelcol), whose
		// metrics the trace runbooks read.
		return documented[name] || catalog.IsRuntime(name) || name == "up" || name == "scrape_duration_seconds" ||
			strings.HasPrefix(name, "prometheus_") || strings.HasPrefix(name, "alertmanager_") || strings.HasPrefix(name, "otelcol_")
	}
	for _, g := range Groups(DefaultConfig()) {
		for _, r := range g.Rules {
			if r.Record != "" {
				documented[r.Record] = true
			}
		}
	}

	var rules strings.Builder
	rules.WriteString("groups:\n  - name: runbook-queries\n    rules:\n")
	n := 0
	for _, r := range alertRules(t) {
		name := filepath.Join("..", "docs", "runbooks", r.Alert+".md")
		b, err := os.ReadFile(name)
		if err != nil {
			t.Errorf("%s: %v", r.Alert, err)
			continue
		}
		blocks := promqlBlocks(string(b))
		if len(blocks) == 0 {
			t.Errorf("%s: no promql blocks", name)
			continue
		}
		if got := strings.TrimSpace(strings.Join(blocks[0], "\n")); got != r.Expr {
			t.Errorf("%s: first promql block\n%s\nis not the rule's expression\n%s", name, got, r.Expr)
		}
		// Later blocks hold one query per blank-line separated paragraph.
		for _, blk := range blocks[1:] {
			for _, q := range strings.Split(strings.Join(blk, "\n"), "\n\n") {
				if q = strings.TrimSpace(q); q == "" {
					continue
				}
				for _, m := range promql.MetricNames(q) {
					if !known(m) {
						t.Errorf("%s: query %q reads %s, which raftline does not export", name, q, m)
					}
				}
				n++
				fmt.Fprintf(&rules, "      - record: runbook_query_%d\n        expr: %q\n", n, q)
			}
		}
	}
	if n == 0 {
		t.Fatal("no runbook queries found")
	}
	promtool := mustTool(t, "promtool", "prometheus")
	file := filepath.Join(t.TempDir(), "runbook-queries.yml")
	if err := os.WriteFile(file, []byte(rules.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	run(t, promtool, "check", "rules", file)
}
