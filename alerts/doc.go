// Package alerts defines raftline's Prometheus recording and alerting rules
// in Go and renders them to rules.yml.
//
// The rules live in code so that thresholds sit next to the reasoning behind
// them, every alert is forced to carry the same labels and annotations, and
// tests can reason about the rules (which metrics they read, which alerts
// have runbooks and promtool cases) without parsing YAML back. rules.yml is
// committed so Prometheus deployments can use it without a Go toolchain; a
// test fails when it drifts from what the code generates.
//
// Regenerate with:
//
//	go generate ./alerts/...
package alerts

//go:generate go run ../cmd/alertgen -o rules.yml
