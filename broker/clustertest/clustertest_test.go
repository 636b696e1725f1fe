package clustertest

import (
	"fmt"
	"log/slog"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"
)

// fatalTB records a Fatalf and ends the calling goroutine, as testing.T does.
type fatalTB struct {
	testing.TB
	msg string
}

func (f *fatalTB) Fatalf(format string, args ...any) {
	f.msg = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

// A node that cannot start fails the test with the reason and its log, not
// a bare timeout.
func TestStartNode_Failure_ReportsTheErrorAndTheNodesLog(t *testing.T) {
	c := Start(t, Options{Nodes: 1, LogLevel: slog.LevelDebug})
	n := c.Nodes[0]
	c.Kill(n)
	// Something else takes the node's HTTP port while it is down.
	ln, err := net.Listen("tcp", n.Cfg.HTTPAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	defer func(d time.Duration) { startRetry = d }(startRetry)
	startRetry = 300 * time.Millisecond

	fake := &fatalTB{TB: t}
	c.t = fake
	done := make(chan struct{})
	go func() { defer close(done); c.StartNode(n) }()
	<-done
	c.t = t
	if n.Up() {
		t.Fatal("the node started on a taken port")
	}
	for _, want := range []string{"node 1 did not start", "address already in use", n.Cfg.HTTPAddr, "its log ends:", "node_id=1"} {
		if !strings.Contains(fake.msg, want) {
			t.Errorf("failure message lacks %q:\n%s", want, fake.msg)
		}
	}
}

func TestFreePorts_ReservedConsecutive(t *testing.T) {
	ports := FreePorts(t, 3)
	if len(ports) != 3 || ports[1] != ports[0]+1 || ports[2] != ports[0]+2 {
		t.Fatalf("ports %v", ports)
	}
}
