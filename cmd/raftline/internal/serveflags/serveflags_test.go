package serveflags

import (
	"bytes"
	"errors"
	"flag"
	"io"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/raftline/raftline/broker/fsm"
	"github.com/raftline/raftline/broker/raftnode"
	"github.com/raftline/raftline/internal/clusterspec"
)

// env is a getenv over a fixed map.
func env(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

func noEnv(string) string { return "" }

func parse(t *testing.T, getenv func(string) string, args ...string) (*Serve, error) {
	t.Helper()
	return ParseServe(args, getenv, io.Discard)
}

func mustParse(t *testing.T, getenv func(string) string, args ...string) *Serve {
	t.Helper()
	s, err := parse(t, getenv, args...)
	if err != nil {
		t.Fatalf("ParseServe(%q): %v", args, err)
	}
	return s
}

// errorsOf splits a joined error into its parts.
func errorsOf(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	if err == nil {
		return nil
	}
	return []error{err}
}

// flagsNamed returns the flags the error's parts start with ("--name: ...").
func flagsNamed(t *testing.T, err error) []string {
	t.Helper()
	var names []string
	for _, e := range errorsOf(err) {
		name, _, ok := strings.Cut(strings.TrimPrefix(e.Error(), "--"), ":")
		if !ok || !strings.HasPrefix(e.Error(), "--") {
			t.Fatalf("error %q does not start with the flag name", e)
		}
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

func TestParseServe_OnlyNodeID_Defaults(t *testing.T) {
	s := mustParse(t, noEnv, "--node-id=1")
	c := s.Server
	if c.NodeID != 1 || c.DataDir != "./data" || c.Kafka.Addr != "127.0.0.1:9092" || c.Raft.Addr != "127.0.0.1:9192" || c.HTTPAddr != "127.0.0.1:9644" {
		t.Fatalf("addresses: %+v", c)
	}
	if c.Kafka.ClusterID != "raftline" || !c.Kafka.AutoCreateTopics || c.Kafka.DefaultPartitions != 1 || c.Kafka.MaxFrameBytes != 100<<20 {
		t.Fatalf("kafka settings: %+v", c)
	}
	if c.Raft.HeartbeatTimeout != 500*time.Millisecond || c.Raft.ElectionTimeout != 500*time.Millisecond || c.Raft.LeaderLeaseTimeout != 500*time.Millisecond {
		t.Fatalf("raft timeouts: %+v", c)
	}
	if c.Raft.CommitTimeout != 50*time.Millisecond || c.Kafka.MaxInflight != 32 {
		t.Fatalf("commit timeout %v, max in-flight %d", c.Raft.CommitTimeout, c.Kafka.MaxInflight)
	}
	if c.RetentionInterval != 10*time.Second || c.DefaultRetentionBytes != 1<<30 || c.Raft.SnapshotThreshold != 8192 || c.Raft.SnapshotInterval != 2*time.Minute || c.Raft.TrailingLogs != 10240 {
		t.Fatalf("intervals: %+v", c)
	}
	if c.Raft.Bootstrap != nil || c.Kafka.AdvertisedAddr != "" || c.Raft.AdvertisedAddr != "" {
		t.Fatalf("optional settings set: %+v", c)
	}
	if s.LogLevel != slog.LevelInfo || s.LogFormat != "text" {
		t.Fatalf("logging: %v %q", s.LogLevel, s.LogFormat)
	}
}

func TestParseServe_NoNodeID_Error(t *testing.T) {
	_, err := parse(t, noEnv)
	if got := flagsNamed(t, err); !slices.Equal(got, []string{"node-id"}) {
		t.Fatalf("errors name %v, want [node-id]: %v", got, err)
	}
}

func TestParseServe_SeveralBadValues_OneErrorPerValueNamingItsFlag(t *testing.T) {
	_, err := parse(t, noEnv,
		"--node-id=0",
		"--data-dir=",
		"--kafka-addr=no-port",
		"--http-addr=localhost:99999",
		"--cluster-id=",
		"--default-partitions=10001",
		"--max-request-bytes=10",
		"--kafka-max-inflight=0",
		"--raft-commit-timeout=0s",
		"--retention-check-interval=0s",
		"--election-timeout=-1s",
		"--snapshot-threshold=0",
		"--snapshot-interval=0s",
		"--log-level=loud",
		"--log-format=yaml",
		"--storage-fault-exit-delay=-1s",
	)
	want := []string{
		"cluster-id", "data-dir", "default-partitions", "election-timeout", "http-addr", "kafka-addr",
		"kafka-max-inflight", "log-format", "log-level", "max-request-bytes", "node-id",
		"raft-commit-timeout", "retention-check-interval", "snapshot-interval", "snapshot-threshold",
		"storage-fault-exit-delay",
	}
	if got := flagsNamed(t, err); !slices.Equal(got, want) {
		t.Fatalf("errors name\n %v\nwant\n %v\nerror:\n%v", got, want, err)
	}
}

func TestParseServe_BadValuesEachShowTheValue(t *testing.T) {
	_, err := parse(t, noEnv, "--node-id=1", "--log-format=yaml", "--default-partitions=-3")
	for _, want := range []string{`"yaml"`, "-3"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not show %s: %v", want, err)
		}
	}
}

func TestParseServe_EnvFallback(t *testing.T) {
	s := mustParse(t, env(map[string]string{
		"RAFTLINE_NODE_ID":               "7",
		"RAFTLINE_DATA_DIR":              "/var/lib/raftline",
		"RAFTLINE_KAFKA_ADDR":            "0.0.0.0:19092",
		"RAFTLINE_ADVERTISED_KAFKA_ADDR": "broker-7.example:19092",
		"RAFTLINE_BOOTSTRAP":             "7=10.0.0.7:9192,8=10.0.0.8:9192",
		"RAFTLINE_AUTO_CREATE_TOPICS":    "false",
		"RAFTLINE_ELECTION_TIMEOUT":      "2s",
		"RAFTLINE_SNAPSHOT_THRESHOLD":    "100",
		"RAFTLINE_RAFT_COMMIT_TIMEOUT":   "5ms",
		"RAFTLINE_KAFKA_MAX_INFLIGHT":    "4",
		"RAFTLINE_LOG_LEVEL":             "debug",
		"RAFTLINE_LOG_FORMAT":            "json",
	}))
	c := s.Server
	if c.NodeID != 7 || c.DataDir != "/var/lib/raftline" || c.Kafka.Addr != "0.0.0.0:19092" || c.Kafka.AdvertisedAddr != "broker-7.example:19092" {
		t.Fatalf("from env: %+v", c)
	}
	if c.Kafka.AutoCreateTopics || c.Raft.ElectionTimeout != 2*time.Second || c.Raft.SnapshotThreshold != 100 || len(c.Raft.Bootstrap) != 2 {
		t.Fatalf("from env: %+v", c)
	}
	if c.Raft.CommitTimeout != 5*time.Millisecond || c.Kafka.MaxInflight != 4 {
		t.Fatalf("from env: commit timeout %v, max in-flight %d", c.Raft.CommitTimeout, c.Kafka.MaxInflight)
	}
	if s.LogLevel != slog.LevelDebug || s.LogFormat != "json" {
		t.Fatalf("logging from env: %v %q", s.LogLevel, s.LogFormat)
	}
}

func TestParseServe_CommandLineWinsOverEnv(t *testing.T) {
	vars := env(map[string]string{
		"RAFTLINE_NODE_ID":            "7",
		"RAFTLINE_AUTO_CREATE_TOPICS": "false",
		"RAFTLINE_CLUSTER_ID":         "from-env",
		"RAFTLINE_LOG_FORMAT":         "not-even-valid",
	})
	// Given explicitly, even at its default value, a flag beats the
	// environment; a bad environment value it overrides is never read.
	s := mustParse(t, vars, "--node-id=3", "--auto-create-topics=true", "--log-format", "text")
	if s.Server.NodeID != 3 || !s.Server.Kafka.AutoCreateTopics || s.LogFormat != "text" {
		t.Fatalf("command line lost: %+v", s.Server)
	}
	if s.Server.Kafka.ClusterID != "from-env" {
		t.Fatalf("unrelated env var ignored: cluster id %q", s.Server.Kafka.ClusterID)
	}
}

func TestParseServe_BadEnvValue_NamesTheVariable(t *testing.T) {
	_, err := parse(t, env(map[string]string{"RAFTLINE_NODE_ID": "seven", "RAFTLINE_ELECTION_TIMEOUT": "soon"}))
	if err == nil {
		t.Fatal("bad env values accepted")
	}
	for _, want := range []string{`RAFTLINE_NODE_ID="seven"`, `RAFTLINE_ELECTION_TIMEOUT="soon"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not name %s: %v", want, err)
		}
	}
}

func TestEnvName(t *testing.T) {
	for flag, want := range map[string]string{
		"node-id":               "RAFTLINE_NODE_ID",
		"advertised-kafka-addr": "RAFTLINE_ADVERTISED_KAFKA_ADDR",
		"bootstrap":             "RAFTLINE_BOOTSTRAP",
	} {
		if got := EnvName(flag); got != want {
			t.Errorf("EnvName(%q) = %q, want %q", flag, got, want)
		}
	}
}

func TestParseServe_UnknownFlagOrExtraArgument_Error(t *testing.T) {
	var help bytes.Buffer
	_, err := ParseServe([]string{"--node-id=1", "--no-such-flag"}, noEnv, &help)
	if err == nil || err.Error() != "unknown flag --no-such-flag" {
		t.Fatalf("unknown flag: %v", err)
	}
	if help.Len() != 0 {
		t.Fatalf("the help was printed for an unknown flag: %q", help.String())
	}
	if _, err := parse(t, noEnv, "--node-id=1", "stray"); err == nil || !strings.Contains(err.Error(), "stray") {
		t.Fatalf("extra argument: %v", err)
	}
}

// A duration without a unit is the commonest slip; the error says what is
// missing, from a flag or from a variable, and the values that did parse
// are not checked against defaults (which would blame the wrong flag).
func TestParseServe_DurationWithoutUnit_SaysAUnitIsNeeded(t *testing.T) {
	_, err := parse(t, env(map[string]string{"RAFTLINE_HEARTBEAT_TIMEOUT": "2"}), "--election-timeout", "5", "--leader-lease-timeout=1s")
	got := []string{}
	for _, e := range errorsOf(err) {
		got = append(got, e.Error())
	}
	want := []string{
		`--election-timeout: "5": a duration needs a unit, as in 5s, 500ms or 2m`,
		`RAFTLINE_HEARTBEAT_TIMEOUT="2": a duration needs a unit, as in 5s, 500ms or 2m`,
	}
	if !slices.Equal(got, want) {
		t.Fatalf("errors\n %q\nwant\n %q", got, want)
	}
}

// The help lists every flag with the variable that sets it.
func TestParseServe_Help_NamesEveryFlagsVariable(t *testing.T) {
	var help bytes.Buffer
	if _, err := ParseServe([]string{"-h"}, noEnv, &help); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("-h: %v", err)
	}
	n := 0
	for _, l := range strings.Split(help.String(), "\n") {
		name, ok := strings.CutPrefix(l, "  --")
		if !ok {
			continue
		}
		n++
		name, _, _ = strings.Cut(name, " ")
		if !strings.Contains(l, EnvName(name)) {
			t.Errorf("the help line of --%s does not name %s: %q", name, EnvName(name), l)
		}
	}
	if n < 20 {
		t.Fatalf("the help lists %d flags:\n%s", n, help.String())
	}
}

func TestParseServe_WildcardKafkaAddr_RequiresAdvertisedAddr(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:9092", ":9092", "[::]:9092"} {
		_, err := parse(t, noEnv, "--node-id=1", "--kafka-addr="+addr)
		if got := flagsNamed(t, err); !slices.Equal(got, []string{"advertised-kafka-addr"}) {
			t.Errorf("--kafka-addr=%s without an advertised address: errors name %v (%v)", addr, got, err)
		}
		s, err := parse(t, noEnv, "--node-id=1", "--kafka-addr="+addr, "--advertised-kafka-addr=broker-1:9092")
		if err != nil || s.Server.Kafka.AdvertisedAddr != "broker-1:9092" {
			t.Errorf("--kafka-addr=%s with an advertised address: %v", addr, err)
		}
	}
	for _, adv := range []string{"0.0.0.0:9092", ":9092", "broker-1", "broker-1:x"} {
		_, err := parse(t, noEnv, "--node-id=1", "--advertised-kafka-addr="+adv)
		if got := flagsNamed(t, err); !slices.Equal(got, []string{"advertised-kafka-addr"}) {
			t.Errorf("--advertised-kafka-addr=%s: errors name %v (%v)", adv, got, err)
		}
	}
}

func TestParseServe_WildcardRaftAddr_RequiresAdvertisedRaftAddr(t *testing.T) {
	_, err := parse(t, noEnv, "--node-id=1", "--raft-addr=0.0.0.0:9192")
	if got := flagsNamed(t, err); !slices.Equal(got, []string{"raft-addr"}) {
		t.Fatalf("errors name %v (%v)", got, err)
	}
	s := mustParse(t, noEnv, "--node-id=1", "--raft-addr=0.0.0.0:9192", "--advertised-raft-addr=node-1:9192")
	if s.Server.Raft.Addr != "0.0.0.0:9192" || s.Server.Raft.AdvertisedAddr != "node-1:9192" {
		t.Fatalf("raft addresses: %q %q", s.Server.Raft.Addr, s.Server.Raft.AdvertisedAddr)
	}
}

func TestParseServe_LeaderLeaseLongerThanHeartbeat_Error(t *testing.T) {
	_, err := parse(t, noEnv, "--node-id=1", "--heartbeat-timeout=1s", "--leader-lease-timeout=2s")
	if got := flagsNamed(t, err); !slices.Equal(got, []string{"leader-lease-timeout"}) {
		t.Fatalf("errors name %v (%v)", got, err)
	}
}

func TestParseServe_CommitTimeoutAndMaxInflight(t *testing.T) {
	s := mustParse(t, noEnv, "--node-id=1", "--raft-commit-timeout=1ms", "--kafka-max-inflight=1024")
	if s.Server.Raft.CommitTimeout != time.Millisecond || s.Server.Kafka.MaxInflight != 1024 {
		t.Fatalf("commit timeout %v, max in-flight %d", s.Server.Raft.CommitTimeout, s.Server.Kafka.MaxInflight)
	}
	for _, c := range []struct {
		arg, flag, shows string
	}{
		{"--raft-commit-timeout=500us", "raft-commit-timeout", "500µs"},
		{"--raft-commit-timeout=-1s", "raft-commit-timeout", "-1s"},
		{"--kafka-max-inflight=1025", "kafka-max-inflight", "1025"},
		{"--kafka-max-inflight=-1", "kafka-max-inflight", "-1"},
	} {
		_, err := parse(t, noEnv, "--node-id=1", c.arg)
		if got := flagsNamed(t, err); !slices.Equal(got, []string{c.flag}) || !strings.Contains(err.Error(), c.shows) {
			t.Errorf("%s: errors name %v, want one about --%s showing %s: %v", c.arg, got, c.flag, c.shows, err)
		}
	}
	_, err := parse(t, env(map[string]string{"RAFTLINE_NODE_ID": "1", "RAFTLINE_KAFKA_MAX_INFLIGHT": "many"}))
	if err == nil || !strings.Contains(err.Error(), `RAFTLINE_KAFKA_MAX_INFLIGHT="many"`) {
		t.Errorf("bad RAFTLINE_KAFKA_MAX_INFLIGHT: %v", err)
	}
}

func TestParseServe_BootstrapMustNameThisNode(t *testing.T) {
	_, err := parse(t, noEnv, "--node-id=4", "--bootstrap=1=a:9192,2=b:9192,3=c:9192")
	if got := flagsNamed(t, err); !slices.Equal(got, []string{"bootstrap"}) || !strings.Contains(err.Error(), "4") {
		t.Fatalf("errors name %v (%v)", got, err)
	}
	s := mustParse(t, noEnv, "--node-id=2", "--bootstrap=1=a:9192,2=b:9192,3=c:9192")
	if len(s.Server.Raft.Bootstrap) != 3 {
		t.Fatalf("bootstrap %v", s.Server.Raft.Bootstrap)
	}
}

func TestParseServe_BadBootstrap_ReportedWithOtherErrors(t *testing.T) {
	_, err := parse(t, noEnv, "--node-id=1", "--bootstrap=1=a:9192,oops", "--log-format=xml")
	if got := flagsNamed(t, err); !slices.Equal(got, []string{"bootstrap", "log-format"}) {
		t.Fatalf("errors name %v (%v)", got, err)
	}
}

func TestParseBootstrap_Valid(t *testing.T) {
	got, err := ParseBootstrap("1=10.0.0.1:9192, 2=node-2:9192 ,3=[::1]:9192")
	if err != nil {
		t.Fatal(err)
	}
	want := []raft.Server{
		{ID: raftnode.ServerID(1), Address: "10.0.0.1:9192", Suffrage: raft.Voter},
		{ID: raftnode.ServerID(2), Address: "node-2:9192", Suffrage: raft.Voter},
		{ID: raftnode.ServerID(3), Address: "[::1]:9192", Suffrage: raft.Voter},
	}
	if !slices.Equal(got, want) {
		t.Fatalf("got %+v\nwant %+v", got, want)
	}
}

func TestParseBootstrap_Errors(t *testing.T) {
	tests := map[string]string{
		"missing =":             "1:10.0.0.1:9192",
		"empty":                 "",
		"trailing comma":        "1=a:9192,",
		"id not a number":       "one=a:9192",
		"id zero":               "0=a:9192",
		"id negative":           "-1=a:9192",
		"id beyond 32 bits":     "2147483648=a:9192",
		"duplicate id":          "1=a:9192,2=b:9192,1=c:9192",
		"same id written twice": "1=a:9192,01=b:9192",
		"address without port":  "1=a",
		"port not a number":     "1=a:raft",
		"port out of range":     "1=a:65536",
		"empty address":         "1=",
	}
	for name, in := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := ParseBootstrap(in)
			if err == nil {
				t.Fatalf("ParseBootstrap(%q) = %+v, want an error", in, got)
			}
		})
	}
}

func TestLogger_EveryLineCarriesNodeID(t *testing.T) {
	s := mustParse(t, noEnv, "--node-id=5", "--log-format=json", "--log-level=warn")
	var buf bytes.Buffer
	log := s.Logger(&buf)
	log.Info("hidden")
	log.Warn("shown", "k", "v")
	out := buf.String()
	if strings.Contains(out, "hidden") || !strings.Contains(out, `"node_id":5`) || !strings.Contains(out, `"msg":"shown"`) {
		t.Fatalf("log output %q", out)
	}
}

// Every cluster raftline dev and the system tests start is described by a
// clusterspec.Spec; each node's command line must parse into the node the
// spec describes.
func TestParseServe_ClusterSpecCommandLines(t *testing.T) {
	for _, spec := range []clusterspec.Spec{
		clusterspec.Local("127.0.0.1", "/data/dev", 3, 9092, 9644, 9192),
		clusterspec.OnHosts([]string{"10.1.0.2", "10.1.0.3"}, "/tmp/x", 9092, 9644, 9192),
	} {
		spec.Args = []string{"--log-level", "debug"}
		for _, n := range spec.Nodes {
			args := spec.ServeArgs(n)
			if args[0] != "serve" {
				t.Fatalf("%q does not start with serve", args)
			}
			s := mustParse(t, noEnv, args[1:]...)
			c := s.Server
			if c.NodeID != n.ID || c.DataDir != n.DataDir || c.Kafka.Addr != n.KafkaAddr() || c.HTTPAddr != n.HTTPAddr() || c.Raft.Addr != n.RaftAddr() {
				t.Errorf("node %d parsed as %+v", n.ID, c)
			}
			if len(c.Raft.Bootstrap) != len(spec.Nodes) || string(c.Raft.Bootstrap[len(spec.Nodes)-1].Address) != spec.Nodes[len(spec.Nodes)-1].RaftAddr() {
				t.Errorf("node %d bootstrap %+v", n.ID, c.Raft.Bootstrap)
			}
			if s.LogLevel != slog.LevelDebug {
				t.Errorf("node %d: the spec's Args were not applied", n.ID)
			}
		}
	}
}

func TestParseServe_Storage_DiskByDefault_MemoryOnRequest(t *testing.T) {
	if st := mustParse(t, noEnv, "--node-id=1").Server.Storage; st != fsm.Disk {
		t.Fatalf("default storage %q, want disk", st)
	}
	if st := mustParse(t, noEnv, "--node-id=1", "--storage=memory").Server.Storage; st != fsm.Memory {
		t.Fatalf("--storage=memory gave %q", st)
	}
	if st := mustParse(t, env(map[string]string{"RAFTLINE_STORAGE": "memory"}), "--node-id=1").Server.Storage; st != fsm.Memory {
		t.Fatalf("RAFTLINE_STORAGE=memory gave %q", st)
	}
	_, err := parse(t, noEnv, "--node-id=1", "--storage=ssd")
	if got := flagsNamed(t, err); !slices.Equal(got, []string{"storage"}) || !strings.Contains(err.Error(), `"ssd"`) {
		t.Fatalf("--storage=ssd: errors name %v: %v", got, err)
	}
}

func TestParseServe_StorageMinFreeBytes_1GiBByDefault_ZeroTurnsItOff(t *testing.T) {
	if n := mustParse(t, noEnv, "--node-id=1").Server.StorageMinFreeBytes; n != 1<<30 {
		t.Fatalf("default floor %d, want 1 GiB", n)
	}
	if n := mustParse(t, noEnv, "--node-id=1", "--storage-min-free-bytes=0").Server.StorageMinFreeBytes; n != 0 {
		t.Fatalf("--storage-min-free-bytes=0 gave %d", n)
	}
	if n := mustParse(t, env(map[string]string{"RAFTLINE_STORAGE_MIN_FREE_BYTES": "5368709120"}), "--node-id=1").Server.StorageMinFreeBytes; n != 5<<30 {
		t.Fatalf("RAFTLINE_STORAGE_MIN_FREE_BYTES=5368709120 gave %d", n)
	}
	_, err := parse(t, noEnv, "--node-id=1", "--storage-min-free-bytes=-1")
	if got := flagsNamed(t, err); !slices.Equal(got, []string{"storage-min-free-bytes"}) || !strings.Contains(err.Error(), "-1") {
		t.Fatalf("--storage-min-free-bytes=-1: errors name %v: %v", got, err)
	}
}

// A node that stopped on a storage fault answers HTTP for
// --storage-fault-exit-delay, 15s unless set; 0 exits at once.
func TestParseServe_StorageFaultExitDelay_DefaultAndZero(t *testing.T) {
	if s := mustParse(t, noEnv, "--node-id=1"); s.FaultExitDelay != 15*time.Second {
		t.Errorf("default %v, want 15s", s.FaultExitDelay)
	}
	if s := mustParse(t, env(map[string]string{"RAFTLINE_STORAGE_FAULT_EXIT_DELAY": "0s"}), "--node-id=1"); s.FaultExitDelay != 0 {
		t.Errorf("from RAFTLINE_STORAGE_FAULT_EXIT_DELAY=0s: %v, want 0", s.FaultExitDelay)
	}
}

// --consumer-lag-max-series caps the group partitions /metrics exports lag
// for: 10000 unless set, and a cap of none or of millions is refused.
func TestParseServe_ConsumerLagMaxSeries(t *testing.T) {
	if s := mustParse(t, noEnv, "--node-id=1"); s.ConsumerLagMaxSeries != 10000 {
		t.Errorf("default %d, want 10000", s.ConsumerLagMaxSeries)
	}
	if s := mustParse(t, env(map[string]string{"RAFTLINE_CONSUMER_LAG_MAX_SERIES": "250"}), "--node-id=1"); s.ConsumerLagMaxSeries != 250 {
		t.Errorf("from RAFTLINE_CONSUMER_LAG_MAX_SERIES=250: %d", s.ConsumerLagMaxSeries)
	}
	for _, v := range []string{"0", "-5", "1000001"} {
		_, err := parse(t, noEnv, "--node-id=1", "--consumer-lag-max-series="+v)
		if got := flagsNamed(t, err); !slices.Equal(got, []string{"consumer-lag-max-series"}) {
			t.Errorf("--consumer-lag-max-series=%s: errors name %v: %v", v, got, err)
		}
	}
}

// --trace-sample-ratios sets head sampling per operation; an unknown
// operation or a ratio outside [0, 1] is refused.
func TestParseServe_TraceSampleRatios(t *testing.T) {
	if s := mustParse(t, noEnv, "--node-id=1"); len(s.TraceSampleRatios) != 0 {
		t.Errorf("default %v, want none", s.TraceSampleRatios)
	}
	s := mustParse(t, env(map[string]string{"RAFTLINE_TRACE_SAMPLE_RATIOS": "produce=0.1, fetch=0"}), "--node-id=1")
	if len(s.TraceSampleRatios) != 2 || s.TraceSampleRatios["produce"] != 0.1 || s.TraceSampleRatios["fetch"] != 0 {
		t.Errorf("from RAFTLINE_TRACE_SAMPLE_RATIOS: %v", s.TraceSampleRatios)
	}
	for _, v := range []string{"raft=0.5", "produce=2", "produce", "produce=0.1,produce=0.2", "fetch=x"} {
		_, err := parse(t, noEnv, "--node-id=1", "--trace-sample-ratios="+v)
		if got := flagsNamed(t, err); !slices.Equal(got, []string{"trace-sample-ratios"}) {
			t.Errorf("--trace-sample-ratios=%s: errors name %v: %v", v, got, err)
		}
	}
}
