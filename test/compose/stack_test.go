package compose

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/raftline/raftline/alerts/stackconfig"
)

// composeFile is the part of compose/compose.yaml the checks below read, in
// the short syntax the file uses.
type composeFile struct {
	Services map[string]service `yaml:"services"`
	Volumes  map[string]any     `yaml:"volumes"`
}

type service struct {
	Image       string            `yaml:"image"`
	PullPolicy  string            `yaml:"pull_policy"`
	Profiles    []string          `yaml:"profiles"`
	Entrypoint  []string          `yaml:"entrypoint"`
	Command     []string          `yaml:"command"`
	Environment map[string]string `yaml:"environment"`
	Ports       []string          `yaml:"ports"`
	Volumes     []string          `yaml:"volumes"`
	Healthcheck struct {
		Test []string `yaml:"test"`
	} `yaml:"healthcheck"`
	DependsOn map[string]struct {
		Condition string `yaml:"condition"`
	} `yaml:"depends_on"`
	Ulimits map[string]ulimit `yaml:"ulimits"`
}

// ulimit is one of a service's ulimits: Compose takes a single number for
// both limits or soft and hard apart.
type ulimit struct{ Soft, Hard int }

func (u *ulimit) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		if err := n.Decode(&u.Soft); err != nil {
			return err
		}
		u.Hard = u.Soft
		return nil
	}
	var both struct{ Soft, Hard int }
	if err := n.Decode(&both); err != nil {
		return err
	}
	*u = ulimit(both)
	return nil
}

// composeNofile is the descriptor limit compose.yaml gives each node unless
// RAFTLINE_NOFILE says otherwise: four files per partition segment, so
// about 16000 segments with room for connections.
const composeNofile = 65536

var interpolation = regexp.MustCompile(`\$\{([A-Za-z0-9_]+)(?::-([^}]*))?\}`)

