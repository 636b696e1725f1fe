package observability

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// notification is the body Alertmanager's webhook integration posts
// (version 4 of its webhook payload).
type notification struct {
	Version           string            `json:"version"`
	GroupKey          string            `json:"groupKey"`
	Status            string            `json:"status"`
	Receiver          string            `json:"receiver"`
	GroupLabels       map[string]string `json:"groupLabels"`
	CommonLabels      map[string]string `json:"commonLabels"`
	CommonAnnotations map[string]string `json:"commonAnnotations"`
	ExternalURL       string            `json:"externalURL"`
	Alerts            []notifiedAlert   `json:"alerts"`
}

type notifiedAlert struct {
	Status       string            `json:"status"`
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     time.Time         `json:"startsAt"`
	EndsAt       time.Time         `json:"endsAt"`
	GeneratorURL string            `json:"generatorURL"`
	Fingerprint  string            `json:"fingerprint"`
}

// received is one POST the webhook took, with the path it came to (/page
// for the pager receiver, /ticket for tickets).
type received struct {
	Path string
	At   time.Time
	N    notification
}

// webhook stands in for the pager and the ticket system: it records every
// notification Alertmanager sends.
type webhook struct {
	URL string // base URL, without a trailing slash

	mu  sync.Mutex
	got []received
}

func startWebhook(t testing.TB, addr string) *webhook {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("webhook: %v", err)
	}
	w := &webhook{URL: "http://" + ln.Addr().String()}
	srv := &http.Server{Handler: w, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return w
}

func (w *webhook) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil || r.Method != http.MethodPost {
		http.Error(rw, "POST a notification", http.StatusBadRequest)
		return
	}
	var n notification
	if err := json.Unmarshal(body, &n); err != nil {
		http.Error(rw, err.Error(), http.StatusBadRequest)
		return
	}
	w.mu.Lock()
	w.got = append(w.got, received{Path: r.URL.Path, At: time.Now(), N: n})
	w.mu.Unlock()
}

// all returns every notification received so far.
func (w *webhook) all() []received {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]received(nil), w.got...)
}

// find returns the first notification on path with the given status that
// carries an alert named alertname, or false.
func (w *webhook) find(path, status, alertname string) (received, bool) {
	for _, r := range w.all() {
		if r.Path != path || r.N.Status != status {
			continue
		}
		for _, a := range r.N.Alerts {
			if a.Labels["alertname"] == alertname {
				return r, true
			}
		}
	}
	return received{}, false
}

// describe summarises what was received, for failure messages.
func (w *webhook) describe() string {
	all := w.all()
	if len(all) == 0 {
		return "no notification received"
	}
	var b strings.Builder
	for _, r := range all {
		var names []string
		for _, a := range r.N.Alerts {
			names = append(names, a.Labels["alertname"]+"/"+a.Status)
		}
		fmt.Fprintf(&b, "\n  %s %s %s receiver=%s alerts=%v", r.At.Format("15:04:05"), r.Path, r.N.Status, r.N.Receiver, names)
	}
	return b.String()
}

// amAlert is one alert as Alertmanager's API v2 lists it.
type amAlert struct {
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
	Status      struct {
		State       string   `json:"state"` // active, suppressed, unprocessed
		InhibitedBy []string `json:"inhibitedBy"`
	} `json:"status"`
	Receivers []struct {
		Name string `json:"name"`
	} `json:"receivers"`
}

// alertmanagerAlerts lists the alerts Alertmanager holds named alertname.
func alertmanagerAlerts(base, alertname string) ([]amAlert, error) {
	q := url.Values{"filter": {fmt.Sprintf("alertname=%q", alertname)}}
	resp, err := httpClient.Get(base + "/api/v2/alerts?" + q.Encode())
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("alertmanager /api/v2/alerts: %s: %s", resp.Status, body)
	}
	var as []amAlert
	return as, json.Unmarshal(body, &as)
}
