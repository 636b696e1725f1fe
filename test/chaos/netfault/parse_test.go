//go:build linux

package netfault

import (
	"encoding/binary"
	"testing"
	"time"
)

// The parts that read what the kernel and the tools print, checked without
// root; the scenarios exercise the rest against the real kernel.

func TestPacketID_FindsHeaderAmongAttributes(t *testing.T) {
	hdr := binary.BigEndian.AppendUint32(nil, 0xdeadbeef)
	hdr = append(hdr, 0x08, 0x00, 3) // hw protocol, hook
	m := []byte{0, 0, 0, 1}          // nfgenmsg
	m = append(m, attr(9, []byte{1, 2, 3})...)
	m = append(m, attr(nfqaPacketHdr, hdr)...)
	id, ok := packetID(m)
	if !ok || id != 0xdeadbeef {
		t.Fatalf("packetID = %#x, %v", id, ok)
	}
	if _, ok := packetID(m[:len(m)-4]); ok {
		t.Fatal("a truncated attribute was accepted")
	}
	if _, ok := packetID([]byte{0, 0}); ok {
		t.Fatal("a message shorter than nfgenmsg was accepted")
	}
}

func TestPacketsOf_ReadsTheCommentedRule(t *testing.T) {
	listing := `Chain OUTPUT (policy ACCEPT 0 packets, 0 bytes)
    pkts      bytes target     prot opt in     out     source               destination
    1682   120000            6    --  *      *       0.0.0.0/0            10.213.4.12          multiport ports 9192 /* rlc-loss-7-all */
     309    22000 DROP       6    --  *      *       0.0.0.0/0            10.213.4.12          multiport ports 9192 statistic mode random probability 0.20000000019 /* rlc-loss-7-drop */
`
	if n := packetsOf(listing, "rlc-loss-7-all"); n != 1682 {
		t.Errorf("all = %d", n)
	}
	if n := packetsOf(listing, "rlc-loss-7-drop"); n != 309 {
		t.Errorf("drop = %d", n)
	}
	if n := packetsOf(listing, "rlc-loss-70-drop"); n != 0 {
		t.Errorf("a missing rule counted %d", n)
	}
}

func TestHTBCounters(t *testing.T) {
	out := `class htb 1:10 root prio 0 rate 1Mbit ceil 1Mbit burst 1600b cburst 1600b
 Sent 2030406 bytes 1575 pkt (dropped 0, overlimits 626 requeues 0)
 backlog 0b 0p requeues 0
`
	pkts, over := htbCounters(out)
	if pkts != 1575 || over != 626 {
		t.Fatalf("htbCounters = %d, %d", pkts, over)
	}
}

func TestJittered_StaysInRange(t *testing.T) {
	d := Jittered(100*time.Millisecond, 20*time.Millisecond)
	for range 1000 {
		if v := d(); v < 80*time.Millisecond || v > 120*time.Millisecond {
			t.Fatalf("delay %v out of 100ms ± 20ms", v)
		}
	}
}

func TestCreatorPid(t *testing.T) {
	if pid, ok := creatorPid(Prefix + "-4242-3-n1"); !ok || pid != 4242 {
		t.Fatalf("creatorPid = %d, %v", pid, ok)
	}
	for _, name := range []string{"other-4242-3-n1", Prefix + "-x-3-r", Prefix + "-"} {
		if _, ok := creatorPid(name); ok {
			t.Errorf("%q taken for one of ours", name)
		}
	}
}
