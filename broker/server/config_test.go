package server

import (
	"maps"
	"testing"

	"github.com/raftline/raftline/broker/kafka"
)

func TestDefaultTopicConfigs_AddsRetentionBytes_LeavesCallersMap(t *testing.T) {
	mine := map[string]string{"retention.ms": "60000"}
	cfg := Config{DefaultRetentionBytes: 1 << 20, Kafka: kafka.Config{DefaultTopicConfigs: mine}}
	got := defaultTopicConfigs(cfg)
	if want := map[string]string{"retention.ms": "60000", "retention.bytes": "1048576"}; !maps.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	if len(mine) != 1 {
		t.Fatalf("the caller's map was changed: %v", mine)
	}
	if got := defaultTopicConfigs(Config{}); len(got) != 0 {
		t.Fatalf("no defaults set, got %v", got)
	}
}
