//go:build linux

package main

import (
	"fmt"
	"io"
	"slices"
	"strings"
)

// report prints the results as the markdown tables of docs/BENCHMARKS.md.
func report(w io.Writer, cfg config, res *result) {
	m := res.Machine
	fmt.Fprintf(w, "\nStarted %s on %d CPUs, %.1f GiB of memory, Linux %s, %s; load average %.2f %.2f %.2f at the start.\n",
		res.Started.Format("2006-01-02 15:04 UTC"), m.CPUs, gib(m.MemoryBytes), m.Kernel, m.GoVersion,
		m.LoadAverage[0], m.LoadAverage[1], m.LoadAverage[2])
	if len(res.Core) > 0 {
		reportCore(w, cfg, res.Core)
	}
	if len(res.Setups) == 0 {
		return
	}
	reportWrite(w, res.Setups)
	reportMemory(w, res.Setups)
	reportFetch(w, res.Setups)
	reportRestart(w, res.Setups)
}

func reportCore(w io.Writer, cfg config, runs []coreRun) {
	fmt.Fprintf(w, "\n#### bench-core workload (%d s measured per run, a fresh cluster each, storages interleaved)\n\n", cfg.CoreSeconds)
	fmt.Fprintln(w, "| storage | run | records/s | MB/s | publish p50 ms | publish p99 ms | errors |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|")
	meds := map[string][4]float64{}
	for _, s := range cfg.Storages {
		var rs, mbs, p50s, p99s []float64
		for _, r := range runs {
			if r.Storage != s {
				continue
			}
			fmt.Fprintf(w, "| %s | %d | %s | %.1f | %.1f | %.1f | %d |\n", s, r.Run, thousands(r.RecordsPerSec), r.MBPerSec, r.P50Ms, r.P99Ms, r.Errors)
			rs, mbs, p50s, p99s = append(rs, r.RecordsPerSec), append(mbs, r.MBPerSec), append(p50s, r.P50Ms), append(p99s, r.P99Ms)
		}
		if len(rs) == 0 {
			continue
		}
		med := [4]float64{median(rs), median(mbs), median(p50s), median(p99s)}
		meds[s] = med
		fmt.Fprintf(w, "| **%s** | **median** | **%s** | **%.1f** | **%.1f** | **%.1f** | |\n", s, thousands(med[0]), med[1], med[2], med[3])
	}
	if d, ok := meds["disk"]; ok {
		if mem, ok := meds["memory"]; ok && mem[0] > 0 {
			fmt.Fprintf(w, "\ndisk/memory: records/s %.2f, publish p50 %.2f, p99 %.2f (ratios of the medians)\n", d[0]/mem[0], d[2]/mem[2], d[3]/mem[3])
		}
	}
}

func reportWrite(w io.Writer, srs []setupResult) {
	fmt.Fprintln(w, "\n#### Writing (1 KiB records, acks=all, one producer, topics of 2 partitions, retention off)")
	fmt.Fprintln(w, "\n| setup | serve flags | written | Raft entries (mean size) | MiB/s per 1 GiB topic | median MiB/s |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|")
	for _, s := range srs {
		var ts []float64
		for _, t := range s.Write {
			ts = append(ts, t.MiBPerSec)
		}
		fmt.Fprintf(w, "| %s | %s | %d GiB | %s (%.0f KiB) | %s | %.1f |\n", s.Name, flags(s.setup), s.GiB, thousands(float64(s.RaftEntries)),
			s.bytesPerEntry()/1024, joinf(ts, "%.1f"), median(ts))
	}
}

func reportMemory(w io.Writer, srs []setupResult) {
	fmt.Fprintln(w, "\n#### Resident memory per node (MiB; anonymous / file-backed in brackets)")
	fmt.Fprintln(w, "\n| setup | written | node | after writing | peak while writing | Go heap in use after writing | after the reads | after the restarts | segment files | Raft log | data dir |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|---|---|---|")
	for _, s := range srs {
		for i, m := range s.AfterWrite {
			var u usage
			if i < len(s.DiskAfterWrite) {
				u = s.DiskAfterWrite[i]
			}
			fmt.Fprintf(w, "| %s | %d GiB | %d | %s | %.0f | %.0f | %s | %s | %.2f GiB | %.2f GiB | %.2f GiB |\n",
				s.Name, s.GiB, m.Node, rss(m), mib(m.PeakRSS), mib(m.HeapInuse),
				rssOf(s.AfterFetch, m.Node), rssOf(s.AfterRestart, m.Node), gib(u.Segments), gib(u.RaftLog), gib(u.Total))
		}
	}
}

