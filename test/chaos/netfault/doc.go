// Package netfault builds a private network of Linux network namespaces for
// a test cluster and injects faults into it: partitions and one-way cuts with
// iptables, packet loss with iptables' statistic match, latency and slow
// connection close by holding packets in an NFQUEUE, and bandwidth limits
// with an HTB qdisc.
//
// Each node gets its own namespace with one veth link to a bridge in a
// router namespace; the test process reaches the nodes from the root
// namespace through one more veth on that bridge. Every rule is installed in
// a node's own namespace, on the path its Raft and Kafka traffic really
// takes, so a fault cannot be bypassed.
//
// Latency is not done with tc netem on purpose: kernels built without
// CONFIG_NET_SCH_NETEM (the CI machine's among them) have no netem, while
// NFQUEUE is part of every netfilter build. The delay is applied per packet
// in the kernel's forwarding path; only the verdict comes from this process.
//
// Everything here needs root and Linux.
package netfault
