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
		{map[string]string{"segment.bytes": "1"}, false},
	} {
		if err := ValidateConfigs(tc.configs); (err == nil) != tc.ok {
			t.Errorf("ValidateConfigs(%v) = %v, want ok %v", tc.configs, err, tc.ok)
		}
	}
}
