//go:build chaos && linux

package chaos

import (
	"context"
	"fmt"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/raftline/raftline/test/chaos/harness"
	"github.com/raftline/raftline/test/chaos/netfault"
)

// Scenario 11's fault settings.
const (
	netLatency     = 100 * time.Millisecond
	netJitter      = 20 * time.Millisecond
	netLoss        = 0.20
	slowCloseHold  = 2 * time.Second
	raftBandwidth  = "1mbit"
	netFaultWindow = 6 * time.Second
)

// netCase is one network fault of scenario 11, on one path.
type netCase struct {
	name, fault string
	apply       func(c *harness.Cluster, leader *harness.Node) (*netfault.Fault, error)
	// baseline measures the path before the fault; prove measures it again
	// under the fault and says whether the fault shows. settle, when set,
	// proves it again at the end of the window from what the whole window
	// added up to.
	baseline func(s *scenario) any
	prove    func(s *scenario, f *netfault.Fault, baseline any) (string, error)
	settle   func(s *scenario, f *netfault.Fault, w faultWindow) (string, error)
	// during, when set, runs in the fault window after the proof, and
	// churn runs alongside the whole window until ctx ends (it must not
	// fail the test itself): what makes a fault on connection close bite.
	during func(s *scenario) string
	churn  func(ctx context.Context, s *scenario) string
	// window, when set, replaces netFaultWindow. stalls says the clients
	// cannot reach the leader under this fault, so no write is expected
	// to be acknowledged inside the window.
	window time.Duration
	stalls bool
}

// faultWindow is what a settle proof knows of the window.
type faultWindow struct {
	leader  *harness.Node
	at, end time.Time
	// hwm is the leader's sum of high watermarks of the topic as the
	// fault began.
	hwm int64
}

func raftPath(c *harness.Cluster) netfault.Path {
	return c.Net.PeerPath("Raft", harness.RaftPort)
}

func clientPath(c *harness.Cluster) netfault.Path {
	return c.Net.ClientPath("client", harness.KafkaPort)
}

