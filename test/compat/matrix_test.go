//go:build unix

package compat

import (
	"context"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/raftline/raftline/test/compat/matrix"
)

// caseFunc runs one feature of one client against the cluster, on topics
// named topic or starting with it, and returns the error the application
// was handed (nil when the feature worked). It must return once ctx ends.
type caseFunc func(ctx context.Context, t *testing.T, c *cluster, topic string) error

// cases[client name][feature name] is how each cell is run.
var cases = map[string]map[string]caseFunc{}

// register adds the cases of client's features in fs.
func register(client matrix.Client, fs map[string]caseFunc) {
	if cases[client.Name] == nil {
		cases[client.Name] = map[string]caseFunc{}
	}
	maps.Copy(cases[client.Name], fs)
}

const (
	// worksWithin bounds a case expected to work: a healthy cluster
	// answers each of its requests in milliseconds, the rest is the
	// clients' own start-up.
	worksWithin = 60 * time.Second
	// refusedWithin bounds a case expected to be refused. A client that
	// has reported nothing by then is retrying what raftline answered
	// without telling anyone, which is what the matrix promises does not
	// happen. It leaves room for sarama's own rejoin retries (about 10 s
	// for a consumer group) on a loaded machine; sarama's transactional
	// producer took 44 s, and librdkafka's group consumers waited for
	// ever, before FindCoordinator was served.
	refusedWithin = 25 * time.Second
	// rebalanceWithin bounds the rebalance case: it starts three members
	// and waits out two rebalances, each a few of the client's heartbeat
	// intervals (3 s by default) or its join backoff (kafka-go: 5 s).
	rebalanceWithin = 120 * time.Second
)

// TestCompat starts the cluster every case shares and runs, on it, the
// protocol checks (API versions, auto-creation) and then the matrix.
func TestCompat(t *testing.T) {
	c := startCluster(t)
	t.Run("ApiVersions_MatchTheDocument", func(t *testing.T) { testAPIVersions(t, c) })
	t.Run("AutoCreate", func(t *testing.T) { testAutoCreate(t, c) })

	t.Run("matrix", func(t *testing.T) {
		var (
			mu      sync.Mutex
			outcome []string
		)
		t.Cleanup(func() {
			t.Logf("outcomes:\n%s", strings.Join(outcome, "\n"))
			figuresMu.Lock()
			defer figuresMu.Unlock()
			var lines []string
			for _, name := range slices.Sorted(maps.Keys(figures)) {
				lines = append(lines, fmt.Sprintf("%-70s %s", name, figures[name]))
			}
			if len(lines) > 0 {
				t.Logf("figures:\n%s", strings.Join(lines, "\n"))
			}
		})
		for _, client := range matrix.Clients {
			for _, feature := range matrix.Features {
				cell := matrix.Expected[client.Name][feature.Name]
				run := cases[client.Name][feature.Name]
				t.Run(client.Name+"/"+feature.Name, func(t *testing.T) {
					if cell.Result == matrix.NotInClient {
						if run != nil {
							t.Fatal("the matrix says the client has no such feature, but a case runs it")
						}
						t.Skip("not in the client")
					}
					if run == nil {
						t.Fatal("no case runs this cell")
					}
					bound := worksWithin
					switch {
					case cell.Result != matrix.Works:
						bound = refusedWithin
					case feature == matrix.GroupRebalance:
						bound = rebalanceWithin
					}
					c.waitLeader(t)
					ctx, cancel := context.WithTimeout(context.Background(), bound)
					defer cancel()
					start := time.Now()
					err := run(ctx, t, c, topicName(client, feature))
					took := time.Since(start)
					mu.Lock()
					outcome = append(outcome, fmt.Sprintf("%-16s %-48s %6.2fs  %v", client.Name, feature.Name, took.Seconds(), err))
					mu.Unlock()
					t.Logf("%.2fs: %v", took.Seconds(), err)
					switch cell.Result {
					case matrix.Works:
						if err != nil {
							t.Fatalf("the matrix says this works; the client got: %v", err)
						}
					case matrix.Refused, matrix.LoggedOnly:
						switch {
						case err == nil:
							t.Fatalf("the matrix says this is refused with %q; it worked", cell.Error)
						case ctx.Err() != nil:
							t.Fatalf("the matrix says this is refused at once with %q; the client had reported nothing after %v: %v", cell.Error, bound, err)
						case !strings.Contains(err.Error(), cell.Error):
							t.Fatalf("the matrix says this is refused with %q; the client reported: %v", cell.Error, err)
						}
					}
				})
			}
		}
	})
}

var notTopicChar = regexp.MustCompile(`[^a-zA-Z0-9]+`)

// topicName is the topic a cell's case works on (and the prefix of any
// other it makes), unique in the cluster.
func topicName(client matrix.Client, feature matrix.Feature) string {
	return strings.Trim(notTopicChar.ReplaceAllString(client.Name+"-"+feature.Name, "-"), "-")
}
