//go:build unix

package process

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/raftline/raftline/internal/clusterspec"
	"github.com/raftline/raftline/internal/testports"
)

// loudLine matches a log line at WARN or ERROR in the text format nodes log
// in, and a Go panic.
var loudLine = regexp.MustCompile(`level=(WARN|ERROR)|^panic:|^goroutine \d+ `)

// loudLines returns the lines of log that loudLine matches.
func loudLines(log string) []string {
	var out []string
	sc := bufio.NewScanner(strings.NewReader(log))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if loudLine.MatchString(sc.Text()) {
			out = append(out, sc.Text())
		}
	}
	return out
}

// Stopping the whole local cluster is not an error, so Ctrl-C on `raftline
// dev` (which SIGTERMs its three nodes at once) must leave no WARN or ERROR
// line in any node's output from the signal on, and every node must exit 0
// (raftline dev exits 1 otherwise). Stopping while a producer writes is what
// makes it likely that a leader is replicating to a follower that is already
// gone, or handing leadership to one that is stopping too; the cluster is
// started and stopped several times over the same data, as `make run` is,
// because which node stops first is a race.
func TestDev_SIGINTMidTraffic_StopsQuietly(t *testing.T) {
	const rounds = 4
	dir := t.TempDir()
	ports := testports.Reserve(t, 9)
	kafkaPort, httpPort, raftPort := ports[0], ports[3], ports[6]
	dataDir := filepath.Join(dir, "data")
	spec := clusterspec.Local("127.0.0.1", dataDir, 3, kafkaPort, httpPort, raftPort)
	for round := 1; round <= rounds; round++ {
		// The same data directory every round, as `make run` keeps it.
		d := startDev(t, ports, "--data-dir", dataDir)
		https := spec.HTTPAddrs()
		d.waitReady()
		waitRegistered(t, https)
		cl := newClient(t, spec.KafkaAddrs())
		topic := "quiet-stop"
		createTopic(t, cl, topic, 3)
		s := startStream(t, cl, topic)
		s.waitAcked(300, 60*time.Second)

		from := fileSize(t, d.logPath)
		stopped := time.Now()
		if err := d.cmd.Process.Signal(syscall.SIGINT); err != nil {
			t.Fatal(err)
		}
		if code, _ := d.waitExit(40 * time.Second); code != 0 {
			t.Fatalf("round %d: raftline dev exited %d; its output ends:\n%s", round, code, tail(d.logPath, 40))
		}
		took := time.Since(stopped)
		s.halt()
		cl.Close()
		log := readFrom(t, d.logPath, from)
		if !strings.Contains(log, "raftline dev: stopping the nodes") {
			t.Fatalf("round %d: raftline dev did not say it stopped its nodes:\n%s", round, log)
		}
		if loud := loudLines(log); len(loud) > 0 {
			t.Errorf("round %d: stopping raftline dev logged %d lines at WARN or ERROR:\n%s", round, len(loud), strings.Join(loud, "\n"))
		}
		t.Logf("round %d: stopped after %d acknowledged records, in %v", round, s.acked(), took.Round(time.Millisecond))
	}
}

func fileSize(t testing.TB, path string) int64 {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return st.Size()
}

// readFrom returns the file's content from offset on.
func readFrom(t testing.TB, path string, offset int64) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(f)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// One node stopped with SIGTERM while the others keep running: it hands
// leadership over when it leads (the gap clients see is the chaos suite's
// graceful-shutdown figure) and logs nothing above INFO, and the nodes that
// keep running, told it is stopping, log its departure at INFO: a node an
// operator stopped needs no action. A node that crashes (SIGKILL) told no
// one, and the leader must still report that at WARN or ERROR, also after
// the same node was stopped and restarted before.
func TestProcess_SIGTERMOneNode_QuietHandOver_CrashStillLoud(t *testing.T) {
	c := newCluster(t, 3)
	leader := c.waitLeader()
	waitRegistered(t, httpAddrs(c.nodes))
	const topic = "one-stops"
	cl := newClient(t, c.kafkaAddrs())
	createTopic(t, cl, topic, 3)
	c.waitTopic(topic, 3, c.nodes...)
	s := startStream(t, cl, topic)
	s.waitAcked(300, 60*time.Second)

	// The leader stops: leadership moves, clients carry on, and nobody
	// logs above INFO.
	atStop := s.acked()
	next := c.stopQuietly(leader, func() *node { return c.waitLeader(leader) }, func() {
		s.waitAcked(atStop+300, 60*time.Second)
	})
	t.Logf("node %d stopped leading; node %d leads; %d more records acknowledged", leader.id, next.id, s.acked()-atStop)
	c.restartAndWaitBack(leader, next)

	// A follower stops: the leader stays, and nobody logs above INFO.
	var follower *node
	for _, nd := range c.nodes {
		if nd != next {
			follower = nd
		}
	}
	atStop = s.acked()
	c.stopQuietly(follower, func() *node { return next }, func() { s.waitAcked(atStop+300, 60*time.Second) })
	c.restartAndWaitBack(follower, next)

	// The same follower crashes: the leader says so at WARN or ERROR.
	from := fileSize(t, next.LogPath)
	c.kill(follower)
	waitFor(t, 30*time.Second, fmt.Sprintf("node %d to log the crash of node %d at WARN or ERROR", next.id, follower.id), func() error {
		for _, l := range loudLines(readFrom(t, next.LogPath, from)) {
			if strings.Contains(l, follower.raft) {
				return nil
			}
		}
		return fmt.Errorf("no WARN or ERROR line naming %s in node %d's log since the kill", follower.raft, next.id)
	})
	s.finish()
}

