// Package serveflags turns `raftline serve` flags, each with a RAFTLINE_<NAME>
// environment fallback, into a server.Config, checking every value once at
// start-up and reporting each bad one in its own message.
package serveflags

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/raft"

	"github.com/raftline/raftline/broker/freespace"
	"github.com/raftline/raftline/broker/fsm"
	"github.com/raftline/raftline/broker/raftnode"
	"github.com/raftline/raftline/broker/server"
	"github.com/raftline/raftline/broker/topicrules"
	"github.com/raftline/raftline/cmd/raftline/internal/cliflags"
)

// Serve holds the parsed flags of `raftline serve`.
type Serve struct {
	Server    server.Config
	LogLevel  slog.Level
	LogFormat string
	// FaultExitDelay is how long a node that stopped on a storage fault
	// keeps answering HTTP before the process exits.
	FaultExitDelay time.Duration
	// ConsumerLagMaxSeries caps the consumer group partitions /metrics
	// exports lag for (telemetry.Config.ConsumerLagMaxSeries).
	ConsumerLagMaxSeries int
	// TraceSampleRatios are head sampling ratios per operation
	// (telemetry.TracingConfig.Ratios).
	TraceSampleRatios map[string]float64
}

// EnvName is the environment variable that sets a flag: RAFTLINE_ and the
// flag's name in upper case with dashes as underscores.
func EnvName(flagName string) string {
	return "RAFTLINE_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// serveAbout is the help's account of the command and of the variables.
const serveAbout = `Runs one raftline node.

Every flag can also be set in the environment, as RAFTLINE_ and the flag's
name in upper case with dashes as underscores: --node-id 7 is
RAFTLINE_NODE_ID=7, --advertised-kafka-addr is RAFTLINE_ADVERTISED_KAFKA_ADDR.
Each flag below names its variable. A flag on the command line wins over its
variable. Durations need a unit: 500ms, 5s, 2m.`

// ParseServe parses `raftline serve` arguments. Environment variables fill
// any flag not given on the command line. After -h it writes the help to
// help and returns flag.ErrHelp; a value that does not parse is reported
// before any is checked, as the others are then checked against defaults.
func ParseServe(args []string, getenv func(string) string, help io.Writer) (*Serve, error) {
	fs := cliflags.New("raftline serve", "raftline serve [flags]", serveAbout)
	fs.Env = EnvName
	var (
		nodeID        = fs.Int("node-id", 0, "this node's id, a positive integer unique in the cluster (required)")
		dataDir       = fs.String("data-dir", "./data", "directory for the Raft log, snapshots and node state")
		storage       = fs.String("storage", "disk", "where partitions' records are kept: disk (segment files in partitions/ under --data-dir), or memory (bounded by retention, rebuilt at each start); every node of a cluster must use the same")
		minFree       = fs.Int64("storage-min-free-bytes", freespace.DefaultMinFreeBytes, "free space of --data-dir's filesystem below which this node, while it leads, refuses produces with the retriable KAFKA_STORAGE_ERROR, before the disk fills; produces are taken again once space is freed (retention, deleted topics). 0: no floor")
		kafkaAddr     = fs.String("kafka-addr", "127.0.0.1:9092", "address to serve the Kafka protocol on")
		advKafka      = fs.String("advertised-kafka-addr", "", "Kafka address given to clients (default: --kafka-addr)")
		extKafka      = fs.String("kafka-external-addr", "", "optional second Kafka listener for clients outside the nodes' network (the host, outside a container network)")
		advExtKafka   = fs.String("advertised-kafka-external-addr", "", "Kafka address given to clients of --kafka-external-addr (default: that address)")
		raftAddr      = fs.String("raft-addr", "127.0.0.1:9192", "address for Raft traffic between nodes")
		advRaft       = fs.String("advertised-raft-addr", "", "Raft address other nodes dial (default: --raft-addr)")
		httpAddr      = fs.String("http-addr", "127.0.0.1:9644", "address for HTTP: /healthz, /readyz, /v1/cluster, /metrics")
		bootstrap     = fs.String("bootstrap", "", "initial members as id=raftaddr,...; ignored when --data-dir already holds state")
		clusterID     = fs.String("cluster-id", "raftline", "cluster id reported to Kafka clients")
		autoCreate    = fs.Bool("auto-create-topics", true, "create unknown topics when a client's Metadata request allows it")
		defParts      = fs.Int("default-partitions", 1, "partitions of an auto-created topic, or one created with -1")
		maxReq        = fs.Int("max-request-bytes", 100<<20, "largest Kafka request frame accepted; larger ones close the connection")
		maxInflight   = fs.Int("kafka-max-inflight", 32, "Kafka requests read ahead on one connection while earlier ones are answered (1 to 1024)")
		retention     = fs.Duration("retention-check-interval", 10*time.Second, "how often retention.ms and retention.bytes are applied")
		retBytes      = fs.Int64("default-retention-bytes", 1<<30, "retention.bytes of a topic created without one, per partition (-1: no limit); with --storage memory it bounds the memory each partition holds")
		heartbeat     = fs.Duration("heartbeat-timeout", 500*time.Millisecond, "Raft heartbeat timeout: how long a follower waits for the leader before starting an election")
		election      = fs.Duration("election-timeout", 500*time.Millisecond, "Raft election timeout")
		lease         = fs.Duration("leader-lease-timeout", 500*time.Millisecond, "how long a leader keeps leading without reaching a quorum")
		commit        = fs.Duration("raft-commit-timeout", 50*time.Millisecond, "how long the Raft leader goes without new entries before it sends followers the commit index anyway (at least 1ms)")
		snapThreshold = fs.Uint64("snapshot-threshold", 8192, "Raft entries since the last snapshot that trigger a new one")
		snapInterval  = fs.Duration("snapshot-interval", 2*time.Minute, "how often to check whether to snapshot")
		trailing      = fs.Uint64("trailing-logs", 10240, "Raft entries kept after a snapshot, so slow followers catch up without one")
		logLevel      = fs.String("log-level", "info", "debug, info, warn or error")
		logFormat     = fs.String("log-format", "text", "text or json")
		groupDelay    = fs.Duration("group-initial-rebalance-delay", 3*time.Second, "how long the first rebalance of an empty consumer group waits for more members to join, extended by each new one up to the rebalance timeout (Kafka's group.initial.rebalance.delay.ms; 0: none)")
		offsetsRet    = fs.Duration("offsets-retention", 7*24*time.Hour, "how long a consumer group's committed offsets are kept once the group is empty, or, for a group that only commits, since their commit (Kafka's offsets.retention.minutes)")
		faultExit     = fs.Duration("storage-fault-exit-delay", 15*time.Second, "after a storage fault (the node's disk failed: it stops leading and serving Kafka at once), how long /readyz and /metrics still say why before the process exits with status 3 (0: exit at once)")
	)
	kafkaFrontDoor := kafkaFrontDoor(fs.FlagSet)
	telemetryFlags := telemetryFlags(fs.FlagSet)
	if err := fs.Parse(args, getenv); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.Help(help)
		}
		return nil, err
	}
	var errs []error

	out := &Serve{LogFormat: *logFormat}
	c := &out.Server
	bad := func(name, format string, a ...any) {
		errs = append(errs, fmt.Errorf("--%s: "+format, append([]any{name}, a...)...))
	}
	if *nodeID <= 0 || *nodeID > 1<<31-1 {
		bad("node-id", "%d is not a positive 32-bit integer", *nodeID)
	}
	c.NodeID = int32(*nodeID)
	if *dataDir == "" {
		bad("data-dir", "must not be empty")
	}
	c.DataDir = *dataDir
	if st, err := fsm.ParseStorage(*storage); err != nil {
		bad("storage", "%q is not memory or disk", *storage)
	} else {
		c.Storage = st
	}
	if *minFree < 0 {
		bad("storage-min-free-bytes", "%d is negative (0: no floor)", *minFree)
	}
	c.StorageMinFreeBytes = *minFree
	checkListen := func(name, v string) {
		if _, _, err := splitHostPort(v); err != nil {
			bad(name, "%q: %v", v, err)
		}
	}
	checkDial := func(name, v string) {
		host, _, err := splitHostPort(v)
		if err != nil {
			bad(name, "%q: %v", v, err)
		} else if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
			bad(name, "%q: other nodes and clients need a concrete host, not %q", v, host)
		}
	}
	checkListen("kafka-addr", *kafkaAddr)
	checkListen("http-addr", *httpAddr)
	c.Kafka.Addr, c.HTTPAddr = *kafkaAddr, *httpAddr
	c.Kafka.AdvertisedAddr = *advKafka
	if *advKafka != "" {
		checkDial("advertised-kafka-addr", *advKafka)
	} else if host, _, err := splitHostPort(*kafkaAddr); err == nil && (host == "" || net.ParseIP(host) != nil && net.ParseIP(host).IsUnspecified()) {
		bad("advertised-kafka-addr", "required when --kafka-addr %q listens on all interfaces", *kafkaAddr)
	}
	c.Kafka.ExternalAddr, c.Kafka.AdvertisedExternalAddr = *extKafka, *advExtKafka
	if *extKafka != "" {
		checkListen("kafka-external-addr", *extKafka)
		if *advExtKafka != "" {
			checkDial("advertised-kafka-external-addr", *advExtKafka)
		} else if host, _, err := splitHostPort(*extKafka); err == nil && (host == "" || net.ParseIP(host) != nil && net.ParseIP(host).IsUnspecified()) {
			bad("advertised-kafka-external-addr", "required when --kafka-external-addr %q listens on all interfaces", *extKafka)
		}
	} else if *advExtKafka != "" {
		bad("advertised-kafka-external-addr", "needs --kafka-external-addr")
	}
	c.Raft.Addr, c.Raft.AdvertisedAddr = *raftAddr, *advRaft
	if *advRaft != "" {
		checkListen("raft-addr", *raftAddr)
		checkDial("advertised-raft-addr", *advRaft)
	} else {
		checkDial("raft-addr", *raftAddr)
	}
	if *bootstrap != "" {
		servers, err := ParseBootstrap(*bootstrap)
		if err != nil {
			bad("bootstrap", "%v", err)
		} else {
			self := false
			for _, s := range servers {
				self = self || s.ID == raftnode.ServerID(c.NodeID)
			}
			if !self && c.NodeID > 0 {
				bad("bootstrap", "does not name this node (--node-id %d)", c.NodeID)
			}
		}
		c.Raft.Bootstrap = servers
	}
	c.Kafka.ClusterID = *clusterID
	if *clusterID == "" {
		bad("cluster-id", "must not be empty")
	}
	c.Kafka.AutoCreateTopics = *autoCreate
	if *defParts <= 0 || *defParts > topicrules.MaxPartitions {
		bad("default-partitions", "%d is not between 1 and %d", *defParts, topicrules.MaxPartitions)
	}
	c.Kafka.DefaultPartitions = int32(*defParts)
	if *maxReq < 1024 || *maxReq > 1<<30 {
		bad("max-request-bytes", "%d is not between 1024 and 1073741824", *maxReq)
	}
	c.Kafka.MaxFrameBytes = int32(*maxReq)
	if *maxInflight < 1 || *maxInflight > 1024 {
		bad("kafka-max-inflight", "%d is not between 1 and 1024", *maxInflight)
	}
	c.Kafka.MaxInflight = *maxInflight
	kafkaFrontDoor(c, bad)
	positive := func(name string, d time.Duration) time.Duration {
		if d <= 0 {
			bad(name, "%v is not a positive duration", d)
		}
		return d
	}
	if *retBytes < -1 || *retBytes == 0 {
		bad("default-retention-bytes", "%d is not -1 or a positive size", *retBytes)
	}
	c.DefaultRetentionBytes = *retBytes
	c.RetentionInterval = positive("retention-check-interval", *retention)
	c.Raft.HeartbeatTimeout = positive("heartbeat-timeout", *heartbeat)
	c.Raft.ElectionTimeout = positive("election-timeout", *election)
	c.Raft.LeaderLeaseTimeout = positive("leader-lease-timeout", *lease)
	if *lease > *heartbeat {
		bad("leader-lease-timeout", "%v must not exceed --heartbeat-timeout %v", *lease, *heartbeat)
	}
	if *commit > 0 && *commit < time.Millisecond {
		bad("raft-commit-timeout", "%v is below Raft's minimum of 1ms", *commit)
	} else {
		c.Raft.CommitTimeout = positive("raft-commit-timeout", *commit)
	}
	c.Raft.SnapshotInterval = positive("snapshot-interval", *snapInterval)
	if *snapThreshold == 0 {
		bad("snapshot-threshold", "must be positive")
	}
	c.Raft.SnapshotThreshold, c.Raft.TrailingLogs = *snapThreshold, *trailing
	if err := out.LogLevel.UnmarshalText([]byte(*logLevel)); err != nil {
		bad("log-level", "%q is not one of debug, info, warn, error", *logLevel)
	}
	if *logFormat != "text" && *logFormat != "json" {
		bad("log-format", "%q is not text or json", *logFormat)
	}
	if *faultExit < 0 || *faultExit > 10*time.Minute {
		bad("storage-fault-exit-delay", "%v is not between 0 and 10m", *faultExit)
	}
	out.FaultExitDelay = *faultExit
	telemetryFlags(out, bad)
	if *groupDelay < 0 || *groupDelay > 5*time.Minute {
		bad("group-initial-rebalance-delay", "%v is not between 0 and 5m", *groupDelay)
	}
	c.Groups.InitialRebalanceDelay = *groupDelay
	c.Groups.OffsetsRetention = positive("offsets-retention", *offsetsRet)
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return out, nil
}

