// Package server assembles one raftline node: the Raft node (raftnode), the
// cluster seam over it (cluster), the Kafka listener (kafka) on the cluster
// and the HTTP endpoints (httpapi). It is embeddable, so tests and other
// programs start a full node in-process with Start.
package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/raftline/raftline/broker/cluster"
	"github.com/raftline/raftline/broker/cluster/raftcluster"
	"github.com/raftline/raftline/broker/freespace"
	"github.com/raftline/raftline/broker/fsm"
	"github.com/raftline/raftline/broker/groups/coordinator"
	"github.com/raftline/raftline/broker/httpapi"
	"github.com/raftline/raftline/broker/kafka"
	"github.com/raftline/raftline/broker/raftnode"
	"github.com/raftline/raftline/broker/topicrules"
)

// Version is raftline's version, set at build time with -ldflags.
var Version = "dev"

// Config is a node's whole configuration. Raft and Kafka configure the two
// layers; NodeID, DataDir and Logger are the node's identity, which Start
// fills into both, and the rest belongs to the node itself.
type Config struct {
	// NodeID, DataDir (where Raft keeps its log and snapshots) and Logger
	// are set here only: Start copies them into Raft and Kafka, over
	// whatever those hold.
	NodeID  int32
	DataDir string
	// Logger is every layer's logger (default: discard).
	Logger *slog.Logger
	// Storage is where partitions' records are kept: fsm.Memory (the
	// default, when empty) or fsm.Disk, in partitions/ in DataDir. Start
	// copies it into Raft.FSM.
	Storage fsm.Storage
	// StorageMinFreeBytes is the free-space floor: while the filesystem
	// holding DataDir has less free space than this, the node refuses
	// produces it leads (cluster.ErrNoSpace, answered KAFKA_STORAGE_ERROR)
	// before the disk fills, and takes them again once space is freed.
	// 0: no floor. Free space is read once a second (freespace).
	StorageMinFreeBytes int64

	// Raft configures the node's Raft member (raftnode.Open): addresses,
	// bootstrap membership, timeouts, snapshots, and the Observer, which
	// sees what Raft does on the node from the first election on, at
	// every start.
	Raft raftnode.Config
	// Kafka configures the Kafka listener (kafka.New): addresses, cluster
	// id, request limits, topic defaults, the Observer and the Tracer.
	Kafka kafka.Config
	// Groups configures the group coordinator the node runs while it
	// leads (coordinator.New): the initial rebalance delay, offsets
	// retention, session timeout bounds. Start sets its Logger.
	Groups coordinator.Config

	// HTTPAddr is the address for HTTP: /healthz, /readyz, /v1/cluster,
	// and HTTPHandlers.
	HTTPAddr string
	// DefaultRetentionBytes is retention.bytes for topics created without
	// one (0: no default, keep Kafka's -1).
	DefaultRetentionBytes int64
	// RetentionInterval is how often the leader proposes a retention pass
	// (default 10s).
	RetentionInterval time.Duration

	// NodeStarted, when set, is called with the node's Raft member and
	// cluster as soon as Raft runs, before the node serves clients, and
	// again on every restart, so telemetry can read its gauges from the
	// running node.
	NodeStarted func(Started)
	// HTTPHandlers are mounted on the HTTP mux (for example /metrics).
	HTTPHandlers map[string]http.Handler
}

// Started is what Config.NodeStarted is given: the running node's parts,
// the same ones its Kafka listener and HTTP endpoints use.
type Started struct {
	Node    *raftnode.Node
	Cluster *raftcluster.Cluster
	// FreeSpace watches the data directory's filesystem and holds the
	// free-space floor.
	FreeSpace *freespace.Monitor
}

// Server is a running node.
type Server struct {
	cfg  Config
	log  *slog.Logger
	Node *raftnode.Node
	// Cluster is the replicated state as the protocol sees it; Kafka and
	// the HTTP endpoints read and write through it.
	Cluster *raftcluster.Cluster
	Kafka   *kafka.Listener
	http    *http.Server
	hln     net.Listener

	// FreeSpace watches the data directory's filesystem; its floor
	// (Config.StorageMinFreeBytes) can be changed while the node runs.
	FreeSpace *freespace.Monitor

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	// halted is closed once the node stopped on a storage fault and the
	// Kafka listener is closed (watchFault).
	halted chan struct{}
}

