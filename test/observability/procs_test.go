package observability

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

func hostPort(port int) string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(port)) }

// pollInterval is how often waitFor re-checks a condition.
const pollInterval = 250 * time.Millisecond

// waitFor polls cond until it returns nil and fails the test with cond's
// last error once timeout has passed. Every wait in this package goes
// through it: on a loaded machine only an observed condition, never a fixed
// sleep, says that something has happened.
func waitFor(t testing.TB, timeout time.Duration, what string, cond func() error) {
	t.Helper()
	if err := poll(timeout, cond); err != nil {
		t.Fatalf("timed out after %v waiting for %s: %v", timeout, what, err)
	}
}

// poll is waitFor without the test: it returns cond's last error, or nil
// once cond holds.
func poll(timeout time.Duration, cond func() error) error {
	deadline := time.Now().Add(timeout)
	for {
		err := cond()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return err
		}
		time.Sleep(pollInterval)
	}
}

// proc is one child process whose output goes to a log file that survives
// restarts, so a failed test can show what each program said.
type proc struct {
	name    string
	bin     string
	args    []string
	logPath string
	// noise, when set, matches log lines left out of a failed test's
	// output (a node's routine snapshot messages would bury its elections).
	noise *regexp.Regexp

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{} // closed when the current process has exited
	err    error         // the current process's exit status, once exited
}

func newProc(dir, name, bin string, args ...string) *proc {
	return &proc{name: name, bin: bin, args: args, logPath: filepath.Join(dir, name+".log")}
}

// start starts the process, appending its stdout and stderr to its log.
func (p *proc) start() error {
	if p.running() {
		return fmt.Errorf("%s is already running", p.name)
	}
	f, err := os.OpenFile(p.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer f.Close() // the child holds its own descriptor
	fmt.Fprintf(f, "=== test harness: starting %s at %s ===\n", p.name, time.Now().Format(time.RFC3339Nano))
	cmd := exec.Command(p.bin, p.args...)
	cmd.Env = childEnv()
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = dieWithTest()
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", p.name, err)
	}
	exited := make(chan struct{})
	p.mu.Lock()
	p.cmd, p.exited, p.err = cmd, exited, nil
	p.mu.Unlock()
	go func() {
		err := cmd.Wait()
		p.mu.Lock()
		p.err = err
		p.mu.Unlock()
		close(exited)
	}()
	return nil
}

func (p *proc) running() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.exited == nil {
		return false
	}
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// exitErr describes why the process is not running, or returns nil while
// it runs.
func (p *proc) exitErr() error {
	if p.running() {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return fmt.Errorf("%s exited (%v); log tail:\n%s", p.name, p.err, tail(p.logPath, 20, p.noise))
}

// kill sends SIGKILL, the crash the election storm is made of, and waits
// until the process is gone so that its ports are free again.
func (p *proc) kill() error {
	p.mu.Lock()
	cmd, exited := p.cmd, p.exited
	p.mu.Unlock()
	if cmd == nil || !p.running() {
		return nil
	}
	if err := cmd.Process.Kill(); err != nil {
		return fmt.Errorf("kill %s: %w", p.name, err)
	}
	select {
	case <-exited:
		return nil
	case <-time.After(10 * time.Second):
		return fmt.Errorf("%s still running 10s after SIGKILL", p.name)
	}
}

// tail returns the last n lines of a file, leaving out lines that noise
// matches (if it is not nil).
func tail(path string, n int, noise *regexp.Regexp) string {
	f, err := os.Open(path)
	if err != nil {
		return err.Error()
	}
	defer f.Close()
	const max = 256 << 10
	if st, err := f.Stat(); err == nil && st.Size() > max {
		f.Seek(st.Size()-max, io.SeekStart)
	}
	var lines []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if noise != nil && noise.MatchString(sc.Text()) {
			continue
		}
		lines = append(lines, sc.Text())
		if len(lines) > n {
			lines = lines[1:]
		}
	}
	return strings.Join(lines, "\n")
}

// procs kills every registered process when the test ends and, if the test
// failed, logs the end of each one's output.
type procs struct {
	t    testing.TB
	list []*proc
}

func newProcs(t testing.TB) *procs {
	ps := &procs{t: t}
	t.Cleanup(ps.cleanup)
	return ps
}

func (ps *procs) add(p *proc) *proc { ps.list = append(ps.list, p); return p }

func (ps *procs) cleanup() {
	for _, p := range ps.list {
		if err := p.kill(); err != nil {
			ps.t.Log(err)
		}
	}
	if ps.t.Failed() {
		for _, p := range ps.list {
			ps.t.Logf("--- %s (%s) log tail ---\n%s", p.name, p.logPath, tail(p.logPath, 60, p.noise))
		}
	}
}