// stopQuietly stops nd with SIGTERM and checks that it exited 0 and logged
// nothing above INFO, and that it said it handed leadership over if it led.
// It waits until the leader (as waitLeader returns it once nd is gone) has
// found nd gone as it announced, then runs meanwhile, and checks that no
// running node logged above INFO from the stop to then. It returns the
// leader.
func (c *cluster) stopQuietly(nd *node, waitLeader func() *node, meanwhile func()) *node {
	c.t.Helper()
	var survivors []*node
	from := map[*node]int64{}
	for _, o := range c.nodes {
		if o != nd {
			survivors = append(survivors, o)
			from[o] = fileSize(c.t, o.LogPath)
		}
	}
	v, err := clusterOf(nd.http)
	if err != nil {
		c.t.Fatal(err)
	}
	wasLeader := v.LeaderID == nd.id
	ownFrom := fileSize(c.t, nd.LogPath)
	c.stop(nd)
	log := readFrom(c.t, nd.LogPath, ownFrom)
	if loud := loudLines(log); len(loud) > 0 {
		c.t.Fatalf("node %d logged above INFO while it stopped:\n%s", nd.id, strings.Join(loud, "\n"))
	}
	if wasLeader && !strings.Contains(log, "transferred leadership before shutdown") {
		c.t.Fatalf("node %d led and did not say it handed leadership over:\n%s", nd.id, log)
	}
	leader := waitLeader()
	// The leader keeps trying to reach nd: once it has found it gone, the
	// failures it logs about nd are in the logs checked below.
	waitFor(c.t, 30*time.Second, fmt.Sprintf("node %d to see node %d gone", leader.id, nd.id), func() error {
		return loggedAboutPeer(readFrom(c.t, leader.LogPath, from[leader]), "peer has stopped, as it announced", nd.id)
	})
	meanwhile()
	for _, o := range survivors {
		if loud := loudLines(readFrom(c.t, o.LogPath, from[o])); len(loud) > 0 {
			c.t.Fatalf("node %d logged above INFO while node %d stopped gracefully:\n%s", o.id, nd.id, strings.Join(loud, "\n"))
		}
	}
	return leader
}

// restartAndWaitBack restarts nd and waits until it is ready and the leader
// has found it back, so a later failure to reach it is reported again.
func (c *cluster) restartAndWaitBack(nd, leader *node) {
	c.t.Helper()
	from := fileSize(c.t, leader.LogPath)
	c.restart(nd)
	c.waitReady(c.nodes...)
	waitFor(c.t, 30*time.Second, fmt.Sprintf("node %d to see node %d back", leader.id, nd.id), func() error {
		return loggedAboutPeer(readFrom(c.t, leader.LogPath, from), "peer is back", nd.id)
	})
}

// loggedAboutPeer is nil when log has a line with the message about the peer.
func loggedAboutPeer(log, msg string, peer int32) error {
	m, p := fmt.Sprintf("msg=%q", msg), fmt.Sprintf(" peer=%d", peer)
	for _, l := range strings.Split(log, "\n") {
		if strings.Contains(l, m) && strings.Contains(l+" ", p+" ") {
			return nil
		}
	}
	return fmt.Errorf("no line %s ...%s", m, p)
}
