// Command alertgen writes raftline's Prometheus rules (package alerts) to a
// rule file. Run it from the repository root, or through go generate:
//
//	go run ./cmd/alertgen          # writes alerts/rules.yml
//	go run ./cmd/alertgen -o -     # to stdout
//
// The committed alerts/rules.yml uses alerts.DefaultConfig.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/raftline/raftline/alerts"
)

func main() {
	cfg := alerts.DefaultConfig()
	out := flag.String("o", "alerts/rules.yml", "output file, or - for stdout")
	flag.Parse()

	if err := run(cfg, *out); err != nil {
		fmt.Fprintln(os.Stderr, "alertgen:", err)
		os.Exit(1)
	}
}

func run(cfg alerts.Config, out string) error {
	b, err := alerts.Render(cfg)
	if err != nil {
		return err
	}
	if out == "-" {
		_, err = os.Stdout.Write(b)
		return err
	}
	return os.WriteFile(out, b, 0o644)
}
