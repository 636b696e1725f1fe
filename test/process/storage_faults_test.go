//go:build linux

package process

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/raftline/raftline/internal/clusterspec"
	"github.com/raftline/raftline/internal/testports"
	"github.com/raftline/raftline/test/internal/diskfault"
)

// Disk faults are fail-stop, proven with real ones. The leader of a
// three-node cluster, under acks=all load, meets a real disk failure: its
// tmpfs fills (ENOSPC), its ext4 filesystem goes read-only after an error
// (EROFS), or its data directory is removed while it runs. Each time the
// node must log one ERROR line naming the operation, the path and the
// error; say why on /readyz and count it in raftline_storage_errors_total
// while it waits to exit; close its Kafka port; exit with status 3; and the
// other two must carry on: a new leader, the producer's records
// acknowledged, every acknowledged record read back where it was
// acknowledged, identical replicas. Cleared, as the runbook says, the node
// comes back and catches up.

// faultExitDelay is how long a failed node answers HTTP before it exits.
const faultExitDelay = 5 * time.Second

func TestProcess_StorageFault_DiskFull_LeaderStopsClusterGoesOn(t *testing.T) {
	requireDiskFaults(t)
	// With --storage disk the partitions' segment files fill the disk; in
	// memory only the Raft log and snapshots are on it: raft-wal writes
	// into its preallocated 64 MiB segment until it needs the next one.
	for _, storage := range []string{"disk", "memory"} {
		t.Run(storage, func(t *testing.T) {
			c := newFaultCluster(t, storage, func(nd *node) (*diskfault.Disk, error) {
				d, err := diskfault.Tmpfs(nd.dataDir, 512<<20)
				return &d, err
			})
			c.run(func(victim *node) string {
				size, err := diskfault.Shrink(victim.Pid(), victim.dataDir, 8<<20)
				if err != nil {
					t.Fatal(err)
				}
				filled := c.fill(victim, 512<<20)
				return fmt.Sprintf("tmpfs shrunk to %d MiB, %d MiB produced until the node failed", size>>20, filled>>20)
			}, "no space left on device")
		})
	}
}

func TestProcess_StorageFault_FilesystemReadOnly_LeaderStopsClusterGoesOn(t *testing.T) {
	requireDiskFaults(t)
	c := newFaultCluster(t, "disk", func(nd *node) (*diskfault.Disk, error) {
		d, err := diskfault.Ext4(nd.dataDir, nd.dataDir+".img", 256<<20)
		return &d, err
	})
	c.run(func(victim *node) string {
		dev, err := diskfault.FailExt4(victim.Pid(), victim.dataDir)
		if err != nil {
			t.Fatal(err)
		}
		// The kernel remounts it read-only from a work queue.
		waitFor(t, 10*time.Second, "the filesystem to be read-only", func() error {
			ro, err := diskfault.ReadOnly(victim.Pid(), victim.dataDir)
			if err == nil && !ro {
				err = fmt.Errorf("%s is still read-write after the ext4 error", dev)
			}
			return err
		})
		return fmt.Sprintf("ext4 error raised on %s; the kernel remounted it read-only", dev)
		// A write sees EROFS; an fsync of data dirtied before the abort
		// sees the journal's EIO. Either is the fault the node must stop on.
	}, "read-only file system", "input/output error")
}

func TestProcess_StorageFault_DataDirRemoved_LeaderStopsClusterGoesOn(t *testing.T) {
	requireDiskFaults(t)
	c := newFaultCluster(t, "disk", nil)
	c.run(func(victim *node) string {
		if err := os.RemoveAll(victim.dataDir); err != nil {
			t.Fatal(err)
		}
		return "rm -rf " + victim.dataDir
	}, "no such file or directory")
}

func requireDiskFaults(t *testing.T) {
	t.Helper()
	if err := diskfault.Check(); err != nil {
		t.Fatalf("real disk faults need: %v (scripts/ensure-tools.sh installs the programs)", err)
	}
}

// faultCluster is a three-node cluster whose nodes each run on their own
// disk, in their own mount namespace, when disk says so.
type faultCluster struct {
	*cluster
	t      *testing.T
	mkDisk func(nd *node) (*diskfault.Disk, error)
	cl     *kgo.Client
	fills  []ack // the fill topic's acknowledgements
}

const (
	ledgerTopic, ledgerPartitions = "ledger", 3
	fillTopic                     = "fill"
)

func newFaultCluster(t *testing.T, storage string, disk func(nd *node) (*diskfault.Disk, error)) *faultCluster {
	t.Helper()
	ports := testports.Reserve(t, 9)
	c := &faultCluster{cluster: newEmptyCluster(t), t: t, mkDisk: disk}
	spec := clusterspec.Local("127.0.0.1", c.dir, 3, ports[0], ports[3], ports[6])
	// No free-space floor: the point is a disk that really fills (the
	// floor, which would refuse produces first, has its own tests).
	spec.Args = []string{"--storage", storage, "--storage-fault-exit-delay", faultExitDelay.String(), "--storage-min-free-bytes", "0"}
	for _, sn := range spec.Nodes {
		nd := newNode(sn)
		c.add(nd, spec.ServeArgs(sn), childEnv())
		c.newDisk(nd)
	}
	for _, nd := range c.nodes {
		c.start(nd)
	}
	return c
}

