package topicrules

import (
	"strings"
	"testing"
)

func TestValidateTopicName(t *testing.T) {
	for name, ok := range map[string]bool{
		"orders": true, "a.b_c-D9": true, strings.Repeat("x", 249): true,
		"": false, ".": false, "..": false, strings.Repeat("x", 250): false, "a b": false, "é": false, "a/b": false,
	} {
		if err := ValidateTopicName(name); (err == nil) != ok {
			t.Errorf("ValidateTopicName(%q) = %v, want ok %v", name, err, ok)
		}
	}
}

func TestValidateConfigs(t *testing.T) {
	for _, tc := range []struct {
		configs map[string]string
		ok      bool
	}{
		{nil, true},
		{map[string]string{ConfigRetentionMs: "-1", ConfigRetentionBytes: "1048576", ConfigMaxMessageBytes: "1", ConfigCleanupPolicy: "delete"}, true},
		{map[string]string{ConfigRetentionMs: "-2"}, false},
		{map[string]string{ConfigRetentionBytes: "1.5"}, false},
		{map[string]string{ConfigMaxMessageBytes: "0"}, false},
		{map[string]string{ConfigCleanupPolicy: "compact"}, false},
		{map[string]string{"unknown.config": "1"}, false},
		// segment.bytes: 1 MiB (Kafka 4's least) to 2^31-1 (an index
		// position's 32 bits).
		{map[string]string{ConfigSegmentBytes: "1048576", ConfigSegmentMs: "60000"}, true},
		{map[string]string{ConfigSegmentBytes: "2147483647", ConfigSegmentMs: "9223372036854775807"}, true},
		{map[string]string{ConfigSegmentBytes: "1"}, false},
		{map[string]string{ConfigSegmentBytes: "14"}, false}, // Kafka 3's least
		{map[string]string{ConfigSegmentBytes: "1048575"}, false},
		{map[string]string{ConfigSegmentBytes: "2147483648"}, false},
		{map[string]string{ConfigSegmentBytes: "-1"}, false},
		{map[string]string{ConfigSegmentBytes: "1MiB"}, false},
		// segment.ms: at least a minute.
		{map[string]string{ConfigSegmentMs: "59999"}, false},
		{map[string]string{ConfigSegmentMs: "0"}, false},
		{map[string]string{ConfigSegmentMs: "-1"}, false},
		{map[string]string{ConfigSegmentMs: "9223372036854775808"}, false},
		{map[string]string{ConfigSegmentMs: ""}, false},
	} {
		if err := ValidateConfigs(tc.configs); (err == nil) != tc.ok {
			t.Errorf("ValidateConfigs(%v) = %v, want ok %v", tc.configs, err, tc.ok)
		}
	}
}
