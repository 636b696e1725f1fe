package kafka

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// Why the listener stopped waiting for a client. Each wraps the read's
// os.ErrDeadlineExceeded.
var (
	errFirstRequestTimeout = errors.New("no whole request within the first-request timeout")
	errFrameTimeout        = errors.New("frame not completed within the frame timeout")
	errIdleTimeout         = errors.New("idle for the idle timeout")
)

// conn is one client connection: a reading goroutine (serve) that parses
// requests and starts them in order, and a writing goroutine
// (writeResponses) that answers them in the same order.
//
// Deadlines, so a client cannot hold a connection, a goroutine and the
// bytes it sent without making progress:
//   - FirstRequestTimeout from accepting to the first whole request, like
//     nats-server's auth_timeout: a peer that connects and says nothing (or
//     too little) is not a client.
//   - FrameTimeout from a frame's first byte to its last, and for writing
//     each response (nats-server's write_deadline). Kafka clients give up
//     on a request after request.timeout.ms, 30 s by default, so a frame
//     still incomplete after that long has no one waiting for its answer.
//   - IdleTimeout with nothing read, pending or written, Kafka's
//     connections.max.idle.ms. A request in flight (a long poll, a slow
//     commit) is not idleness.
type conn struct {
	l        *Listener
	c        net.Conn
	external bool
	host     string // the client's host, for group members
	ctx      context.Context
	cancel   context.CancelFunc
	budget   *connBudget

	firstDeadline time.Time // for the first whole request
	served        bool      // a whole request was read; reader only
	lastRead      time.Time // when the last whole frame was read; reader only

	pending       atomic.Int64 // requests read and not yet answered (or dropped)
	lastWrite     atomic.Int64 // unix nanoseconds of the last response written
	writeTimedOut atomic.Bool
	evicted       atomic.Bool // closed by the node budget to make room
}

// inflight is one request whose response is being prepared. Responses are
// written in request order, as Kafka requires, while the work behind them
// runs concurrently so a client may pipeline.
type inflight struct {
	req  *request
	resp chan kmsg.Response // nil response: write nothing (acks=0)
	at   time.Time
	// ctx is the request's context: the connection's, with the request's
	// server span when it is traced (end ends that span).
	ctx context.Context
	end func(errorCodes []int16)
}

func (l *Listener) serveConn(c net.Conn, external bool) {
	defer l.wg.Done()
	l.obs.ConnOpened()
	defer l.obs.ConnClosed()
	defer func() {
		c.Close()
		l.mu.Lock()
		delete(l.conns, c)
		l.mu.Unlock()
	}()
	ctx, cancel := context.WithCancel(l.ctx)
	defer cancel()
	now := time.Now()
	cn := &conn{l: l, c: c, external: external, host: clientHost(c.RemoteAddr()), ctx: ctx, cancel: cancel,
		budget: newConnBudget(l.cfg.MaxConnInflightBytes), firstDeadline: now.Add(l.cfg.FirstRequestTimeout), lastRead: now}
	queue := make(chan *inflight, l.cfg.MaxInflight)
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		cn.writeResponses(queue)
	}()
	defer func() {
		close(queue)
		<-writerDone
	}()
	for {
		req, held, err := cn.readRequest()
		if err != nil {
			cn.closing(err)
			return
		}
		in := &inflight{req: req, resp: make(chan kmsg.Response, 1), at: time.Now(), ctx: ctx}
		cn.pending.Add(1)
		if l.tracer != nil {
			in.ctx, in.end = cn.startServer(ctx, req)
		}
		// Prepare runs here, on the reading goroutine, so that produce
		// requests on one connection enter the Raft log in the order
		// they were sent; the waiting runs on its own goroutine.
		finish := l.prepare(in.ctx, req)
		select {
		case queue <- in:
		case <-ctx.Done():
			cn.release(held)
			cn.closing(ctx.Err())
			return
		}
		go func() {
			resp := finish()
			// The request's bytes are free once it is handled; the
			// response is bounded by MaxInflight and the write deadline.
			cn.release(held)
			in.resp <- resp
		}()
	}
}

