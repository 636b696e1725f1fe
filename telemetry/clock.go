package telemetry

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// clockCollector exports raftline_node_time_seconds, the node's wall clock
// read as it is scraped. Prometheus stamps the sample with its own clock at
// the start of the scrape, so value - timestamp(value) is the node's offset
// from Prometheus, give or take the scrape's first milliseconds; two nodes'
// offsets subtracted are their skew, whatever Prometheus' own clock says
// (node_exporter's node_time_seconds, read the same way). The leader's
// clock matters: it stamps LogAppendTime and decides time-based retention
// and segment rolls, so a leader whose clock runs ahead of its followers
// deletes data early and moves timestamps backwards when leadership moves.
type clockCollector struct{ desc *prometheus.Desc }

func newClockCollector() clockCollector {
	return clockCollector{desc: prometheus.NewDesc("raftline_node_time_seconds",
		"The node's wall clock as Unix seconds, read when scraped: minus the sample's timestamp it is the node's clock offset from Prometheus.", nil, nil)}
}

func (c clockCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c clockCollector) Collect(ch chan<- prometheus.Metric) {
	ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(time.Now().UnixNano())/1e9)
}
