//go:build unix

package compat

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// Every case writes the same kind of records: recordCount keyed records
// whose values name the topic, so a record read back from another case's
// topic cannot pass for one of this case's.
const recordCount = 20

// roundTripPartitions is the partition count of the topics round trips use:
// more than one, so the clients' partitioners and per-partition reads are
// exercised.
const roundTripPartitions = 3

// record is one key and value.
type record struct{ key, value string }

// records are the records a case on topic writes.
func records(topic string) []record {
	out := make([]record, recordCount)
	for i := range out {
		out[i] = record{key: fmt.Sprintf("k%02d", i), value: fmt.Sprintf("%s v%02d", topic, i)}
	}
	return out
}

// sameRecords compares what was read with what was written, whatever the
// order across partitions.
func sameRecords(want, got []record) error {
	w := map[string]string{}
	for _, r := range want {
		w[r.key] = r.value
	}
	g := map[string]string{}
	for _, r := range got {
		if _, dup := g[r.key]; dup {
			return fmt.Errorf("key %s read twice", r.key)
		}
		g[r.key] = r.value
	}
	if !maps.Equal(w, g) {
		return fmt.Errorf("read %d records %s, want %d", len(got), summary(g), len(want))
	}
	return nil
}

func summary(m map[string]string) string {
	keys := slices.Sorted(maps.Keys(m))
	if len(keys) > 5 {
		keys = append(keys[:5], "...")
	}
	var parts []string
	for _, k := range keys {
		parts = append(parts, k+"="+m[k])
	}
	return "{" + strings.Join(parts, ", ") + "}"
}