// Start opens the node's stores, joins or bootstraps the cluster and starts
// serving Kafka and HTTP.
func Start(cfg Config) (*Server, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if cfg.RetentionInterval <= 0 {
		cfg.RetentionInterval = 10 * time.Second
	}
	cfg.Raft.NodeID, cfg.Raft.DataDir, cfg.Raft.Logger = cfg.NodeID, cfg.DataDir, cfg.Logger
	cfg.Raft.FSM.Storage = cfg.Storage
	cfg.Kafka.NodeID, cfg.Kafka.Logger = cfg.NodeID, cfg.Logger
	cfg.Kafka.DefaultTopicConfigs = defaultTopicConfigs(cfg)
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{cfg: cfg, log: cfg.Logger, ctx: ctx, cancel: cancel, halted: make(chan struct{})}

	// Bind the client-facing listeners first: a port in use is reported
	// before Raft starts and joins the cluster.
	hln, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("listen for HTTP on %s: %w", cfg.HTTPAddr, err)
	}
	s.hln = hln
	node, err := raftnode.Open(cfg.Raft)
	if err != nil {
		hln.Close()
		cancel()
		return nil, err
	}
	s.Node = node
	space, err := freespace.Start(freespace.Config{Dir: cfg.DataDir, MinFreeBytes: cfg.StorageMinFreeBytes, Logger: cfg.Logger})
	if err != nil {
		node.Kill()
		hln.Close()
		cancel()
		return nil, err
	}
	s.FreeSpace = space
	s.Cluster = raftcluster.New(node)
	s.Cluster.GateProduces(space.Check)
	cfg.Groups.Logger = cfg.Logger
	s.Cluster.ServeGroups(ctx, cfg.Groups)
	if cfg.NodeStarted != nil {
		cfg.NodeStarted(Started{Node: node, Cluster: s.Cluster, FreeSpace: space})
	}
	kcfg := cfg.Kafka
	kcfg.LogDir = cfg.DataDir
	if cfg.Storage == fsm.Disk {
		kcfg.LogDir = cfg.Raft.FSM.Dir
		if kcfg.LogDir == "" {
			kcfg.LogDir = filepath.Join(cfg.DataDir, "partitions")
		}
	}
	groups := cfg.Groups.WithDefaults()
	kcfg.Groups = kafka.GroupSettings{
		InitialRebalanceDelay: groups.InitialRebalanceDelay,
		OffsetsRetention:      groups.OffsetsRetention,
		MinSessionTimeout:     groups.MinSessionTimeout,
		MaxSessionTimeout:     groups.MaxSessionTimeout,
	}
	kcfg.DiskUsage = func() (int64, int64, error) {
		u := space.Usage()
		return u.Capacity, u.Free, u.Err
	}
	s.Kafka = kafka.New(kcfg, s.Cluster)
	if err := s.Kafka.Listen(); err != nil {
		node.Kill()
		space.Close()
		hln.Close()
		cancel()
		return nil, fmt.Errorf("listen for Kafka on %s: %w", cfg.Kafka.Addr, err)
	}
	mux := httpapi.Handler(s, s.Cluster.ForwardHandler())
	mux.Handle("POST "+StoppingPath, s.stoppingHandler())
	for path, h := range cfg.HTTPHandlers {
		mux.Handle(path, h)
	}
	s.http = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	s.goFn(func() {
		if err := s.Kafka.Serve(); err != nil {
			s.log.Error("Kafka listener stopped", "err", err)
		}
	})
	s.goFn(func() {
		if err := s.http.Serve(hln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("HTTP listener stopped", "err", err)
		}
	})
	s.goFn(s.registerLoop)
	s.goFn(s.retentionLoop)
	s.goFn(s.watchFault)
	s.log.Info("raftline node started", "kafka", s.Kafka.Addr(), "advertised_kafka", s.Kafka.AdvertisedAddr(),
		"http", hln.Addr().String(), "raft", cfg.Raft.Addr, "version", Version)
	return s, nil
}

