//go:build chaos && linux

package chaos

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/raftline/raftline/test/chaos/harness"
	"github.com/raftline/raftline/test/chaos/netfault"
	"github.com/raftline/raftline/test/chaos/summary"
)

// raftlineBin is the binary TestMain built; suite collects the rows.
var (
	raftlineBin string
	suite       = summary.New()
)

// TestMain checks that namespaces can be made (failing, not skipping, when
// they cannot: CI runs as root), sweeps what crashed runs left, builds the
// binary once, runs the scenarios and writes the summary: a table on stdout
// and JSON at $RAFTLINE_CHAOS_OUT (default: a file in the temp directory).
func TestMain(m *testing.M) { os.Exit(runSuite(m)) }

func runSuite(m *testing.M) int {
	iptables, err := netfault.Check()
	if err != nil {
		fmt.Fprintln(os.Stderr, "chaos suite cannot run:", err)
		return 1
	}
	if removed, err := netfault.SweepStale(); err != nil {
		fmt.Fprintln(os.Stderr, "chaos suite: sweeping stale namespaces:", err)
		return 1
	} else if len(removed) > 0 {
		fmt.Fprintf(os.Stderr, "chaos suite: removed %d stale namespaces of crashed runs: %v\n", len(removed), removed)
	}
	// Creating and removing a network proves namespaces work here before
	// any scenario depends on them.
	nw, err := netfault.New(1)
	if err != nil {
		fmt.Fprintln(os.Stderr, "chaos suite: cannot create network namespaces:", err)
		return 1
	}
	if err := nw.Close(); err != nil {
		fmt.Fprintln(os.Stderr, "chaos suite: cannot remove network namespaces:", err)
		return 1
	}
	dir, err := os.MkdirTemp("", "raftline-chaos-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	raftlineBin, err = harness.Build(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, "chaos suite:", err)
		return 1
	}
	suite.Env["iptables"] = iptables
	suite.Env["cpus"] = fmt.Sprint(runtime.NumCPU())
	suite.Env["go"] = runtime.Version()

	code := m.Run()

	suite.Finish()
	fmt.Println()
	suite.WriteTable(os.Stdout)
	out := os.Getenv("RAFTLINE_CHAOS_OUT")
	if out == "" {
		out = filepath.Join(os.TempDir(), "raftline-chaos-summary.json")
	}
	if err := suite.WriteJSON(out); err != nil {
		fmt.Fprintln(os.Stderr, "chaos suite: writing the summary:", err)
		code = 1
	} else {
		fmt.Println("summary JSON:", out)
	}
	if code == 0 && len(suite.Rows) > 0 && !suite.Passed {
		code = 1
	}
	return code
}