// newDisk gives the node a new, empty disk of its own for its next start.
func (c *faultCluster) newDisk(nd *node) {
	c.t.Helper()
	if c.mkDisk == nil {
		if err := os.RemoveAll(nd.dataDir); err != nil {
			c.t.Fatal(err)
		}
		return
	}
	d, err := c.mkDisk(nd)
	if err != nil {
		c.t.Fatal(err)
	}
	if entries, err := os.ReadDir(d.Dir); err != nil || len(entries) > 0 {
		c.t.Fatalf("the mount point %s, seen outside the nodes' namespaces, holds %d entries (%v)", d.Dir, len(entries), err)
	}
	nd.Command = func(bin string, args ...string) *exec.Cmd {
		name, wrapped := d.Wrap(bin, args...)
		return exec.Command(name, wrapped...)
	}
}

// run is the scenario: load, the fault on the leader (inject returns what
// it did), the checks, the node back.
func (c *faultCluster) run(inject func(victim *node) string, errTexts ...string) {
	t := c.t
	victim := c.waitLeader()
	waitRegistered(t, httpAddrs(c.nodes))
	c.cl = newClient(t, c.kafkaAddrs())
	createTopic(t, c.cl, ledgerTopic, ledgerPartitions)
	createTopic(t, c.cl, fillTopic, 1)
	c.waitTopic(ledgerTopic, ledgerPartitions, c.nodes...)
	c.waitTopic(fillTopic, 1, c.nodes...)
	s := startStream(t, c.cl, ledgerTopic)
	s.waitAcked(300, 60*time.Second)

	injected := time.Now()
	what := inject(victim)
	t.Logf("fault on leader %d: %s (%v)", victim.id, what, time.Since(injected).Round(time.Millisecond))
	ready := c.waitFault(victim)
	at := time.Now()
	t.Logf("node %d /readyz %v after the fault was injected: %s", victim.id, at.Sub(injected).Round(time.Millisecond), ready)
	c.checkFaultVisible(victim, ready)

	// The others carry on: a new leader, and the producer's records
	// acknowledged through it.
	others := c.others(victim)
	var next *node
	waitFor(t, 30*time.Second, "the other nodes to agree on a leader", func() error {
		i, err := agreedLeader(httpAddrs(others))
		if err == nil {
			next = others[i]
		}
		return err
	})
	elected := time.Since(at)
	before := s.acked()
	s.waitAcked(before+300, 90*time.Second)
	t.Logf("node %d leads %v after the failed node reported the fault; %d more records acknowledged %v after it",
		next.id, elected.Round(time.Millisecond), s.acked()-before, time.Since(at).Round(time.Millisecond))

	status, err := victim.Wait(faultExitDelay + 30*time.Second)
	if err != nil {
		t.Fatalf("node %d: %v", victim.id, err)
	}
	var exit *exec.ExitError
	if !errors.As(status, &exit) || exit.ExitCode() != 3 {
		t.Fatalf("node %d ended %v, want exit status 3", victim.id, status)
	}
	c.checkOneErrorLine(victim, errTexts...)

	acks := s.finish()
	live := c.live()
	got, ends := consumeAll(t, c.kafkaAddrs(live...), ledgerTopic, ledgerPartitions)
	checkAcked(t, acks, got, ends)
	if len(c.fills) > 0 {
		got, ends := consumeAll(t, c.kafkaAddrs(live...), fillTopic, 1)
		checkAcked(t, c.fills, got, ends)
	}
	t.Logf("%d ledger and %d fill records acknowledged, every one read back where it was acknowledged", len(acks), len(c.fills))
	c.waitDigestsEqual(60*time.Second, nil, live...)

	// Back as the runbook says: on a new disk, or with its data directory
	// cleared, the node catches up from the others.
	c.newDisk(victim)
	c.restart(victim)
	c.waitReady(c.nodes...)
	c.waitDigestsEqual(60*time.Second, nil, c.nodes...)
}

// others are the cluster's nodes but nd.
func (c *faultCluster) others(nd *node) []*node {
	var out []*node
	for _, o := range c.nodes {
		if o != nd {
			out = append(out, o)
		}
	}
	return out
}

