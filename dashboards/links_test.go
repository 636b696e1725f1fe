package dashboards

import (
	"encoding/json"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
)

// Data links to the Node dashboard carry the clicked series' node, the
// time range and the data source and job; they sit only on panels whose
// series carry node_id.
func TestNodeDataLinks(t *testing.T) {
	n := 0
	for _, d := range mustBuild(t) {
		for _, p := range panels(d) {
			if p.FieldConfig == nil {
				continue
			}
			for _, l := range p.FieldConfig.Defaults.Links {
				u := deref(l.Url)
				if !strings.HasPrefix(u, "/d/"+UIDNode+"/") {
					continue
				}
				n++
				where := *d.Uid + " / " + deref(p.Title)
				for _, want := range []string{"var-node=${__field.labels.node_id}", "${__url_time_range}", "${datasource:queryparam}", "${job:queryparam}"} {
					if !strings.Contains(u, want) {
						t.Errorf("%s: node link %q lacks %s", where, u, want)
					}
				}
				for _, e := range exprs(p) {
					if !strings.Contains(e, "node_id") {
						t.Errorf("%s: node link on a query without node_id: %s", where, e)
					}
				}
			}
		}
	}
	for _, want := range []struct{ uid, title string }{
		{UIDOverview, "Raft state per node"}, {UIDOverview, "Disk full in"}, {UIDOverview, "Version per node"},
		{UIDRaft, "Follower lag"}, {UIDJourney, "3. Replication round trip per follower"},
	} {
		p := findPanel(t, want.uid, want.title)
		if !slices.ContainsFunc(p.FieldConfig.Defaults.Links, func(l dashboard.DashboardLink) bool {
			return strings.HasPrefix(deref(l.Url), "/d/"+UIDNode+"/")
		}) {
			t.Errorf("%s / %s: per-node panel without a link to the Node dashboard", want.uid, want.title)
		}
	}
	if n == 0 {
		t.Error("no panel links to the Node dashboard")
	}
}

// The trace search link opens Explore on the traces variable's data source
// with the trace panel's search, over the dashboard's time range.
func TestTraceSearchLink(t *testing.T) {
	p := findPanel(t, UIDJourney, "Produce request latency")
	var u string
	for _, l := range p.FieldConfig.Defaults.Links {
		if strings.HasPrefix(deref(l.Url), "/explore?") {
			u = deref(l.Url)
		}
	}
	if u == "" {
		t.Fatal("no Explore link on Produce request latency")
	}
	parsed, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	var panes map[string]struct {
		Datasource string            `json:"datasource"`
		Queries    []JaegerQuery     `json:"queries"`
		Range      map[string]string `json:"range"`
	}
	if err := json.Unmarshal([]byte(parsed.Query().Get("panes")), &panes); err != nil {
		t.Fatalf("panes of %q: %v", u, err)
	}
	a := panes["a"]
	if a.Datasource != "${traces}" || a.Range["from"] != "${__from}" || a.Range["to"] != "${__to}" {
		t.Errorf("pane %+v: want datasource ${traces} over ${__from}..${__to}", a)
	}
	want := traceSearch()
	if len(a.Queries) != 1 || a.Queries[0].Service != want.Service || a.Queries[0].Operation != want.Operation || a.Queries[0].QueryType != "search" {
		t.Errorf("queries %+v, want the trace panel's search %+v", a.Queries, want)
	}
}
