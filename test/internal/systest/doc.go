// Package systest is what raftline's system-test suites (test/process,
// test/observability, test/compose, test/chaos) share: finding the module
// root and building its binaries, waiting on conditions instead of sleeping,
// reading the end of a log, and running a program as a restartable child
// process whose output is appended to a log file.
//
// The suites differ in what they run (binaries on loopback, containers, nodes
// in network namespaces) and keep that part themselves; this package holds
// only what would otherwise be copied between them.
package systest
