package main

import (
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/raftline/raftline/loadgen/report"
)

// compare prints the differences between two results and fails when the
// new one is a regression.
func compare(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("loadgen compare", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var th report.Thresholds
	fs.Float64Var(&th.ThroughputDrop, "throughput-drop", report.DefaultThresholds.ThroughputDrop, "fail when records/s falls by more than this many percent")
	fs.Float64Var(&th.P99Rise, "p99-rise", report.DefaultThresholds.P99Rise, "fail when publish or end-to-end p99 rises by more than this many percent")
	var htmlOut string
	fs.StringVar(&htmlOut, "html", "", "also write an HTML report with both runs overlaid to this file")

	// Flags may come before, between or after the two files.
	var files []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				fmt.Fprintln(stdout, "usage: loadgen compare [flags] BASE.json NEW.json\n\nflags:")
				fs.SetOutput(stdout)
				fs.PrintDefaults()
				return exitOK
			}
			return usageError(stderr, "compare", err)
		}
		if fs.NArg() == 0 {
			break
		}
		files = append(files, fs.Arg(0))
		args = fs.Args()[1:]
	}

	var errs []error
	if len(files) != 2 {
		errs = append(errs, fmt.Errorf("want two result files, BASE.json and NEW.json; got %d", len(files)))
	}
	if th.ThroughputDrop < 0 {
		errs = append(errs, fmt.Errorf("--throughput-drop %g: must not be negative", th.ThroughputDrop))
	}
	if th.P99Rise < 0 {
		errs = append(errs, fmt.Errorf("--p99-rise %g: must not be negative", th.P99Rise))
	}
	if len(errs) > 0 {
		return usageError(stderr, "compare", errors.Join(errs...))
	}

	base, err := readResult(files[0])
	if err != nil {
		fmt.Fprintf(stderr, "loadgen compare: %v\n", err)
		return exitUsage
	}
	cur, err := readResult(files[1])
	if err != nil {
		fmt.Fprintf(stderr, "loadgen compare: %v\n", err)
		return exitUsage
	}
	c := report.Compare(base, cur, th)
	report.WriteComparison(stdout, c)
	if htmlOut != "" {
		runs := []report.Run{{Label: "base", Result: base}, {Label: "new", Result: cur}}
		if err := writeHTML(htmlOut, th, runs...); err != nil {
			fmt.Fprintf(stderr, "loadgen compare: --html: %v\n", err)
			return exitFailed
		}
	}
	if !c.OK() {
		return exitFailed
	}
	return exitOK
}
