package telemetry

import (
	"bufio"
	"math"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
)

// memoryLimit returns the memory the process may use before it is killed
// or the Go runtime works against it: the smaller of its cgroup's limit
// (v2 memory.max, v1 memory.limit_in_bytes) and GOMEMLIMIT, and false when
// neither is set.
func memoryLimit() (float64, bool) {
	limit, ok := cgroupMemoryLimit("/proc/self/cgroup", "/sys/fs/cgroup")
	if gl := debug.SetMemoryLimit(-1); gl > 0 && gl < math.MaxInt64 {
		if !ok || float64(gl) < limit {
			limit, ok = float64(gl), true
		}
	}
	return limit, ok
}

// cgroupMemoryLimit reads the memory limit of the process's cgroup, given
// /proc/self/cgroup and the cgroup filesystem's mount point.
func cgroupMemoryLimit(procCgroup, root string) (float64, bool) {
	f, err := os.Open(procCgroup)
	if err != nil {
		return 0, false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// hierarchy-ID:controllers:path
		parts := strings.SplitN(sc.Text(), ":", 3)
		if len(parts) != 3 {
			continue
		}
		var file string
		switch {
		case parts[0] == "0" && parts[1] == "": // v2
			file = filepath.Join(root, parts[2], "memory.max")
		case strings.Contains(","+parts[1]+",", ",memory,"): // v1
			file = filepath.Join(root, "memory", parts[2], "memory.limit_in_bytes")
		default:
			continue
		}
		if v, ok := readLimit(file); ok {
			return v, true
		}
	}
	return 0, false
}

// readLimit reads a cgroup limit file: "max" (v2) or a value near the
// largest int64 (v1's unlimited) mean none.
func readLimit(file string) (float64, bool) {
	b, err := os.ReadFile(file)
	if err != nil {
		return 0, false
	}
	s := strings.TrimSpace(string(b))
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil || v == 0 || v >= math.MaxInt64/2 {
		return 0, false
	}
	return float64(v), true
}

// memoryLimitCollector exports raftline_memory_limit_bytes, read when
// scraped: +Inf when the process has no limit, so that a share of it is 0.
type memoryLimitCollector struct{ desc *prometheus.Desc }

func newMemoryLimitCollector() memoryLimitCollector {
	return memoryLimitCollector{desc: prometheus.NewDesc("raftline_memory_limit_bytes",
		"Memory this process may use: the smaller of its cgroup's limit (memory.max) and GOMEMLIMIT. +Inf when neither is set.", nil, nil)}
}

func (c memoryLimitCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c memoryLimitCollector) Collect(ch chan<- prometheus.Metric) {
	v, ok := memoryLimit()
	if !ok {
		v = math.Inf(1)
	}
	ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, v)
}
