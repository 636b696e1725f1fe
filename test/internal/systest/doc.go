// Package systest is what raftline's system-test suites (test/process,
// test/observability, test/compose, test/chaos) share: finding the module
// root and building its binaries, waiting on conditions instead of sleeping,
// reading the end of a log, and running a program as a restartable child
// process whose output is appended to a log file, started directly or
// through a wrapper (a network namespace), with the exits nobody asked for
// recorded as crashes.
//
// The nodes' command lines come from internal/clusterspec, which `raftline
// dev` shares, and the ports they listen on from internal/testports.
//
// The suites differ in what they run (binaries on loopback, containers, nodes
// in network namespaces) and keep that part themselves; this package holds
// only what would otherwise be copied between them.
package systest
