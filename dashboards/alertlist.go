package dashboards

import (
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/units"
)

// AlertListType is the panel type of Grafana's alert list.
const AlertListType = "alertlist"

// DefaultDatasourceName is the name the bundled Grafana provisioning gives
// the Prometheus data source (uid DefaultDatasourceUID). The alert list
// selects its rule source by name, not uid, and does not interpolate
// variables there, so it cannot follow $datasource.
const DefaultDatasourceName = "Prometheus"

// AlertListOptions are the options of Grafana's alert list panel
// (public/app/plugins/panel/alertlist/types.ts, UnifiedAlertListOptions):
// the SDK has no builder for it.
//
// The alert list reads alert rules and their instances from rule sources:
// Grafana's own rules and data-source-managed rules of a Prometheus or Loki
// data source (Prometheus' /api/v1/rules, through Grafana). An Alertmanager
// data source is not a rule source, so it cannot list the alerts
// Alertmanager holds; it shows the same alerts as Prometheus evaluates
// them, with pending ones too.
type AlertListOptions struct {
	ViewMode  string   `json:"viewMode"`  // "list" or "stat"
	GroupMode string   `json:"groupMode"` // "default": instances grouped by rule
	GroupBy   []string `json:"groupBy"`
	MaxItems  int      `json:"maxItems"`
	// SortOrder: 1 name ascending, 2 descending, 3 importance (firing
	// first), 4 time ascending, 5 descending.
	SortOrder       int    `json:"sortOrder"`
	DashboardAlerts bool   `json:"dashboardAlerts"`
	AlertName       string `json:"alertName"`
	// AlertInstanceLabelFilter is an Alertmanager-style matcher list over
	// the instances' labels; Grafana interpolates variables in it.
	AlertInstanceLabelFilter string `json:"alertInstanceLabelFilter"`
	// Datasource is the rule source's data source name.
	Datasource         string           `json:"datasource"`
	ShowInactiveAlerts bool             `json:"showInactiveAlerts"`
	StateFilter        AlertStateFilter `json:"stateFilter"`
}

// AlertStateFilter picks the alert states the list shows.
type AlertStateFilter struct {
	Firing     bool `json:"firing"`
	Pending    bool `json:"pending"`
	Recovering bool `json:"recovering"`
	NoData     bool `json:"noData"`
	Normal     bool `json:"normal"`
	Error      bool `json:"error"`
}

// alertListPanel lists the alerts firing or pending in the provisioned
// Prometheus for the dashboard's job, firing first. Rule instances carry
// the rule's labels but not Prometheus' external labels, so the list is
// filtered by job only; $cluster cannot apply.
func alertListPanel(title, description string) *dashboard.PanelBuilder {
	return dashboard.NewPanelBuilder().
		Type(AlertListType).
		Title(title).
		Description(description).
		Unit(units.NoUnit).
		Height(graphHeight).
		Span(halfWidth).
		Options(AlertListOptions{
			ViewMode:                 "list",
			GroupMode:                "default",
			GroupBy:                  []string{},
			MaxItems:                 20,
			SortOrder:                3,
			AlertInstanceLabelFilter: `{job="$job"}`,
			Datasource:               DefaultDatasourceName,
			StateFilter:              AlertStateFilter{Firing: true, Pending: true},
		})
}
