package summary

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSuite_OneFailedRow_FailsAndIsNamed(t *testing.T) {
	s := New()
	s.Add(Row{Scenario: "02 minority", Fault: "isolate follower", Acked: 5, Lost: 1, Result: "FAIL",
		Failures: []string{"1 acknowledged record lost"}})
	s.Add(Row{Scenario: "01 leader killed", Fault: "SIGKILL leader", ProvenEffective: true, LongestGapMs: 1234,
		Acked: 10, ReplicasIdentical: true, Result: "PASS",
		Figures: []Figure{{Name: "failover", Value: 2500, Unit: "ms", Target: 2000}}})
	s.Finish()
	if s.Rows[0].Scenario != "01 leader killed" {
		t.Errorf("rows not in scenario order: first is %q", s.Rows[0].Scenario)
	}
	if s.Passed {
		t.Fatal("a suite with a failed row passed")
	}
	var out bytes.Buffer
	s.WriteTable(&out)
	for _, want := range []string{
		"SCENARIO", "LONGEST GAP", "01 leader killed", "1.23s", "failover 2500 ms (target < 2000 ms: MISSED)",
		"FAILURE: 1 acknowledged record lost", "chaos suite FAILED: 2 scenarios",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, out.String())
		}
	}

	path := filepath.Join(t.TempDir(), "sub", "chaos.json")
	if err := s.WriteJSON(path); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var back struct {
		Passed    bool  `json:"passed"`
		Scenarios []Row `json:"scenarios"`
	}
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if back.Passed || len(back.Scenarios) != 2 || back.Scenarios[1].Lost != 1 || back.Scenarios[0].Figures[0].Met() {
		t.Fatalf("JSON round trip: %+v", back)
	}
}

func TestSuite_NoRows_DoesNotPass(t *testing.T) {
	s := New()
	s.Finish()
	if s.Passed {
		t.Fatal("an empty suite passed")
	}
}
