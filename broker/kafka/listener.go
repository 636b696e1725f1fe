// Package kafka serves the Kafka wire protocol on top of a raftline node.
//
// It reads and writes the replicated state only through the Cluster
// interface it declares, which broker/cluster/raftcluster implements (and
// broker/cluster/clusterfake fakes, for tests without Raft); it knows nothing
// of Raft, the state machine or partition logs.
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
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/raftline/raftline/broker/cluster"
	"github.com/raftline/raftline/broker/groups"
)

// Config configures the Kafka listener. In a raftline node it is
// server.Config.Kafka.
type Config struct {
	// NodeID is set by server.Start from Config.NodeID.
	NodeID         int32
	Addr           string // listen address
	AdvertisedAddr string // address given to clients in Metadata
	// ExternalAddr, when set, is a second listener for clients that reach
	// the nodes by other names (the host, outside a container network).
	// Clients connected to it are given every node's external address.
	ExternalAddr           string
	AdvertisedExternalAddr string
	// ClusterID is reported to clients in Metadata and DescribeCluster
	// (default "raftline").
	ClusterID string
	// MaxFrameBytes bounds one request frame; larger frames close the
	// connection before anything is allocated for them (default 100 MiB).
	MaxFrameBytes    int32
	AutoCreateTopics bool
	// DefaultPartitions is the partition count of an auto-created topic,
	// or of one created with -1 (default 1).
	DefaultPartitions int32
	// DefaultTopicConfigs fill in what a new topic's creator leaves
	// unset. They are written into the topic's Raft entry, so every
	// replica holds the same values whatever its own flags. server.Start
	// sets retention.bytes in them from Config.DefaultRetentionBytes
	// when that is not 0.
	DefaultTopicConfigs map[string]string
	// MaxInflight bounds the requests read ahead on one connection
	// (default 32).
	MaxInflight int
	// MaxConnInflightBytes bounds the request bytes one connection has
	// read and not yet handled: a connection that would go past it stops
	// being read until its earlier requests are handled (default
	// 100 MiB). A lone request is always read; MaxFrameBytes bounds it.
	MaxConnInflightBytes int64
	// MaxNodeInflightBytes bounds the request bytes the listener holds
	// across its connections, counted as they arrive: frames being read
	// and requests not yet handled (default 256 MiB, and at least
	// MaxFrameBytes). Past it, reading waits, and connections whose frame
	// has received nothing for a second are closed to make room; see
	// nodeBudget.
	MaxNodeInflightBytes int64
	// FirstRequestTimeout bounds the time from accepting a connection to
	// its first whole request (default 10s).
	FirstRequestTimeout time.Duration
	// FrameTimeout bounds the time from a request frame's first byte to
	// its last, and the writing of each response (default 30s).
	FrameTimeout time.Duration
	// IdleTimeout closes a connection with nothing read, pending or written
	// for that long (default 10m).
	IdleTimeout time.Duration
	// RejectLogInterval is how often rejected requests that were not
	// logged one by one are summarised (default 1m); see rejectLog.
	RejectLogInterval time.Duration
	// Logger is set by server.Start from Config.Logger.
	Logger *slog.Logger
	// Observer, when set, is told what the listener does (see Observer);
	// telemetry's broker metrics subscribe through it.
	Observer Observer
	// Tracer, when set, wraps produce and fetch in spans (see Tracer).
	Tracer Tracer
	// LogDir is the directory DescribeLogDirs names and DescribeConfigs
	// gives as log.dirs: where the node keeps its partitions. Set by
	// server.Start.
	LogDir string
	// DiskUsage, when set, reports LogDir's filesystem (size and bytes
	// usable) for DescribeLogDirs v4+; set by server.Start from its
	// free-space monitor.
	DiskUsage func() (total, usable int64, err error)
	// Groups are the group coordinator's settings, which DescribeConfigs
	// gives as Kafka's broker configs; set by server.Start.
	Groups GroupSettings
}

// Observer is told what the listener does, for metrics. Every method must be
// cheap and safe for concurrent use.
type Observer interface {
	ConnOpened()
	ConnClosed()
	// RequestDone reports one request, with the non-zero error codes its
	// response carried (one per partition or topic that failed). ctx is
	// the request's: it carries the request's span (Tracer.StartServer)
	// when there is one, so a latency can point at its trace.
	RequestDone(ctx context.Context, api string, d time.Duration, errorCodes []int16)
	Produced(topic string, records, bytes int64)
	Fetched(topic string, records, bytes int64)
	// Rejected reports a connection the listener closed, by reason: a
	// request it refused or a limit the client went past (see Reasons).
	Rejected(reason string)
	// BudgetWaited reports a request that waited for room before being
	// read, by scope (see BudgetScopes): its connection's own earlier
	// requests, or the node's.
	BudgetWaited(scope string)
	// InflightBytes reports a change of the request bytes the listener
	// holds (Config.MaxNodeInflightBytes).
	InflightBytes(delta int64)
}

