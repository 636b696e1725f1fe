// Command metricsdoc writes docs/METRICS.md from the metric catalogue
// (package telemetry/catalog). Run it from the repository root, or through
// go generate:
//
//	go run ./cmd/metricsdoc              # writes docs/METRICS.md
//	go run ./cmd/metricsdoc -o -         # to stdout
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/raftline/raftline/telemetry/catalog"
)

func main() {
	out := flag.String("o", "docs/METRICS.md", "output file, or - for stdout")
	flag.Parse()
	if err := run(*out); err != nil {
		fmt.Fprintln(os.Stderr, "metricsdoc:", err)
		os.Exit(1)
	}
}

func run(out string) error {
	b, err := catalog.Markdown()
	if err != nil {
		return err
	}
	if out == "-" {
		_, err = os.Stdout.Write(b)
		return err
	}
	return os.WriteFile(out, b, 0o644)
}
