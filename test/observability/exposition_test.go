package observability

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
)

// exposition is one scrape of a /metrics endpoint: for every metric name as
// exposed (x_total, x_bucket), the label sets of its series.
type exposition map[string][]map[string]string

// scrapeMetrics fetches addr's /metrics in the Prometheus text format, the
// format Prometheus itself negotiates last, so what the test reads is what
// a scrape stores.
func scrapeMetrics(addr string) (exposition, error) {
	req, err := http.NewRequest(http.MethodGet, "http://"+addr+"/metrics", nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "text/plain;version=0.0.4")
	resp, err := httpClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return nil, fmt.Errorf("GET http://%s/metrics: %s: %s", addr, resp.Status, strings.TrimSpace(string(b)))
	}
	return parseExposition(resp.Body)
}

func parseExposition(r io.Reader) (exposition, error) {
	out := exposition{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, labels, err := parseSeries(line)
		if err != nil {
			return nil, err
		}
		out[name] = append(out[name], labels)
	}
	return out, sc.Err()
}

// parseSeries splits a sample line into its metric name and labels.
func parseSeries(line string) (string, map[string]string, error) {
	end := strings.IndexAny(line, "{ ")
	if end <= 0 {
		return "", nil, fmt.Errorf("malformed sample line %q", line)
	}
	name, rest := line[:end], line[end:]
	labels := map[string]string{}
	if !strings.HasPrefix(rest, "{") {
		return name, labels, nil
	}
	rest = rest[1:]
	for {
		rest = strings.TrimLeft(rest, " ,")
		if strings.HasPrefix(rest, "}") {
			return name, labels, nil
		}
		eq := strings.Index(rest, `="`)
		if eq <= 0 {
			return "", nil, fmt.Errorf("malformed labels in %q", line)
		}
		key := strings.TrimSpace(rest[:eq])
		rest = rest[eq+2:]
		var val strings.Builder
		closed := false
		for i := 0; i < len(rest); i++ {
			c := rest[i]
			if c == '\\' && i+1 < len(rest) {
				i++
				switch rest[i] {
				case 'n':
					val.WriteByte('\n')
				default:
					val.WriteByte(rest[i])
				}
				continue
			}
			if c == '"' {
				rest = rest[i+1:]
				closed = true
				break
			}
			val.WriteByte(c)
		}
		if !closed {
			return "", nil, fmt.Errorf("unterminated label value in %q", line)
		}
		labels[key] = val.String()
	}
}

func TestParseExposition_NamesAndEscapedLabels(t *testing.T) {
	in := `# HELP x_total a counter
# TYPE x_total counter
x_total{node_id="1",path="a\"b,c}"} 3
up 1
h_bucket{le="+Inf",node_id="2"} 4 1700000000000
`
	e, err := parseExposition(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if got := e["x_total"]; len(got) != 1 || got[0]["path"] != `a"b,c}` || got[0]["node_id"] != "1" {
		t.Errorf("x_total = %v", got)
	}
	if got := e["up"]; len(got) != 1 || len(got[0]) != 0 {
		t.Errorf("up = %v", got)
	}
	if got := e["h_bucket"]; len(got) != 1 || got[0]["le"] != "+Inf" || got[0]["node_id"] != "2" {
		t.Errorf("h_bucket = %v", got)
	}
}
