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
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/raftline/raftline/test/compat/matrix"
)

// The Python clients in a group run testdata/groups.py: one process to
// create a topic, one per produce, one per member.
func init() {
	for client, lib := range map[matrix.Client]string{matrix.Confluent: "confluent", matrix.KafkaPython: "kafka-python"} {
		registerGroup(client, groupClient{
			createTopic: func(ctx context.Context, t *testing.T, c *cluster, topic string, partitions int32) error {
				if err := pyGroupsOnce(ctx, t, lib, "create", c.bootstrap(), topic, fmt.Sprint(partitions), pyTimeout(ctx)); err != nil {
					return err
				}
				c.waitTopic(t, topic, partitions)
				return nil
			},
			produce: func(ctx context.Context, t *testing.T, c *cluster, topic string, recs []record) error {
				// groups.py writes the same records as groupRecords.
				first, err := strconv.Atoi(strings.TrimPrefix(recs[0].key, "k"))
				if err != nil {
					return err
				}
				if want := groupRecords(topic, first, len(recs)); fmt.Sprint(want) != fmt.Sprint(recs) {
					return fmt.Errorf("groups.py writes only groupRecords' records")
				}
				return pyGroupsOnce(ctx, t, lib, "produce", c.bootstrap(), topic, fmt.Sprint(first), fmt.Sprint(len(recs)), pyTimeout(ctx))
			},
			join: func(ctx context.Context, t *testing.T, c *cluster, group, topic string, mode commitMode, sink *groupSink, name string) (groupMember, error) {
				return pyJoin(t, lib, c, group, topic, mode, sink, name)
			},
		})
	}
}

func groupsScript() string { return filepath.Join(repoRoot, "test", "compat", "testdata", "groups.py") }

// pyTimeout is what is left of ctx, less time for the script to report.
func pyTimeout(ctx context.Context) string {
	deadline, _ := ctx.Deadline()
	return strconv.FormatFloat((time.Until(deadline) - 2*time.Second).Seconds(), 'f', 1, 64)
}

// pyLine is any line groups.py prints.
type pyLine struct {
	OK       bool    `json:"ok"`
	Error    string  `json:"error"`
	Left     bool    `json:"left"`
	Assigned []int32 `json:"assigned"`
	P        *int32  `json:"p"`
	O        int64   `json:"o"`
	K        string  `json:"k"`
	V        string  `json:"v"`
}

// pyGroupsOnce runs a create or produce of groups.py to its end.
func pyGroupsOnce(ctx context.Context, t *testing.T, lib string, args ...string) error {
	cmd := exec.CommandContext(ctx, python, append([]string{groupsScript(), lib}, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if s := strings.TrimSpace(stderr.String()); s != "" {
		t.Logf("%s %s's stderr:\n%s", lib, args[0], tailLines(s, 20))
	}
	if ctx.Err() != nil {
		return fmt.Errorf("%s %s still running: %w", lib, args[0], ctx.Err())
	}
	if err != nil {
		return fmt.Errorf("groups.py %s %s: %v (a bug in the script, not an answer of the client; see its stderr)", lib, args[0], err)
	}
	var res pyLine
	if err := json.Unmarshal(bytes.TrimSpace(stdout.Bytes()), &res); err != nil {
		return fmt.Errorf("groups.py %s %s printed %q", lib, args[0], stdout.String())
	}
	if !res.OK {
		return errors.New(res.Error)
	}
	return nil
}

type pyMember struct {
	cmd     *exec.Cmd
	stdin   io.WriteCloser
	leaving atomic.Bool
	left    atomic.Bool
	done    chan struct{}
	exit    error
	mu      sync.Mutex
	stderr  bytes.Buffer
}

func (m *pyMember) Write(p []byte) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.stderr.Write(p)
}

func (m *pyMember) stderrTail() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return tailLines(strings.TrimSpace(m.stderr.String()), 20)
}

func pyJoin(t *testing.T, lib string, c *cluster, group, topic string, mode commitMode, sink *groupSink, name string) (groupMember, error) {
	arg := map[commitMode]string{autoCommit: "auto", commitOnLeave: "commit-on-leave", noCommit: "no-commit"}[mode]
	cmd := exec.Command(python, groupsScript(), lib, "member", c.bootstrap(), topic, group, arg)
	m := &pyMember{cmd: cmd, done: make(chan struct{})}
	cmd.Stderr = m
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	m.stdin = stdin
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	go func() {
		defer close(m.done)
		lines := bufio.NewScanner(stdout)
		for lines.Scan() {
			var l pyLine
			if err := json.Unmarshal(lines.Bytes(), &l); err != nil {
				sink.fail(name, fmt.Errorf("groups.py printed %q", lines.Text()))
				continue
			}
			switch {
			case l.Error != "":
				sink.fail(name, errors.New(l.Error))
			case l.Assigned != nil:
				t.Logf("%s: assigned partitions %v", name, l.Assigned)
			case l.Left:
				m.left.Store(true)
			case l.P != nil:
				sink.add(read{member: name, partition: *l.P, offset: l.O, key: l.K, value: l.V})
			}
		}
		m.exit = cmd.Wait()
		if !m.leaving.Load() {
			sink.fail(name, fmt.Errorf("groups.py exited before it was asked to (%v); stderr: %s", m.exit, m.stderrTail()))
		}
	}()
	return m, nil
}

func (m *pyMember) leave(ctx context.Context) error {
	m.leaving.Store(true)
	io.WriteString(m.stdin, "leave\n")
	m.stdin.Close()
	select {
	case <-m.done:
	case <-ctx.Done():
		m.cmd.Process.Kill()
		<-m.done
		return fmt.Errorf("groups.py still running after it was asked to leave: %w; stderr: %s", ctx.Err(), m.stderrTail())
	}
	if m.exit != nil || !m.left.Load() {
		return fmt.Errorf("groups.py did not leave cleanly (%v); stderr: %s", m.exit, m.stderrTail())
	}
	return nil
}
