// Package childproc starts the processes raftline's tests and benchmarks
// run beside themselves (nodes, load generators, Prometheus) so that they
// never outlive the program that started them and never inherit a
// developer's RAFTLINE_* settings.
package childproc

import (
	"os"
	"strings"
)

// Env is this process's environment without RAFTLINE_* variables, plus
// extra, so that a shell's settings cannot change the flags a child runs
// with.
func Env(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "RAFTLINE_") {
			env = append(env, kv)
		}
	}
	return append(env, extra...)
}
