package dashboards

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/prometheus"
	"github.com/grafana/grafana-foundation-sdk/go/stat"
	"github.com/grafana/grafana-foundation-sdk/go/timeseries"
)

// Tag is carried by every raftline dashboard. The dashboards link to each
// other through it, so a new dashboard joins the navigation by being tagged.
const Tag = "raftline"

// DefaultDatasourceUID is the uid the bundled Grafana provisioning gives the
// Prometheus data source; the datasource variable starts on it.
const DefaultDatasourceUID = "prometheus"

// Grid sizes. Grafana's grid is 24 columns wide.
const (
	statHeight  = 4
	graphHeight = 8
	fullWidth   = 24
	halfWidth   = 12
	thirdWidth  = 8
)

// datasource points panels and variables at whatever the $datasource
// variable selects, so one dashboard serves every Prometheus that scrapes a
// cluster.
func datasource() common.DataSourceRef {
	return common.DataSourceRef{
		Type: cog.ToPtr("prometheus"),
		Uid:  cog.ToPtr("${datasource}"),
	}
}

// newDashboard returns a builder with what every raftline dashboard shares:
// the tag, the time settings, the variables and the links to its siblings.
// extraVars are appended after the shared ones.
func newDashboard(uid, title, description string, extraVars ...cog.Builder[dashboard.VariableModel]) *dashboard.DashboardBuilder {
	b := dashboard.NewDashboardBuilder(title).
		Uid(uid).
		Description(description).
		Tags([]string{Tag}).
		Time("now-1h", "now").
		Refresh("30s").
		Timezone(common.TimeZoneBrowser).
		Tooltip(dashboard.DashboardCursorSyncCrosshair).
		WithVariable(datasourceVariable()).
		WithVariable(clusterVariable()).
		WithVariable(jobVariable("job", "Broker job", "raftline_build_info", "raftline")).
		WithVariable(nodeVariable()).
		Link(dashboard.NewDashboardLinkBuilder("raftline").
			Type(dashboard.DashboardLinkTypeDashboards).
			Tags([]string{Tag}).
			Icon("external link").
			Tooltip("Other raftline dashboards").
			AsDropdown(false).
			IncludeVars(true).
			KeepTime(true))
	for _, v := range extraVars {
		b.WithVariable(v)
	}
	return b
}

func datasourceVariable() *dashboard.DatasourceVariableBuilder {
	return datasourceVariableOf("datasource", "Data source", "prometheus", DefaultDatasourceUID)
}

// datasourceVariableOf is a data source variable of one plugin type,
// defaulting to the data source the compose stack provisions as uid.
func datasourceVariableOf(name, label, pluginType, uid string) *dashboard.DatasourceVariableBuilder {
	return dashboard.NewDatasourceVariableBuilder(name).
		Label(label).
		Type(pluginType).
		Current(dashboard.VariableOption{
			Selected: cog.ToPtr(true),
			Text:     dashboard.StringOrArrayOfString{String: cog.ToPtr(uid)},
			Value:    dashboard.StringOrArrayOfString{String: cog.ToPtr(uid)},
		})
}

// jobVariable offers the Prometheus jobs that export metric, starting on
// def. It is single-valued: queries match it with job="$name".
func jobVariable(name, label, metric, def string) *dashboard.QueryVariableBuilder {
	q := fmt.Sprintf(`label_values(%s{cluster=~"$cluster"}, job)`, metric)
	return dashboard.NewQueryVariableBuilder(name).
		Label(label).
		Datasource(datasource()).
		Query(dashboard.StringOrMap{String: cog.ToPtr(q)}).
		Definition(q).
		Refresh(dashboard.VariableRefreshOnDashboardLoad).
		Sort(dashboard.VariableSortAlphabeticalAsc).
		Current(dashboard.VariableOption{
			Selected: cog.ToPtr(true),
			Text:     dashboard.StringOrArrayOfString{String: cog.ToPtr(def)},
			Value:    dashboard.StringOrArrayOfString{String: cog.ToPtr(def)},
		})
}