// defaultTopicConfigs is Kafka.DefaultTopicConfigs with retention.bytes from
// DefaultRetentionBytes, in a new map: the caller's is left as it was.
func defaultTopicConfigs(cfg Config) map[string]string {
	out := make(map[string]string, len(cfg.Kafka.DefaultTopicConfigs)+1)
	maps.Copy(out, cfg.Kafka.DefaultTopicConfigs)
	if cfg.DefaultRetentionBytes != 0 {
		out[topicrules.ConfigRetentionBytes] = strconv.FormatInt(cfg.DefaultRetentionBytes, 10)
	}
	return out
}

func (s *Server) goFn(f func()) {
	s.wg.Add(1)
	go func() { defer s.wg.Done(); f() }()
}

// KafkaAddr is the bound Kafka address.
func (s *Server) KafkaAddr() string { return s.Kafka.Addr() }

// HTTPAddr is the bound HTTP address.
func (s *Server) HTTPAddr() string { return s.hln.Addr().String() }

// Close shuts the node down gracefully: it tells its peers it is stopping
// (stopping.go), so none of them reports its departure as an error, and a
// leader hands leadership to a peer that is not stopping too, before Raft
// stops. The HTTP API stays up until Raft has stopped, so peers stopping at
// the same moment can still tell this node.
func (s *Server) Close() error { return s.stop(false) }

// Kill stops the node abruptly, without a leadership transfer, as a crash
// would. The in-process test harness uses it.
func (s *Server) Kill() error { return s.stop(true) }

func (s *Server) stop(kill bool) error {
	s.cancel()
	var err error
	if kill {
		err = s.Node.Kill()
	} else {
		s.Node.BeginStop()
		s.announceStopping()
		err = s.Node.Close()
	}
	s.Kafka.Close()
	s.FreeSpace.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	s.http.Shutdown(ctx)
	s.wg.Wait()
	return err
}

// Ready implements httpapi.Backend.
func (s *Server) Ready() bool { return s.Node.Ready() }

// Failure implements httpapi.Backend: the storage fault that stopped the
// node, or nil.
func (s *Server) Failure() error {
	if f := s.Node.Fault(); f != nil {
		return f
	}
	return nil
}

// Halted is closed once the node has stopped on a storage fault
// (raftnode's fault.go): it leads nothing, Raft is shut down and the Kafka
// listener closed, so clients go to the other nodes at once. HTTP still
// answers, /readyz with the fault and /metrics with
// raftline_storage_errors_total, until Kill. `raftline serve` then exits.
func (s *Server) Halted() <-chan struct{} { return s.halted }

// watchFault takes the node out of clients' way once it has stopped on a
// storage fault: new connections are refused at once; the open ones are
// answered for faultDrain (a write with KAFKA_STORAGE_ERROR, metadata
// without this node as leader), then closed. Clients re-route on those
// answers; a connection closed under a client's first request is an error
// franz-go does not retry (it suspects missing SASL), so they are not
// closed at once.
func (s *Server) watchFault() {
	select {
	case <-s.ctx.Done():
		return
	case <-s.Node.Halted():
	}
	s.Kafka.StopAccepting()
	t := time.NewTimer(faultDrain)
	select {
	case <-t.C:
	case <-s.ctx.Done():
		t.Stop()
	}
	s.Kafka.Close()
	s.log.Info("stopped serving Kafka clients after the storage fault")
	close(s.halted)
}

// faultDrain is how long a node stopped on a storage fault goes on answering
// the Kafka connections already open, with errors, before closing them.
const faultDrain = time.Second

// ClusterView implements httpapi.Backend: Raft's progress from the node,
// the rest through the cluster.
func (s *Server) ClusterView() (httpapi.ClusterView, error) {
	r := s.Node.Raft()
	v := httpapi.ClusterView{
		NodeID: s.cfg.NodeID, State: s.Cluster.Role(), LeaderID: s.Cluster.Leader(),
		Term: r.CurrentTerm(), CommitIndex: r.CommitIndex(), AppliedIndex: r.AppliedIndex(), LastIndex: r.LastIndex(),
	}
	if n, ok := s.Cluster.Broker(v.LeaderID); ok {
		v.LeaderKafkaAddr = n.KafkaAddr
	}
	members, err := s.Node.Members()
	if err != nil {
		return v, err
	}
	for _, m := range members {
		mm := httpapi.Member{ID: m.ID, RaftAddr: m.RaftAddr, Suffrage: "nonvoter"}
		if m.Voter {
			mm.Suffrage = "voter"
		}
		if n, ok := s.Cluster.Broker(m.ID); ok {
			mm.KafkaAddr = n.KafkaAddr
		}
		v.Members = append(v.Members, mm)
	}
	return v, nil
}

