package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/raftline/raftline/broker/httpapi"
)

// digests is node httpAddr's partition digests, sorted by topic and
// partition.
func digests(httpAddr string) ([]httpapi.PartitionDigest, error) {
	resp, err := httpClient.Get("http://" + httpAddr + "/v1/partitions")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("/v1/partitions: %s", resp.Status)
	}
	var v httpapi.PartitionsView
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
		return nil, err
	}
	slices.SortFunc(v.Partitions, func(a, b httpapi.PartitionDigest) int {
		if c := strings.Compare(a.Topic, b.Topic); c != 0 {
			return c
		}
		return int(a.Partition - b.Partition)
	})
	return v.Partitions, nil
}

// replicasIdentical waits up to timeout for every node to report the same
// partition digests: byte-identical logs. It returns them, or how the nodes
// last differed.
func replicasIdentical(ctx context.Context, c *cluster, timeout time.Duration) ([]httpapi.PartitionDigest, error) {
	var first []httpapi.PartitionDigest
	err := poll(ctx, timeout, 500*time.Millisecond, func() error {
		for i, n := range c.spec.Nodes {
			got, err := digests(n.HTTPAddr())
			if err != nil {
				return fmt.Errorf("node %d: %w", n.ID, err)
			}
			if i == 0 {
				first = got
			} else if !slices.Equal(first, got) {
				return fmt.Errorf("node 1 and node %d differ:\n  node 1: %s\n  node %d: %s", n.ID, digestList(first), n.ID, digestList(got))
			}
		}
		return nil
	})
	return first, err
}

func digestList(ds []httpapi.PartitionDigest) string {
	var parts []string
	for _, d := range ds {
		parts = append(parts, fmt.Sprintf("%s/%d [%d,%d) %.12s", d.Topic, d.Partition, d.LogStart, d.HighWatermark, d.SHA256))
	}
	return strings.Join(parts, " ")
}