// clusterVariable selects a cluster by the cluster label, which
// compose/prometheus.yml sets as an external label: it is on the series a
// global view (Thanos, Mimir, federation) holds, and on alerts, but a single
// Prometheus keeps its own series without it. "All" is ".*", which also
// matches series without the label, so the same dashboards work against
// both; with one cluster per Prometheus the variable offers no values and
// stays on All.
func clusterVariable() *dashboard.QueryVariableBuilder {
	q := `label_values(raftline_build_info, cluster)`
	return dashboard.NewQueryVariableBuilder("cluster").
		Label("Cluster").
		Datasource(datasource()).
		Query(dashboard.StringOrMap{String: cog.ToPtr(q)}).
		Definition(q).
		Refresh(dashboard.VariableRefreshOnDashboardLoad).
		Sort(dashboard.VariableSortAlphabeticalAsc).
		IncludeAll(true).
		AllValue(".*").
		Current(dashboard.VariableOption{
			Selected: cog.ToPtr(true),
			Text:     dashboard.StringOrArrayOfString{String: cog.ToPtr("All")},
			Value:    dashboard.StringOrArrayOfString{String: cog.ToPtr("$__all")},
		})
}

// nodeVariable selects raft nodes by node_id. "All" expands to ".*" rather
// than an alternation of every id so that queries stay short and a node that
// joins later is included without a reload.
func nodeVariable() *dashboard.QueryVariableBuilder {
	q := `label_values(raftline_build_info{job="$job", cluster=~"$cluster"}, node_id)`
	return dashboard.NewQueryVariableBuilder("node").
		Label("Node").
		Datasource(datasource()).
		Query(dashboard.StringOrMap{String: cog.ToPtr(q)}).
		Definition(q).
		Refresh(dashboard.VariableRefreshOnTimeRangeChanged).
		Sort(dashboard.VariableSortNaturalAsc).
		Multi(true).
		IncludeAll(true).
		AllValue(".*").
		Current(dashboard.VariableOption{
			Selected: cog.ToPtr(true),
			Text:     dashboard.StringOrArrayOfString{ArrayOfString: []string{"All"}},
			Value:    dashboard.StringOrArrayOfString{ArrayOfString: []string{"$__all"}},
		})
}

// query is one PromQL target; legend is Grafana's legend format. A latency
// quantile read from a histogram's buckets shows the buckets' exemplars:
// each is a request's trace id, which the Prometheus datasource links to
// the trace in Jaeger (compose/grafana/provisioning/datasources).
func query(expr, legend string) *prometheus.DataqueryBuilder {
	q := prometheus.NewDataqueryBuilder().Expr(expr).LegendFormat(legend)
	if strings.Contains(expr, "histogram_quantile(") && strings.Contains(expr, "_bucket") {
		q.Exemplar(true)
	}
	return q
}

// refID names targets A, B, C... so the order in the JSON never changes.
func refID(i int) string {
	if i < 26 {
		return string(rune('A' + i))
	}
	return "Q" + strconv.Itoa(i)
}

// timeseriesPanel is a half-width graph. Every panel states its unit and
// what it means, which is why both are parameters rather than options.
func timeseriesPanel(title, unit, description string, targets ...*prometheus.DataqueryBuilder) *timeseries.PanelBuilder {
	p := timeseries.NewPanelBuilder().
		Title(title).
		Unit(unit).
		Description(description).
		Datasource(datasource()).
		Height(graphHeight).
		Span(halfWidth).
		LineWidth(1).
		FillOpacity(10).
		ShowPoints(common.VisibilityModeNever).
		Legend(common.NewVizLegendOptionsBuilder().
			ShowLegend(true).
			DisplayMode(common.LegendDisplayModeList).
			Placement(common.LegendPlacementBottom)).
		Tooltip(common.NewVizTooltipOptionsBuilder().
			Mode(common.TooltipDisplayModeMulti).
			Sort(common.SortOrderDescending))
	for i, t := range targets {
		p.WithTarget(t.RefId(refID(i)))
	}
	if perNode(targets) {
		p.DataLinks(nodeLinks())
	}
	return p
}

