package dashboards

import (
	"encoding/json"
	"net/url"
	"regexp"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/cog/variants"
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/table"
	"github.com/grafana/grafana-foundation-sdk/go/units"
)

// DefaultTracesDatasourceUID is the uid the bundled Grafana provisioning
// gives the Jaeger data source; the traces variable starts on it.
const DefaultTracesDatasourceUID = "jaeger"

// TraceService is the service.name raftline's spans carry by default
// (telemetry.DefaultServiceName; OTEL_SERVICE_NAME changes it).
const TraceService = "raftline"

// TraceOperation is the span every traced write has once on its leader:
// from raft.ApplyLog to the leader's FSM returning (telemetry/DESIGN.md).
const TraceOperation = "propose"

// tracesDatasource points trace panels at the $traces variable.
func tracesDatasource() common.DataSourceRef {
	return common.DataSourceRef{Type: cog.ToPtr("jaeger"), Uid: cog.ToPtr("${traces}")}
}

func tracesVariable() *dashboard.DatasourceVariableBuilder {
	return datasourceVariableOf("traces", "Traces", "jaeger", DefaultTracesDatasourceUID)
}

// JaegerQuery is a Jaeger data source search, as Grafana stores it: the
// SDK has no Jaeger query type.
type JaegerQuery struct {
	RefID      string                `json:"refId"`
	Datasource *common.DataSourceRef `json:"datasource,omitempty"`
	QueryType  string                `json:"queryType"`
	Service    string                `json:"service"`
	Operation  string                `json:"operation,omitempty"`
	Limit      int                   `json:"limit,omitempty"`
}

func (JaegerQuery) ImplementsDataqueryVariant() {}
func (JaegerQuery) DataqueryType() string       { return "jaeger" }
func (JaegerQuery) Validate() error             { return nil }
func (q JaegerQuery) Equals(o variants.Dataquery) bool {
	other, ok := o.(JaegerQuery)
	return ok && other == q
}

// Build makes a JaegerQuery its own builder.
func (q JaegerQuery) Build() (variants.Dataquery, error) { return q, nil }

// traceSearch is the search the trace panel and links run: the writes'
// propose spans of the service.
func traceSearch() JaegerQuery {
	return JaegerQuery{RefID: "A", Datasource: cog.ToPtr(tracesDatasource()), QueryType: "search",
		Service: TraceService, Operation: TraceOperation, Limit: 20}
}

// traceSearchPanel lists the latest traced writes of the time range; a
// trace id opens the trace.
func traceSearchPanel(title, description string) *table.PanelBuilder {
	return table.NewPanelBuilder().
		Title(title).
		Unit(units.NoUnit).
		Description(description).
		Datasource(tracesDatasource()).
		Height(graphHeight).
		Span(halfWidth).
		WithTarget(traceSearch())
}

// traceSearchLink opens the trace search in Explore over the panel's time
// range.
func traceSearchLink() cog.Builder[dashboard.DashboardLink] {
	q := traceSearch()
	q.Datasource = &common.DataSourceRef{Type: cog.ToPtr("jaeger"), Uid: cog.ToPtr("${traces}")}
	pane := map[string]any{"a": map[string]any{
		"datasource": "${traces}",
		"queries":    []any{q},
		"range":      map[string]string{"from": "${__from}", "to": "${__to}"},
	}}
	b, _ := json.Marshal(pane)
	return dataLink("Traces of these writes in the time range", "/explore?schemaVersion=1&panes="+escapeKeepingVars(string(b)))
}

// escapeKeepingVars query-escapes s but leaves Grafana's ${...} variables
// as they are, so Grafana still interpolates them.
func escapeKeepingVars(s string) string {
	out, last := "", 0
	for _, m := range dataLinkVar.FindAllStringIndex(s, -1) {
		out += url.QueryEscape(s[last:m[0]]) + s[m[0]:m[1]]
		last = m[1]
	}
	return out + url.QueryEscape(s[last:])
}

var dataLinkVar = regexp.MustCompile(`\$\{[^}]+\}`)

// dataLink is a link on a panel's values: Grafana fills in the clicked
// series' labels (${__field.labels.x}) and the time range.
func dataLink(title, u string) cog.Builder[dashboard.DashboardLink] {
	return dashboard.NewDashboardLinkBuilder(title).
		Type(dashboard.DashboardLinkTypeLink).
		Url(u)
}

// nodeLink opens the Node dashboard for the clicked series' node over the
// same time range, data source and job.
func nodeLink() cog.Builder[dashboard.DashboardLink] {
	return dataLink("Node ${__field.labels.node_id}: process, runtime and disk",
		"/d/"+UIDNode+"/raftline-node?var-node=${__field.labels.node_id}&${__url_time_range}&${datasource:queryparam}&${cluster:queryparam}&${job:queryparam}")
}
