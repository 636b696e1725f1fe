// Command compatdoc regenerates the generated sections of
// docs/COMPATIBILITY.md: the API keys raftline serves (asked of a listener
// through ApiVersions) and the client compatibility matrix of package
// test/compat/matrix. Run it from the repository root, or through go
// generate (make compat-doc):
//
//	go run ./test/compat/matrix/compatdoc                 # rewrites docs/COMPATIBILITY.md
//	go run ./test/compat/matrix/compatdoc -doc other.md
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/raftline/raftline/test/compat/matrix"
)

func main() {
	doc := flag.String("doc", "docs/COMPATIBILITY.md", "the document to rewrite")
	flag.Parse()
	if err := run(*doc); err != nil {
		fmt.Fprintln(os.Stderr, "compatdoc:", err)
		os.Exit(1)
	}
}

func run(path string) error {
	old, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	apis, err := matrix.Served()
	if err != nil {
		return err
	}
	doc, err := matrix.Document(old, apis)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return os.WriteFile(path, doc, 0o644)
}