// ParseBootstrap parses "id=raftaddr,id=raftaddr".
func ParseBootstrap(v string) ([]raft.Server, error) {
	var out []raft.Server
	seen := map[int64]bool{} // by number: "1" and "01" are the same node
	for _, part := range strings.Split(v, ",") {
		id, addr, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return nil, fmt.Errorf("%q is not id=raftaddr", part)
		}
		n, err := strconv.ParseInt(id, 10, 32)
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("%q: id %q is not a positive integer", part, id)
		}
		if _, _, err := splitHostPort(addr); err != nil {
			return nil, fmt.Errorf("%q: %v", part, err)
		}
		if seen[n] {
			return nil, fmt.Errorf("id %d named twice", n)
		}
		seen[n] = true
		out = append(out, raft.Server{ID: raftnode.ServerID(int32(n)), Address: raft.ServerAddress(addr), Suffrage: raft.Voter})
	}
	return out, nil
}

func splitHostPort(v string) (host string, port int, err error) {
	h, p, err := net.SplitHostPort(v)
	if err != nil {
		return "", 0, err
	}
	n, err := strconv.Atoi(p)
	if err != nil || n < 0 || n > 65535 {
		return "", 0, fmt.Errorf("port %q is not a number from 0 to 65535", p)
	}
	return h, n, nil
}

// Logger builds the process logger: every line carries node_id.
func (s *Serve) Logger(w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: s.LogLevel}
	var h slog.Handler = slog.NewTextHandler(w, opts)
	if s.LogFormat == "json" {
		h = slog.NewJSONHandler(w, opts)
	}
	return slog.New(h).With("node_id", s.Server.NodeID)
}

// Getenv is os.Getenv, named for ParseServe's callers.
var Getenv = os.Getenv
