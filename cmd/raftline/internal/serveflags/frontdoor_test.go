package serveflags

import (
	"slices"
	"testing"
	"time"
)

func TestParseServe_KafkaFrontDoor_DefaultsFlagsAndEnv(t *testing.T) {
	k := mustParse(t, noEnv, "--node-id=1").Server.Kafka
	if k.MaxConnInflightBytes != 100<<20 || k.MaxNodeInflightBytes != 256<<20 {
		t.Fatalf("budgets: connection %d, node %d", k.MaxConnInflightBytes, k.MaxNodeInflightBytes)
	}
	if k.FirstRequestTimeout != 10*time.Second || k.FrameTimeout != 30*time.Second || k.IdleTimeout != 10*time.Minute || k.RejectLogInterval != time.Minute {
		t.Fatalf("timeouts: first request %v, frame %v, idle %v, reject log %v", k.FirstRequestTimeout, k.FrameTimeout, k.IdleTimeout, k.RejectLogInterval)
	}

	k = mustParse(t, env(map[string]string{"RAFTLINE_KAFKA_FRAME_TIMEOUT": "7s", "RAFTLINE_KAFKA_NODE_MAX_INFLIGHT_BYTES": "4096"}),
		"--node-id=1", "--max-request-bytes=2048", "--kafka-max-inflight-bytes=1024",
		"--kafka-first-request-timeout=2s", "--kafka-idle-timeout=1m30s", "--kafka-reject-log-interval=5s").Server.Kafka
	if k.MaxConnInflightBytes != 1024 || k.MaxNodeInflightBytes != 4096 || k.FrameTimeout != 7*time.Second ||
		k.FirstRequestTimeout != 2*time.Second || k.IdleTimeout != 90*time.Second || k.RejectLogInterval != 5*time.Second {
		t.Fatalf("from flags and env: %+v", k)
	}
}

func TestParseServe_KafkaFrontDoor_BadValuesNamed(t *testing.T) {
	_, err := parse(t, noEnv, "--node-id=1",
		"--kafka-max-inflight-bytes=10",
		"--kafka-node-max-inflight-bytes=1048576", // below the default --max-request-bytes
		"--kafka-first-request-timeout=0s",
		"--kafka-frame-timeout=-1s",
		"--kafka-idle-timeout=0s",
		"--kafka-reject-log-interval=0s",
	)
	want := []string{"kafka-first-request-timeout", "kafka-frame-timeout", "kafka-idle-timeout",
		"kafka-max-inflight-bytes", "kafka-node-max-inflight-bytes", "kafka-reject-log-interval"}
	if got := flagsNamed(t, err); !slices.Equal(got, want) {
		t.Fatalf("errors name %v, want %v: %v", got, want, err)
	}
}