// Scenario 11. Network chaos under load: latency, packet loss and slow close
// on the Raft path and on the client path, and a bandwidth limit on the Raft
// path, each on a fresh cluster; writes must go on through the fault (at
// least one acknowledgement inside the window). Then the clients cut off
// from the leader, both ways and one way (the leader's answers lost while
// requests still arrive and commit): the producer's retries after the heal
// must be deduplicated, nothing lost. The usual criteria hold throughout.
func TestChaos_NetworkChaos_UnderLoad(t *testing.T) {
	cases := []netCase{
		{
			name:  "11a latency/Raft",
			fault: fmt.Sprintf("%v ± %v on every Raft packet, each hop", netLatency, netJitter),
			apply: func(c *harness.Cluster, _ *harness.Node) (*netfault.Fault, error) {
				return c.Net.Delay(raftPath(c), harness.Hosts(c.Nodes...), netLatency, netJitter)
			},
			baseline: func(s *scenario) any { return s.raftConnectTime() },
			prove: func(s *scenario, f *netfault.Fault, base any) (string, error) {
				return s.proveDelay(f, base.(time.Duration), s.raftConnectTime(), "TCP connect n2 -> n1:9192")
			},
		},
		{
			name:  "11b latency/client",
			fault: fmt.Sprintf("%v ± %v on every client packet, both ways", netLatency, netJitter),
			apply: func(c *harness.Cluster, _ *harness.Node) (*netfault.Fault, error) {
				return c.Net.Delay(clientPath(c), harness.Hosts(c.Nodes...), netLatency, netJitter)
			},
			baseline: func(s *scenario) any { return s.clientConnectTime() },
			prove: func(s *scenario, f *netfault.Fault, base any) (string, error) {
				return s.proveDelay(f, base.(time.Duration), s.clientConnectTime(), "client TCP connect to n1:9092")
			},
		},
		{
			name:  "11c loss/Raft",
			fault: fmt.Sprintf("%.0f%% loss of every Raft packet, each hop", netLoss*100),
			apply: func(c *harness.Cluster, _ *harness.Node) (*netfault.Fault, error) {
				return c.Net.Loss(raftPath(c), harness.Hosts(c.Nodes...), netLoss)
			},
			prove:  func(s *scenario, f *netfault.Fault, _ any) (string, error) { return s.proveLoss(f) },
			settle: func(s *scenario, f *netfault.Fault, _ faultWindow) (string, error) { return s.proveLoss(f) },
		},
		{
			name:  "11d loss/client",
			fault: fmt.Sprintf("%.0f%% loss of every client packet, both ways", netLoss*100),
			apply: func(c *harness.Cluster, _ *harness.Node) (*netfault.Fault, error) {
				return c.Net.Loss(clientPath(c), harness.Hosts(c.Nodes...), netLoss)
			},
			prove:  func(s *scenario, f *netfault.Fault, _ any) (string, error) { return s.proveLoss(f) },
			settle: func(s *scenario, f *netfault.Fault, _ faultWindow) (string, error) { return s.proveLoss(f) },
		},
		{
			name:  "11e slow close/Raft",
			fault: fmt.Sprintf("Raft FINs held %v, each hop, while a follower restarts", slowCloseHold),
			apply: func(c *harness.Cluster, _ *harness.Node) (*netfault.Fault, error) {
				return c.Net.SlowClose(raftPath(c), harness.Hosts(c.Nodes...), slowCloseHold)
			},
			baseline: func(s *scenario) any { return s.raftCloseTime() },
			prove: func(s *scenario, _ *netfault.Fault, base any) (string, error) {
				return proveSlowClose(base.(time.Duration), s.raftCloseTime(), "n1 closing a Raft connection from n2 (unknown RPC type)")
			},
			during: func(s *scenario) string {
				leader := s.c.WaitLeader(10*time.Second, nil)
				f := s.c.Others(leader)[0]
				how := s.c.Term(f)
				s.c.Start(f)
				s.c.WaitReady(30*time.Second, f)
				return fmt.Sprintf("follower restarted during the fault: %s", how)
			},
		},
		{
			name:  "11f slow close/client",
			fault: fmt.Sprintf("client FINs held %v, both ways, under connection churn", slowCloseHold),
			apply: func(c *harness.Cluster, _ *harness.Node) (*netfault.Fault, error) {
				return c.Net.SlowClose(clientPath(c), harness.Hosts(c.Nodes...), slowCloseHold)
			},
			baseline: func(s *scenario) any { return s.clientCloseTime() },
			prove: func(s *scenario, _ *netfault.Fault, base any) (string, error) {
				return proveSlowClose(base.(time.Duration), s.clientCloseTime(), "n1 closing a client connection (oversized frame)")
			},
			churn: clientChurn,
		},
		{
			name:  "11g bandwidth/Raft",
			fault: fmt.Sprintf("Raft traffic each node sends limited to %s", raftBandwidth),
			apply: func(c *harness.Cluster, _ *harness.Node) (*netfault.Fault, error) {
				return c.Net.Bandwidth(harness.Hosts(c.Nodes...), harness.RaftPort, raftBandwidth)
			},
			prove:  func(s *scenario, f *netfault.Fault, _ any) (string, error) { return proveShaped(f) },
			settle: func(s *scenario, f *netfault.Fault, _ faultWindow) (string, error) { return proveShaped(f) },
		},
		{
			name:  "11h partition/client",
			fault: "clients cut off from the leader, both ways, for 7s",
			apply: func(c *harness.Cluster, leader *harness.Node) (*netfault.Fault, error) {
				return c.Net.Block(clientPath(c), harness.Hosts(leader), true, true)
			},
			prove: func(s *scenario, _ *netfault.Fault, _ any) (string, error) { return s.proveClientCut() },
			settle: func(s *scenario, f *netfault.Fault, w faultWindow) (string, error) {
				return s.proveStalled(f, w, false)
			},
			window: 7 * time.Second,
			stalls: true,
		},
		{
			name:  "11i one-way/client",
			fault: "the leader's answers to clients dropped (requests still arrive) for 7s",
			apply: func(c *harness.Cluster, leader *harness.Node) (*netfault.Fault, error) {
				return c.Net.Block(clientPath(c), harness.Hosts(leader), true, false)
			},
			prove:  func(s *scenario, _ *netfault.Fault, _ any) (string, error) { return s.proveClientCut() },
			settle: func(s *scenario, f *netfault.Fault, w faultWindow) (string, error) { return s.proveStalled(f, w, true) },
			window: 7 * time.Second,
			stalls: true,
		},
	}
	for _, nc := range cases {
		t.Run(nc.name, func(t *testing.T) { runNetCase(t, nc) })
	}
}