// startServer starts a Produce or Fetch request's server span; other
// requests get none (the group ones have their own, Listener.startSpan).
func (cn *conn) startServer(ctx context.Context, req *request) (context.Context, func([]int16)) {
	sr := ServerRequest{ClientID: req.clientID, Peer: cn.c.RemoteAddr().String()}
	switch kr := req.kreq.(type) {
	case *kmsg.ProduceRequest:
		sr.API, sr.Acks = "Produce", kr.Acks
		for _, t := range kr.Topics {
			for _, p := range t.Partitions {
				sr.Batches = append(sr.Batches, p.Records)
			}
		}
	case *kmsg.FetchRequest:
		sr.API = "Fetch"
	default:
		return ctx, nil
	}
	return cn.l.tracer.StartServer(ctx, sr)
}

// clientHost is a peer as Kafka names a group member's host: "/" and its IP.
func clientHost(a net.Addr) string {
	if a == nil {
		return ""
	}
	host, _, err := net.SplitHostPort(a.String())
	if err != nil {
		return "/" + a.String()
	}
	return "/" + host
}

// release gives back a handled request's bytes to both budgets.
func (cn *conn) release(n int64) {
	cn.budget.release(n)
	cn.l.budget.release(n)
}

// readRequest reads and parses the next request within the connection's
// deadlines and budgets, and returns it with the bytes it holds in both
// budgets (the caller releases them once it is handled).
func (cn *conn) readRequest() (*request, int64, error) {
	l := cn.l
	var size [4]byte
	if err := cn.awaitFrame(size[:1]); err != nil {
		return nil, 0, err
	}
	deadline, timeoutErr := time.Now().Add(l.cfg.FrameTimeout), errFrameTimeout
	if !cn.served && cn.firstDeadline.Before(deadline) {
		deadline, timeoutErr = cn.firstDeadline, errFirstRequestTimeout
	}
	cn.c.SetReadDeadline(deadline)
	if _, err := io.ReadFull(cn.c, size[1:]); err != nil {
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return nil, 0, fmt.Errorf("%w: %w", timeoutErr, err)
		}
		return nil, 0, fmt.Errorf("%w: truncated size: %w", ErrMalformedFrame, err)
	}
	n, err := checkSize(size, l.cfg.MaxFrameBytes)
	if err != nil {
		return nil, 0, err
	}
	if waited, ok := cn.budget.admit(int64(n), cn.ctx.Done()); !ok {
		return nil, 0, cn.ctx.Err()
	} else if waited {
		// The client waited on its own earlier requests, not the other
		// way round: its frame's clock starts again.
		l.obs.BudgetWaited(BudgetScopeConnection)
		deadline = time.Now().Add(l.cfg.FrameTimeout)
		cn.c.SetReadDeadline(deadline)
	}
	h := l.budget.hold(func() {
		cn.evicted.Store(true)
		cn.c.Close()
	})
	br := bodyReader{r: cn.c, chunk: chunkSize, progress: h.progress,
		acquire: func(k int64) error {
			return h.acquire(k, deadline, cn.ctx.Done(), func() { l.obs.BudgetWaited(BudgetScopeNode) })
		}}
	body, err := br.read(n)
	if err != nil {
		h.abort()
		if errors.Is(err, os.ErrDeadlineExceeded) {
			err = fmt.Errorf("%w: %w", timeoutErr, err)
		}
		return nil, 0, err
	}
	held := h.done()
	cn.budget.add(held)
	cn.served = true
	cn.lastRead = time.Now()
	req, err := parseRequest(body, supported)
	if err != nil {
		cn.release(held)
		return nil, 0, err
	}
	req.external, req.clientHost = cn.external, cn.host
	return req, held, nil
}

