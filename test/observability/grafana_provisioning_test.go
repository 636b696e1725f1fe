package observability

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/raftline/raftline/dashboards"
)

// Grafana cannot be run here, so these tests hold the committed
// dashboards/json files to what Grafana's file provisioning does with a
// file: it decodes the whole file as one dashboard model and refuses a model
// whose title is empty ("Dashboard title cannot be empty"). An HTTP API
// envelope ({"dashboard": {...}, "overwrite": ...} or a GET's
// {"meta": ..., "dashboard": ...}) therefore fails to load, or loads as an
// empty dashboard, so the top level must be the dashboard itself.

// uidPattern is what Grafana accepts as a dashboard uid: at most 40
// characters of letters, digits, '-' and '_'.
var uidPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,40}$`)

// envelopeKeys are top-level keys of the dashboard HTTP API's request and
// response bodies and of the UI's export for sharing; none belongs in a
// dashboard model that provisioning loads.
var envelopeKeys = []string{"dashboard", "meta", "overwrite", "folderId", "folderUid", "message", "inputs", "__inputs", "__requires"}

// provisionedModel is what provisioningProblems learned about one file.
type provisionedModel struct {
	uid, title string
}

// provisioningProblems lists what would stop Grafana's file provisioning
// from loading the file named name with content b as the dashboard it is
// meant to be, or make it load wrongly.
func provisioningProblems(name string, b []byte) (provisionedModel, []string) {
	var m provisionedModel
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }

	var top any
	if err := json.Unmarshal(b, &top); err != nil {
		return m, []string{fmt.Sprintf("not JSON: %v", err)}
	}
	d, ok := top.(map[string]any)
	if !ok {
		return m, []string{fmt.Sprintf("top level is %T, want the dashboard object", top)}
	}
	for _, k := range envelopeKeys {
		if _, ok := d[k]; ok {
			bad("top level has %q: that is an API envelope, not the dashboard model provisioning loads", k)
		}
	}
	m.title, _ = d["title"].(string)
	if strings.TrimSpace(m.title) == "" {
		bad(`top-level "title" is missing or empty; Grafana refuses it with "Dashboard title cannot be empty"`)
	}
	m.uid, _ = d["uid"].(string)
	if !uidPattern.MatchString(m.uid) {
		bad(`top-level "uid" %q is not a Grafana uid (1-40 of [A-Za-z0-9_-])`, m.uid)
	} else if want := m.uid + ".json"; name != want {
		bad("file is named %s, want %s (one file per uid)", name, want)
	}
	if id, ok := d["id"]; ok && id != nil {
		bad(`top-level "id" is %v; a provisioned model leaves it null so Grafana assigns its own`, id)
	}
	if v, ok := d["schemaVersion"].(float64); !ok || v < 1 {
		bad(`"schemaVersion" is %v, want a positive number (Grafana migrates the model from it)`, d["schemaVersion"])
	}
	panels, ok := d["panels"].([]any)
	if !ok || len(panels) == 0 {
		bad(`top-level "panels" is %T with no panels`, d["panels"])
	}
	if !templateVars(d)["datasource"] {
		bad(`templating defines no "datasource" variable, which the panels' ${datasource} names`)
	}
	problems = append(problems, panelProblems(panels, "")...)
	return m, problems
}

// templateVars returns the names of the dashboard's template variables.
func templateVars(d map[string]any) map[string]bool {
	out := map[string]bool{}
	tmpl, _ := d["templating"].(map[string]any)
	list, _ := tmpl["list"].([]any)
	for _, v := range list {
		m, _ := v.(map[string]any)
		if name, _ := m["name"].(string); name != "" {
			out[name] = true
		}
	}
	return out
}