// statPanel is a small single-value panel showing the latest value.
func statPanel(title, unit, description string, targets ...*prometheus.DataqueryBuilder) *stat.PanelBuilder {
	p := stat.NewPanelBuilder().
		Title(title).
		Unit(unit).
		Description(description).
		Datasource(datasource()).
		Height(statHeight).
		Span(4).
		ReduceOptions(common.NewReduceDataOptionsBuilder().Calcs([]string{"lastNotNull"})).
		ColorMode(common.BigValueColorModeValue).
		GraphMode(common.BigValueGraphModeNone).
		TextMode(common.BigValueTextModeAuto).
		Orientation(common.VizOrientationAuto)
	for i, t := range targets {
		p.WithTarget(t.RefId(refID(i)))
	}
	if perNode(targets) {
		p.DataLinks(nodeLinks())
	}
	return p
}

// step is one threshold: from value upwards the colour is color.
type step struct {
	value float64
	color string
}

// thresholds colours values below the first step base.
func thresholds(base string, steps ...step) *dashboard.ThresholdsConfigBuilder {
	ts := []dashboard.Threshold{{Color: base}}
	for _, s := range steps {
		ts = append(ts, dashboard.Threshold{Value: cog.ToPtr(s.value), Color: s.color})
	}
	return dashboard.NewThresholdsConfigBuilder().
		Mode(dashboard.ThresholdsModeAbsolute).
		Steps(ts)
}

// limits is the common case where higher is worse: orange from warn, red
// from crit.
func limits(warn, crit float64) *dashboard.ThresholdsConfigBuilder {
	return thresholds("green", step{warn, "orange"}, step{crit, "red"})
}

// withLimits draws limits on a graph as dashed lines, leaving series in their
// own colours so that several nodes stay distinguishable.
func withLimits(p *timeseries.PanelBuilder, warn, crit float64) *timeseries.PanelBuilder {
	return p.Thresholds(limits(warn, crit)).
		ThresholdsStyle(common.NewGraphThresholdsStyleConfigBuilder().
			Mode(common.GraphThresholdsStyleModeDashed))
}

// mapped turns one exact value into text and a colour.
type mapped struct {
	value, text, color string
}

// valueMappings shows states encoded as numbers by name.
func valueMappings(ms ...mapped) []dashboard.ValueMapping {
	opts := map[string]dashboard.ValueMappingResult{}
	for i, m := range ms {
		opts[m.value] = dashboard.ValueMappingResult{
			Text:  cog.ToPtr(m.text),
			Color: cog.ToPtr(m.color),
			Index: cog.ToPtr(int32(i)),
		}
	}
	return []dashboard.ValueMapping{{
		ValueMap: &dashboard.ValueMap{Type: dashboard.MappingTypeValueToText, Options: opts},
	}}
}

// fixedColor is an override property that paints matched series in color,
// for series whose meaning is fixed (failures are red).
func fixedColor(color string) []dashboard.DynamicConfigValue {
	return []dashboard.DynamicConfigValue{{
		Id:    "color",
		Value: map[string]any{"mode": "fixed", "fixedColor": color},
	}}
}

// perNode reports whether every target draws one series per node (its
// legend names the node): such panels link to the Node dashboard.
func perNode(targets []*prometheus.DataqueryBuilder) bool {
	if len(targets) == 0 {
		return false
	}
	for _, t := range targets {
		q, err := t.Build()
		if err != nil {
			return false
		}
		pq, ok := q.(prometheus.Dataquery)
		if !ok || pq.LegendFormat == nil || !strings.Contains(*pq.LegendFormat, "{{node_id}}") {
			return false
		}
	}
	return true
}
