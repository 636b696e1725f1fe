// Package chromium drives a real headless Chromium (Debian's chromium,
// installed by scripts/ensure-tools.sh) over the Chrome DevTools Protocol, for
// tests that check what a browser makes of a page: layout, SVG drawing and
// console errors. The protocol client uses only the standard library (a
// minimal WebSocket client included).
package chromium

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"
)

// Timeout bounds each wait on Chromium; the machine may be busy.
const Timeout = 90 * time.Second

// measureCharts reports the layout box of each svg.chart and of its
// path.series elements.
const measureCharts = `Array.from(document.querySelectorAll('svg.chart')).map(svg => {
  const r = svg.getBoundingClientRect();
  return {id: svg.id, left: r.left, top: r.top, width: r.width, height: r.height,
    series: Array.from(svg.querySelectorAll('path.series')).map(p => {
      const b = p.getBoundingClientRect();
      return {name: p.dataset.series, length: p.getTotalLength(),
        points: (p.getAttribute('d').match(/[ML]-?[0-9.]+,-?[0-9.]+/g) || []).length,
        left: b.left, right: b.right, top: b.top, bottom: b.bottom, width: b.width,
        stroke: getComputedStyle(p).stroke};
    })};
})`

// Chart is an svg.chart as laid out: its box in CSS pixels and its series.
type Chart struct {
	ID                       string
	Left, Top, Width, Height float64
	Series                   []Series
}

// Series is a path.series of a chart: its data-series name, length, number
// of points, box and computed stroke.
type Series struct {
	Name                     string
	Length                   float64
	Points                   int
	Left, Right, Top, Bottom float64
	Width                    float64
	Stroke                   string
}

// Browser is a headless Chromium with its DevTools endpoint.
type Browser struct {
	http string // http://127.0.0.1:PORT
}

// Start starts a headless Chromium for the test, stopped when it ends. It
// fails the test when chromium is not installed.
func Start(t testing.TB) *Browser {
	t.Helper()
	bin, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatalf("chromium is not installed (scripts/ensure-tools.sh installs it): %v", err)
	}
	// Port 0: Chromium binds a free port and says which.
	cmd := exec.Command(bin, "--headless", "--disable-gpu", "--no-sandbox", "--no-first-run", "--disable-extensions",
		"--disable-background-networking", "--disable-dev-shm-usage", "--remote-debugging-address=127.0.0.1",
		"--remote-debugging-port=0", "--user-data-dir="+t.TempDir(), "--window-size=1000,1400", "about:blank")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	ownGroup(cmd)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Chromium's helper processes (zygote, renderers) write to the user data
	// directory until they exit; the directory is removed after this.
	t.Cleanup(func() { stop(t, cmd) })
	found := make(chan string, 1)
	var log bytes.Buffer
	go func() {
		re := regexp.MustCompile(`DevTools listening on ws://([^/\s]+)/`)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if m := re.FindStringSubmatch(sc.Text()); m != nil {
				found <- m[1]
				io.Copy(io.Discard, stderr)
				return
			}
			log.WriteString(sc.Text() + "\n")
		}
		close(found)
	}()
	select {
	case addr, ok := <-found:
		if !ok {
			t.Fatalf("chromium exited without a DevTools endpoint:\n%s", log.String())
		}
		return &Browser{http: "http://" + addr}
	case <-time.After(Timeout):
		t.Fatalf("chromium gave no DevTools endpoint within %v", Timeout)
	}
	return nil
}

// Open opens a new tab at the file and waits for it to load.
func (b *Browser) Open(t testing.TB, path string) *Page {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPut, b.http+"/json/new?about:blank", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var target struct {
		ID  string `json:"id"`
		WS  string `json:"webSocketDebuggerUrl"`
		Err string
	}
	err = json.NewDecoder(resp.Body).Decode(&target)
	resp.Body.Close()
	if err != nil || target.WS == "" {
		t.Fatalf("new tab: %v %+v", err, target)
	}
	ws, err := dialWebSocket(target.WS)
	if err != nil {
		t.Fatal(err)
	}
	p := &Page{ws: ws, in: make(chan cdpMessage, 1024)}
	go p.read()
	t.Cleanup(func() {
		ws.Close()
		if resp, err := http.Get(b.http + "/json/close/" + target.ID); err == nil {
			resp.Body.Close()
		}
	})
	for _, m := range []string{"Runtime.enable", "Log.enable", "Page.enable"} {
		p.call(t, m, nil, nil)
	}
	u := url.URL{Scheme: "file", Path: path}
	var nav struct{ ErrorText string }
	p.call(t, "Page.navigate", map[string]any{"url": u.String()}, &nav)
	if nav.ErrorText != "" {
		t.Fatalf("navigate to %s: %s", u.String(), nav.ErrorText)
	}
	p.waitEvent(t, "Page.loadEventFired")
	return p
}

type cdpMessage struct {
	ID     int             `json:"id"`
	Method string          `json:"method"`
	Params json.RawMessage `json:"params"`
	Result json.RawMessage `json:"result"`
	Error  *struct {
		Message string `json:"message"`
	} `json:"error"`
}