// fill produces records of 16 KiB of random bytes (which the client's
// compression cannot shrink) to the fill topic until the victim reports a
// storage fault (or exits), and returns the bytes acknowledged. More than
// limit bytes without a fault fails the test.
func (c *faultCluster) fill(victim *node, limit int64) int64 {
	t := c.t
	rnd := rand.NewChaCha8([32]byte{1})
	var filled int64
	seq := 0
	for filled < limit {
		if faulted(victim) {
			return filled
		}
		var recs []*kgo.Record
		for range 32 {
			value := make([]byte, 16<<10)
			rnd.Read(value)
			recs = append(recs, &kgo.Record{Topic: fillTopic, Key: []byte(fmt.Sprint(seq + len(recs))), Value: value})
		}
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		for i, res := range c.cl.ProduceSync(ctx, recs...) {
			if res.Err != nil {
				cancel()
				t.Fatalf("fill: record %d: %v", seq+i, res.Err)
			}
			r := res.Record
			c.fills = append(c.fills, ack{seq: seq + i, partition: r.Partition, offset: r.Offset, key: string(r.Key), value: string(r.Value)})
			filled += int64(len(r.Value))
		}
		cancel()
		seq += len(recs)
	}
	t.Fatalf("node %d took %d MiB without a storage fault", victim.id, filled>>20)
	return filled
}

// faulted reports whether the node says it stopped on a storage fault, or
// has exited.
func faulted(nd *node) bool {
	if !nd.running() {
		return true
	}
	body, _, err := getReadyz(nd.http)
	return err == nil && strings.Contains(body, "storage fault")
}

func getReadyz(hostport string) (string, int, error) {
	resp, err := httpClient.Get("http://" + hostport + "/readyz")
	if err != nil {
		return "", 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 4096))
	return strings.TrimSpace(string(b)), resp.StatusCode, err
}

// waitFault waits until the node's /readyz names a storage fault, and
// returns what it says.
func (c *faultCluster) waitFault(nd *node) string {
	c.t.Helper()
	var body string
	waitFor(c.t, 30*time.Second, fmt.Sprintf("node %d to report a storage fault on /readyz", nd.id), func() error {
		if err := nd.ExitErr(); err != nil {
			c.t.Fatalf("node %d exited before its /readyz was read: %v", nd.id, err)
		}
		b, code, err := getReadyz(nd.http)
		if err != nil {
			return err
		}
		if code != http.StatusServiceUnavailable || !strings.Contains(b, "storage fault") {
			return fmt.Errorf("/readyz %d %q", code, b)
		}
		body = b
		return nil
	})
	return body
}

// checkFaultVisible checks what the failed node shows while it waits to
// exit: the fault counted under the op /readyz names, and its Kafka port
// closed.
func (c *faultCluster) checkFaultVisible(nd *node, ready string) {
	t := c.t
	t.Helper()
	// /readyz: "not ready: the node stopped: storage fault: <op> <path>: <err>"
	_, rest, _ := strings.Cut(ready, "storage fault: ")
	op, _, _ := strings.Cut(rest, " ")
	waitMetric(t, nd, 10*time.Second, "raftline_storage_errors_total{op="+op+"}", func(fams map[string]*dto.MetricFamily) error {
		if v := sample(fams, "raftline_storage_errors_total", map[string]string{"op": op}); v < 1 {
			return fmt.Errorf("raftline_storage_errors_total{op=%q} = %v", op, v)
		}
		return nil
	})
	waitFor(t, 10*time.Second, fmt.Sprintf("node %d's Kafka port to close", nd.id), func() error {
		conn, err := net.DialTimeout("tcp", nd.kafka, time.Second)
		if err != nil {
			return nil
		}
		conn.Close()
		return fmt.Errorf("%s still accepts connections", nd.kafka)
	})
}

// checkOneErrorLine checks the failed node's log: exactly one ERROR line,
// naming the storage fault with its operation, path and one of the errors
// the fault can surface as, and no panic.
func (c *faultCluster) checkOneErrorLine(nd *node, errTexts ...string) {
	t := c.t
	t.Helper()
	log, err := nd.logSinceStart()
	if err != nil {
		t.Fatal(err)
	}
	var errLines []string
	for _, l := range strings.Split(log, "\n") {
		if strings.Contains(l, "level=ERROR") {
			errLines = append(errLines, l)
		}
	}
	if len(errLines) != 1 {
		t.Fatalf("node %d logged %d ERROR lines, want 1:\n%s", nd.id, len(errLines), strings.Join(errLines, "\n"))
	}
	l := errLines[0]
	for _, want := range []string{"storage fault", "op=", "path=" + filepath.Clean(nd.dataDir)} {
		if !strings.Contains(l, want) {
			t.Errorf("node %d's ERROR line lacks %q: %s", nd.id, want, l)
		}
	}
	if !slices.ContainsFunc(errTexts, func(e string) bool { return strings.Contains(l, e) }) {
		t.Errorf("node %d's ERROR line names none of %q: %s", nd.id, errTexts, l)
	}
	if strings.Contains(log, "panic") || strings.Contains(log, "goroutine ") {
		t.Errorf("node %d's log shows a panic:\n%s", nd.id, tail(nd.LogPath, 40))
	}
	t.Logf("node %d: %s", nd.id, l)
}
