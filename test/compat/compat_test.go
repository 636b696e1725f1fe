//go:build unix

// Package compat runs real Kafka clients against a three-node cluster of the
// real raftline binary: franz-go, sarama and kafka-go in this process,
// librdkafka through confluent-kafka-python and kcat, and kafka-python, the
// Python ones from Debian's packages run by /usr/bin/python3
// (scripts/ensure-tools.sh installs them).
//
// The cases are the compatibility matrix of package matrix: every client
// against every feature, each expected to work, to fail at once with a named
// error, or to be absent from the client. docs/COMPATIBILITY.md's matrix is
// generated from the same table, so what the document claims is what this
// suite has just seen. A client or tool that is missing fails the suite
// rather than skipping it: a green run must mean every client was run.
//
// The consumer group rows run the same scenarios with every client
// (groups_test.go), each client supplying how it creates a topic, produces
// and runs a member (groups_<client>_test.go; the Python ones run
// testdata/groups.py). What a member reads is checked offset by offset
// against the group's commits; who owns which partition is seen from probe
// records the harness writes to every partition, since kafka-go's Reader
// does not say, and checked against DescribeGroups.
//
// TestMain builds the binary once; TestCompat starts the one cluster every
// case shares, each case on topics of its own.
package compat

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/raftline/raftline/test/internal/systest"
)

// raftlineBin is the binary TestMain built; repoRoot the module root.
var raftlineBin, repoRoot string

func TestMain(m *testing.M) { os.Exit(runTests(m)) }

func runTests(m *testing.M) int {
	root, err := systest.RepoRoot()
	if err != nil {
		fmt.Fprintln(os.Stderr, "compat tests:", err)
		return 1
	}
	repoRoot = root
	dir, err := os.MkdirTemp("", "raftline-compat-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "compat tests:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	raftlineBin = filepath.Join(dir, "raftline")
	if err := systest.Build(root, raftlineBin, "./cmd/raftline"); err != nil {
		fmt.Fprintln(os.Stderr, "compat tests:", err)
		return 1
	}
	return m.Run()
}