// panelProblems checks every panel, including those nested in rows: each
// has a type and a grid position, and each query panel names its data
// source through the ${datasource} variable and has targets with a refId
// and a PromQL expression; a trace panel names the Jaeger data source
// through ${traces} and has searches; an alert list names the provisioned
// Prometheus data source as its rule source.
func panelProblems(panels []any, row string) []string {
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	for i, raw := range panels {
		p, ok := raw.(map[string]any)
		if !ok {
			bad("%spanel %d is %T, not an object", row, i, raw)
			continue
		}
		title, _ := p["title"].(string)
		where := row + "panel " + title
		typ, _ := p["type"].(string)
		if typ == "" {
			bad("%s: no type", where)
		}
		if _, ok := p["gridPos"].(map[string]any); !ok {
			bad("%s: no gridPos; Grafana would stack it at the top", where)
		}
		if typ == "row" {
			nested, _ := p["panels"].([]any)
			problems = append(problems, panelProblems(nested, "row "+title+" / ")...)
			continue
		}
		if typ == dashboards.AlertListType {
			// Grafana's alert list: no queries, a rule source named in its
			// options (by name; it cannot follow ${datasource}).
			opts, _ := p["options"].(map[string]any)
			if name, _ := opts["datasource"].(string); name != dashboards.DefaultDatasourceName {
				bad("%s: alert list reads rule source %q, want the provisioned %q", where, name, dashboards.DefaultDatasourceName)
			}
			continue
		}
		ds, _ := p["datasource"].(map[string]any)
		targets, _ := p["targets"].([]any)
		if dsType, _ := ds["type"].(string); dsType == "jaeger" {
			// A trace panel: the Jaeger data source through the ${traces}
			// variable, with searches rather than PromQL.
			if uid, _ := ds["uid"].(string); uid != "${traces}" {
				bad("%s: Jaeger datasource %v, want uid ${traces}", where, p["datasource"])
			}
			if len(targets) == 0 {
				bad("%s: no targets", where)
			}
			for j, raw := range targets {
				tg, _ := raw.(map[string]any)
				ref, _ := tg["refId"].(string)
				service, _ := tg["service"].(string)
				if qt, _ := tg["queryType"].(string); ref == "" || qt != "search" || service == "" {
					bad("%s: target %d is not a Jaeger search with a refId and a service: %v", where, j, tg)
				}
			}
			continue
		}
		if uid, _ := ds["uid"].(string); uid != "${datasource}" && uid != "$datasource" {
			bad("%s: datasource %v, want uid ${datasource} so the dashboard works with any Prometheus", where, p["datasource"])
		}
		if len(targets) == 0 {
			bad("%s: no targets", where)
		}
		for j, raw := range targets {
			tg, _ := raw.(map[string]any)
			if ref, _ := tg["refId"].(string); ref == "" {
				bad("%s: target %d has no refId", where, j)
			}
			if expr, _ := tg["expr"].(string); strings.TrimSpace(expr) == "" {
				bad("%s: target %d has no expr", where, j)
			}
		}
	}
	return problems
}

func dashboardFiles(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(repoRoot, "dashboards", "json", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no dashboards/json/*.json to provision")
	}
	return files
}

func TestDashboardJSON_IsBareModelThatGrafanaFileProvisioningLoads(t *testing.T) {
	qs, err := dashboards.Queries()
	if err != nil {
		t.Fatal(err)
	}
	var built []string
	for _, d := range qs {
		built = append(built, d.UID)
	}
	uids := map[string]string{}
	titles := map[string]string{}
	for _, f := range dashboardFiles(t) {
		name := filepath.Base(f)
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		m, problems := provisioningProblems(name, b)
		for _, p := range problems {
			t.Errorf("%s: %s", name, p)
		}
		if !slices.Contains(built, m.uid) {
			t.Errorf("%s: uid %q is not a dashboard the dashboards package builds: a stale file would still be provisioned", name, m.uid)
		}
		if prev, dup := uids[m.uid]; dup {
			t.Errorf("%s: uid %q is also used by %s", name, m.uid, prev)
		}
		uids[m.uid] = name
		if prev, dup := titles[m.title]; dup {
			t.Errorf("%s: title %q is also used by %s; provisioning into one folder needs unique titles", name, m.title, prev)
		}
		titles[m.title] = name
	}
	for _, uid := range built {
		if _, ok := uids[uid]; !ok {
			t.Errorf("dashboard %q is built but has no dashboards/json/%s.json to provision", uid, uid)
		}
	}
}

// TestDashboardJSON_ProvisioningCheckRejectsAPIEnvelope wraps a committed
// dashboard in the HTTP API's envelope, which Grafana's provisioning would
// load as an untitled, empty dashboard, and checks that the check above
// refuses it.
func TestDashboardJSON_ProvisioningCheckRejectsAPIEnvelope(t *testing.T) {
	f := dashboardFiles(t)[0]
	b, err := os.ReadFile(f)
	if err != nil {
		t.Fatal(err)
	}
	wrapped := fmt.Appendf(nil, `{"dashboard": %s, "folderUid": "", "overwrite": true}`, b)
	_, problems := provisioningProblems(filepath.Base(f), wrapped)
	joined := strings.Join(problems, "\n")
	for _, want := range []string{`top level has "dashboard"`, `"title" is missing or empty`, `"panels"`} {
		if !strings.Contains(joined, want) {
			t.Errorf("the envelope was not refused for %s; problems found:\n%s", want, joined)
		}
	}
}
