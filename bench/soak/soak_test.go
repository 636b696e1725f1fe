//go:build linux

package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestSoak_ShortRunPasses runs the soak for half a minute against a real
// three-node cluster, two restarts included, and checks what it writes:
// a CSV row of every node at every sample, and a chart of every resource.
func TestSoak_ShortRunPasses(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "raftline")
	build := exec.Command("go", "build", "-o", bin, "github.com/raftline/raftline/cmd/raftline")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	cfg := config{
		Raftline: bin, Duration: 24 * time.Second, SampleEvery: time.Second, RestartEvery: 9 * time.Second, Down: time.Second, Settle: 2 * time.Second,
		Rate: 200, Size: 256, Partitions: 2, RetentionBytes: 4 << 20, SegmentBytes: 1 << 20,
		Out: filepath.Join(dir, "out"), WorkDir: filepath.Join(dir, "work"),
		KafkaPort: 21892, HTTPPort: 21992, RaftPort: 22092,
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	if code := run(ctx, cfg, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout.String(), stderr.String())
	}
	for _, want := range []string{"verify OK", "2 restarts, 1 of them of the leader", "replicas identical: 2 partition digests", "PASS"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, stdout.String())
		}
	}

	f, err := os.Open(filepath.Join(cfg.Out, "soak.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) < 1+3*20 {
		t.Fatalf("%d CSV rows; want a header and three nodes' rows for at least 20 samples", len(rows))
	}
	if got := strings.Join(rows[0], ","); got != "seconds,node,up,rss_bytes,heap_inuse_bytes,goroutines,open_fds,data_dir_bytes" {
		t.Errorf("CSV header %q", got)
	}
	down := 0
	for _, r := range rows[1:] {
		if r[2] == "false" {
			down++
		}
	}
	if down == 0 || down > len(rows)/4 {
		t.Errorf("%d of %d rows have a node down; want the restarts' few", down, len(rows)-1)
	}

	page, err := os.ReadFile(filepath.Join(cfg.Out, "soak.html"))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range resources {
		if !strings.Contains(string(page), `data-chart="`+r.Column+`"`) {
			t.Errorf("soak.html has no %s chart", r.Column)
		}
	}
	if _, err := os.Stat(filepath.Join(cfg.Out, "e2e.html")); err != nil {
		t.Error(err)
	}
}
