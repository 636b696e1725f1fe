// Package chaos is raftline's failure suite: real `raftline serve`
// processes, each in its own network namespace, under acks=all load while
// real faults hit them (SIGKILL, SIGTERM, SIGSTOP, partitions, one-way cuts,
// latency, packet loss, slow close, bandwidth limits, a full disk). A scenario passes only
// when its fault was shown to take effect, every acknowledged record is read
// back exactly where it was acknowledged (and, in the scenarios with a consumer
// group, read by the group at least once, never again below an offset whose
// commit was acknowledged), and every replica's partition logs are
// byte-identical.
//
// The scenarios need root and are built only with the chaos tag:
//
//	make chaos
//
// docs/CHAOS.md describes the mechanism, the scenarios and their criteria.
package chaos