// loadCompose reads compose.yaml with every variable at its default, as
// `make up` runs it.
func loadCompose(t testing.TB) composeFile {
	t.Helper()
	src, err := os.ReadFile(filepath.Join(composeDir, "compose.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	src = interpolation.ReplaceAll(src, []byte("$2"))
	var f composeFile
	if err := yaml.Unmarshal(src, &f); err != nil {
		t.Fatalf("compose.yaml: %v", err)
	}
	return f
}

// mount is a bind mount: a file or directory of the repository seen at a
// path inside a container.
type mount struct{ source, target string }

// binds lists a service's bind mounts with sources made absolute; named
// volumes are left out.
func (s service) binds() []mount {
	var out []mount
	for _, v := range s.Volumes {
		parts := strings.Split(v, ":")
		if len(parts) < 2 || !strings.HasPrefix(parts[0], ".") && !strings.HasPrefix(parts[0], "/") {
			continue
		}
		src := parts[0]
		if !filepath.IsAbs(src) {
			src = filepath.Join(composeDir, src)
		}
		out = append(out, mount{source: filepath.Clean(src), target: parts[1]})
	}
	return out
}

// hostPath maps a path inside the service's container to the repository
// file mounted there, or "" when nothing is.
func (s service) hostPath(containerPath string) string {
	for _, m := range s.binds() {
		if containerPath == m.target {
			return m.source
		}
		if rel, ok := strings.CutPrefix(containerPath, m.target+"/"); ok {
			return filepath.Join(m.source, rel)
		}
	}
	return ""
}

// flagValue returns the value of --name=value in a command line.
func flagValue(args []string, name string) string {
	for _, a := range args {
		if v, ok := strings.CutPrefix(a, "--"+name+"="); ok {
			return v
		}
	}
	return ""
}

// The whole file, every profile included, must be valid to Compose itself.
func TestComposeFile_ValidForDockerCompose(t *testing.T) {
	cmd := mustDocker(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	args := append(cmd[1:], "-f", filepath.Join(composeDir, "compose.yaml"), "--profile", "load", "config", "-q")
	if _, err := run(ctx, hermeticEnv(), cmd[0], args...); err != nil {
		t.Fatal(err)
	}
}

var versionTag = regexp.MustCompile(`^[a-z0-9./-]+:v?\d+\.\d+\.\d+$`)

// localImages are the images make image builds FROM scratch: never pulled,
// and with no shell or wget inside.
var localImages = map[string]bool{"raftline:local": true, "raftline-tools:local": true, "raftline-otelcol:local": true}

// Official images are pinned to a release, so `make up` means the same
// stack on every machine; the local images are never pulled.
func TestComposeFile_ImagesPinnedOrLocal(t *testing.T) {
	f := loadCompose(t)
	for name, s := range f.Services {
		switch {
		case localImages[s.Image]:
			if s.PullPolicy != "never" {
				t.Errorf("%s: image %s is built by make image; want pull_policy never, got %q", name, s.Image, s.PullPolicy)
			}
		default:
			if !versionTag.MatchString(s.Image) {
				t.Errorf("%s: image %q is not pinned to a release version", name, s.Image)
			}
		}
	}
}

// `up --wait` (and compose/stack.sh on the standalone docker-compose) waits
// for healthchecks, so every service needs one, and a service that needs
// another waits for it to be healthy rather than merely started.
func TestComposeFile_HealthchecksAndDependencies(t *testing.T) {
	f := loadCompose(t)
	for name, s := range f.Services {
		if len(s.Healthcheck.Test) < 2 || s.Healthcheck.Test[0] != "CMD" {
			t.Errorf("%s: healthcheck test %q; want an exec-form CMD", name, s.Healthcheck.Test)
		}
		if localImages[s.Image] && s.Healthcheck.Test[1] != "/raftline" {
			t.Errorf("%s: a scratch image has no shell or wget; probe with /raftline health, not %q", name, s.Healthcheck.Test[1])
		}
		for dep, d := range s.DependsOn {
			if _, ok := f.Services[dep]; !ok {
				t.Errorf("%s depends on %s, which is not a service", name, dep)
			}
			if d.Condition != "service_healthy" {
				t.Errorf("%s depends on %s with condition %q, want service_healthy", name, dep, d.Condition)
			}
		}
	}
	for _, n := range raftlineServices {
		if _, ok := f.Services["loadgen"].DependsOn[n]; !ok {
			t.Errorf("loadgen does not wait for %s", n)
		}
		if len(f.Services[n].DependsOn) > 0 {
			t.Errorf("%s depends on %v; the cluster must come up without the rest of the stack (the live test starts it alone)", n, f.Services[n].DependsOn)
		}
	}
}

var raftlineServices = []string{"raftline-1", "raftline-2", "raftline-3"}

// Each node has two Kafka listeners: the primary one, unpublished, advertises
// the service name for the compose network (and the nodes reach each other's
// HTTP API at its host); the external one is published on 127.0.0.1 and
// advertises exactly that address, so host clients need no name resolution.
// Raft members are bootstrapped by service name; data lives in a named
// volume.
func TestComposeFile_RaftlineNodes(t *testing.T) {
	f := loadCompose(t)
	var boot []string
	for i, name := range raftlineServices {
		s, ok := f.Services[name]
		if !ok {
			t.Fatalf("no service %s", name)
		}
		env := s.Environment
		if got, want := env["RAFTLINE_NODE_ID"], fmt.Sprint(i+1); got != want {
			t.Errorf("%s: RAFTLINE_NODE_ID %q, want %s", name, got, want)
		}
		listenHost, listenPort, _ := net.SplitHostPort(env["RAFTLINE_KAFKA_ADDR"])
		advHost, advPort, _ := net.SplitHostPort(env["RAFTLINE_ADVERTISED_KAFKA_ADDR"])
		if listenHost != "0.0.0.0" || advHost != name || advPort != listenPort {
			t.Errorf("%s: advertises %q while listening on %q; want 0.0.0.0 and %s on the listening port",
				name, env["RAFTLINE_ADVERTISED_KAFKA_ADDR"], env["RAFTLINE_KAFKA_ADDR"], name)
		}
		extHost, extPort, _ := net.SplitHostPort(env["RAFTLINE_KAFKA_EXTERNAL_ADDR"])
		if extHost != "0.0.0.0" || extPort == "" || extPort == listenPort {
			t.Errorf("%s: RAFTLINE_KAFKA_EXTERNAL_ADDR %q; want a listener on 0.0.0.0 beside the primary %q",
				name, env["RAFTLINE_KAFKA_EXTERNAL_ADDR"], env["RAFTLINE_KAFKA_ADDR"])
		}
		hostPort := fmt.Sprint(9092 + i)
		if want := "127.0.0.1:" + hostPort; env["RAFTLINE_ADVERTISED_KAFKA_EXTERNAL_ADDR"] != want {
			t.Errorf("%s: RAFTLINE_ADVERTISED_KAFKA_EXTERNAL_ADDR %q, want %s: the published address",
				name, env["RAFTLINE_ADVERTISED_KAFKA_EXTERNAL_ADDR"], want)
		}
		if want := "127.0.0.1:" + hostPort + ":" + extPort; !slices.Contains(s.Ports, want) {
			t.Errorf("%s: ports %v lack %s: the external listener must be published at the address it advertises", name, s.Ports, want)
		}
		for _, p := range s.Ports {
			if strings.HasSuffix(p, ":"+listenPort) {
				t.Errorf("%s: publishes %s, the primary listener, whose service-name addresses do not resolve on the host", name, p)
			}
		}
		if want := fmt.Sprintf("127.0.0.1:%d:9644", 9644+i); !slices.Contains(s.Ports, want) {
			t.Errorf("%s: ports %v lack %s", name, s.Ports, want)
		}
		if env["RAFTLINE_HTTP_ADDR"] != "0.0.0.0:9644" {
			t.Errorf("%s: RAFTLINE_HTTP_ADDR %q; Prometheus scrapes %s:9644", name, env["RAFTLINE_HTTP_ADDR"], name)
		}
		if want := name + ":9192"; env["RAFTLINE_ADVERTISED_RAFT_ADDR"] != want {
			t.Errorf("%s: RAFTLINE_ADVERTISED_RAFT_ADDR %q, want %s", name, env["RAFTLINE_ADVERTISED_RAFT_ADDR"], want)
		}
		boot = append(boot, fmt.Sprintf("%d=%s", i+1, env["RAFTLINE_ADVERTISED_RAFT_ADDR"]))
		dataDir := env["RAFTLINE_DATA_DIR"]
		if want := name + ":" + dataDir; dataDir == "" || !slices.Contains(s.Volumes, want) {
			t.Errorf("%s: volumes %v lack the named volume %s", name, s.Volumes, want)
		}
		if _, ok := f.Volumes[name]; !ok {
			t.Errorf("volume %s is not declared", name)
		}
		// Go raises the soft limit to the hard one, so the hard limit is
		// what a node gets; set, it is the same on every host.
		if nofile := s.Ulimits["nofile"]; nofile.Hard != composeNofile || nofile.Soft != nofile.Hard {
			t.Errorf("%s: ulimits nofile %+v, want soft and hard %d", name, nofile, composeNofile)
		}
		if brokers := strings.Split(f.Services["loadgen"].Environment["RAFTLINE_BROKERS"], ","); !slices.Contains(brokers, env["RAFTLINE_ADVERTISED_KAFKA_ADDR"]) {
			t.Errorf("loadgen's RAFTLINE_BROKERS %q lacks %s, the primary listener", strings.Join(brokers, ","), env["RAFTLINE_ADVERTISED_KAFKA_ADDR"])
		}
	}
	for _, name := range raftlineServices {
		if got, want := f.Services[name].Environment["RAFTLINE_BOOTSTRAP"], strings.Join(boot, ","); got != want {
			t.Errorf("%s: RAFTLINE_BOOTSTRAP %q, want %q", name, got, want)
		}
	}
}

// mountedConfig reads the file a service's --config.file flag names, through
// the service's bind mounts.
func mountedConfig(t testing.TB, f composeFile, name string) (containerPath, hostPath string) {
	t.Helper()
	s := f.Services[name]
	containerPath = flagValue(s.Command, "config.file")
	if containerPath == "" {
		t.Fatalf("%s: no --config.file in its command %q", name, s.Command)
	}
	hostPath = s.hostPath(containerPath)
	if hostPath == "" {
		t.Fatalf("%s: nothing is mounted at %s", name, containerPath)
	}
	return containerPath, hostPath
}

// listens reports whether a compose service serves host:port in the compose
// network, judged from its configuration and the image's default ports.
func listens(f composeFile, hostport string) error {
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		return err
	}
	s, ok := f.Services[host]
	if !ok {
		return fmt.Errorf("%s: no service %s", hostport, host)
	}
	defaults := map[string]string{"prometheus": "9090", "alertmanager": "9093", "grafana": "3000", "jaeger": "16686"}
	switch {
	case strings.HasPrefix(host, "raftline-"):
		_, p, _ := net.SplitHostPort(s.Environment["RAFTLINE_HTTP_ADDR"])
		if p != port {
			return fmt.Errorf("%s: %s serves HTTP on %q", hostport, host, s.Environment["RAFTLINE_HTTP_ADDR"])
		}
	case host == "loadgen" || host == "canary":
		if p := flagValue(s.Command, "metrics-addr"); p != ":"+port {
			return fmt.Errorf("%s: %s serves metrics on %q", hostport, host, p)
		}
	case host == "pager":
		if p := flagValue(s.Command, "addr"); p != ":"+port {
			return fmt.Errorf("%s: pager listens on %q", hostport, p)
		}
	case host == "jaeger" && (port == "4317" || port == "4318"):
	case host == "otelcol":
		cfg, err := readOtelcolConfig(f)
		if err != nil {
			return err
		}
		if !slices.Contains(cfg.ports(), port) {
			return fmt.Errorf("%s: the collector's configuration serves %v", hostport, cfg.ports())
		}
	default:
		if defaults[host] != port {
			return fmt.Errorf("%s: %s serves on %s", hostport, host, defaults[host])
		}
	}
	return nil
}

// promtool checks Prometheus's config as the container sees it: the file
// mounted at --config.file, loading the rule files mounted where it names
// them, with every rule lint fatal. Every target it scrapes or alerts to is
// a service of the stack. (This is the one promtool check of
// compose/prometheus.yml; alerts/ checks what the rules expect of it.)
func TestPrometheusConfig_AsMounted(t *testing.T) {
	promtool := mustTool(t, "promtool", "prometheus")
	f := loadCompose(t)
	_, cfgPath := mountedConfig(t, f, "prometheus")
	src, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := stackconfig.ReadPrometheus(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.RuleFiles) == 0 {
		t.Error("prometheus.yml loads no rule files")
	}
	// The rule files exist only at their mount paths inside the container:
	// check a copy of the config that loads the files mounted there.
	dir := t.TempDir()
	var copies []string
	for i, rf := range cfg.RuleFiles {
		host := f.Services["prometheus"].hostPath(rf)
		if host == "" {
			t.Fatalf("rule file %s is not mounted into the prometheus service", rf)
		}
		rules, err := os.ReadFile(host)
		if err != nil {
			t.Fatalf("rule file %s is mounted from %s: %v", rf, host, err)
		}
		cp := filepath.Join(dir, fmt.Sprintf("rules-%d.yml", i))
		if err := os.WriteFile(cp, rules, 0o644); err != nil {
			t.Fatal(err)
		}
		copies = append(copies, cp)
	}
	var doc map[string]any
	if err := yaml.Unmarshal(src, &doc); err != nil {
		t.Fatal(err)
	}
	doc["rule_files"] = copies
	local, err := yaml.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	cfgCopy := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfgCopy, local, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(promtool, "check", "config", "--lint=all", "--lint-fatal", cfgCopy).CombinedOutput()
	if err != nil {
		t.Fatalf("promtool check config: %v\n%s", err, out)
	}
	if want := fmt.Sprintf("SUCCESS: %d rule files found", len(cfg.RuleFiles)); !strings.Contains(string(out), want) {
		t.Errorf("promtool did not load the mounted rules:\n%s", out)
	}

	for _, target := range cfg.AlertmanagerTargets() {
		if err := listens(f, target); err != nil {
			t.Errorf("alerting target: %v", err)
		}
	}
	jobs := cfg.Targets()
	for job, targets := range jobs {
		for _, target := range targets {
			if err := listens(f, target); err != nil {
				t.Errorf("job %s: %v", job, err)
			}
		}
	}
	for _, n := range raftlineServices {
		if !slices.Contains(jobs["raftline"], n+":9644") {
			t.Errorf("job raftline does not scrape %s:9644", n)
		}
	}
}

// amtool checks the Alertmanager config mounted at --config.file, and every
// webhook it sends to is a service of the stack.
func TestAlertmanagerConfig_AsMounted(t *testing.T) {
	amtool := mustTool(t, "amtool", "prometheus-alertmanager")
	f := loadCompose(t)
	_, cfgPath := mountedConfig(t, f, "alertmanager")
	if out, err := exec.Command(amtool, "check-config", cfgPath).CombinedOutput(); err != nil {
		t.Fatalf("amtool check-config %s: %v\n%s", cfgPath, err, out)
	}
	cfg, err := stackconfig.ReadAlertmanager(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range cfg.Receivers {
		for _, w := range r.WebhookConfigs {
			u, err := url.Parse(w.URL)
			if err != nil {
				t.Errorf("receiver %s: %v", r.Name, err)
				continue
			}
			if err := listens(f, u.Host); err != nil {
				t.Errorf("receiver %s posts to %s: %v", r.Name, w.URL, err)
			}
		}
	}
}

// dashboardProvider is an entry of Grafana's dashboard provisioning.
type dashboardProvider struct {
	Name    string `yaml:"name"`
	Folder  string `yaml:"folder"`
	Type    string `yaml:"type"`
	Options struct {
		Path string `yaml:"path"`
	} `yaml:"options"`
}

// grafanaDatasource is an entry of Grafana's datasource provisioning.
type grafanaDatasource struct {
	Name     string         `yaml:"name"`
	UID      string         `yaml:"uid"`
	Type     string         `yaml:"type"`
	URL      string         `yaml:"url"`
	JSONData map[string]any `yaml:"jsonData"`
}

// Every dashboard of dashboards/json/ reaches Grafana through the file
// provider, into a folder; every datasource uid a dashboard uses is
// provisioned with the type the dashboard expects; the home dashboard is the
// cluster overview, and anonymous visitors can view.
func TestGrafana_ProvisionsEveryDashboardAndItsDatasources(t *testing.T) {
	f := loadCompose(t)
	g, ok := f.Services["grafana"]
	if !ok {
		t.Fatal("no grafana service")
	}
	provDir := g.hostPath("/etc/grafana/provisioning")
	if provDir == "" {
		t.Fatal("nothing is mounted at /etc/grafana/provisioning")
	}

	// Dashboards: the providers' paths, mapped through the mounts, must
	// hold every generated dashboard file, byte for byte.
	var providers []dashboardProvider
	for _, p := range yamlFiles(t, filepath.Join(provDir, "dashboards")) {
		var doc struct {
			Providers []dashboardProvider `yaml:"providers"`
		}
		unmarshalFile(t, p, &doc)
		providers = append(providers, doc.Providers...)
	}
	if len(providers) == 0 {
		t.Fatal("no dashboard providers are provisioned")
	}
	served := map[string]string{} // dashboard file name -> container path
	for _, pr := range providers {
		if pr.Type != "file" || pr.Folder == "" {
			t.Errorf("provider %s: type %q, folder %q; want a file provider into a folder", pr.Name, pr.Type, pr.Folder)
		}
		host := g.hostPath(pr.Options.Path)
		if host == "" {
			t.Errorf("provider %s reads %s, where nothing is mounted", pr.Name, pr.Options.Path)
			continue
		}
		files, _ := filepath.Glob(filepath.Join(host, "*.json"))
		for _, file := range files {
			served[filepath.Base(file)] = filepath.Join(pr.Options.Path, filepath.Base(file))
		}
	}
	dashboards, err := filepath.Glob(filepath.Join(root, "dashboards", "json", "*.json"))
	if err != nil || len(dashboards) == 0 {
		t.Fatalf("no dashboards in dashboards/json: %v", err)
	}
	var ds []grafanaDatasource
	for _, p := range yamlFiles(t, filepath.Join(provDir, "datasources")) {
		var doc struct {
			Datasources []grafanaDatasource `yaml:"datasources"`
		}
		unmarshalFile(t, p, &doc)
		ds = append(ds, doc.Datasources...)
	}
	byUID := map[string]grafanaDatasource{}
	for _, d := range ds {
		byUID[d.UID] = d
	}
	for _, file := range dashboards {
		name := filepath.Base(file)
		inContainer, ok := served[name]
		if !ok {
			t.Errorf("dashboard %s is not under any provider's mounted path", name)
			continue
		}
		want, _ := os.ReadFile(file)
		if got, err := os.ReadFile(g.hostPath(inContainer)); err != nil || !bytes.Equal(got, want) {
			t.Errorf("dashboard %s: Grafana sees %s, which is not the generated file (%v)", name, inContainer, err)
		}
		seen := map[dsRef]bool{}
		for _, ref := range datasourceRefs(t, want) {
			if seen[dsRef{uid: ref.uid, typ: ref.typ}] {
				continue
			}
			seen[dsRef{uid: ref.uid, typ: ref.typ}] = true
			d, ok := byUID[ref.uid]
			if !ok {
				t.Errorf("dashboard %s uses datasource uid %q (%s), which is not provisioned", name, ref.uid, ref.where)
			} else if ref.typ != "" && d.Type != ref.typ {
				t.Errorf("dashboard %s expects datasource %q to be %s, it is %s", name, ref.uid, ref.typ, d.Type)
			}
		}
		for _, al := range alertListSources(t, want) {
			checkAlertListSource(t, name, al, ds)
		}
	}

	// Datasources point at the stack's services; exemplar links at a
	// provisioned trace datasource; Grafana's idea of the scrape interval
	// is Prometheus's, so $__rate_interval covers enough samples.
	for _, d := range ds {
		u, err := url.Parse(d.URL)
		if err != nil || u.Host == "" {
			t.Errorf("datasource %s: url %q", d.Name, d.URL)
			continue
		}
		if err := listens(f, u.Host); err != nil {
			t.Errorf("datasource %s: %v", d.Name, err)
		}
	}
	prom, jaeger := byUID["prometheus"], false
	for _, d := range ds {
		jaeger = jaeger || d.Type == "jaeger"
	}
	if !jaeger {
		t.Error("no trace (jaeger) datasource is provisioned")
	}
	_, promCfgPath := mountedConfig(t, f, "prometheus")
	promCfg, err := stackconfig.ReadPrometheus(promCfgPath)
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(prom.JSONData["timeInterval"]); got != promCfg.Global.ScrapeInterval {
		t.Errorf("Prometheus datasource timeInterval %q, but Prometheus scrapes every %q", got, promCfg.Global.ScrapeInterval)
	}
	if dests, ok := prom.JSONData["exemplarTraceIdDestinations"].([]any); ok {
		for _, dest := range dests {
			uid := fmt.Sprint(dest.(map[string]any)["datasourceUid"])
			if byUID[uid].Type != "jaeger" {
				t.Errorf("exemplar links go to datasource %q, which is not a provisioned trace datasource", uid)
			}
		}
	}

	home := g.Environment["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
	var homeDash struct {
		UID string `json:"uid"`
	}
	if b, err := os.ReadFile(g.hostPath(home)); err != nil || json.Unmarshal(b, &homeDash) != nil || homeDash.UID != "raftline-overview" {
		t.Errorf("home dashboard %q is not the mounted cluster overview (err %v, uid %q)", home, err, homeDash.UID)
	}
	if g.Environment["GF_AUTH_ANONYMOUS_ENABLED"] != "true" || g.Environment["GF_AUTH_ANONYMOUS_ORG_ROLE"] != "Viewer" {
		t.Error("anonymous viewer access is not on")
	}
}

// alertList is an alert list panel and the data source it lists the rules
// of, by name: the panel selects its rule source by name, not uid.
type alertList struct{ title, source string }

// alertListSources finds a dashboard's alert list panels, in rows too.
func alertListSources(t testing.TB, dashboard []byte) []alertList {
	t.Helper()
	type panel struct {
		Type    string  `json:"type"`
		Title   string  `json:"title"`
		Panels  []panel `json:"panels"`
		Options struct {
			Datasource string `json:"datasource"`
		} `json:"options"`
	}
	var d struct {
		Panels []panel `json:"panels"`
	}
	if err := json.Unmarshal(dashboard, &d); err != nil {
		t.Fatal(err)
	}
	var out []alertList
	var walk func(ps []panel)
	walk = func(ps []panel) {
		for _, p := range ps {
			if p.Type == "alertlist" {
				out = append(out, alertList{p.Title, p.Options.Datasource})
			}
			walk(p.Panels)
		}
	}
	walk(d.Panels)
	return out
}

// checkAlertListSource: Grafana's alert list reads rule sources only
// (Grafana's own rules, and Prometheus or Loki data sources that manage
// alerts), so a list of a provisioned Alertmanager, or of a name nothing
// provisions, shows nothing.
func checkAlertListSource(t *testing.T, dashboard string, al alertList, ds []grafanaDatasource) {
	t.Helper()
	i := slices.IndexFunc(ds, func(d grafanaDatasource) bool { return d.Name == al.source })
	if i < 0 {
		t.Errorf("dashboard %s / %s lists the rules of data source %q, which is not provisioned", dashboard, al.title, al.source)
		return
	}
	d := ds[i]
	if d.Type != "prometheus" && d.Type != "loki" {
		t.Errorf("dashboard %s / %s lists the rules of %q, a %s data source: the alert list reads Prometheus or Loki rule sources", dashboard, al.title, al.source, d.Type)
	}
	if manage, ok := d.JSONData["manageAlerts"].(bool); ok && !manage {
		t.Errorf("dashboard %s / %s lists the rules of %q, which is provisioned with manageAlerts: false", dashboard, al.title, al.source)
	}
}

// dsRef is one datasource reference of a dashboard, resolved through its
// datasource variables.
type dsRef struct{ uid, typ, where string }

var variableRef = regexp.MustCompile(`^\$\{?(\w+)\}?$`)

// datasourceRefs finds every datasource a dashboard refers to: literal uids,
// and the default of each datasource variable that panels and queries use.
func datasourceRefs(t testing.TB, dashboard []byte) []dsRef {
	t.Helper()
	var d struct {
		Templating struct {
			List []struct {
				Type    string `json:"type"`
				Name    string `json:"name"`
				Query   any    `json:"query"`
				Current struct {
					Value any `json:"value"`
				} `json:"current"`
			} `json:"list"`
		} `json:"templating"`
	}
	var whole any
	if err := json.Unmarshal(dashboard, &d); err != nil {
		t.Fatal(err)
	}
	json.Unmarshal(dashboard, &whole)
	vars := map[string]dsRef{}
	for _, v := range d.Templating.List {
		if v.Type == "datasource" {
			vars[v.Name] = dsRef{uid: fmt.Sprint(v.Current.Value), typ: fmt.Sprint(v.Query), where: "variable $" + v.Name}
		}
	}
	var refs []dsRef
	var walk func(path string, x any)
	walk = func(path string, x any) {
		switch x := x.(type) {
		case map[string]any:
			if ds, ok := x["datasource"].(map[string]any); ok {
				uid, _ := ds["uid"].(string)
				typ, _ := ds["type"].(string)
				if m := variableRef.FindStringSubmatch(uid); m != nil {
					v, ok := vars[m[1]]
					if !ok {
						t.Errorf("%s: datasource %q is not a datasource variable", path, uid)
					} else if typ != "" && v.typ != typ {
						t.Errorf("%s: wants a %s datasource from $%s, which selects %s", path, typ, m[1], v.typ)
					}
					refs = append(refs, v)
				} else if uid != "" && uid != "-- Grafana --" && uid != "grafana" {
					refs = append(refs, dsRef{uid: uid, typ: typ, where: path})
				}
			}
			for k, v := range x {
				walk(path+"."+k, v)
			}
		case []any:
			for i, v := range x {
				walk(fmt.Sprintf("%s[%d]", path, i), v)
			}
		}
	}
	walk("", whole)
	for _, v := range vars {
		refs = append(refs, v)
	}
	return refs
}

func yamlFiles(t testing.TB, dir string) []string {
	t.Helper()
	var out []string
	for _, ext := range []string{"*.yml", "*.yaml"} {
		m, _ := filepath.Glob(filepath.Join(dir, ext))
		out = append(out, m...)
	}
	if len(out) == 0 {
		t.Fatalf("no provisioning files in %s", dir)
	}
	return out
}

func unmarshalFile(t testing.TB, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

func mustTool(t testing.TB, name, debianPackage string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s not found (scripts/ensure-tools.sh installs Debian package %s): %v", name, debianPackage, err)
	}
	return p
}

// dockerfileStages reads a Dockerfile's instructions from its first stage
// FROM scratch on, one per line: comments and blank lines dropped,
// continuations joined.
func dockerfileStages(t testing.TB, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	var cont strings.Builder
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if l, ok := strings.CutSuffix(line, "\\"); ok {
			cont.WriteString(l + " ")
			continue
		}
		cont.WriteString(line)
		out = append(out, strings.Join(strings.Fields(cont.String()), " "))
		cont.Reset()
	}
	for i, l := range out {
		if strings.HasPrefix(l, "FROM scratch ") {
			return out[i:]
		}
	}
	t.Fatalf("%s has no FROM scratch stage", path)
	return nil
}

// Users without Go build with Dockerfile.build; its image stages must be
// Dockerfile's, reading the build stage's /out instead of the staging
// directory, so both paths give the same images. Its Go is go.mod's.
func TestDockerfiles_BothPathsBuildTheSameImages(t *testing.T) {
	want := dockerfileStages(t, filepath.Join(root, "Dockerfile"))
	var got []string
	for _, l := range dockerfileStages(t, filepath.Join(root, "Dockerfile.build")) {
		l = strings.Replace(l, "COPY --from=build ", "COPY ", 1)
		got = append(got, strings.ReplaceAll(l, " /out/", " "))
	}
	if !slices.Equal(got, want) {
		t.Errorf("Dockerfile.build's image stages differ from Dockerfile's:\n got %q\nwant %q", got, want)
	}
	mod, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	goVersion := regexp.MustCompile(`(?m)^go (\S+)$`).FindSubmatch(mod)
	build, _ := os.ReadFile(filepath.Join(root, "Dockerfile.build"))
	if goVersion == nil || !bytes.Contains(build, []byte("ARG GO_VERSION="+string(goVersion[1])+"\n")) {
		t.Errorf("Dockerfile.build's GO_VERSION is not go.mod's go %s", goVersion[1])
	}
}
