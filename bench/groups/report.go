//go:build linux

package main

import (
	"fmt"
	"io"
)

// report prints the medians as the markdown tables of docs/BENCHMARKS.md.
func report(w io.Writer, res *result) {
	if res == nil {
		return
	}
	c := res.Config.Client
	if len(res.Rebalance) > 0 {
		var leave, join, fail, elect []float64
		for _, r := range res.Rebalance {
			leave, join, fail, elect = append(leave, r.LeaveMs), append(join, r.JoinMs), append(fail, r.FailoverMs), append(elect, r.ElectionMs)
		}
		fmt.Fprintf(w, "\nRebalance of a group of 3 members (eager range balancer, heartbeat %v, session timeout %v), 1,000 records/s into %d partitions; median of %d runs\n\n",
			c.Heartbeat, c.SessionTimeout, rebalancePartitions, len(res.Rebalance))
		fmt.Fprintln(w, "| event | to every member consuming again | of which the clients' heartbeat can take |")
		fmt.Fprintln(w, "|---|---|---|")
		fmt.Fprintf(w, "| a member leaves (3 -> 2) | %.0f ms | up to %v |\n", median(leave), c.Heartbeat)
		fmt.Fprintf(w, "| a member joins (2 -> 3) | %.0f ms | up to %v |\n", median(join), c.Heartbeat)
		rejoined := 0
		for _, r := range res.Rebalance {
			rejoined += r.Rejoined
		}
		fmt.Fprintf(w, "| leader (coordinator) SIGKILLed | %.0f ms (election: %.0f ms) | up to %v |\n", median(fail), median(elect), c.Heartbeat)
		fmt.Fprintf(w, "\nIn the failovers %d of %d members lost their partitions and rejoined; the others kept their generation.\n",
			rejoined, 3*len(res.Rebalance))
		for _, r := range res.Rebalance {
			if r.Err != "" {
				fmt.Fprintf(w, "\nrun failed: %s\n", r.Err)
			}
		}
	}
	if len(res.Latency) > 0 {
		fmt.Fprintf(w, "\nEnd-to-end latency, 100-byte records, acks=all, %d partitions, %d consumers; %ds after %ds warmup; median of %d runs\n\n",
			latencyPartitions, latencyConsumers, res.Config.Seconds, res.Config.Warmup, res.Config.Runs)
		fmt.Fprintln(w, "| records/s | consumers | e2e p50 | e2e p99 | publish p99 | runs verified |")
		fmt.Fprintln(w, "|---|---|---|---|---|---|")
		for _, rate := range res.Config.Rates {
			for _, group := range []bool{false, true} {
				var p50, p99, pub []float64
				verified, runs := 0, 0
				for _, r := range res.Latency {
					if r.Rate != rate || r.Group != group {
						continue
					}
					runs++
					p50, p99, pub = append(p50, r.P50Ms), append(p99, r.P99Ms), append(pub, r.PubP99Ms)
					if r.Verified {
						verified++
					}
				}
				if runs == 0 {
					continue
				}
				mode := "direct (no group)"
				if group {
					mode = "consumer group"
				}
				fmt.Fprintf(w, "| %.0f | %s | %.2f ms | %.2f ms | %.2f ms | %d of %d |\n", rate, mode, median(p50), median(p99), median(pub), verified, runs)
			}
		}
	}
}
