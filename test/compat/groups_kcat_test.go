//go:build unix

package compat

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/raftline/raftline/test/compat/matrix"
)

// kcat in a group: kcat has no admin command, so the harness creates the
// topic; kcat -P produces idempotently, kcat -G consumes. kcat cannot commit
// on demand: with librdkafka's auto-commit (the default) it commits what it
// printed when it exits, which is how a member in commitOnLeave commits.
func init() {
	registerGroup(matrix.Kcat, groupClient{
		createTopic: func(ctx context.Context, t *testing.T, c *cluster, topic string, partitions int32) error {
			c.createTopic(t, topic, partitions)
			return nil
		},
		produce: func(ctx context.Context, t *testing.T, c *cluster, topic string, recs []record) error {
			var in strings.Builder
			for _, r := range recs {
				fmt.Fprintf(&in, "%s:%s\n", r.key, r.value)
			}
			_, err := kcat(ctx, t, in.String(), "-b", c.bootstrap(), "-t", topic, "-P", "-K", ":",
				"-X", "acks=all", "-X", "enable.idempotence=true")
			return err
		},
		join: kcatJoin,
	})
}

type kcatMember struct {
	cmd     *exec.Cmd
	leaving atomic.Bool
	done    chan struct{}
	// exit is cmd.Wait's error, set before done is closed.
	exit   error
	stderr *bytes.Buffer
	mu     *sync.Mutex
}

func (m *kcatMember) stderrTail() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return tailLines(strings.TrimSpace(m.stderr.String()), 10)
}

func kcatJoin(ctx context.Context, t *testing.T, c *cluster, group, topic string, mode commitMode, sink *groupSink, name string) (groupMember, error) {
	// -o would start every partition assigned at that offset, whatever
	// the group committed. With enable.auto.commit=false, kcat still
	// commits what it printed when it gives its partitions up; without
	// storing offsets it has nothing to commit.
	store := "true"
	if mode == noCommit {
		store = "false"
	}
	cmd := exec.Command("kcat", "-b", c.bootstrap(), "-G", group, topic, "-X", "auto.offset.reset=earliest", "-u",
		"-X", "enable.auto.offset.store="+store, "-f", "%p:%o:%k:%s\n")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	m := &kcatMember{cmd: cmd, done: make(chan struct{}), stderr: &bytes.Buffer{}, mu: &sync.Mutex{}}
	cmd.Stderr = lockedWriter{m.mu, m.stderr}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	go func() {
		defer close(m.done)
		lines := bufio.NewScanner(stdout)
		for lines.Scan() {
			r, err := kcatRead(name, lines.Text())
			if err != nil {
				sink.fail(name, err)
				continue
			}
			sink.add(r)
		}
		m.exit = cmd.Wait()
		if !m.leaving.Load() {
			sink.fail(name, fmt.Errorf("kcat exited before it was asked to (%v); stderr: %s", m.exit, m.stderrTail()))
		}
	}()
	return m, nil
}

// kcatRead parses a line of -f '%p:%o:%k:%s\n'.
func kcatRead(member, line string) (read, error) {
	f := strings.SplitN(line, ":", 4)
	if len(f) != 4 {
		return read{}, fmt.Errorf("kcat printed %q", line)
	}
	p, err1 := strconv.ParseInt(f[0], 10, 32)
	o, err2 := strconv.ParseInt(f[1], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return read{}, fmt.Errorf("kcat printed %q: %w", line, err)
	}
	return read{member: member, partition: int32(p), offset: o, key: f[2], value: f[3]}, nil
}

// leave sends SIGTERM: kcat closes its consumer, which commits (with
// auto-commit) and leaves the group, then exits 0.
func (m *kcatMember) leave(ctx context.Context) error {
	m.leaving.Store(true)
	if err := m.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return err
	}
	select {
	case <-m.done:
	case <-ctx.Done():
		m.cmd.Process.Kill()
		<-m.done
		return fmt.Errorf("kcat still running after SIGTERM: %w; stderr: %s", ctx.Err(), m.stderrTail())
	}
	if m.exit != nil {
		return fmt.Errorf("kcat: %v; stderr: %s", m.exit, m.stderrTail())
	}
	return nil
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
