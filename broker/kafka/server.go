// Package kafka serves the Kafka wire protocol on top of a raftline node.
//
// Requests and responses are franz-go's kmsg types; nothing here encodes the
// wire format by hand beyond the frame and header. Each API key lives in its
// own file, named after its key number, and registers the versions it
// implements; ApiVersions answers from that registry, so the versions
// advertised are exactly the ones served.
package kafka

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/raftline/raftline/broker/fsm"
	"github.com/raftline/raftline/broker/raftnode"
)

// Config configures the Kafka listener.
type Config struct {
	NodeID         int32
	Addr           string // listen address
	AdvertisedAddr string // address given to clients in Metadata
	// ExternalAddr, when set, is a second listener for clients that reach
	// the nodes by other names (the host, outside a container network).
	// Clients connected to it are given every node's external address.
	ExternalAddr           string
	AdvertisedExternalAddr string
	ClusterID              string
	// MaxFrameBytes bounds one request frame; larger frames close the
	// connection before anything is allocated for them.
	MaxFrameBytes     int32
	AutoCreateTopics  bool
	DefaultPartitions int32
	// DefaultTopicConfigs fill in what a new topic's creator leaves
	// unset. They are written into the topic's Raft entry, so every
	// replica holds the same values whatever its own flags.
	DefaultTopicConfigs map[string]string
	// MaxInflight bounds the requests read ahead on one connection.
	MaxInflight int
	Logger      *slog.Logger
	Observer    Observer
}

// Observer is told what the server does, for metrics. Every method must be
// cheap and safe for concurrent use.
type Observer interface {
	ConnOpened()
	ConnClosed()
	// RequestDone reports one request, with the non-zero error codes its
	// response carried (one per partition or topic that failed).
	RequestDone(api string, d time.Duration, errorCodes []int16)
	Produced(topic string, records, bytes int64)
	Fetched(topic string, records, bytes int64)
}

// Tracer lets telemetry wrap the produce path in spans without this package
// importing OpenTelemetry. Nil means no tracing.
type Tracer interface {
	// StartProduce starts the span of one partition's batches and returns
	// the trace context to carry in the Raft entry and a function ending the
	// span with the partition's outcome.
	StartProduce(ctx context.Context, topic string, partition int32, records int, batches [][]byte) (extensions []byte, end func(err error))
	// StartFetch starts a receive span for one topic.
	StartFetch(ctx context.Context, topic string) func(records int64, err error)
}

// Cluster is what the Kafka layer needs from the rest of the node.
type Cluster interface {
	// ApplyMeta applies a metadata command (create topic, init producer)
	// through the leader, forwarding it when this node is not the leader.
	ApplyMeta(ctx context.Context, c fsm.Command) (fsm.ApplyResult, error)
}

// Server is the Kafka listener of one node.
type Server struct {
	cfg     Config
	node    *raftnode.Node
	state   *fsm.State
	cluster Cluster
	obs     Observer
	tracer  Tracer
	log     *slog.Logger

	ln     net.Listener
	extLn  net.Listener // nil without an external listener
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	mu     sync.Mutex
	conns  map[net.Conn]struct{}
}

