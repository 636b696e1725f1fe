// Package observability proves raftline's observability bundle against the
// real thing: a three-node cluster of `raftline serve` processes under load
// from cmd/loadgen, scraped by a real Prometheus that evaluates the committed
// alerts/rules.yml, a real Alertmanager running compose/alertmanager.yml's
// routes, and a webhook receiver in the test standing in for the pager.
//
// The unit tests of dashboards/ and alerts/ check queries and rules against
// the metric catalogue (telemetry/catalog, rendered as docs/METRICS.md) and
// against promtool's synthetic series. Only a live run shows that the nodes
// export what the catalogue promises, that every panel has something to
// draw, and that an election storm really pages through Alertmanager while a
// single failover does not.
//
// Prometheus and Alertmanager come from Debian's prometheus and
// prometheus-alertmanager packages (scripts/ensure-tools.sh installs them).
// Without them the end-to-end test fails rather than skips: a green run must
// mean the alert path was exercised.
package observability

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/raftline/raftline/test/internal/systest"
)

// Binaries TestMain builds once for every test in the package.
var (
	raftlineBin string
	loadgenBin  string
	// repoRoot is the module root, for the committed files under test
	// (alerts/rules.yml, compose/alertmanager.yml, dashboards/json).
	repoRoot string
)

func TestMain(m *testing.M) { os.Exit(runTests(m)) }

func runTests(m *testing.M) int {
	root, err := systest.RepoRoot()
	if err != nil {
		fmt.Fprintln(os.Stderr, "observability tests:", err)
		return 1
	}
	repoRoot = root
	dir, err := os.MkdirTemp("", "raftline-observability-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "observability tests:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	raftlineBin = filepath.Join(dir, "raftline")
	loadgenBin = filepath.Join(dir, "loadgen")
	for bin, pkg := range map[string]string{raftlineBin: "./cmd/raftline", loadgenBin: "./cmd/loadgen"} {
		if err := systest.Build(root, bin, pkg); err != nil {
			fmt.Fprintln(os.Stderr, "observability tests:", err)
			return 1
		}
	}
	return m.Run()
}

// requireTool returns the path of the first of names found on PATH, and
// fails the test (never skips it) when none is: a run without a real
// Prometheus or Alertmanager has proven nothing about alerting.
func requireTool(t testing.TB, pkg string, names ...string) string {
	t.Helper()
	for _, n := range names {
		if p, err := exec.LookPath(n); err == nil {
			return p
		}
	}
	t.Fatalf("none of %s is on PATH: install the Debian package %q (scripts/ensure-tools.sh does)",
		strings.Join(names, ", "), pkg)
	return ""
}
