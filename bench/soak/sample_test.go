package main

import (
	"strings"
	"testing"
)

func TestReadGauges_LabelledAndPlain(t *testing.T) {
	text := `# HELP go_goroutines Number of goroutines that currently exist.
# TYPE go_goroutines gauge
go_goroutines{node_id="1"} 35
process_resident_memory_bytes{node_id="1"} 2.8250112e+07
process_open_fds 57 1700000000000
raft_state{node_id="1",state="leader"} 1
`
	got, err := readGauges(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]float64{"go_goroutines": 35, "process_resident_memory_bytes": 28250112, "process_open_fds": 57, "raft_state": 1}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v", k, got[k], v)
		}
	}
}