// awaitFrame reads a frame's first byte into b: until the first-request
// deadline on a new connection, later until IdleTimeout after the last
// request read or response written, waiting on while requests are pending.
func (cn *conn) awaitFrame(b []byte) error {
	for {
		deadline, timeoutErr := cn.firstDeadline, errFirstRequestTimeout
		if cn.served {
			last := cn.lastRead
			if w := time.Unix(0, cn.lastWrite.Load()); w.After(last) {
				last = w
			}
			deadline, timeoutErr = last.Add(cn.l.cfg.IdleTimeout), errIdleTimeout
		}
		cn.c.SetReadDeadline(deadline)
		_, err := io.ReadFull(cn.c, b)
		if err == nil {
			return nil
		}
		if errors.Is(err, os.ErrDeadlineExceeded) {
			if cn.served && cn.pending.Load() > 0 {
				cn.lastRead = time.Now()
				continue
			}
			return fmt.Errorf("%w: %w", timeoutErr, err)
		}
		return err
	}
}

func (cn *conn) writeResponses(queue <-chan *inflight) {
	l := cn.l
	var buf []byte
	for in := range queue {
		resp := <-in.resp
		api := kmsg.NameForKey(in.req.key)
		codes := errorCodes(resp)
		d := time.Since(in.at)
		l.obs.RequestDone(in.ctx, api, d, codes)
		reportProduce(l.obs, d, resp)
		if len(codes) > 0 {
			l.log.DebugContext(in.ctx, "Kafka request answered with errors", "api", api, "client_id", in.req.clientID, "error_codes", codes)
		}
		if in.end != nil {
			in.end(codes)
		}
		if resp == nil {
			cn.pending.Add(-1)
			continue
		}
		buf = appendResponse(buf[:0], in.req.corr, resp)
		cn.c.SetWriteDeadline(time.Now().Add(l.cfg.FrameTimeout))
		_, err := cn.c.Write(buf)
		cn.pending.Add(-1)
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				cn.writeTimedOut.Store(true)
			}
			cn.cancel()
			cn.c.Close()
			for range queue { // drain so the reader never blocks
				cn.pending.Add(-1)
			}
			return
		}
		cn.lastWrite.Store(time.Now().UnixNano())
		if cap(buf) > 4<<20 {
			buf = nil // do not pin a large fetch response's buffer
		}
	}
}

// closing reports why the connection ends, when the listener ended it: the
// metric counts every such connection, the log shows the first of each peer
// and reason (rejectLog). A client that closed its connection, or a
// listener shutting down, is not reported.
func (cn *conn) closing(err error) {
	var reason string
	switch {
	case cn.evicted.Load():
		reason = ReasonBudget
		err = fmt.Errorf("%w: closed to make room; its frame had received nothing for %v while the node held its limit of request bytes", errBudget, cn.l.budget.silence)
	case cn.writeTimedOut.Load():
		reason = ReasonWriteTimeout
		err = fmt.Errorf("response not read within the frame timeout %v", cn.l.cfg.FrameTimeout)
	case cn.ctx.Err() != nil:
		return
	case errors.Is(err, errBudget):
		reason = ReasonBudget
	case errors.Is(err, errFirstRequestTimeout):
		reason = ReasonFirstRequestTimeout
	case errors.Is(err, errFrameTimeout):
		reason = ReasonFrameTimeout
	case errors.Is(err, errIdleTimeout):
		reason = ReasonIdleTimeout
	case errors.Is(err, ErrFrameTooLarge):
		reason = ReasonFrameTooLarge
	case errors.Is(err, ErrUnknownAPIKey):
		reason = ReasonUnknownAPIKey
	case errors.Is(err, ErrUnsupportedVers):
		reason = ReasonUnsupportedVersion
	case errors.Is(err, ErrMalformedFrame):
		reason = ReasonMalformed
	default:
		return // io.EOF between frames, a reset: the client left
	}
	cn.l.rejects.reject(cn.c.RemoteAddr(), reason, err)
	cn.l.obs.Rejected(reason)
}