// flags are a setup's serve flags as the tables show them.
func flags(s setup) string {
	f := "--storage " + s.Storage
	if len(s.ServeArgs) > 0 {
		f += " " + strings.Join(s.ServeArgs, " ")
	}
	return "`" + f + "`"
}

func rss(m memory) string {
	return fmt.Sprintf("%.0f (%.0f / %.0f)", mib(m.RSS), mib(m.RSSAnon), mib(m.RSSFile))
}

func rssOf(ms []memory, node int32) string {
	for _, m := range ms {
		if m.Node == node {
			return rss(m)
		}
	}
	return "-"
}

func reportFetch(w io.Writer, srs []setupResult) {
	fmt.Fprintln(w, "\n#### One consumer reading a 1 GiB topic from its beginning")
	fmt.Fprintln(w, "\n| setup | read | leader's segment files in the page cache before each run | MiB/s per run | median MiB/s |")
	fmt.Fprintln(w, "|---|---|---|---|---|")
	meds := map[string]float64{}
	for _, s := range srs {
		for _, f := range []struct {
			kind string
			f    fetch
		}{{"hot", s.Hot}, {"cold", s.Cold}} {
			if len(f.f.Runs) == 0 {
				continue
			}
			var ts []float64
			var cache []string
			for _, r := range f.f.Runs {
				ts = append(ts, r.MiBPerSec)
				cache = append(cache, r.PageCache.String())
			}
			what := f.kind + ": " + f.f.Topic
			if f.kind == "hot" {
				what += ", written last"
			} else {
				what += ", written first, page cache dropped"
			}
			if s.Storage == "memory" {
				cache = []string{"(records in memory)"}
			}
			meds[s.Name+"/"+f.kind] = median(ts)
			fmt.Fprintf(w, "| %s | %s | %s | %s | %.1f |\n", s.Name, what, strings.Join(cache, ", "), joinf(ts, "%.1f"), median(ts))
		}
	}
	for _, k := range []string{"hot", "cold"} {
		if d, m := meds["disk/"+k], meds["memory/"+k]; d > 0 && m > 0 {
			fmt.Fprintf(w, "\n%s reads, disk/memory: %.2f (ratio of the medians)\n", k, d/m)
		}
	}
}

func reportRestart(w io.Writer, srs []setupResult) {
	fmt.Fprintln(w, "\n#### Whole-cluster restart, until /readyz answers 200 on all three nodes")
	fmt.Fprintln(w, "\n| setup | retained | restart | Raft log replayed (entries since the snapshot, largest of the nodes) | stop s (median) | ready s per run | median ready s |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|")
	for _, s := range srs {
		for _, r := range s.Restarts {
			if len(r.Runs) == 0 {
				continue
			}
			var ready, stop, tails []float64
			for _, run := range r.Runs {
				ready, stop = append(ready, run.ReadySeconds), append(stop, run.StopSeconds)
				var most uint64
				for _, t := range run.Tail {
					most = max(most, t.entries())
				}
				tails = append(tails, float64(most))
			}
			tail := median(tails)
			name := r.Name
			if len(r.ServeArgs) > 0 {
				name += " (" + strings.Join(r.ServeArgs, " ") + ")"
			}
			fmt.Fprintf(w, "| %s | %d GiB | %s | %s entries, about %s MiB | %.2f | %s | %.2f |\n", s.Name, s.GiB, name,
				thousands(tail), thousands(tail*s.bytesPerEntry()/(1<<20)), median(stop), joinf(ready, "%.2f"), median(ready))
		}
	}
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func joinf(xs []float64, format string) string {
	var parts []string
	for _, x := range xs {
		parts = append(parts, fmt.Sprintf(format, x))
	}
	return strings.Join(parts, ", ")
}

// thousands formats a count rounded to an integer with thousands separated
// by commas, as docs/BENCHMARKS.md writes them.
func thousands(x float64) string {
	s := fmt.Sprintf("%.0f", x)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}
