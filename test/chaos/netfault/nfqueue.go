//go:build linux

package netfault

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// The nfnetlink_queue protocol (linux/netfilter/nfnetlink_queue.h): a
// netlink message of subsystem NFNL_SUBSYS_QUEUE carries an nfgenmsg and
// attributes. Integers inside attributes are big-endian.
const (
	nfnlSubsysQueue = 3

	nfqnlMsgPacket  = 0
	nfqnlMsgVerdict = 1
	nfqnlMsgConfig  = 2

	nfqaPacketHdr  = 1
	nfqaVerdictHdr = 2

	nfqaCfgCmd      = 1
	nfqaCfgParams   = 2
	nfqaCfgQueueMax = 3

	nfqnlCfgCmdBind   = 1
	nfqnlCfgCmdUnbind = 2
	nfqnlCopyMeta     = 1

	nfAccept = 1

	// queueMaxLen bounds the packets the kernel holds for one queue; beyond
	// it, packets are dropped, as netem drops beyond its limit.
	queueMaxLen = 20000
)

// Queue holds the packets an iptables NFQUEUE rule sends it and releases
// each after a delay chosen per packet: the latency and slow-close faults.
type Queue struct {
	num   uint16
	fd    int
	delay func() time.Duration

	// mu guards held and closed, and is held while sending on fd so
	// that Close cannot close the socket under a sender.
	mu       sync.Mutex
	held     map[uint32]*time.Timer
	closed   bool
	done     chan struct{}
	readDone chan struct{}

	// Held counts the packets delayed so far; TotalDelay sums their delays.
	Held       atomic.Int64
	TotalDelay atomic.Int64 // nanoseconds
	// Overruns counts receive-buffer overflows: queued packets whose
	// notification was lost stay with the kernel until Close.
	Overruns atomic.Int64
}

// OpenQueue binds queue number num in the host's namespace. Each packet the
// queue receives is accepted after delay() has passed.
func (h *Host) OpenQueue(num uint16, delay func() time.Duration) (*Queue, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.queues[num]; ok {
		return nil, fmt.Errorf("%s: queue %d already open", h.Name, num)
	}
	q := &Queue{num: num, fd: -1, delay: delay, held: map[uint32]*time.Timer{}, done: make(chan struct{}), readDone: make(chan struct{})}
	err := inNetns(h.NS, func() error {
		fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_NETFILTER)
		q.fd = fd
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("%s: netlink socket: %w", h.Name, err)
	}
	if err := q.setup(); err != nil {
		unix.Close(q.fd)
		return nil, fmt.Errorf("%s: queue %d: %w", h.Name, num, err)
	}
	h.queues[num] = q
	go q.read()
	return q, nil
}

func (q *Queue) setup() error {
	if err := unix.Bind(q.fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return err
	}
	// A large buffer, so a burst of packets is not lost to an overrun.
	_ = unix.SetsockoptInt(q.fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 16<<20)
	tv := unix.NsecToTimeval((100 * time.Millisecond).Nanoseconds())
	if err := unix.SetsockoptTimeval(q.fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		return err
	}
	params := make([]byte, 5)
	binary.BigEndian.PutUint32(params, 0) // copy range: metadata only
	params[4] = nfqnlCopyMeta
	maxLen := binary.BigEndian.AppendUint32(nil, queueMaxLen)
	for _, m := range [][]byte{
		q.msg(nfqnlMsgConfig, true, attr(nfqaCfgCmd, []byte{nfqnlCfgCmdBind, 0, 0, 0})),
		q.msg(nfqnlMsgConfig, true, attr(nfqaCfgParams, params)),
		q.msg(nfqnlMsgConfig, true, attr(nfqaCfgQueueMax, maxLen)),
	} {
		if err := q.send(m); err != nil {
			return err
		}
		if err := q.readAck(); err != nil {
			return err
		}
	}
	return nil
}

// readAck reads the kernel's answer to a config message sent with NLM_F_ACK.
func (q *Queue) readAck() error {
	buf := make([]byte, 4096)
	for range 50 {
		n, _, err := unix.Recvfrom(q.fd, buf, 0)
		if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return err
		}
		for b := buf[:n]; len(b) >= unix.NLMSG_HDRLEN; {
			l := int(binary.NativeEndian.Uint32(b))
			if l < unix.NLMSG_HDRLEN || l > len(b) {
				return errors.New("malformed netlink message")
			}
			if binary.NativeEndian.Uint16(b[4:]) == unix.NLMSG_ERROR && l >= unix.NLMSG_HDRLEN+4 {
				if code := int32(binary.NativeEndian.Uint32(b[unix.NLMSG_HDRLEN:])); code != 0 {
					return fmt.Errorf("nfnetlink_queue config: %w", unix.Errno(-code))
				}
				return nil
			}
			b = b[align4(l):]
		}
	}
	return errors.New("no answer to nfnetlink_queue config")
}