// Page is one tab's DevTools session. Events are kept as they arrive; the
// console's errors among them are collected.
type Page struct {
	ws      *wsConn
	in      chan cdpMessage
	readErr error
	nextID  int
	events  []cdpMessage
	errs    []string
}

func (p *Page) read() {
	defer close(p.in)
	for {
		b, err := p.ws.readMessage()
		if err != nil {
			p.readErr = err
			return
		}
		var m cdpMessage
		if json.Unmarshal(b, &m) == nil {
			p.in <- m
		}
	}
}

func (p *Page) next(t testing.TB, what string) cdpMessage {
	t.Helper()
	select {
	case m, ok := <-p.in:
		if !ok {
			t.Fatalf("DevTools connection closed waiting for %s: %v", what, p.readErr)
		}
		if m.Method != "" {
			p.event(m)
		}
		return m
	case <-time.After(Timeout):
		t.Fatalf("no %s from chromium within %v", what, Timeout)
	}
	return cdpMessage{}
}

func (p *Page) event(m cdpMessage) {
	p.events = append(p.events, m)
	switch m.Method {
	case "Runtime.consoleAPICalled":
		var e struct {
			Type string
			Args []struct {
				Value       any
				Description string
			}
		}
		json.Unmarshal(m.Params, &e)
		if e.Type == "error" || e.Type == "assert" || e.Type == "warning" {
			var parts []string
			for _, a := range e.Args {
				parts = append(parts, fmt.Sprint(a.Value)+a.Description)
			}
			p.errs = append(p.errs, "console."+e.Type+": "+strings.Join(parts, " "))
		}
	case "Runtime.exceptionThrown":
		var e struct {
			ExceptionDetails struct {
				Text      string
				Exception struct{ Description string }
			}
		}
		json.Unmarshal(m.Params, &e)
		p.errs = append(p.errs, "exception: "+e.ExceptionDetails.Text+" "+e.ExceptionDetails.Exception.Description)
	case "Log.entryAdded":
		var e struct {
			Entry struct{ Level, Source, Text, URL string }
		}
		json.Unmarshal(m.Params, &e)
		if e.Entry.Level == "error" || e.Entry.Level == "warning" {
			p.errs = append(p.errs, fmt.Sprintf("log %s (%s): %s %s", e.Entry.Level, e.Entry.Source, e.Entry.Text, e.Entry.URL))
		}
	}
}

// Errors returns the console's errors and warnings, exceptions and
// browser log errors so far.
func (p *Page) Errors() []string { return p.errs }

// Charts measures the page's svg.chart elements.
func (p *Page) Charts(t testing.TB) []Chart {
	t.Helper()
	var cs []Chart
	p.Eval(t, measureCharts, &cs)
	return cs
}

// Sync makes a round trip to the page, which brings the events queued
// before it into Errors.
func (p *Page) Sync(t testing.TB) {
	t.Helper()
	var n int
	p.Eval(t, "0", &n)
}

// call sends a command and waits for its answer, decoded into result.
func (p *Page) call(t testing.TB, method string, params any, result any) {
	t.Helper()
	p.nextID++
	id := p.nextID
	msg, _ := json.Marshal(map[string]any{"id": id, "method": method, "params": params})
	if err := p.ws.writeText(msg); err != nil {
		t.Fatalf("%s: %v", method, err)
	}
	for {
		m := p.next(t, method)
		if m.ID != id {
			continue
		}
		if m.Error != nil {
			t.Fatalf("%s: %s", method, m.Error.Message)
		}
		if result != nil {
			if err := json.Unmarshal(m.Result, result); err != nil {
				t.Fatalf("%s: %v in %s", method, err, m.Result)
			}
		}
		return
	}
}

func (p *Page) waitEvent(t testing.TB, method string) {
	t.Helper()
	for _, e := range p.events {
		if e.Method == method {
			return
		}
	}
	for p.next(t, method).Method != method {
	}
}

// Eval evaluates a JavaScript expression in the page and decodes its value.
func (p *Page) Eval(t testing.TB, expr string, into any) {
	t.Helper()
	var r struct {
		Result struct {
			Value json.RawMessage `json:"value"`
		} `json:"result"`
		ExceptionDetails *struct{ Text string } `json:"exceptionDetails"`
	}
	p.call(t, "Runtime.evaluate", map[string]any{"expression": expr, "returnByValue": true}, &r)
	if r.ExceptionDetails != nil {
		t.Fatalf("evaluate %.60q: %s", expr, r.ExceptionDetails.Text)
	}
	if err := json.Unmarshal(r.Result.Value, into); err != nil {
		t.Fatalf("evaluate %.60q: %v in %s", expr, err, r.Result.Value)
	}
}

// wsConn is a minimal WebSocket client (RFC 6455): text messages out,
// masked; messages in, reassembled from fragments; pings answered.
type wsConn struct {
	c net.Conn
	r *bufio.Reader
}

