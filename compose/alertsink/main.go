// Command alertsink is the webhook receiver behind the `pager` service of the
// compose stack: compose/alertmanager.yml sends pages to /page and tickets to
// /ticket, and alertsink logs one line per alert in each notification, so
// `docker compose logs pager` shows what would have paged or filed a ticket.
// GET /notifications returns the most recent notifications as JSON, for
// tests and for a look from inside the compose network.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("alertsink", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", ":9099", "address to listen on")
	keep := fs.Int("keep", 100, "notifications kept for GET /notifications")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if *keep <= 0 {
		fmt.Fprintf(stderr, "alertsink: --keep %d is not positive\n", *keep)
		return 2
	}
	log := slog.New(slog.NewTextHandler(stdout, nil))
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Error("listen", "err", err)
		return 1
	}
	srv := &http.Server{Handler: newSink(log, *keep), ReadHeaderTimeout: 10 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(shutdown)
	}()
	log.Info("alertsink listening", "addr", ln.Addr().String())
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		log.Error("serve", "err", err)
		return 1
	}
	return 0
}

// notification is the part of Alertmanager's webhook payload (version 4)
// that alertsink logs, plus where and when it arrived.
type notification struct {
	Path       string            `json:"path"`
	ReceivedAt time.Time         `json:"received_at"`
	Receiver   string            `json:"receiver"`
	Status     string            `json:"status"`
	GroupKey   string            `json:"groupKey"`
	Common     map[string]string `json:"commonLabels"`
	Alerts     []alert           `json:"alerts"`
}

type alert struct {
	Status      string            `json:"status"`
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
	StartsAt    time.Time         `json:"startsAt"`
	EndsAt      time.Time         `json:"endsAt"`
}

// maxBody bounds a notification; Alertmanager's are a few kilobytes per
// alert.
const maxBody = 4 << 20

type sink struct {
	log  *slog.Logger
	keep int

	mu     sync.Mutex
	recent []notification
}

func newSink(log *slog.Logger, keep int) http.Handler {
	s := &sink{log: log, keep: keep}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok\n") })
	mux.HandleFunc("GET /notifications", s.list)
	mux.HandleFunc("POST /", s.receive)
	return mux
}

func (s *sink) receive(w http.ResponseWriter, r *http.Request) {
	var n notification
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody)).Decode(&n); err != nil {
		s.log.Warn("unreadable notification", "path", r.URL.Path, "err", err)
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	n.Path, n.ReceivedAt = r.URL.Path, time.Now().UTC()
	for _, a := range n.Alerts {
		s.log.Info("alert",
			"path", n.Path, "receiver", n.Receiver, "status", a.Status,
			"alertname", a.Labels["alertname"], "severity", a.Labels["severity"],
			"instance", a.Labels["instance"], "summary", a.Annotations["summary"])
	}
	s.mu.Lock()
	s.recent = append(s.recent, n)
	if len(s.recent) > s.keep {
		s.recent = append(s.recent[:0:0], s.recent[len(s.recent)-s.keep:]...)
	}
	s.mu.Unlock()
}

func (s *sink) list(w http.ResponseWriter, _ *http.Request) {
	s.mu.Lock()
	out := append([]notification{}, s.recent...)
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(out)
}
