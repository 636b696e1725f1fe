//go:build unix

package compat

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/raftline/raftline/test/compat/matrix"
	"github.com/raftline/raftline/test/internal/systest"
)

// The matrix names the client versions it was established with; a client
// missing or of another version fails here rather than leaving the document
// to claim what nobody checked.
func TestClientVersions_MatchTheMatrix(t *testing.T) {
	// Test binaries carry no module versions; go.mod has them.
	for client, module := range map[matrix.Client]string{
		matrix.FranzGo: "github.com/twmb/franz-go", matrix.Sarama: "github.com/IBM/sarama", matrix.KafkaGo: "github.com/segmentio/kafka-go",
	} {
		cmd := exec.Command(systest.GoTool(), "list", "-m", "-f", "{{.Version}}", module)
		cmd.Dir = repoRoot
		out, err := cmd.Output()
		if got := strings.TrimSpace(string(out)); err != nil || got != client.Version {
			t.Errorf("%s: go.mod has %s %q (%v), the matrix says %q", client.Name, module, got, err, client.Version)
		}
	}

	out, err := exec.Command(python, "-c",
		`import confluent_kafka, kafka; print("%s (librdkafka %s)" % (confluent_kafka.version()[0], confluent_kafka.libversion()[0])); print(kafka.__version__)`).CombinedOutput()
	if err != nil {
		t.Fatalf("%s cannot import confluent_kafka and kafka (Debian's python3-confluent-kafka and python3-kafka; scripts/ensure-tools.sh installs them): %v\n%s", python, err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != 2 || lines[0] != matrix.Confluent.Version || lines[1] != matrix.KafkaPython.Version {
		t.Errorf("%s has confluent-kafka and kafka-python %q, the matrix says %q and %q", python, lines, matrix.Confluent.Version, matrix.KafkaPython.Version)
	}

	out, err = exec.Command("kcat", "-V").CombinedOutput()
	if err != nil {
		t.Fatalf("kcat -V (Debian's kcat; scripts/ensure-tools.sh installs it): %v\n%s", err, out)
	}
	m := regexp.MustCompile(`Version (\S+) .*librdkafka (\S+)`).FindSubmatch(out)
	if m == nil || string(m[1])+" (librdkafka "+string(m[2])+")" != matrix.Kcat.Version {
		t.Errorf("kcat -V says %q, the matrix says %q", firstLines(string(out), 5), matrix.Kcat.Version)
	}
}

// testAPIVersions checks that every node of the real binary advertises the
// API keys and versions the document lists.
func testAPIVersions(t *testing.T, c *cluster) {
	doc, err := os.ReadFile(filepath.Join(repoRoot, "docs", "COMPATIBILITY.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, nd := range c.nodes {
		apis, err := matrix.AskAPIVersions(nd.kafka)
		if err != nil {
			t.Fatal(err)
		}
		table, err := matrix.APITable(apis)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(doc), table) {
			t.Fatalf("node %d advertises API versions docs/COMPATIBILITY.md does not list (make compat-doc):\n%s", nd.id, table)
		}
	}
}

func firstLines(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[:n]
	}
	return strings.Join(lines, "\n")
}
