package devcluster

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"syscall"

	"github.com/raftline/raftline/internal/clusterspec"
)

// lastLines is how many of a node's last log lines the report of its exit
// shows.
const lastLines = 10

// PortsTakenError lists the listeners that cannot bind their addresses.
type PortsTakenError struct {
	Taken []TakenPort
}

// TakenPort is one listener of one node whose address cannot be bound.
type TakenPort struct {
	Node     int32
	Listener string // Kafka, HTTP or Raft
	Addr     string
	Err      error
}

func (e *PortsTakenError) Error() string {
	var b strings.Builder
	b.WriteString("no node was started, as these addresses cannot be listened on:")
	inUse := false
	for _, t := range e.Taken {
		fmt.Fprintf(&b, "\n  node %d %s %s: %v", t.Node, t.Listener, t.Addr, t.Err)
		inUse = inUse || errors.Is(t.Err, syscall.EADDRINUSE)
	}
	if inUse {
		b.WriteString("\nIs another raftline dev running? Stop it, or give this cluster other ports with --kafka-port, --http-port and --raft-port.")
	}
	return b.String()
}

// CheckPorts binds and releases every listener address of every node, so a
// port already taken (by another `raftline dev`, most often) is reported
// with the node and listener that need it before any node starts, rather
// than as one node failing among the others' logs. A port taken between the
// check and a node's start still ends that node, which Run reports.
func CheckPorts(spec clusterspec.Spec) error {
	var taken []TakenPort
	for _, n := range spec.Nodes {
		for _, l := range []struct{ name, addr string }{
			{"Kafka", n.KafkaAddr()}, {"HTTP", n.HTTPAddr()}, {"Raft", n.RaftAddr()},
		} {
			ln, err := net.Listen("tcp", l.addr)
			if err != nil {
				var op *net.OpError
				if errors.As(err, &op) {
					err = op.Err // the address is in the line already
				}
				taken = append(taken, TakenPort{Node: n.ID, Listener: l.name, Addr: l.addr, Err: err})
				continue
			}
			ln.Close()
		}
	}
	if len(taken) > 0 {
		return &PortsTakenError{Taken: taken}
	}
	return nil
}

// nodeExit is a node that exited while the cluster was meant to run.
type nodeExit struct {
	id    int32
	pid   int
	state *os.ProcessState
	last  []string
}

func (e nodeExit) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "node %d exited on its own (%v)", e.id, e.state)
	if len(e.last) > 0 {
		b.WriteString("; its last log lines:")
		for _, l := range e.last {
			b.WriteString("\n  " + l)
		}
	}
	return b.String()
}

// nodeOutput passes one node's output on to w a whole line at a time, under
// a lock every node shares so lines do not interleave, and keeps the node's
// last lines for the report of its exit.
type nodeOutput struct {
	mu      *sync.Mutex
	w       io.Writer
	partial []byte
	ring    []string
	next    int // where the next line goes in ring once it is full
	keep    int
}

// maxPartial bounds an unfinished line: past it, the bytes are passed on
// as they are.
const maxPartial = 64 << 10

func newNodeOutput(w io.Writer, mu *sync.Mutex, keep int) *nodeOutput {
	return &nodeOutput{mu: mu, w: w, keep: keep}
}

func (o *nodeOutput) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.partial = append(o.partial, p...)
	rest := o.partial
	for {
		i := bytes.IndexByte(rest, '\n')
		if i < 0 {
			break
		}
		o.emit(rest[:i+1])
		rest = rest[i+1:]
	}
	if len(rest) > maxPartial {
		o.emit(rest)
		rest = nil
	}
	o.partial = append(o.partial[:0], rest...)
	return len(p), nil
}

// flush passes on an unfinished last line.
func (o *nodeOutput) flush() {
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.partial) > 0 {
		o.emit(append(o.partial, '\n'))
		o.partial = nil
	}
}

// emit writes one line and remembers it; the caller holds mu.
func (o *nodeOutput) emit(line []byte) {
	o.w.Write(line) // a closed terminal must not stop the node
	s := strings.TrimRight(string(line), "\n")
	if len(o.ring) < o.keep {
		o.ring = append(o.ring, s)
		return
	}
	o.ring[o.next] = s
	o.next = (o.next + 1) % o.keep
}

// last returns the remembered lines, oldest first.
func (o *nodeOutput) last() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append(append([]string(nil), o.ring[o.next:]...), o.ring[:o.next]...)
}
