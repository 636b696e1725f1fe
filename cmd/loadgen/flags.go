package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/raftline/raftline/loadgen"
	"github.com/raftline/raftline/loadgen/payload"
)

// options is a load command's configuration plus what the command line does
// with the result.
type options struct {
	cfg         loadgen.Config
	jsonPath    string
	metricsAddr string
	// comparePath is --compare's baseline, read when the flags are parsed
	// into baseline; the HTML report overlays it.
	comparePath string
	baseline    *loadgen.Result
	quiet       bool
	// partitionsSet says whether --partitions was given, to warn when an
	// existing topic has another count.
	partitionsSet bool
}

// defaultDuration applies when neither --duration nor --records is given.
const defaultDuration = time.Minute

// rawFlags holds flag values that need converting into the Config.
type rawFlags struct {
	brokers                           string
	partitions, replication, batchMax int
	keys, from                        string
	verify, idempotent                bool
}

// loadFlags defines the flags of produce, consume or e2e. Flags that do not
// apply to a command are not defined for it, so using one is an error rather
// than silently ignored.
func loadFlags(cmd string, o *options) (*flag.FlagSet, *rawFlags) {
	c := &o.cfg
	raw := &rawFlags{}
	fs := flag.NewFlagSet("loadgen "+cmd, flag.ContinueOnError)
	fs.SetOutput(io.Discard)

	brokersDefault := "127.0.0.1:9092"
	if env := os.Getenv("RAFTLINE_BROKERS"); env != "" {
		brokersDefault = env
	}
	fs.StringVar(&raw.brokers, "brokers", brokersDefault, "comma-separated seed brokers (env RAFTLINE_BROKERS)")
	fs.StringVar(&c.Topic, "topic", "loadgen", "topic to use, created if missing")
	fs.IntVar(&raw.partitions, "partitions", 3, "partitions of the topic if it is created (-1: broker default)")
	fs.IntVar(&raw.replication, "replication", -1, "replication factor of the topic if it is created (-1: broker default)")
	fs.DurationVar(&c.Duration, "duration", 0, "how long to run after warmup; 0 runs until --records or Ctrl-C (default 1m unless --records is given)")
	fs.DurationVar(&c.Warmup, "warmup", 0, "time at the start that is run but not measured")
	fs.StringVar(&o.jsonPath, "json", "", "write the full result to this file, for baselines and compare, and an HTML report beside it (FILE with .html)")
	fs.StringVar(&o.comparePath, "compare", "", "overlay this baseline result (a --json file) on the HTML report, with the comparison (needs --json)")
	fs.StringVar(&o.metricsAddr, "metrics-addr", "", "serve Prometheus metrics at http://ADDR/metrics while running")
	fs.BoolVar(&o.quiet, "quiet", false, "do not print a progress line every second")

	if cmd != loadgen.CmdConsume {
		fs.IntVar(&c.Size, "size", 1024, fmt.Sprintf("record value size in bytes (at least %d)", payload.HeaderSize))
		fs.IntVar(&c.Producers, "producers", 1, "producer clients, sharing --rate")
		fs.StringVar(&c.Acks, "acks", "all", "acknowledgements required: 0, 1 or all")
		fs.BoolVar(&raw.idempotent, "idempotent", true, "idempotent producer (needs --acks all; off by default otherwise)")
		fs.StringVar(&c.Compression, "compression", "none", "batch compression: "+strings.Join(loadgen.Compressions, ", "))
		fs.DurationVar(&c.Linger, "linger", 5*time.Millisecond, "how long a partition's batch may wait to fill")
		fs.IntVar(&raw.batchMax, "batch-max-bytes", 1000012, "largest record batch in bytes")
		fs.DurationVar(&c.DeliveryTimeout, "delivery-timeout", 30*time.Second, "fail a record not acknowledged within this (0: retry forever)")
		fs.IntVar(&c.MaxBuffered, "max-buffered", 10000, "records a producer may have unacknowledged before sending blocks")
		fs.Float64Var(&c.Rate, "rate", 0, "records per second in total, sent open-loop on a fixed schedule; 0 sends as fast as possible")
		fs.Int64Var(&c.Records, "records", 0, "stop after producing this many records, warmup included (0: no limit)")
		fs.StringVar(&raw.keys, "keys", "none", "record keys: none, random, or a number of distinct keys")
		fs.BoolVar(&raw.verify, "verify", false, "check that every acknowledged record is consumed exactly once, in order")
		fs.DurationVar(&c.DrainTimeout, "drain-timeout", 30*time.Second, "with consumers, how long they may take to catch up after producing stops")
	} else {
		fs.Int64Var(&c.Records, "records", 0, "stop after consuming this many records (0: no limit)")
	}
	if cmd != loadgen.CmdProduce {
		fs.IntVar(&c.Consumers, "consumers", 1, "consumer clients")
		fs.StringVar(&c.Group, "group", "", "consumer group; without one each consumer reads its own share of the partitions")
	}
	if cmd == loadgen.CmdConsume {
		fs.StringVar(&raw.from, "from", "start", "where to start without a group or committed offsets: start or end")
	}
	return fs, raw
}