func (q *Queue) read() {
	defer close(q.readDone)
	buf := make([]byte, 1<<20)
	for {
		select {
		case <-q.done:
			return
		default:
		}
		n, _, err := unix.Recvfrom(q.fd, buf, 0)
		switch {
		case errors.Is(err, unix.ENOBUFS):
			q.Overruns.Add(1)
			continue
		case errors.Is(err, unix.EAGAIN), errors.Is(err, unix.EINTR):
			continue
		case err != nil:
			return // closed
		}
		for b := buf[:n]; len(b) >= unix.NLMSG_HDRLEN; {
			l := int(binary.NativeEndian.Uint32(b))
			if l < unix.NLMSG_HDRLEN || l > len(b) {
				break
			}
			typ := binary.NativeEndian.Uint16(b[4:])
			if typ == nfnlSubsysQueue<<8|nfqnlMsgPacket {
				if id, ok := packetID(b[unix.NLMSG_HDRLEN:l]); ok {
					q.hold(id)
				}
			}
			b = b[align4(l):]
		}
	}
}

// packetID finds NFQA_PACKET_HDR's packet id after the nfgenmsg.
func packetID(m []byte) (uint32, bool) {
	if len(m) < 4 {
		return 0, false
	}
	for a := m[4:]; len(a) >= 4; {
		l := int(binary.NativeEndian.Uint16(a))
		typ := binary.NativeEndian.Uint16(a[2:]) & 0x3fff
		if l < 4 || l > len(a) {
			return 0, false
		}
		if typ == nfqaPacketHdr && l >= 8 {
			return binary.BigEndian.Uint32(a[4:]), true
		}
		a = a[min(align4(l), len(a)):]
	}
	return 0, false
}

func (q *Queue) hold(id uint32) {
	d := q.delay()
	q.Held.Add(1)
	q.TotalDelay.Add(int64(d))
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		q.verdict(id, nfAccept)
		return
	}
	q.held[id] = time.AfterFunc(d, func() {
		q.mu.Lock()
		defer q.mu.Unlock()
		if _, ok := q.held[id]; ok {
			delete(q.held, id)
			q.verdict(id, nfAccept)
		}
	})
}

// verdict tells the kernel what to do with packet id; the caller holds q.mu.
func (q *Queue) verdict(id uint32, v uint32) {
	hdr := binary.BigEndian.AppendUint32(nil, v)
	hdr = binary.BigEndian.AppendUint32(hdr, id)
	_ = q.send(q.msg(nfqnlMsgVerdict, false, attr(nfqaVerdictHdr, hdr)))
}

// MeanDelay is the mean delay given to the packets held so far.
func (q *Queue) MeanDelay() time.Duration {
	n := q.Held.Load()
	if n == 0 {
		return 0
	}
	return time.Duration(q.TotalDelay.Load() / n)
}

// Close releases every held packet at once, unbinds the queue and closes the
// socket. Remove the rules feeding the queue first: the rules bypass a
// queue nobody listens on, but a closed queue could still receive packets
// between the two steps.
func (q *Queue) Close() {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return
	}
	q.closed = true
	for id, t := range q.held {
		t.Stop()
		q.verdict(id, nfAccept)
	}
	q.held = nil
	q.mu.Unlock()
	close(q.done)
	<-q.readDone // within the socket's receive timeout
	_ = q.send(q.msg(nfqnlMsgConfig, false, attr(nfqaCfgCmd, []byte{nfqnlCfgCmdUnbind, 0, 0, 0})))
	unix.Close(q.fd)
}

func (h *Host) closeQueue(num uint16) {
	h.mu.Lock()
	q := h.queues[num]
	delete(h.queues, num)
	h.mu.Unlock()
	if q != nil {
		q.Close()
	}
}

func (h *Host) closeQueues() {
	h.mu.Lock()
	qs := h.queues
	h.queues = map[uint16]*Queue{}
	h.mu.Unlock()
	for _, q := range qs {
		q.Close()
	}
}

func (q *Queue) send(b []byte) error {
	return unix.Sendto(q.fd, b, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK})
}

// msg builds a netlink message for this queue: header, nfgenmsg (family
// AF_UNSPEC, version 0, the queue number), then the attributes.
func (q *Queue) msg(typ uint16, ack bool, attrs ...[]byte) []byte {
	flags := uint16(unix.NLM_F_REQUEST)
	if ack {
		flags |= unix.NLM_F_ACK
	}
	b := make([]byte, unix.NLMSG_HDRLEN, 64)
	binary.NativeEndian.PutUint16(b[4:], nfnlSubsysQueue<<8|typ)
	binary.NativeEndian.PutUint16(b[6:], flags)
	b = append(b, unix.AF_UNSPEC, 0)
	b = binary.BigEndian.AppendUint16(b, q.num)
	for _, a := range attrs {
		b = append(b, a...)
	}
	binary.NativeEndian.PutUint32(b, uint32(len(b)))
	return b
}

func attr(typ uint16, data []byte) []byte {
	l := 4 + len(data)
	b := make([]byte, align4(l))
	binary.NativeEndian.PutUint16(b, uint16(l))
	binary.NativeEndian.PutUint16(b[2:], typ)
	copy(b[4:], data)
	return b
}

func align4(n int) int { return (n + 3) &^ 3 }

// Jittered returns a delay function giving base ± jitter, uniformly.
func Jittered(base, jitter time.Duration) func() time.Duration {
	return func() time.Duration {
		if jitter <= 0 {
			return base
		}
		return base - jitter + time.Duration(rand.Int64N(int64(2*jitter)+1))
	}
}