func runNetCase(t *testing.T, nc netCase) {
	s := begin(t, nc.name, nc.fault)
	c := s.cluster()
	p := s.load(300)
	var base any
	if nc.baseline != nil {
		base = nc.baseline(s)
	}
	loadStart := time.Now()
	p.WaitMoreAcks(t, 800, 30*time.Second)

	window := nc.window
	if window == 0 {
		window = netFaultWindow
	}
	w := faultWindow{leader: c.WaitLeader(10*time.Second, nil)}
	w.hwm = s.highWatermarks(w.leader)
	f, err := nc.apply(c, w.leader)
	if err != nil {
		t.Fatalf("applying %s: %v", nc.fault, err)
	}
	t.Cleanup(func() { f.Heal() })
	at := time.Now()
	w.at = at
	var churned string
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	if nc.churn != nil {
		wg.Add(1)
		go func() { defer wg.Done(); churned = nc.churn(ctx, s) }()
	}
	// Under the fault, not before: a proof measured on the path itself.
	proof, err := nc.prove(s, f, base)
	s.prove(proof, err)
	if nc.during != nil {
		s.note("%s", nc.during(s))
	}
	holdUntil(at.Add(window))
	w.end = time.Now()
	if nc.settle != nil {
		proof, err := nc.settle(s, f, w)
		s.prove("over the whole window: "+proof, err)
	}
	cancel()
	wg.Wait()
	if churned != "" {
		s.note("%s", churned)
	}
	end := time.Now()
	during := p.AcksBetween(at, end)
	if during == 0 && !nc.stalls {
		s.fail("no write was acknowledged during %v of %s", window, nc.fault)
	}
	s.heal(f)
	healed := time.Now()
	p.WaitMoreAcks(t, 300, 30*time.Second)
	if first, ok := p.FirstAckHeardAfter(healed); ok && nc.stalls {
		s.figure("heal to first acknowledged produce", first.Sub(healed), 0)
	}

	before := p.AcksBetween(loadStart, at)
	s.count("acknowledged per second before the fault", int(float64(before)/at.Sub(loadStart).Seconds()))
	s.count("acknowledged per second during the fault", int(float64(during)/end.Sub(at).Seconds()))
	if l := p.Latencies(loadStart, at); len(l) > 0 {
		s.figure("produce latency p50 before the fault", l[len(l)/2], 0)
	}
	if l := p.Latencies(at, end); len(l) > 0 {
		s.figure("produce latency p50 during the fault", l[len(l)/2], 0)
		s.figure("produce latency p99 during the fault", l[len(l)*99/100], 0)
	}
	s.figure("longest produce gap during the fault", p.LongestGap(at, end), 0)
	s.finish()
}

// raftConnectTime is the median of three TCP connects from n2's namespace
// to n1's Raft port: one round trip on the Raft path.
func (s *scenario) raftConnectTime() time.Duration {
	s.t.Helper()
	n1, n2 := s.c.Nodes[0], s.c.Nodes[1]
	return median(s.t, 3, func() (time.Duration, error) { return n2.Host.TimedDial(n1.Raft, 5*time.Second) })
}

// clientConnectTime is the median of three TCP connects from the clients'
// namespace to n1's Kafka port.
func (s *scenario) clientConnectTime() time.Duration {
	s.t.Helper()
	n1 := s.c.Nodes[0]
	return median(s.t, 3, func() (time.Duration, error) {
		start := time.Now()
		conn, err := netDial(n1.Kafka)
		if err != nil {
			return 0, err
		}
		conn.Close()
		return time.Since(start), nil
	})
}

func netDial(addr string) (net.Conn, error) { return net.DialTimeout("tcp", addr, 5*time.Second) }

func median(t testing.TB, n int, measure func() (time.Duration, error)) time.Duration {
	t.Helper()
	var ds []time.Duration
	for range n {
		d, err := measure()
		if err != nil {
			t.Fatalf("measuring the path: %v", err)
		}
		ds = append(ds, d)
	}
	slices.Sort(ds)
	return ds[len(ds)/2]
}

func proveShaped(f *netfault.Fault) (string, error) {
	st, err := f.Stats()
	if err == nil && st.Overlimits == 0 {
		err = fmt.Errorf("the limit never held a packet back (%d packets shaped)", st.ShapedPackets)
	}
	return fmt.Sprintf("HTB held Raft packets back %d times (%d packets shaped)", st.Overlimits, st.ShapedPackets), err
}

// proveClientCut shows the clients cannot open a connection to the leader's
// Kafka port (with only its answers dropped, the SYN arrives but the
// SYN-ACK does not return).
func (s *scenario) proveClientCut() (string, error) {
	leader, err := s.c.Leader(nil)
	if err != nil {
		return "client TCP connect to the leader", err
	}
	what := fmt.Sprintf("client TCP connect to %v:%d", leader, harness.KafkaPort)
	conn, err := net.DialTimeout("tcp", leader.Kafka, 500*time.Millisecond)
	if err == nil {
		conn.Close()
		return what, fmt.Errorf("it succeeded")
	}
	return fmt.Sprintf("%s fails (%s)", what, shortErr(err)), nil
}

