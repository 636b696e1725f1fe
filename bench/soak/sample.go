package main

import (
	"bufio"
	"encoding/csv"
	"fmt"
	"io"
	"io/fs"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// resource is one sampled figure of a node: the metric it is read from
// (empty for the data directory, measured on disk), its CSV column, and the
// tolerance of the growth check (see package growth).
type resource struct {
	Metric, Column, Title, Unit string
	// Scale divides the raw value for the chart (bytes to MiB).
	Scale float64
}

// resources are the figures sampled, in CSV column order. The metric names
// are the Go and process collectors' (telemetry/catalog lists them).
var resources = []resource{
	{"process_resident_memory_bytes", "rss_bytes", "Resident memory", "MiB", 1 << 20},
	{"go_memstats_heap_inuse_bytes", "heap_inuse_bytes", "Go heap in use", "MiB", 1 << 20},
	{"go_goroutines", "goroutines", "Goroutines", "goroutines", 1},
	{"process_open_fds", "open_fds", "Open file descriptors", "files", 1},
	{"", "data_dir_bytes", "Data directory size", "MiB", 1 << 20},
}

// sample is one node's figures at one moment. Values are NaN while the
// node is down or did not answer.
type sample struct {
	At     float64 // seconds since the run started
	Node   int32
	Values []float64 // one per resource
}

// up reports whether the node answered.
func (s sample) up() bool { return !math.IsNaN(s.Values[0]) }

// scrape reads the resources of the node serving metrics at httpAddr, with
// its data directory at dataDir.
func scrape(httpAddr, dataDir string) ([]float64, error) {
	vals := make([]float64, len(resources))
	for i := range vals {
		vals[i] = math.NaN()
	}
	resp, err := httpClient.Get("http://" + httpAddr + "/metrics")
	if err != nil {
		return vals, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return vals, fmt.Errorf("/metrics: %s", resp.Status)
	}
	found, err := readGauges(resp.Body)
	if err != nil {
		return vals, err
	}
	for i, r := range resources {
		if r.Metric == "" {
			continue
		}
		v, ok := found[r.Metric]
		if !ok {
			return vals, fmt.Errorf("/metrics has no %s", r.Metric)
		}
		vals[i] = v
	}
	size, err := dirSize(dataDir)
	if err != nil {
		return vals, err
	}
	vals[len(vals)-1] = float64(size)
	return vals, nil
}

// readGauges reads the samples of the Prometheus text format by metric
// name, labels dropped: a node labels its own metrics with node_id only, so
// the gauges read here have one sample each.
func readGauges(r io.Reader) (map[string]float64, error) {
	out := map[string]float64{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		var name, rest string
		if i := strings.IndexByte(line, '{'); i >= 0 {
			j := strings.LastIndexByte(line, '}')
			if j < i {
				continue
			}
			name, rest = line[:i], strings.TrimSpace(line[j+1:])
		} else {
			var ok bool
			if name, rest, ok = strings.Cut(line, " "); !ok {
				continue
			}
		}
		value, _, _ := strings.Cut(rest, " ") // a timestamp may follow
		if v, err := strconv.ParseFloat(value, 64); err == nil {
			out[name] = v
		}
	}
	return out, sc.Err()
}

// dirSize is the disk space used by the files under dir. Files removed
// while it walks (segments deleted by retention, compacted Raft logs) are
// skipped.
func dirSize(dir string) (int64, error) {
	var total int64
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if os.IsNotExist(err) {
				return nil
			}
			return err
		}
		if d.Type().IsRegular() {
			info, err := d.Info()
			if err != nil {
				if os.IsNotExist(err) {
					return nil
				}
				return err
			}
			total += info.Size()
		}
		return nil
	})
	return total, err
}

// csvWriter writes samples as they are taken, flushed at once, so that a
// run that is cut short keeps what it sampled.
type csvWriter struct {
	f *os.File
	w *csv.Writer
}

func createCSV(path string) (*csvWriter, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	c := &csvWriter{f: f, w: csv.NewWriter(f)}
	header := []string{"seconds", "node", "up"}
	for _, r := range resources {
		header = append(header, r.Column)
	}
	c.w.Write(header)
	c.w.Flush()
	return c, c.w.Error()
}

func (c *csvWriter) write(s sample) error {
	row := []string{strconv.FormatFloat(s.At, 'f', 1, 64), strconv.Itoa(int(s.Node)), strconv.FormatBool(s.up())}
	for _, v := range s.Values {
		if math.IsNaN(v) {
			row = append(row, "")
		} else {
			row = append(row, strconv.FormatFloat(v, 'f', -1, 64))
		}
	}
	c.w.Write(row)
	c.w.Flush()
	return c.w.Error()
}

func (c *csvWriter) Close() error { return c.f.Close() }

// sampler takes a sample of every node every interval.
type sampler struct {
	c       *cluster
	start   time.Time
	out     *csvWriter
	samples []sample
}

// sampleAll samples every node once. A node that is down or does not
// answer gives a row of NaN; the error of the first such node is returned
// for the progress line.
func (s *sampler) sampleAll() error {
	at := time.Since(s.start).Seconds()
	var first error
	for _, n := range s.c.spec.Nodes {
		vals, err := scrape(n.HTTPAddr(), n.DataDir)
		if err != nil {
			for i := range vals {
				vals[i] = math.NaN()
			}
			if first == nil && s.c.pid(n.ID) != 0 {
				first = fmt.Errorf("node %d: %w", n.ID, err)
			}
		}
		smp := sample{At: at, Node: n.ID, Values: vals}
		s.samples = append(s.samples, smp)
		if err := s.out.write(smp); err != nil {
			return err
		}
	}
	return first
}

// every samples every node each interval until stop is closed, printing a
// line when a running node does not answer.
func (s *sampler) every(interval time.Duration, stop <-chan struct{}, stdout io.Writer) {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		if err := s.sampleAll(); err != nil {
			fmt.Fprintf(stdout, "sample at %.0fs: %v\n", time.Since(s.start).Seconds(), err)
		}
		select {
		case <-stop:
			return
		case <-tick.C:
		}
	}
}