// parseLoadFlags parses the flags of produce, consume or e2e into options,
// reporting every bad value. It returns flag.ErrHelp for -h.
func parseLoadFlags(cmd string, args []string, stdout io.Writer) (options, error) {
	o := options{cfg: loadgen.Config{Command: cmd}}
	c := &o.cfg
	fs, raw := loadFlags(cmd, &o)

	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintf(stdout, "usage: loadgen %s [flags]\n\n%s\n\nflags:\n", cmd, commandHelp[cmd])
			fs.SetOutput(stdout)
			fs.PrintDefaults()
			return o, err
		}
		return o, explainUndefined(cmd, err)
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected argument %q: %s takes only flags", fs.Arg(0), cmd)
	}

	// Checks the Config cannot do because they concern the flags' text.
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })

	for _, b := range strings.Split(raw.brokers, ",") {
		c.Brokers = append(c.Brokers, strings.TrimSpace(b))
	}
	if raw.partitions > math.MaxInt32 {
		bad("--partitions %d: too large", raw.partitions)
	}
	c.Partitions = int32(clamp(raw.partitions, math.MinInt32, math.MaxInt32))
	if raw.replication > math.MaxInt16 {
		bad("--replication %d: too large", raw.replication)
	}
	c.Replication = int16(clamp(raw.replication, math.MinInt16, math.MaxInt16))
	o.partitionsSet = set["partitions"]
	if cmd != loadgen.CmdConsume {
		var err error
		if c.Keys, err = payload.ParseKeys(raw.keys); err != nil {
			bad("--keys: %v", err)
		}
		if raw.batchMax > math.MaxInt32 {
			bad("--batch-max-bytes %d: too large", raw.batchMax)
		}
		c.BatchMaxBytes = int32(clamp(raw.batchMax, math.MinInt32, math.MaxInt32))
		c.Verify = raw.verify
		// Idempotence requires acks=all, so it follows --acks unless asked for.
		c.Idempotent = raw.idempotent && (c.Acks == "all" || set["idempotent"])
	}
	switch raw.from {
	case "", "start":
	case "end":
		c.FromEnd = true
	default:
		bad("--from %q: must be start or end", raw.from)
	}
	if o.jsonPath != "" {
		// Found out now rather than after the run.
		if fi, err := os.Stat(filepath.Dir(o.jsonPath)); err != nil || !fi.IsDir() {
			bad("--json %s: no such directory", o.jsonPath)
		}
	}
	if o.comparePath != "" {
		if o.jsonPath == "" {
			bad("--compare %s: needs --json, beside which the HTML report is written", o.comparePath)
		}
		if base, err := readResult(o.comparePath); err != nil {
			bad("--compare: %v", err)
		} else {
			o.baseline = &base
		}
	}
	if !set["duration"] && c.Records == 0 {
		c.Duration = defaultDuration
	}
	if err := c.Validate(); err != nil {
		errs = append(errs, err)
	}
	return o, errors.Join(errs...)
}

// explainUndefined turns the flag package's "flag provided but not defined"
// into which commands the flag belongs to, when it belongs to one.
func explainUndefined(cmd string, err error) error {
	name, ok := strings.CutPrefix(err.Error(), "flag provided but not defined: -")
	if !ok {
		return err
	}
	if cmd == loadgen.CmdConsume && name == "verify" {
		return errors.New("--verify needs to know what was acknowledged: use it with produce or e2e")
	}
	var in []string
	for _, other := range []string{loadgen.CmdProduce, loadgen.CmdConsume, loadgen.CmdE2E} {
		if fs, _ := loadFlags(other, &options{}); fs.Lookup(name) != nil {
			in = append(in, other)
		}
	}
	if len(in) == 0 {
		return fmt.Errorf("unknown flag --%s", name)
	}
	return fmt.Errorf("--%s does not apply to %s, only to %s", name, cmd, strings.Join(in, " and "))
}

// clamp keeps a flag's value in the range of the narrower type it is stored
// in; values outside it were reported already, and clamping keeps their sign
// for the Config's own checks.
func clamp(v, lo, hi int) int { return min(max(v, lo), hi) }

var commandHelp = map[string]string{
	loadgen.CmdProduce: `Produces records and measures throughput and publish latency (send to
acknowledgement). With --rate, records are sent on a fixed schedule and
latency is measured from each record's intended send time, so stalls are not
hidden; without it, records are sent as fast as the client accepts them, which
finds peak throughput. With --verify, the records are read back afterwards and
checked against their acknowledgements.`,
	loadgen.CmdConsume: `Consumes records and measures throughput, and end-to-end latency for
records written by loadgen.`,
	loadgen.CmdE2E: `Produces and consumes at once, measuring publish latency and end-to-end
latency, from the send time carried in each record to its consumption. With
--verify, checks that every acknowledged record is consumed exactly once and in
per-partition order.`,
}
