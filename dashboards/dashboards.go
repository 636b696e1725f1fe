package dashboards

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
)

// Stable dashboard uids. Links, bookmarks and alert annotations point at
// them, so they never change once published.
const (
	UIDOverview  = "raftline-overview"
	UIDRaft      = "raftline-raft"
	UIDBroker    = "raftline-broker"
	UIDConsumers = "raftline-consumers"
	UIDNode      = "raftline-node"
	UIDLoadTest  = "raftline-loadtest"
	UIDJourney   = "raftline-journey"
)

// registry lists the dashboards in the order they are generated and listed.
var registry = []struct {
	uid   string
	build func() *dashboard.DashboardBuilder
}{
	{UIDOverview, overview},
	{UIDRaft, raftInternals},
	{UIDJourney, journey},
	{UIDBroker, broker},
	{UIDConsumers, consumers},
	{UIDNode, node},
	{UIDLoadTest, loadTest},
	{UIDSLO, slo},
}

// Build builds every dashboard, running the SDK's validation, and numbers
// the panels so that panel links and "view panel" URLs are stable.
func Build() ([]dashboard.Dashboard, error) {
	var out []dashboard.Dashboard
	for _, r := range registry {
		d, err := r.build().Build()
		if err != nil {
			return nil, fmt.Errorf("dashboard %s: %w", r.uid, err)
		}
		if d.Uid == nil || *d.Uid != r.uid {
			return nil, fmt.Errorf("dashboard %s: built with a different uid", r.uid)
		}
		numberPanels(&d)
		out = append(out, d)
	}
	return out, nil
}

func numberPanels(d *dashboard.Dashboard) {
	next := uint32(0)
	newID := func() uint32 { next++; return next }
	for _, p := range d.Panels {
		switch {
		case p.Panel != nil:
			p.Panel.Id = cog.ToPtr(newID())
		case p.RowPanel != nil:
			p.RowPanel.Id = newID()
			for i := range p.RowPanel.Panels {
				p.RowPanel.Panels[i].Id = cog.ToPtr(newID())
			}
		}
	}
}

// Marshal renders a dashboard as the JSON model that Grafana's file
// provisioning loads: the bare dashboard, not an API envelope.
func Marshal(d dashboard.Dashboard) ([]byte, error) {
	b, err := json.MarshalIndent(d, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(unescapeHTML(b), '\n'), nil
}

// unescapeHTML undoes encoding/json's escaping of <, > and & so that PromQL
// comparisons read as written in the committed files and their diffs. The
// SDK's own MarshalJSON methods escape, so an Encoder option cannot prevent
// it. An escape preceded by an odd number of backslashes is literal text and
// is left alone.
func unescapeHTML(b []byte) []byte {
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); i++ {
		if b[i] == '\\' && i+6 <= len(b) && !escaped(b, i) {
			if c, ok := htmlEscapes[string(b[i:i+6])]; ok {
				out = append(out, c)
				i += 5
				continue
			}
		}
		out = append(out, b[i])
	}
	return out
}

var htmlEscapes = map[string]byte{`\u003c`: '<', `\u003e`: '>', `\u0026`: '&'}

// escaped reports whether b[i] is itself escaped by the backslashes before it.
func escaped(b []byte, i int) bool {
	n := 0
	for j := i - 1; j >= 0 && b[j] == '\\'; j-- {
		n++
	}
	return n%2 == 1
}

// Files returns the generated files, keyed by file name (<uid>.json).
func Files() (map[string][]byte, error) {
	ds, err := Build()
	if err != nil {
		return nil, err
	}
	files := make(map[string][]byte, len(ds))
	for _, d := range ds {
		b, err := Marshal(d)
		if err != nil {
			return nil, fmt.Errorf("dashboard %s: %w", *d.Uid, err)
		}
		files[*d.Uid+".json"] = b
	}
	return files, nil
}

// Generate writes every dashboard to dir as <uid>.json and removes JSON
// files there that no dashboard produces any more, so a renamed uid does not
// leave a stale dashboard behind in provisioning.
func Generate(dir string) error {
	files, err := Files()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	existing, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return err
	}
	var errs []error
	for _, path := range existing {
		if _, ok := files[filepath.Base(path)]; !ok {
			errs = append(errs, os.Remove(path))
		}
	}
	for name, b := range files {
		errs = append(errs, os.WriteFile(filepath.Join(dir, name), b, 0o644))
	}
	return errors.Join(errs...)
}
