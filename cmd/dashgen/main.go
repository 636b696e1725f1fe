// Command dashgen writes raftline's Grafana dashboards as JSON files that
// Grafana's file provisioning loads, one <uid>.json per dashboard.
//
//	go run ./cmd/dashgen -out dashboards/json
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/raftline/raftline/dashboards"
)

func main() {
	out := flag.String("out", "dashboards/json", "directory to write <uid>.json files to; stale JSON files there are removed")
	flag.Parse()
	if err := dashboards.Generate(*out); err != nil {
		fmt.Fprintln(os.Stderr, "dashgen:", err)
		os.Exit(1)
	}
}
