package kafka

import (
	"bytes"
	"errors"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"
)

// logLines is what a text logger wrote, one entry per line.
func logLines(buf *bytes.Buffer) []string {
	s := strings.TrimSpace(buf.String())
	buf.Reset()
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

func countContaining(lines []string, parts ...string) int {
	n := 0
	for _, l := range lines {
		all := true
		for _, p := range parts {
			all = all && strings.Contains(l, p)
		}
		if all {
			n++
		}
	}
	return n
}

func peer(host string, port int) net.Addr {
	return &net.TCPAddr{IP: net.ParseIP(host), Port: port}
}

func TestRejectLog_FirstPerHostAndReasonLogged_RestSummarisedPerInterval(t *testing.T) {
	var buf bytes.Buffer
	r := newRejectLog(slog.New(slog.NewTextHandler(&buf, nil)), time.Minute)
	bad := errors.New("unknown API key: 10 (FindCoordinator)")

	// A stuck client retrying from ever new ports, a second client, and
	// the first client failing for another reason.
	for i := range 1000 {
		r.reject(peer("10.0.0.1", 40000+i), ReasonUnknownAPIKey, bad)
	}
	for i := range 10 {
		r.reject(peer("10.0.0.2", 50000+i), ReasonUnknownAPIKey, bad)
	}
	for i := range 5 {
		r.reject(peer("10.0.0.1", 60000+i), ReasonMalformed, errors.New("garbage"))
	}
	lines := logLines(&buf)
	if len(lines) != 3 ||
		countContaining(lines, `msg="closing Kafka connection"`, "remote=10.0.0.1:40000", "reason=unknown_api_key", "FindCoordinator") != 1 ||
		countContaining(lines, `msg="closing Kafka connection"`, "remote=10.0.0.2:50000", "reason=unknown_api_key") != 1 ||
		countContaining(lines, `msg="closing Kafka connection"`, "remote=10.0.0.1:60000", "reason=malformed") != 1 {
		t.Fatalf("want one line per (host, reason), got %d:\n%s", len(lines), strings.Join(lines, "\n"))
	}

	r.flush()
	lines = logLines(&buf)
	if len(lines) != 2 ||
		countContaining(lines, `msg="rejected Kafka requests"`, "reason=malformed", "count=5", "peers=1", "sample=[10.0.0.1]") != 1 ||
		countContaining(lines, `msg="rejected Kafka requests"`, "reason=unknown_api_key", "count=1010", "peers=2", "sample=\"[10.0.0.1 10.0.0.2]\"") != 1 {
		t.Fatalf("want one summary per reason, got:\n%s", strings.Join(lines, "\n"))
	}

	// Still stuck next interval: no new first line, one summary.
	for i := range 360 {
		r.reject(peer("10.0.0.1", 40000+i), ReasonUnknownAPIKey, bad)
	}
	r.flush()
	lines = logLines(&buf)
	if len(lines) != 1 || countContaining(lines, "reason=unknown_api_key", "count=360", "peers=1") != 1 {
		t.Fatalf("a stuck client's second interval: want one summary line, got:\n%s", strings.Join(lines, "\n"))
	}

	// A quiet interval forgets the pair; the client coming back is
	// logged again, and a lone rejection needs no summary.
	r.flush()
	r.flush()
	r.reject(peer("10.0.0.1", 40001), ReasonUnknownAPIKey, bad)
	r.flush()
	lines = logLines(&buf)
	if len(lines) != 1 || countContaining(lines, `msg="closing Kafka connection"`, "remote=10.0.0.1:40001") != 1 {
		t.Fatalf("after quiet intervals: want the first line again and no summary, got:\n%s", strings.Join(lines, "\n"))
	}
}

func TestRejectLog_ManyPeers_FirstLinesBounded(t *testing.T) {
	var buf bytes.Buffer
	r := newRejectLog(slog.New(slog.NewTextHandler(&buf, nil)), time.Minute)
	const peers = 3000
	for i := range peers {
		r.reject(peer("10.1."+strconv.Itoa(i/250)+"."+strconv.Itoa(i%250), 1234), ReasonMalformed, errors.New("garbage"))
	}
	if got := len(logLines(&buf)); got != maxTracked {
		t.Fatalf("%d peers logged %d first lines, want the bound %d", peers, got, maxTracked)
	}
	r.flush()
	lines := logLines(&buf)
	if len(lines) != 1 || countContaining(lines, "count=3000", "peers=1024") != 1 {
		t.Fatalf("summary: %s", strings.Join(lines, "\n"))
	}
}