// Tracer lets telemetry wrap the produce path in spans without this package
// importing OpenTelemetry. Nil means no tracing.
type Tracer interface {
	// StartServer starts the server span of one Produce or Fetch request
	// and returns the context carrying it, which the request's handler,
	// its other spans, its log lines and its metrics are given, and the
	// function ending it with the error codes its response carried.
	StartServer(ctx context.Context, r ServerRequest) (context.Context, func(errorCodes []int16))
	// StartProduce starts the span of one partition's batches and returns
	// the trace context to carry in the Raft entry and a function ending the
	// span with the partition's outcome.
	StartProduce(ctx context.Context, topic string, partition int32, records int, batches [][]byte) (extensions []byte, end func(err error))
	// StartFetch starts a receive span for one topic.
	StartFetch(ctx context.Context, topic string) func(records int64, err error)
	// StartRequest starts the span of one request that is neither a
	// produce nor a fetch (JoinGroup, SyncGroup, OffsetCommit), named
	// name, with attrs as key and value pairs, and returns the function
	// ending it with the request's outcome.
	StartRequest(ctx context.Context, name string, attrs ...string) func(err error)
}

// ServerRequest describes a request to Tracer.StartServer.
type ServerRequest struct {
	API      string // Kafka API name, "Produce" or "Fetch"
	ClientID string
	Peer     string // the client's address, host:port
	// Acks is a Produce request's acks (-1, 0 or 1).
	Acks int16
	// Batches are a Produce request's record batches, unchecked, in
	// request order: the tracer reads the producers' trace contexts from
	// them.
	Batches [][]byte
}

// Cluster is what the Kafka layer needs from the replicated state;
// *raftcluster.Cluster is the real one. Errors are the cluster package's
// sentinels or kerr errors, mapped to codes by cluster.ErrorCode.
type Cluster interface {
	adminCluster
	// IsLeader reports whether this node leads: the Raft leader leads
	// every partition and is the controller.
	IsLeader() bool
	// LeaderCaughtUp reports whether this node leads and has applied
	// every entry committed before its term: only then do its partitions
	// hold every acknowledged record, so reads wait for it.
	LeaderCaughtUp() bool
	// Leader is the leader's node id, or -1 when none is known.
	Leader() int32
	// Voters are every partition's replicas.
	Voters() ([]int32, error)
	// Brokers are the registered brokers, sorted by id.
	Brokers() []cluster.Broker
	// Topics returns every topic, sorted by name.
	Topics() []cluster.Topic
	Topic(name string) (cluster.Topic, bool)
	// Partition is a partition to read, or kerr.UnknownTopicOrPartition.
	Partition(topic string, partition int32) (cluster.Partition, error)
	// Appended is closed at the next append to any partition.
	Appended() <-chan struct{}

	// Produce proposes one partition's checked batches and returns at
	// once; proposals from one goroutine enter the log in call order.
	Produce(topic string, partition int32, batches [][]byte, extensions []byte) cluster.Proposal
	// CreateTopic and DeleteTopic apply on this node, which must lead.
	CreateTopic(ctx context.Context, spec cluster.TopicSpec) error
	DeleteTopic(ctx context.Context, name string) error
	// DeleteRecords moves partitions' log start offsets in one write on
	// this node, which must lead; the outcomes are in the deletions' order.
	DeleteRecords(ctx context.Context, deletions []cluster.RecordsDeletion) ([]cluster.DeletedRecords, error)
	// AutoCreateTopic and InitProducer apply on the leader, forwarded
	// there from a follower.
	AutoCreateTopic(ctx context.Context, spec cluster.TopicSpec) error
	InitProducer(ctx context.Context) (int64, error)

	// The group coordinator (broker/groups/coordinator). Every group is
	// coordinated by the leader; on another node each answers
	// NOT_COORDINATOR, and COORDINATOR_LOAD_IN_PROGRESS on a new leader
	// until it has applied what its predecessor committed. Errors are kerr
	// errors; per item errors come in the request's order.
	JoinGroup(ctx context.Context, group string, j groups.Join, requireMemberID bool) (*groups.JoinResponse, error)
	SyncGroup(ctx context.Context, group string, s groups.Sync) ([]byte, error)
	Heartbeat(group, memberID, instanceID string, generation int32) error
	LeaveGroup(ctx context.Context, group string, members []groups.LeavingMember) ([]error, error)
	CommitOffsets(ctx context.Context, group string, c groups.Commit) ([]error, error)
	// GroupOffsets, DescribeGroup and ListGroups call fn under the groups'
	// read lock: it must copy what it keeps.
	GroupOffsets(group string, fn func(map[string]map[int32]groups.Offset)) error
	DescribeGroup(group string, fn func(*groups.Group)) error
	ListGroups(fn func(*groups.Group)) error
	DeleteGroups(ctx context.Context, names []string) ([]error, error)
	DeleteGroupOffsets(ctx context.Context, group string, parts []groups.TopicPartition) ([]error, error)
}

