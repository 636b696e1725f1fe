//go:build unix

package compat

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strings"
	"testing"

	"github.com/raftline/raftline/test/compat/matrix"
)

// kcat, Debian's, run once per produce or consume.
func init() {
	register(matrix.Kcat, map[string]caseFunc{
		matrix.RoundTrip.Name: func(ctx context.Context, t *testing.T, c *cluster, topic string) error {
			c.createTopic(t, topic, roundTripPartitions)
			return kcatRoundTrip(ctx, t, c, topic)
		},
		matrix.Compression.Name: func(ctx context.Context, t *testing.T, c *cluster, topic string) error {
			for _, codec := range []string{"gzip", "snappy", "lz4", "zstd"} {
				tp := topic + "-" + codec
				c.createTopic(t, tp, roundTripPartitions)
				if err := kcatRoundTrip(ctx, t, c, tp, "-z", codec); err != nil {
					return fmt.Errorf("%s: %w", codec, err)
				}
			}
			return nil
		},
		matrix.AutoCreate.Name: func(ctx context.Context, t *testing.T, c *cluster, topic string) error {
			_, err := kcat(ctx, t, "first\n", "-b", c.bootstrap(), "-t", topic, "-P", "-X", "acks=all")
			return err
		},
		matrix.Idempotent.Name: func(ctx context.Context, t *testing.T, c *cluster, topic string) error {
			c.createTopic(t, topic, roundTripPartitions)
			return kcatRoundTrip(ctx, t, c, topic, "-X", "enable.idempotence=true")
		},
		matrix.Transactions.Name: func(ctx context.Context, t *testing.T, c *cluster, topic string) error {
			c.createTopic(t, topic, 1)
			_, err := kcat(ctx, t, "txn\n", "-b", c.bootstrap(), "-t", topic, "-P", "-X", "transactional.id="+topic)
			return err
		},
	})
}

// kcatRoundTrip produces the case's records (key:value lines) with
// acks=all and extra flags, then consumes every partition from the
// beginning to its end, without a group.
func kcatRoundTrip(ctx context.Context, t *testing.T, c *cluster, topic string, extra ...string) error {
	want := records(topic)
	var in strings.Builder
	for _, r := range want {
		fmt.Fprintf(&in, "%s:%s\n", r.key, r.value)
	}
	args := append([]string{"-b", c.bootstrap(), "-t", topic, "-P", "-K", ":", "-X", "acks=all"}, extra...)
	if _, err := kcat(ctx, t, in.String(), args...); err != nil {
		return fmt.Errorf("produce: %w", err)
	}
	out, err := kcat(ctx, t, "", "-b", c.bootstrap(), "-t", topic, "-C", "-o", "beginning", "-e", "-q", "-f", "%k:%s\n")
	if err != nil {
		return fmt.Errorf("consume: %w", err)
	}
	var got []record
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			return fmt.Errorf("consume: line %q", line)
		}
		got = append(got, record{k, v})
	}
	return sameRecords(want, got)
}

// kcat runs kcat with stdin and returns its stdout. A non-zero exit is an
// error carrying what kcat printed on stderr.
func kcat(ctx context.Context, t *testing.T, stdin string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "kcat", args...)
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if ctx.Err() != nil {
		return "", fmt.Errorf("kcat still running: %w; stderr: %s", ctx.Err(), tailLines(stderr.String(), 5))
	}
	if err != nil {
		return "", fmt.Errorf("kcat: %v: %s", err, strings.TrimSpace(stderr.String()))
	}
	if s := strings.TrimSpace(stderr.String()); s != "" {
		t.Logf("kcat's stderr:\n%s", tailLines(s, 10))
	}
	return stdout.String(), nil
}
