package main

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// A notification as Alertmanager's webhook integration sends it.
const page = `{
  "version": "4", "receiver": "pager", "status": "firing", "groupKey": "{}:{alertname=\"RaftQuorumLost\"}",
  "commonLabels": {"alertname": "RaftQuorumLost", "cluster": "raftline-local"},
  "alerts": [{"status": "firing", "labels": {"alertname": "RaftQuorumLost", "severity": "critical", "instance": "raftline-1:9644"},
              "annotations": {"summary": "raftline has lost quorum."}, "startsAt": "2026-01-02T03:04:05Z", "endsAt": "0001-01-01T00:00:00Z"}]
}`

func TestSink_LogsEachAlertAndKeepsRecent(t *testing.T) {
	var logs bytes.Buffer
	srv := httptest.NewServer(newSink(slog.New(slog.NewTextHandler(&logs, nil)), 2))
	defer srv.Close()

	for range 3 {
		resp, err := http.Post(srv.URL+"/page", "application/json", strings.NewReader(page))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("POST /page: %s", resp.Status)
		}
	}
	for _, want := range []string{"path=/page", "alertname=RaftQuorumLost", "severity=critical", "status=firing", `summary="raftline has lost quorum."`} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %s:\n%s", want, logs.String())
		}
	}

	resp, err := http.Get(srv.URL + "/notifications")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var got []notification
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("kept %d notifications, want the last 2", len(got))
	}
	if n := got[1]; n.Path != "/page" || n.Receiver != "pager" || len(n.Alerts) != 1 || n.Alerts[0].Labels["instance"] != "raftline-1:9644" {
		t.Errorf("kept %+v", n)
	}
}

func TestSink_RefusesWhatIsNotANotification(t *testing.T) {
	srv := httptest.NewServer(newSink(slog.New(slog.DiscardHandler), 10))
	defer srv.Close()
	resp, err := http.Post(srv.URL+"/ticket", "application/json", strings.NewReader("not json"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("POST of garbage: %s, want 400 so Alertmanager logs the failure", resp.Status)
	}
	resp, err = http.Get(srv.URL + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET /healthz: %s", resp.Status)
	}
}
