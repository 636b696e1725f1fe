package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/raftline/raftline/broker/clustertest"
)

func TestCanary_BadFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"canary", "--rate", "0"}, "--rate 0: must be positive"},
		{[]string{"canary", "--timeout", "-1s"}, "--timeout -1s: must be positive"},
		{[]string{"canary", "--brokers", ""}, "--brokers: none given"},
		{[]string{"canary", "--metrics-addr", ""}, "--metrics-addr"},
		{[]string{"canary", "extra"}, "unexpected arguments"},
	} {
		code, _, stderr := runCLI(t, tc.args...)
		if code != exitUsage || !strings.Contains(stderr, tc.want) {
			t.Errorf("%q: exit %d, stderr lacks %q:\n%s", tc.args, code, tc.want, stderr)
		}
	}
	if code, stdout, _ := runCLI(t, "canary", "-h"); code != exitOK || !strings.Contains(stdout, "usage: loadgen canary") {
		t.Errorf("canary -h: exit %d:\n%s", code, stdout)
	}
}

// loadgen canary runs against a real cluster until interrupted, serving its
// probes' results on --metrics-addr, and exits 0.
func TestCanary_RunsUntilInterrupted(t *testing.T) {
	c := clustertest.Start(t, clustertest.Options{Nodes: 3})
	var stdout, stderr syncBuffer
	interrupts := make(chan os.Signal, 1)
	exit := make(chan int, 1)
	go func() {
		exit <- run([]string{"canary", "--brokers", strings.Join(c.KafkaAddrs(), ","), "--rate", "10",
			"--metrics-addr", "127.0.0.1:0"}, &stdout, &stderr, interrupts)
	}()
	addr := regexp.MustCompile(`metrics at (http://\S+/metrics)`)
	clustertest.Wait(t, 60*time.Second, "5 canary probes read back", func() error {
		m := addr.FindStringSubmatch(stderr.String())
		if m == nil {
			return fmt.Errorf("no metrics address in stderr: %s", stderr.String())
		}
		resp, err := http.Get(m[1])
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		for n := 5; n < 1000; n++ {
			if strings.Contains(string(body), fmt.Sprintf("loadgen_canary_consumed_total{result=\"success\"} %d\n", n)) {
				return nil
			}
		}
		return fmt.Errorf("not yet:\n%s", regexp.MustCompile(`(?m)^loadgen_canary_\w+_total.*$`).FindAllString(string(body), -1))
	})
	interrupts <- os.Interrupt
	select {
	case code := <-exit:
		if code != exitOK {
			t.Errorf("exit %d after an interrupt; stderr:\n%s", code, stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("canary still running 30s after an interrupt; stderr:\n%s", stderr.String())
	}
}