func dialWebSocket(rawURL string) (*wsConn, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, err
	}
	c, err := net.DialTimeout("tcp", u.Host, Timeout)
	if err != nil {
		return nil, err
	}
	key := make([]byte, 16)
	rand.Read(key)
	req, _ := http.NewRequest(http.MethodGet, "http://"+u.Host+u.RequestURI(), nil)
	req.Header.Set("Upgrade", "websocket")
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Sec-WebSocket-Key", base64.StdEncoding.EncodeToString(key))
	req.Header.Set("Sec-WebSocket-Version", "13")
	if err := req.Write(c); err != nil {
		c.Close()
		return nil, err
	}
	r := bufio.NewReader(c)
	resp, err := http.ReadResponse(r, req)
	if err != nil {
		c.Close()
		return nil, err
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		c.Close()
		return nil, fmt.Errorf("websocket handshake with %s: %s", rawURL, resp.Status)
	}
	return &wsConn{c: c, r: r}, nil
}

func (w *wsConn) Close() error { return w.c.Close() }

func (w *wsConn) writeFrame(opcode byte, payload []byte) error {
	hdr := []byte{0x80 | opcode}
	switch n := len(payload); {
	case n < 126:
		hdr = append(hdr, 0x80|byte(n))
	case n < 1<<16:
		hdr = append(hdr, 0x80|126)
		hdr = binary.BigEndian.AppendUint16(hdr, uint16(n))
	default:
		hdr = append(hdr, 0x80|127)
		hdr = binary.BigEndian.AppendUint64(hdr, uint64(n))
	}
	mask := make([]byte, 4)
	rand.Read(mask)
	hdr = append(hdr, mask...)
	body := make([]byte, len(payload))
	for i, c := range payload {
		body[i] = c ^ mask[i%4]
	}
	_, err := w.c.Write(append(hdr, body...))
	return err
}

func (w *wsConn) writeText(b []byte) error { return w.writeFrame(0x1, b) }

func (w *wsConn) readMessage() ([]byte, error) {
	var msg []byte
	for {
		var h [2]byte
		if _, err := io.ReadFull(w.r, h[:]); err != nil {
			return nil, err
		}
		fin, opcode := h[0]&0x80 != 0, h[0]&0x0f
		n := uint64(h[1] & 0x7f)
		switch n {
		case 126:
			var e [2]byte
			if _, err := io.ReadFull(w.r, e[:]); err != nil {
				return nil, err
			}
			n = uint64(binary.BigEndian.Uint16(e[:]))
		case 127:
			var e [8]byte
			if _, err := io.ReadFull(w.r, e[:]); err != nil {
				return nil, err
			}
			n = binary.BigEndian.Uint64(e[:])
		}
		var mask []byte
		if h[1]&0x80 != 0 {
			mask = make([]byte, 4)
			if _, err := io.ReadFull(w.r, mask); err != nil {
				return nil, err
			}
		}
		payload := make([]byte, n)
		if _, err := io.ReadFull(w.r, payload); err != nil {
			return nil, err
		}
		if mask != nil {
			for i := range payload {
				payload[i] ^= mask[i%4]
			}
		}
		switch opcode {
		case 0x8:
			return nil, errors.New("websocket closed by chromium")
		case 0x9:
			if err := w.writeFrame(0xA, payload); err != nil {
				return nil, err
			}
			continue
		case 0xA:
			continue
		}
		msg = append(msg, payload...)
		if fin {
			return msg, nil
		}
	}
}

// CheckCharts fails the test unless the page's svg.chart elements are
// exactly those of want (chart id: the number of series it draws), each laid
// out at a non-zero size, each series a stroked line of at least two points
// inside its chart that spans at least a third of its width (lines over time
// or percentiles do), and unless the console has no errors.
func (p *Page) CheckCharts(t testing.TB, name string, want map[string]int) {
	t.Helper()
	charts := p.Charts(t)
	if len(charts) != len(want) {
		ids := make([]string, 0, len(charts))
		for _, c := range charts {
			ids = append(ids, c.ID)
		}
		t.Errorf("%s: charts %q rendered, want %d", name, ids, len(want))
	}
	for _, c := range charts {
		n, ok := want[c.ID]
		if !ok {
			t.Errorf("%s: unexpected chart %q", name, c.ID)
			continue
		}
		if c.Width <= 0 || c.Height <= 0 {
			t.Errorf("%s chart %s: laid out at %vx%v", name, c.ID, c.Width, c.Height)
		}
		if len(c.Series) != n {
			t.Errorf("%s chart %s: %d series drawn, want %d", name, c.ID, len(c.Series), n)
		}
		for _, s := range c.Series {
			if s.Length <= 0 || s.Points < 2 || s.Width < c.Width/3 || s.Stroke == "none" || s.Stroke == "" {
				t.Errorf("%s chart %s series %s not drawn: %+v", name, c.ID, s.Name, s)
			}
			if s.Left < c.Left || s.Right > c.Left+c.Width || s.Top < c.Top || s.Bottom > c.Top+c.Height {
				t.Errorf("%s chart %s series %s outside its chart: %+v, chart %+v", name, c.ID, s.Name, s, c)
			}
		}
	}
	p.Sync(t)
	if errs := p.Errors(); len(errs) > 0 {
		t.Errorf("%s: errors in the console:\n%s", name, strings.Join(errs, "\n"))
	}
}
