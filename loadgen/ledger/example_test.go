package ledger_test

import (
	"fmt"

	"github.com/raftline/raftline/loadgen/ledger"
)

// A chaos test tells the ledger what the producer had acknowledged and what
// the consumer read, then asks for the verdict.
func Example() {
	l := ledger.New()

	// Producer callbacks: record id 1 and 2 acknowledged in partition 0.
	l.Acked(0, 0, 1)
	l.Acked(0, 1, 2)

	// Consumer: record 1 read twice, record 2 never.
	l.Consumed(0, 0, 1)
	l.Consumed(0, 0, 1)

	r := l.Report()
	fmt.Println(r.OK(), r.Lost, r.Duplicated, r.Redelivered)
	fmt.Println(r.Examples[0])
	// Output:
	// false 1 1 1
	// lost: record 2 acked at partition 0 offset 1
}
