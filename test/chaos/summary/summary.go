// Package summary collects the chaos suite's results, one row per scenario,
// and writes them as a table for people and as JSON for tools.
package summary

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"text/tabwriter"
	"time"
)

// Row is one scenario's outcome.
type Row struct {
	Scenario string `json:"scenario"`
	Fault    string `json:"fault"`
	// ProvenEffective says every injected fault was shown to take effect;
	// Proof says how.
	ProvenEffective bool     `json:"proven_effective"`
	Proof           []string `json:"proof,omitempty"`
	// LongestGapMs is the longest time without a successful produce while
	// the scenario's load ran.
	LongestGapMs float64 `json:"longest_produce_gap_ms"`
	Acked        int64   `json:"acked"`
	Lost         int64   `json:"lost"`
	Duplicated   int64   `json:"duplicated"`
	Misplaced    int64   `json:"misplaced"`
	Reordered    int64   `json:"reordered"`
	Conflicts    int64   `json:"conflicts"`
	// ReplicasIdentical says every node's partition logs ended
	// byte-identical (equal SHA-256 per partition).
	ReplicasIdentical bool     `json:"replicas_identical"`
	Figures           []Figure `json:"figures,omitempty"`
	Notes             []string `json:"notes,omitempty"`
	Failures          []string `json:"failures,omitempty"`
	Result            string   `json:"result"`
	DurationSec       float64  `json:"duration_sec"`
}

// Figure is a measured number worth reporting, with the target it is
// reported against, if any. Targets are reported, not asserted.
type Figure struct {
	Name   string  `json:"name"`
	Value  float64 `json:"value"`
	Unit   string  `json:"unit"`
	Target float64 `json:"target,omitempty"` // 0: none; otherwise Value should stay below it
}

// Met reports whether the figure is below its target (true when it has
// none).
func (f Figure) Met() bool { return f.Target == 0 || f.Value < f.Target }

func (f Figure) String() string {
	s := fmt.Sprintf("%s %.0f %s", f.Name, f.Value, f.Unit)
	if f.Target != 0 {
		verdict := "met"
		if !f.Met() {
			verdict = "MISSED"
		}
		s += fmt.Sprintf(" (target < %.0f %s: %s)", f.Target, f.Unit, verdict)
	}
	return s
}

// Suite is the whole run.
type Suite struct {
	mu      sync.Mutex
	Started time.Time         `json:"started"`
	Seconds float64           `json:"duration_sec"`
	Env     map[string]string `json:"environment,omitempty"`
	Rows    []Row             `json:"scenarios"`
	Passed  bool              `json:"passed"`
}

// New starts a suite now.
func New() *Suite { return &Suite{Started: time.Now(), Env: map[string]string{}} }

// Add records a row.
func (s *Suite) Add(r Row) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.Rows = append(s.Rows, r)
}

// Finish closes the suite: rows in scenario order, the duration, and
// whether every row passed.
func (s *Suite) Finish() {
	s.mu.Lock()
	defer s.mu.Unlock()
	slices.SortStableFunc(s.Rows, func(a, b Row) int { return strings.Compare(a.Scenario, b.Scenario) })
	s.Seconds = time.Since(s.Started).Seconds()
	s.Passed = len(s.Rows) > 0 && !slices.ContainsFunc(s.Rows, func(r Row) bool { return r.Result != "PASS" })
}

// WriteTable prints the rows as an aligned table, then each row's figures,
// notes and failures.
func (s *Suite) WriteTable(w io.Writer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SCENARIO\tFAULT\tPROVEN\tLONGEST GAP\tACKED\tLOST\tDUP\tIDENTICAL\tRESULT")
	for _, r := range s.Rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%d\t%d\t%s\t%s\n", r.Scenario, clip(r.Fault, 56), yesNo(r.ProvenEffective),
			fmtMs(r.LongestGapMs), r.Acked, r.Lost, r.Duplicated, yesNo(r.ReplicasIdentical), r.Result)
	}
	tw.Flush()
	for _, r := range s.Rows {
		if len(r.Figures)+len(r.Failures) == 0 {
			continue
		}
		fmt.Fprintf(w, "%s:\n", r.Scenario)
		for _, f := range r.Figures {
			fmt.Fprintf(w, "    %v\n", f)
		}
		for _, f := range r.Failures {
			fmt.Fprintf(w, "    FAILURE: %s\n", f)
		}
	}
	verdict := "PASSED"
	if !s.Passed {
		verdict = "FAILED"
	}
	fmt.Fprintf(w, "chaos suite %s: %d scenarios in %.0fs\n", verdict, len(s.Rows), s.Seconds)
}

// WriteJSON writes the suite to path, creating its directory.
func (s *Suite) WriteJSON(path string) error {
	s.mu.Lock()
	b, err := json.MarshalIndent(s, "", "  ")
	s.mu.Unlock()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

func fmtMs(ms float64) string {
	if ms >= 1000 {
		return fmt.Sprintf("%.2fs", ms/1000)
	}
	return fmt.Sprintf("%.0fms", ms)
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "NO"
}

func clip(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return strings.TrimSpace(string(r[:n-1])) + "…"
	}
	return s
}
