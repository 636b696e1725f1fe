//go:build linux

package netfault

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Queue numbers, one per kind of fault that holds packets.
const (
	delayQueue     = 1
	slowCloseQueue = 2
)

// Path is one kind of traffic: the iptables matches that select its packets
// leaving a host (OUTPUT) and entering it (INPUT).
type Path struct {
	Name    string
	egress  func(h *Host) [][]string
	ingress func(h *Host) [][]string
}

// PeerPath is the TCP traffic between a host and the other hosts that has
// port on either end: the Raft path when port is the Raft port. Only what a
// host sends is matched, so a fault applied on every host meets each packet
// between two hosts exactly once, as netem on every host's link would.
func (nw *Network) PeerPath(name string, port int) Path {
	return Path{Name: name, egress: func(h *Host) [][]string {
		var out [][]string
		for _, p := range nw.Hosts {
			if p != h {
				out = append(out, []string{"-d", p.IP, "-p", "tcp", "-m", "multiport", "--ports", strconv.Itoa(port)})
			}
		}
		return out
	}}
}

// ClientPath is the TCP traffic between a host's port and the clients in the
// root namespace, matched in both directions at the host: the root namespace
// carries no rules.
func (nw *Network) ClientPath(name string, port int) Path {
	p := strconv.Itoa(port)
	return Path{
		Name:    name,
		egress:  func(*Host) [][]string { return [][]string{{"-d", nw.HostIP, "-p", "tcp", "--sport", p}} },
		ingress: func(*Host) [][]string { return [][]string{{"-s", nw.HostIP, "-p", "tcp", "--dport", p}} },
	}
}

// Fault is one injected fault; Heal removes it.
type Fault struct {
	// Desc says what the fault is, for reports.
	Desc string

	mu     sync.Mutex
	undo   []func() error
	healed bool

	counted []countedRule // rules whose packet counters Stats reads
	queues  []*Queue
	shaped  []*Host // bandwidth faults: hosts with the HTB qdisc
}

type countedRule struct {
	h         *Host
	chain     string
	all, drop string // comments of the counting rule (if any) and the dropping rule
}

var faultSeq atomic.Int64