// proveStalled shows, over the window, that the client heard nothing from
// the leader while the kernel dropped its traffic; with committed set, also
// that the leader went on committing requests whose answers were lost.
func (s *scenario) proveStalled(f *netfault.Fault, w faultWindow, committed bool) (string, error) {
	st, err := f.Stats()
	if err != nil {
		return "the fault's counters", err
	}
	acks := s.prod.AcksBetween(w.at.Add(time.Second), w.end)
	proof := fmt.Sprintf("the kernel dropped %d packets; the client heard %d acknowledgements after the first second", st.Dropped, acks)
	switch {
	case st.Dropped == 0:
		return proof, fmt.Errorf("no packet dropped")
	case acks > 0:
		return proof, fmt.Errorf("the client still heard from the leader")
	}
	if committed {
		grew := s.highWatermarks(w.leader) - w.hwm
		proof += fmt.Sprintf("; the leader's logs grew by %d records whose acknowledgements were lost", grew)
		if grew <= 0 {
			return proof, fmt.Errorf("no request reached the leader")
		}
	}
	return proof, nil
}

// highWatermarks sums n's high watermarks of the scenario's topic.
func (s *scenario) highWatermarks(n *harness.Node) int64 {
	s.t.Helper()
	v, err := n.Digests()
	if err != nil {
		s.t.Fatalf("%v: %v", n, err)
	}
	var sum int64
	for _, d := range v.Partitions {
		if d.Topic == topic {
			sum += d.HighWatermark
		}
	}
	return sum
}

func (s *scenario) proveDelay(f *netfault.Fault, before, during time.Duration, what string) (string, error) {
	st, err := f.Stats()
	proof := fmt.Sprintf("%s took %v before, %v under the fault; %d packets held, mean %v",
		what, before.Round(10*time.Microsecond), during.Round(time.Millisecond), st.Held, st.MeanDelay.Round(time.Millisecond))
	if err == nil && during < before+netLatency-netJitter {
		err = fmt.Errorf("the round trip grew by %v only", during-before)
	}
	if err == nil && st.Overruns > 0 {
		err = fmt.Errorf("%d queue overruns", st.Overruns)
	}
	return proof, err
}

func (s *scenario) proveLoss(f *netfault.Fault) (string, error) {
	// Loss shows in the counters once traffic has flowed: wait for some.
	var st netfault.Stats
	err := harness.Poll(10*time.Second, func() (err error) {
		st, err = f.Stats()
		if err == nil && st.Matched < 400 {
			err = fmt.Errorf("only %d packets on the path so far", st.Matched)
		}
		return err
	})
	if err != nil {
		return "packets dropped on the path", err
	}
	ratio := float64(st.Dropped) / float64(st.Matched)
	proof := fmt.Sprintf("the kernel dropped %d of %d packets on the path (%.1f%%)", st.Dropped, st.Matched, ratio*100)
	if ratio < netLoss/2 || ratio > netLoss*1.5 {
		return proof, fmt.Errorf("drop ratio %.3f is far from %.2f", ratio, netLoss)
	}
	return proof, nil
}

// raftCloseTime measures how long n1 takes to close, as seen from n2, a
// Raft connection it rejects: one byte naming no RPC type.
func (s *scenario) raftCloseTime() time.Duration {
	s.t.Helper()
	n1, n2 := s.c.Nodes[0], s.c.Nodes[1]
	conn, err := n2.Host.Dial(n1.Raft, 5*time.Second)
	if err != nil {
		s.t.Fatalf("dial %s from %v: %v", n1.Raft, n2, err)
	}
	defer conn.Close()
	d, err := harness.CloseDelay(conn, []byte{0xff}, 10*time.Second)
	if err != nil {
		s.t.Fatalf("%v closing a bad Raft connection: %v", n1, err)
	}
	return d
}

// clientCloseTime measures how long n1 takes to close a client connection
// that announced a frame larger than it accepts.
func (s *scenario) clientCloseTime() time.Duration {
	s.t.Helper()
	d, err := harness.SendRaw(s.c.Nodes[0].Kafka, []byte{0x7f, 0xff, 0xff, 0xff}, 10*time.Second)
	if err != nil {
		s.t.Fatalf("%v closing an oversized frame: %v", s.c.Nodes[0], err)
	}
	return d
}

func proveSlowClose(before, during time.Duration, what string) (string, error) {
	proof := fmt.Sprintf("%s reached the other end %v after the request before, %v under the fault",
		what, before.Round(10*time.Microsecond), during.Round(time.Millisecond))
	if during < slowCloseHold*9/10 {
		return proof, fmt.Errorf("the close came after %v, not held %v", during, slowCloseHold)
	}
	return proof, nil
}

// clientChurn opens, uses and closes short client connections to every node
// until ctx ends, several at a time, while the producer works.
func clientChurn(ctx context.Context, s *scenario) string {
	var done, failed atomic.Int64
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; ctx.Err() == nil; j++ {
				n := s.c.Nodes[(i+j)%len(s.c.Nodes)]
				if err := harness.APIVersions(n.Kafka, 5*time.Second); err != nil {
					failed.Add(1)
				} else {
					done.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	return fmt.Sprintf("connection churn: %d short client connections completed, %d failed", done.Load(), failed.Load())
}