// Listener is the Kafka listener of one node.
type Listener struct {
	cfg     Config
	cluster Cluster
	obs     Observer
	tracer  Tracer
	log     *slog.Logger
	// storageLog rate-limits the log lines of failed partition reads.
	storageLog storageLog

	ln     net.Listener
	extLn  net.Listener // nil without an external listener
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	// refusing is set by StopAccepting: the listening sockets are closed
	// on purpose.
	refusing atomic.Bool

	budget   *nodeBudget
	rejects  *rejectLog
	released chan struct{} // see returnMemory
}

// Memory given back after a burst (see returnMemory): once at least
// returnAfter request bytes were held and half of them released, returnDelay
// later so the rest of the burst is released too, at most once per
// returnInterval.
const (
	returnAfter    = 16 << 20
	returnDelay    = time.Second
	returnInterval = 10 * time.Second
)

// New creates a listener serving c; Listen and Serve start it.
func New(cfg Config, c Cluster) *Listener {
	if cfg.ClusterID == "" {
		cfg.ClusterID = "raftline"
	}
	if cfg.MaxFrameBytes <= 0 {
		cfg.MaxFrameBytes = 100 << 20
	}
	if cfg.MaxInflight <= 0 {
		cfg.MaxInflight = 32
	}
	if cfg.MaxConnInflightBytes <= 0 {
		cfg.MaxConnInflightBytes = 100 << 20
	}
	if cfg.MaxNodeInflightBytes <= 0 {
		cfg.MaxNodeInflightBytes = 256 << 20
	}
	// A frame larger than the node's budget could never be read whole.
	cfg.MaxNodeInflightBytes = max(cfg.MaxNodeInflightBytes, int64(cfg.MaxFrameBytes))
	if cfg.FirstRequestTimeout <= 0 {
		cfg.FirstRequestTimeout = 10 * time.Second
	}
	if cfg.FrameTimeout <= 0 {
		cfg.FrameTimeout = 30 * time.Second
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = 10 * time.Minute
	}
	if cfg.RejectLogInterval <= 0 {
		cfg.RejectLogInterval = time.Minute
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
	released := make(chan struct{}, 1)
	return &Listener{
		cfg: cfg, cluster: c, obs: cfg.Observer,
		tracer: cfg.Tracer, log: cfg.Logger, ctx: ctx, cancel: cancel, conns: map[net.Conn]struct{}{},
		budget:   newNodeBudget(cfg.MaxNodeInflightBytes, cfg.Observer.InflightBytes, released, returnAfter),
		rejects:  newRejectLog(cfg.Logger, cfg.RejectLogInterval),
		released: released,
	}
}

// Listen binds the listeners; Addr is valid afterwards.
func (l *Listener) Listen() error {
	ln, err := net.Listen("tcp", l.cfg.Addr)
	if err != nil {
		return err
	}
	l.ln = ln
	if l.cfg.AdvertisedAddr == "" {
		l.cfg.AdvertisedAddr = ln.Addr().String()
	}
	if l.cfg.ExternalAddr != "" {
		ext, err := net.Listen("tcp", l.cfg.ExternalAddr)
		if err != nil {
			ln.Close()
			return fmt.Errorf("external listener: %w", err)
		}
		l.extLn = ext
		if l.cfg.AdvertisedExternalAddr == "" {
			l.cfg.AdvertisedExternalAddr = ext.Addr().String()
		}
	}
	return nil
}

// AdvertisedExternalAddr is the address given to clients of the external
// listener, or "" without one.
func (l *Listener) AdvertisedExternalAddr() string { return l.cfg.AdvertisedExternalAddr }

// Addr is the bound listen address.
func (l *Listener) Addr() string { return l.ln.Addr().String() }

// AdvertisedAddr is the address clients are told to use.
func (l *Listener) AdvertisedAddr() string { return l.cfg.AdvertisedAddr }

// Serve accepts connections on every listener until Close.
func (l *Listener) Serve() error {
	l.wg.Add(2)
	go func() {
		defer l.wg.Done()
		l.rejects.run(l.ctx)
	}()
	go func() {
		defer l.wg.Done()
		l.returnMemory()
	}()
	if l.extLn != nil {
		errc := make(chan error, 1)
		go func() { errc <- l.accept(l.extLn, true) }()
		err := l.accept(l.ln, false)
		if eerr := <-errc; err == nil {
			err = eerr
		}
		return err
	}
	return l.accept(l.ln, false)
}

func (l *Listener) accept(ln net.Listener, external bool) error {
	for {
		c, err := ln.Accept()
		if err != nil {
			if l.ctx.Err() != nil || l.refusing.Load() {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return err
		}
		l.mu.Lock()
		l.conns[c] = struct{}{}
		l.mu.Unlock()
		l.wg.Add(1)
		go l.serveConn(c, external)
	}
}

// StopAccepting closes the listening sockets: a client connecting now is
// refused and goes to another node, while the connections open go on being
// served (and answered, with errors if the node can no longer write) until
// Close.
func (l *Listener) StopAccepting() {
	l.refusing.Store(true)
	l.ln.Close()
	if l.extLn != nil {
		l.extLn.Close()
	}
}

// Close stops accepting, closes every connection and waits for them.
func (l *Listener) Close() error {
	l.cancel()
	err := l.ln.Close()
	if l.extLn != nil {
		l.extLn.Close()
	}
	l.mu.Lock()
	for c := range l.conns {
		c.Close()
	}
	l.mu.Unlock()
	l.wg.Wait()
	return err
}

// prepare starts handling a request and returns the function that completes
// it. Handlers do their ordering-sensitive work (proposing) before returning.
func (l *Listener) prepare(ctx context.Context, r *request) func() kmsg.Response {
	if r.kreq == nil { // ApiVersions above our range
		return func() kmsg.Response { return l.unsupportedApiVersions(r) }
	}
	return handlers[r.key].fn(l, ctx, r)
}

// returnMemory gives the heap's free pages back to the operating system
// after a burst of request bytes was released (nodeBudget.release), with the
// chunks pooled for large frames. Go's scavenger alone returns pages
// gradually, and on a node that allocates little afterwards no collection
// runs to free them for minutes, so a burst of large frames would keep the
// node's resident size at its peak. A forced collection costs CPU, hence
// the rate limit.
func (l *Listener) returnMemory() {
	for {
		select {
		case <-l.ctx.Done():
			return
		case <-l.released:
		}
		if !l.sleep(returnDelay) {
			return
		}
		drainChunks()
		debug.FreeOSMemory()
		if !l.sleep(returnInterval) {
			return
		}
	}
}

// sleep waits d, reporting false when the listener closed first.
func (l *Listener) sleep(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-l.ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// startSpan starts a request's span through the Tracer, if any; group is
// the consumer group it concerns.
func (l *Listener) startSpan(ctx context.Context, name, group string) func(error) {
	if l.tracer == nil {
		return func(error) {}
	}
	return l.tracer.StartRequest(ctx, name, "messaging.consumer.group.name", group)
}

type nopObserver struct{}

func (nopObserver) ConnOpened()                                                 {}
func (nopObserver) ConnClosed()                                                 {}
func (nopObserver) RequestDone(context.Context, string, time.Duration, []int16) {}
func (nopObserver) Produced(string, int64, int64)                               {}
func (nopObserver) Fetched(string, int64, int64)                                {}
func (nopObserver) Rejected(string)                                             {}
func (nopObserver) BudgetWaited(string)                                         {}
func (nopObserver) InflightBytes(int64)                                         {}

// GroupSettings are the group coordinator's settings as DescribeConfigs
// describes them (group.initial.rebalance.delay.ms,
// offsets.retention.minutes, group.min.session.timeout.ms and
// group.max.session.timeout.ms). Zero leaves a setting out.
type GroupSettings struct {
	InitialRebalanceDelay                time.Duration
	OffsetsRetention                     time.Duration
	MinSessionTimeout, MaxSessionTimeout time.Duration
}