// PartitionsView is every partition's digest.
func (s *Server) PartitionsView() httpapi.PartitionsView {
	v, _ := s.Partitions(httpapi.AllPartitions)
	return v
}

// Partitions implements httpapi.Backend: it digests only the partitions f
// selects, as a digest reads the whole partition log.
func (s *Server) Partitions(f httpapi.PartitionFilter) (httpapi.PartitionsView, error) {
	v := httpapi.PartitionsView{NodeID: s.cfg.NodeID, AppliedIndex: s.Node.Raft().AppliedIndex()}
	topics := s.Cluster.Topics()
	if f.Topic != "" {
		t, ok := s.Cluster.Topic(f.Topic)
		if !ok {
			return v, fmt.Errorf("%w %q on node %d", httpapi.ErrUnknownTopic, f.Topic, s.cfg.NodeID)
		}
		if f.Partition >= t.Partitions {
			return v, fmt.Errorf("%w: topic %q has partitions 0 to %d, not %d", httpapi.ErrUnknownPartition, f.Topic, t.Partitions-1, f.Partition)
		}
		topics = []cluster.Topic{t}
	}
	for _, t := range topics {
		for i := range t.Partitions {
			if f.Partition >= 0 && i != f.Partition {
				continue
			}
			d, err := s.Cluster.Digest(t.Name, i)
			if err != nil {
				continue // deleted since
			}
			v.Partitions = append(v.Partitions, httpapi.PartitionDigest{
				Topic: t.Name, Partition: i, LogStart: d.Start, HighWatermark: d.Next, Bytes: d.Bytes, SHA256: d.SHA256,
			})
		}
	}
	return v, nil
}

// registerLoop keeps this node's addresses registered in the replicated
// state, so every node can list it in Metadata and /v1/cluster.
func (s *Server) registerLoop() {
	self := cluster.Broker{ID: s.cfg.NodeID, KafkaAddr: s.Kafka.AdvertisedAddr(), ExternalKafkaAddr: s.Kafka.AdvertisedExternalAddr(),
		HTTPAddr: s.advertisedHTTP(), RaftAddr: s.raftAddr()}
	t := time.NewTicker(200 * time.Millisecond)
	defer t.Stop()
	for {
		if b, ok := s.Cluster.Broker(self.ID); !ok || b != self {
			if s.Cluster.Leader() >= 0 {
				ctx, cancel := context.WithTimeout(s.ctx, 5*time.Second)
				if err := s.Cluster.RegisterBroker(ctx, self); err != nil {
					s.log.Debug("registering node addresses", "err", err)
				}
				cancel()
			}
		}
		select {
		case <-s.ctx.Done():
			return
		case <-t.C:
		}
	}
}

// advertisedHTTP is the HTTP address other nodes forward to: the bound
// address, with the advertised Kafka host when the bind host is unspecified.
func (s *Server) advertisedHTTP() string {
	host, port, _ := net.SplitHostPort(s.hln.Addr().String())
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		if khost, _, err := net.SplitHostPort(s.Kafka.AdvertisedAddr()); err == nil {
			host = khost
		}
	}
	return net.JoinHostPort(host, port)
}

func (s *Server) raftAddr() string {
	if s.cfg.Raft.AdvertisedAddr != "" {
		return s.cfg.Raft.AdvertisedAddr
	}
	return s.cfg.Raft.Addr
}

// retentionLoop has the leader propose a retention pass periodically. The
// pass carries the leader's clock, so every replica trims identically.
func (s *Server) retentionLoop() {
	t := time.NewTicker(s.cfg.RetentionInterval)
	defer t.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-t.C:
		}
		if s.Cluster.IsLeader() {
			ctx, cancel := context.WithTimeout(s.ctx, 10*time.Second)
			if err := s.Cluster.Retention(ctx); err != nil {
				s.log.Debug("retention pass", "err", err)
			}
			cancel()
		}
	}
}