// New creates a server; Serve starts it.
func New(cfg Config, node *raftnode.Node, cluster Cluster, tracer Tracer) *Server {
	if cfg.MaxFrameBytes <= 0 {
		cfg.MaxFrameBytes = 100 << 20
	}
	if cfg.MaxInflight <= 0 {
		cfg.MaxInflight = 32
	}
	if cfg.DefaultPartitions <= 0 {
		cfg.DefaultPartitions = 1
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if cfg.Observer == nil {
		cfg.Observer = nopObserver{}
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Server{
		cfg: cfg, node: node, state: node.State, cluster: cluster, obs: cfg.Observer,
		tracer: tracer, log: cfg.Logger, ctx: ctx, cancel: cancel, conns: map[net.Conn]struct{}{},
	}
}

// Listen binds the listeners; Addr is valid afterwards.
func (s *Server) Listen() error {
	ln, err := net.Listen("tcp", s.cfg.Addr)
	if err != nil {
		return err
	}
	s.ln = ln
	if s.cfg.AdvertisedAddr == "" {
		s.cfg.AdvertisedAddr = ln.Addr().String()
	}
	if s.cfg.ExternalAddr != "" {
		ext, err := net.Listen("tcp", s.cfg.ExternalAddr)
		if err != nil {
			ln.Close()
			return fmt.Errorf("external listener: %w", err)
		}
		s.extLn = ext
		if s.cfg.AdvertisedExternalAddr == "" {
			s.cfg.AdvertisedExternalAddr = ext.Addr().String()
		}
	}
	return nil
}

// AdvertisedExternalAddr is the address given to clients of the external
// listener, or "" without one.
func (s *Server) AdvertisedExternalAddr() string { return s.cfg.AdvertisedExternalAddr }

// Addr is the bound listen address.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// AdvertisedAddr is the address clients are told to use.
func (s *Server) AdvertisedAddr() string { return s.cfg.AdvertisedAddr }

// Serve accepts connections on every listener until Close.
func (s *Server) Serve() error {
	if s.extLn != nil {
		errc := make(chan error, 1)
		go func() { errc <- s.accept(s.extLn, true) }()
		err := s.accept(s.ln, false)
		if eerr := <-errc; err == nil {
			err = eerr
		}
		return err
	}
	return s.accept(s.ln, false)
}

func (s *Server) accept(ln net.Listener, external bool) error {
	for {
		c, err := ln.Accept()
		if err != nil {
			if s.ctx.Err() != nil {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return err
		}
		s.mu.Lock()
		s.conns[c] = struct{}{}
		s.mu.Unlock()
		s.wg.Add(1)
		go s.serveConn(c, external)
	}
}

// Close stops accepting, closes every connection and waits for them.
func (s *Server) Close() error {
	s.cancel()
	err := s.ln.Close()
	if s.extLn != nil {
		s.extLn.Close()
	}
	s.mu.Lock()
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
	return err
}

// inflight is one request whose response is being prepared. Responses are
// written in request order, as Kafka requires, while the work behind them
// runs concurrently so a client may pipeline.
type inflight struct {
	req  *request
	resp chan kmsg.Response // nil response: write nothing (acks=0)
	at   time.Time
}

func (s *Server) serveConn(c net.Conn, external bool) {
	defer s.wg.Done()
	s.obs.ConnOpened()
	defer s.obs.ConnClosed()
	defer func() {
		c.Close()
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
	}()
	ctx, cancel := context.WithCancel(s.ctx)
	defer cancel()
	queue := make(chan *inflight, s.cfg.MaxInflight)
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		s.writeResponses(c, queue, cancel)
	}()
	defer func() {
		close(queue)
		<-writerDone
	}()
	for {
		body, err := readFrame(c, s.cfg.MaxFrameBytes)
		if err != nil {
			if !errors.Is(err, io.EOF) && ctx.Err() == nil {
				s.log.Info("closing Kafka connection", "remote", c.RemoteAddr().String(), "err", err)
			}
			return
		}
		req, err := parseRequest(body, supported)
		if err != nil {
			s.log.Info("closing Kafka connection", "remote", c.RemoteAddr().String(), "err", err)
			return
		}
		req.external = external
		in := &inflight{req: req, resp: make(chan kmsg.Response, 1), at: time.Now()}
		// Prepare runs here, on the reading goroutine, so that produce
		// requests on one connection enter the Raft log in the order
		// they were sent; the waiting runs on its own goroutine.
		finish := s.prepare(ctx, req)
		select {
		case queue <- in:
		case <-ctx.Done():
			return
		}
		go func() { in.resp <- finish() }()
	}
}

func (s *Server) writeResponses(c net.Conn, queue <-chan *inflight, cancel context.CancelFunc) {
	var buf []byte
	for in := range queue {
		resp := <-in.resp
		api := kmsg.NameForKey(in.req.key)
		s.obs.RequestDone(api, time.Since(in.at), errorCodes(resp))
		if resp == nil {
			continue
		}
		buf = appendResponse(buf[:0], in.req.corr, resp)
		if _, err := c.Write(buf); err != nil {
			cancel()
			c.Close()
			for range queue { // drain so the reader never blocks
			}
			return
		}
		if cap(buf) > 4<<20 {
			buf = nil // do not pin a large fetch response's buffer
		}
	}
}

// prepare starts handling a request and returns the function that completes
// it. Handlers do their ordering-sensitive work (proposing) before returning.
func (s *Server) prepare(ctx context.Context, r *request) func() kmsg.Response {
	if r.kreq == nil { // ApiVersions above our range
		return func() kmsg.Response { return s.unsupportedApiVersions(r) }
	}
	return handlers[r.key].fn(s, ctx, r)
}

type nopObserver struct{}

func (nopObserver) ConnOpened()                                {}
func (nopObserver) ConnClosed()                                {}
func (nopObserver) RequestDone(string, time.Duration, []int16) {}
func (nopObserver) Produced(string, int64, int64)              {}
func (nopObserver) Fetched(string, int64, int64)               {}

// codeOf maps an error to a Kafka error code: kerr errors keep their code,
// raftnode's sentinels become the retriable codes clients re-route on.
func codeOf(err error) int16 {
	if err == nil {
		return 0
	}
	var ke *kerr.Error
	if errors.As(err, &ke) {
		return ke.Code
	}
	switch {
	case errors.Is(err, raftnode.ErrNotLeader), errors.Is(err, raftnode.ErrShutdown):
		return kerr.NotLeaderForPartition.Code
	case errors.Is(err, raftnode.ErrIndeterminate), errors.Is(err, context.DeadlineExceeded):
		return kerr.RequestTimedOut.Code
	}
	return kerr.UnknownServerError.Code
}
