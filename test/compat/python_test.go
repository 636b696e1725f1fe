//go:build unix

package compat

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/raftline/raftline/test/compat/matrix"
)

// python is Debian's interpreter, which has Debian's python3-confluent-kafka
// and python3-kafka; a python3 found first on PATH (pyenv, a virtualenv)
// may not.
const python = "/usr/bin/python3"

// The Python clients run testdata/clients.py, one process per case, for
// the features each has.
func init() {
	args := map[string]string{
		matrix.RoundTrip.Name: "roundtrip", matrix.Compression.Name: "compression",
		matrix.AutoCreate.Name: "autocreate", matrix.Idempotent.Name: "idempotent",
		matrix.Admin.Name: "admin", matrix.Transactions.Name: "transactions",
	}
	codecs := map[string][]string{"confluent": {"gzip", "snappy", "lz4", "zstd"}, "kafka-python": {"gzip"}}
	for client, lib := range map[matrix.Client]string{matrix.Confluent: "confluent", matrix.KafkaPython: "kafka-python"} {
		cases := map[string]caseFunc{}
		for feature, arg := range args {
			if matrix.Expected[client.Name][feature].Result == matrix.NotInClient {
				continue
			}
			cases[feature] = func(ctx context.Context, t *testing.T, c *cluster, topic string) error {
				switch arg {
				case "roundtrip", "idempotent":
					c.createTopic(t, topic, roundTripPartitions)
				case "compression":
					for _, codec := range codecs[lib] {
						c.createTopic(t, topic+"-"+codec, roundTripPartitions)
					}
				case "transactions":
					c.createTopic(t, topic, 1)
				}
				return runPython(ctx, t, c, lib, arg, topic)
			}
		}
		register(client, cases)
	}
}

// pyResult is the line clients.py prints last.
type pyResult struct {
	OK      bool   `json:"ok"`
	Error   string `json:"error"`
	Created string `json:"created"`
}

// runPython runs one case of clients.py. The admin case prints the topic it
// created and waits for a line on stdin, so the test can check the topic on
// every node before it is deleted.
func runPython(ctx context.Context, t *testing.T, c *cluster, lib, feature, topic string) error {
	deadline, _ := ctx.Deadline()
	timeout := time.Until(deadline) - 2*time.Second // leave the script time to report
	script := filepath.Join(repoRoot, "test", "compat", "testdata", "clients.py")
	cmd := exec.CommandContext(ctx, python, script, lib, feature, c.bootstrap(), topic,
		strconv.FormatFloat(timeout.Seconds(), 'f', 1, 64))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	var res pyResult
	lines := bufio.NewScanner(stdout)
	for lines.Scan() {
		res = pyResult{}
		if err := json.Unmarshal(lines.Bytes(), &res); err != nil {
			t.Logf("%s printed %q", lib, lines.Text())
			continue
		}
		if res.Created != "" {
			c.waitTopic(t, res.Created, roundTripPartitions)
			io.WriteString(stdin, "go on\n")
		}
	}
	stdin.Close()
	werr := cmd.Wait()
	if s := strings.TrimSpace(stderr.String()); s != "" {
		t.Logf("%s's stderr:\n%s", lib, tailLines(s, 30))
	}
	switch {
	case ctx.Err() != nil:
		return fmt.Errorf("%s still running: %w", lib, ctx.Err())
	case werr != nil:
		return fmt.Errorf("clients.py %s %s: %v (a bug in the script, not an answer of the client; see its stderr)", lib, feature, werr)
	case res.OK:
		return nil
	case res.Error != "":
		return errors.New(res.Error)
	}
	return fmt.Errorf("clients.py %s %s reported nothing", lib, feature)
}

// tailLines is the last n lines of s.
func tailLines(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
