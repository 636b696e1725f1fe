// Package dashboards defines raftline's Grafana dashboards in Go.
//
// Each dashboard lives in its own file and is built with the Grafana
// foundation SDK. The JSON that Grafana's file provisioning loads is generated
// from this code into json/<uid>.json and committed; a test fails when the
// committed files drift from the code.
//
// Besides the dashboards themselves the package exports what an end-to-end
// test needs to run every panel against a live cluster: [Queries] lists every
// panel's PromQL, [Expand] turns Grafana variables into concrete values, and
// [MetricNames] lists the metric names the queries read.
package dashboards

//go:generate go run ../cmd/dashgen -out json