// Heal removes the fault's rules and qdiscs, then releases any packet it
// still holds. It may be called more than once.
func (f *Fault) Heal() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.healed {
		return nil
	}
	f.healed = true
	var errs []error
	for i := len(f.undo) - 1; i >= 0; i-- {
		if err := f.undo[i](); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// rule appends an iptables rule in h's namespace and registers its removal.
func (f *Fault) rule(h *Host, chain string, spec ...string) error {
	if _, err := h.iptables(append([]string{"-A", chain}, spec...)...); err != nil {
		return err
	}
	f.undo = append(f.undo, func() error {
		_, err := h.iptables(append([]string{"-D", chain}, spec...)...)
		return err
	})
	return nil
}

func (h *Host) iptables(args ...string) (string, error) {
	return run("ip", append([]string{"netns", "exec", h.NS, "iptables", "-w", "5"}, args...)...)
}

// drop adds a counted DROP rule: Stats then tells how many packets the
// cut stopped, the kernel's own evidence that the path was used and cut.
func (f *Fault) drop(h *Host, chain string, match ...string) error {
	tag := fmt.Sprintf("rlc-cut-%d", faultSeq.Add(1))
	if err := f.rule(h, chain, slices.Concat(match, []string{"-m", "comment", "--comment", tag, "-j", "DROP"})...); err != nil {
		return err
	}
	f.counted = append(f.counted, countedRule{h: h, chain: chain, drop: tag})
	return nil
}

// build runs add; on error it heals what add had installed.
func build(desc string, add func(f *Fault) error) (*Fault, error) {
	f := &Fault{Desc: desc}
	if err := add(f); err != nil {
		return nil, errors.Join(err, f.Heal())
	}
	return f, nil
}

// Partition cuts all traffic, both ways, between every host of a and every
// host of b. Rules sit in a's namespaces only, which is enough to drop both
// directions.
func (nw *Network) Partition(a, b []*Host) (*Fault, error) {
	return build(fmt.Sprintf("partition %s | %s", names(a), names(b)), func(f *Fault) error {
		for _, x := range a {
			for _, y := range b {
				if err := f.drop(x, "INPUT", "-s", y.IP); err != nil {
					return err
				}
				if err := f.drop(x, "OUTPUT", "-d", y.IP); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

// Isolate cuts h from every other host; clients in the root namespace still
// reach it.
func (nw *Network) Isolate(h *Host) (*Fault, error) {
	var others []*Host
	for _, o := range nw.Hosts {
		if o != h {
			others = append(others, o)
		}
	}
	return nw.Partition([]*Host{h}, others)
}

// CutOneWay drops every packet from `from` to `to`, while packets from `to`
// to `from` still arrive.
func (nw *Network) CutOneWay(from, to *Host) (*Fault, error) {
	return build(fmt.Sprintf("one-way cut %s -> %s", from.Name, to.Name), func(f *Fault) error {
		return f.drop(to, "INPUT", "-s", from.IP)
	})
}

// Block drops every packet of the path at each of hosts: leaving the host
// when egress is set, arriving when ingress is set. Blocking only the
// egress of the client path loses a node's answers while its clients'
// requests still arrive.
func (nw *Network) Block(p Path, hosts []*Host, egress, ingress bool) (*Fault, error) {
	dir := map[[2]bool]string{{true, true}: "both ways", {true, false}: "leaving", {false, true}: "arriving"}[[2]bool{egress, ingress}]
	desc := fmt.Sprintf("%s path blocked (%s) at %s", p.Name, dir, names(hosts))
	return build(desc, func(f *Fault) error {
		for _, h := range hosts {
			for chain, matches := range pathMatches(p, h) {
				if (chain == "OUTPUT" && !egress) || (chain == "INPUT" && !ingress) {
					continue
				}
				for _, m := range matches {
					if err := f.drop(h, chain, m...); err != nil {
						return err
					}
				}
			}
		}
		return nil
	})
}

// Delay holds each packet of the path at each of hosts for base ± jitter
// before letting it go on.
func (nw *Network) Delay(p Path, hosts []*Host, base, jitter time.Duration) (*Fault, error) {
	desc := fmt.Sprintf("%v ± %v latency on the %s path at %s", base, jitter, p.Name, names(hosts))
	return nw.queueFault(desc, p, hosts, delayQueue, Jittered(base, jitter), nil)
}

// SlowClose holds each FIN of the path at each of hosts for hold: a
// connection's close reaches the other end that much later, while its data
// flows as before.
func (nw *Network) SlowClose(p Path, hosts []*Host, hold time.Duration) (*Fault, error) {
	desc := fmt.Sprintf("slow close (FIN held %v) on the %s path at %s", hold, p.Name, names(hosts))
	return nw.queueFault(desc, p, hosts, slowCloseQueue, Jittered(hold, 0), []string{"--tcp-flags", "FIN", "FIN"})
}

func (nw *Network) queueFault(desc string, p Path, hosts []*Host, num uint16, delay func() time.Duration, extra []string) (*Fault, error) {
	return build(desc, func(f *Fault) error {
		for _, h := range hosts {
			q, err := h.OpenQueue(num, delay)
			if err != nil {
				return err
			}
			f.queues = append(f.queues, q)
			f.undo = append(f.undo, func() error { h.closeQueue(num); return nil })
			target := []string{"-j", "NFQUEUE", "--queue-num", strconv.Itoa(int(num)), "--queue-bypass"}
			for chain, matches := range pathMatches(p, h) {
				for _, m := range matches {
					if err := f.rule(h, chain, slices.Concat(m, extra, target)...); err != nil {
						return err
					}
				}
			}
		}
		return nil
	})
}

func pathMatches(p Path, h *Host) map[string][][]string {
	out := map[string][][]string{}
	if p.egress != nil {
		out["OUTPUT"] = p.egress(h)
	}
	if p.ingress != nil {
		out["INPUT"] = p.ingress(h)
	}
	return out
}

// Loss drops each packet of the path at each of hosts with probability prob.
// A counting rule before each dropping rule lets Stats tell how many packets
// the path carried and how many were dropped.
func (nw *Network) Loss(p Path, hosts []*Host, prob float64) (*Fault, error) {
	desc := fmt.Sprintf("%.0f%% packet loss on the %s path at %s", prob*100, p.Name, names(hosts))
	return build(desc, func(f *Fault) error {
		for _, h := range hosts {
			for chain, matches := range pathMatches(p, h) {
				for _, m := range matches {
					tag := fmt.Sprintf("rlc-loss-%d", faultSeq.Add(1))
					cr := countedRule{h: h, chain: chain, all: tag + "-all", drop: tag + "-drop"}
					if err := f.rule(h, chain, slices.Concat(m, []string{"-m", "comment", "--comment", cr.all})...); err != nil {
						return err
					}
					if err := f.rule(h, chain, slices.Concat(m, []string{"-m", "statistic", "--mode", "random",
						"--probability", strconv.FormatFloat(prob, 'f', 4, 64), "-m", "comment", "--comment", cr.drop, "-j", "DROP"})...); err != nil {
						return err
					}
					f.counted = append(f.counted, cr)
				}
			}
		}
		return nil
	})
}

// Bandwidth limits what each of hosts sends with port on either end to rate
// (a tc rate such as "1mbit"), with an HTB class on the host's link; other
// traffic is not limited.
func (nw *Network) Bandwidth(hosts []*Host, port int, rate string) (*Fault, error) {
	desc := fmt.Sprintf("bandwidth %s for port %d traffic sent by %s", rate, port, names(hosts))
	p := strconv.Itoa(port)
	return build(desc, func(f *Fault) error {
		for _, h := range hosts {
			tc := func(args ...string) error {
				_, err := run("tc", append([]string{"-n", h.NS}, args...)...)
				return err
			}
			if err := tc("qdisc", "add", "dev", "eth0", "root", "handle", "1:", "htb", "default", "20", "r2q", "100"); err != nil {
				return err
			}
			f.undo = append(f.undo, func() error { return tc("qdisc", "del", "dev", "eth0", "root") })
			f.shaped = append(f.shaped, h)
			for _, args := range [][]string{
				{"class", "add", "dev", "eth0", "parent", "1:", "classid", "1:10", "htb", "rate", rate, "ceil", rate},
				{"class", "add", "dev", "eth0", "parent", "1:", "classid", "1:20", "htb", "rate", "10gbit"},
				{"filter", "add", "dev", "eth0", "parent", "1:", "protocol", "ip", "prio", "1", "u32", "match", "ip", "dport", p, "0xffff", "flowid", "1:10"},
				{"filter", "add", "dev", "eth0", "parent", "1:", "protocol", "ip", "prio", "1", "u32", "match", "ip", "sport", p, "0xffff", "flowid", "1:10"},
			} {
				if err := tc(args...); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

// Stats is what the kernel and the packet queues saw of a fault.
type Stats struct {
	// Matched counts the packets a loss fault saw; Dropped the packets a
	// loss fault or a cut dropped.
	Matched, Dropped int64
	// Held counts the packets a delay or slow-close fault held, and
	// MeanDelay their mean delay.
	Held      int64
	MeanDelay time.Duration
	// Overruns counts lost queue notifications (should stay 0).
	Overruns int64
	// ShapedPackets and Overlimits count a bandwidth fault's packets and
	// the times the limit held one back.
	ShapedPackets, Overlimits int64
}

// Stats reads the fault's counters. Call it before Heal: healing removes the
// rules that hold them.
func (f *Fault) Stats() (Stats, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var s Stats
	var total time.Duration
	for _, q := range f.queues {
		s.Held += q.Held.Load()
		total += time.Duration(q.TotalDelay.Load())
		s.Overruns += q.Overruns.Load()
	}
	if s.Held > 0 {
		s.MeanDelay = total / time.Duration(s.Held)
	}
	listings := map[string]string{}
	for _, c := range f.counted {
		key := c.h.NS + " " + c.chain
		if _, ok := listings[key]; !ok {
			out, err := c.h.iptables("-L", c.chain, "-v", "-x", "-n")
			if err != nil {
				return s, err
			}
			listings[key] = out
		}
		if c.all != "" {
			s.Matched += packetsOf(listings[key], c.all)
		}
		s.Dropped += packetsOf(listings[key], c.drop)
	}
	for _, h := range f.shaped {
		out, err := run("tc", "-n", h.NS, "-s", "class", "show", "dev", "eth0", "classid", "1:10")
		if err != nil {
			return s, err
		}
		sent, over := htbCounters(out)
		s.ShapedPackets += sent
		s.Overlimits += over
	}
	return s, nil
}

// packetsOf finds the packet counter of the rule commented comment in an
// `iptables -L -v -x -n` listing.
func packetsOf(listing, comment string) int64 {
	for _, line := range strings.Split(listing, "\n") {
		if strings.Contains(line, "/* "+comment+" */") {
			if f := strings.Fields(line); len(f) > 0 {
				n, _ := strconv.ParseInt(f[0], 10, 64)
				return n
			}
		}
	}
	return 0
}

// htbCounters reads "Sent B bytes P pkt (dropped D, overlimits O requeues R)".
func htbCounters(out string) (pkts, overlimits int64) {
	i := strings.Index(out, "Sent ")
	if i < 0 {
		return 0, 0
	}
	var bytes, dropped, requeues int64
	fmt.Sscanf(out[i:], "Sent %d bytes %d pkt (dropped %d, overlimits %d requeues %d)", &bytes, &pkts, &dropped, &overlimits, &requeues)
	return pkts, overlimits
}

func names(hosts []*Host) string {
	var n []string
	for _, h := range hosts {
		n = append(n, h.Name)
	}
	return strings.Join(n, ",")
}
