package main

import (
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/raftline/raftline/loadgen/report"
)

// htmlReport writes the HTML report of a saved result, as a load command
// with --json does: for results written before the report existed, or to
// overlay a baseline afterwards.
func htmlReport(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("loadgen report", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var out, basePath string
	fs.StringVar(&out, "out", "", "write the report here (default: RESULT with .html)")
	fs.StringVar(&basePath, "compare", "", "overlay this baseline result, with the comparison")

	// Flags may come before or after the file.
	var files []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				fmt.Fprintln(stdout, "usage: loadgen report [flags] RESULT.json\n\nflags:")
				fs.SetOutput(stdout)
				fs.PrintDefaults()
				return exitOK
			}
			return usageError(stderr, "report", err)
		}
		if fs.NArg() == 0 {
			break
		}
		files = append(files, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if len(files) != 1 {
		return usageError(stderr, "report", fmt.Errorf("want one result file; got %d", len(files)))
	}
	res, err := readResult(files[0])
	if err != nil {
		fmt.Fprintf(stderr, "loadgen report: %v\n", err)
		return exitUsage
	}
	runs := []report.Run{{Label: "this run", Result: res}}
	if basePath != "" {
		base, err := readResult(basePath)
		if err != nil {
			fmt.Fprintf(stderr, "loadgen report: --compare: %v\n", err)
			return exitUsage
		}
		runs = []report.Run{{Label: "base", Result: base}, {Label: "new", Result: res}}
	}
	if out == "" {
		out = htmlPath(files[0])
	}
	if err := writeHTML(out, report.DefaultThresholds, runs...); err != nil {
		fmt.Fprintf(stderr, "loadgen report: %v\n", err)
		return exitFailed
	}
	fmt.Fprintln(stdout, out)
	return exitOK
}
