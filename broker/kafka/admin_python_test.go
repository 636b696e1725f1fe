package kafka_test

import (
	"context"
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/raftline/raftline/broker/clustertest"
	"github.com/raftline/raftline/broker/fsm"
	"github.com/raftline/raftline/broker/server"
)

// python is Debian's interpreter, which has Debian's
// python3-confluent-kafka (scripts/ensure-tools.sh installs it).
const python = "/usr/bin/python3"

// confluent-kafka's AdminClient (librdkafka) describes, alters and grows a
// topic on three disk nodes, then produces to and consumes from a partition
// it added (testdata/admin_confluent.py).
func TestConfluentAdminClient(t *testing.T) {
	if out, err := exec.Command(python, "-c", "import confluent_kafka").CombinedOutput(); err != nil {
		t.Fatalf("%s cannot import confluent_kafka (Debian's python3-confluent-kafka): %v\n%s", python, err, out)
	}
	c := clustertest.Start(t, clustertest.Options{Configure: func(cfg *server.Config) { cfg.Storage = fsm.Disk }})
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, python, "testdata/admin_confluent.py",
		strings.Join(c.KafkaAddrs(), ","), "py-admin", "30").Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("admin_confluent.py: %v\n%s\n%s", err, out, stderr)
	}
	var res struct {
		OK        bool     `json:"ok"`
		Error     string   `json:"error"`
		Steps     []string `json:"steps"`
		ClientLog []string `json:"client_log"`
	}
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("output %q: %v", out, err)
	}
	for _, s := range res.Steps {
		t.Log(s)
	}
	if !res.OK {
		t.Fatalf("confluent-kafka: %s\nthe consumer's last librdkafka log lines:\n%s", res.Error, strings.Join(res.ClientLog, "\n"))
	}
	c.WaitReplicasIdentical()
	for _, n := range c.Nodes {
		tp, ok := n.Server().Cluster.Topic("py-admin")
		if !ok || tp.Partitions != 4 || tp.Configs["max.message.bytes"] != "500000" || tp.Configs["retention.ms"] != "" {
			t.Errorf("node %d: %+v", n.ID, tp)
		}
	}
}
