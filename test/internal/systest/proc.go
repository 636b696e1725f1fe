package systest

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/raftline/raftline/internal/childproc"
)

// Proc is one child program, restartable with the same arguments, whose
// stdout and stderr are appended to one log file across restarts, each start
// marked in it, so a failed test can show what the program said. An exit
// the test did not ask for (no Signal or Kill before it) is recorded as a
// crash.
type Proc struct {
	Name    string
	Bin     string
	Args    []string
	Env     []string // ChildEnv() when nil
	LogPath string
	// Noise, when set, matches log lines that failure reports leave out.
	Noise *regexp.Regexp
	// Command, when set, makes the command that runs Bin with Args, for a
	// program started through a wrapper: the chaos suite runs each node
	// inside its network namespace with `ip netns exec`. exec.Command when
	// nil. Start sets the returned command's environment and output and
	// has it killed with the test binary, as for any other.
	Command func(bin string, args ...string) *exec.Cmd

	mu       sync.Mutex
	cmd      *exec.Cmd
	exited   chan struct{} // closed when the current process has exited
	err      error         // the current process's exit status, once exited
	logFrom  int64         // size of the log when the current process started
	stopping bool          // the test signalled the current process to end
	crashes  []string
}

// NewProc describes a program whose log is dir/name.log; it does not start it.
func NewProc(dir, name, bin string, args ...string) *Proc {
	return &Proc{Name: name, Bin: bin, Args: args, LogPath: filepath.Join(dir, name+".log")}
}

// Start starts the program. The kernel kills it if the test binary dies
// (on Linux), so a test that panics or times out leaves nothing running.
func (p *Proc) Start() error {
	if p.Running() {
		return fmt.Errorf("%s is already running", p.Name)
	}
	f, err := os.OpenFile(p.LogPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer f.Close() // the child holds its own descriptor
	st, err := f.Stat()
	if err != nil {
		return err
	}
	fmt.Fprintf(f, "=== test harness: starting %s at %s ===\n", p.Name, time.Now().Format(time.RFC3339Nano))
	command := p.Command
	if command == nil {
		command = exec.Command
	}
	cmd := command(p.Bin, p.Args...)
	cmd.Env = p.Env
	if cmd.Env == nil {
		cmd.Env = ChildEnv()
	}
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = childproc.DieWithParent()
	if err := childproc.Start(cmd); err != nil {
		return fmt.Errorf("start %s: %w", p.Name, err)
	}
	exited := make(chan struct{})
	p.mu.Lock()
	p.cmd, p.exited, p.err, p.logFrom, p.stopping = cmd, exited, nil, st.Size(), false
	p.mu.Unlock()
	go func() {
		err := cmd.Wait()
		p.mu.Lock()
		p.err = err
		if !p.stopping {
			why := ""
			if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL {
				// The test did not send it and the programs under test
				// do not: some other process on the machine did.
				why = " (a SIGKILL the harness did not send)"
			}
			p.crashes = append(p.crashes, fmt.Sprintf("%s (pid %d) exited on its own at %s: %v%s",
				p.Name, cmd.Process.Pid, time.Now().Format("15:04:05.000"), cmd.ProcessState, why))
		}
		p.mu.Unlock()
		close(exited)
	}()
	return nil
}

// Pid is the current process's id, or 0 before the first start.
func (p *Proc) Pid() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil || p.cmd.Process == nil {
		return 0
	}
	return p.cmd.Process.Pid
}

// ProcessState is how the current process ended, or nil while it runs.
func (p *Proc) ProcessState() *os.ProcessState {
	if p.Running() {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		return nil
	}
	return p.cmd.ProcessState
}

// Crashes lists the exits the test did not cause, one line each.
func (p *Proc) Crashes() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.crashes)
}

// Running reports whether the current process is alive (a stopped one is).
func (p *Proc) Running() bool {
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

// ExitErr returns nil while the process runs, else why it is not running,
// with the end of its log.
func (p *Proc) ExitErr() error {
	if p.Running() {
		return nil
	}
	p.mu.Lock()
	err := p.err
	p.mu.Unlock()
	return fmt.Errorf("%s exited (%v); its log ends:\n%s", p.Name, err, Tail(p.LogPath, 40, p.Noise))
}

// Signal sends sig to the current process. Any signal but SIGSTOP and
// SIGCONT makes the process's exit one the test asked for, not a crash.
func (p *Proc) Signal(sig syscall.Signal) error {
	if !p.Running() {
		return fmt.Errorf("%s is not running", p.Name)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if sig != syscall.SIGSTOP && sig != syscall.SIGCONT {
		p.stopping = true
	}
	return p.cmd.Process.Signal(sig)
}

// ExpectExit makes the current process's next exit one the test caused, not
// a crash: the test is about to inject a fault the program must answer by
// exiting on its own (a disk failure).
func (p *Proc) ExpectExit() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stopping = true
}

// Kill sends SIGKILL, a crash, and waits until the process is gone so that
// its ports and files are free again. A process not running is left alone.
func (p *Proc) Kill() error {
	if !p.Running() {
		return nil
	}
	if err := p.Signal(syscall.SIGKILL); err != nil {
		return err
	}
	if _, err := p.Wait(10 * time.Second); err != nil {
		return fmt.Errorf("%s still running 10s after SIGKILL", p.Name)
	}
	return nil
}

// Wait waits up to timeout for the current process to exit and returns its
// exit status (nil for a clean exit); the error is set when it did not exit.
func (p *Proc) Wait(timeout time.Duration) (status, err error) {
	p.mu.Lock()
	exited := p.exited
	p.mu.Unlock()
	if exited == nil {
		return nil, fmt.Errorf("%s was never started", p.Name)
	}
	select {
	case <-exited:
	case <-time.After(timeout):
		return nil, fmt.Errorf("%s still running after %v", p.Name, timeout)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err, nil
}

// LogSinceStart is what the current process has logged so far.
func (p *Proc) LogSinceStart() (string, error) {
	p.mu.Lock()
	from := p.logFrom
	p.mu.Unlock()
	f, err := os.Open(p.LogPath)
	if err != nil {
		return "", err
	}
	defer f.Close()
	if _, err := f.Seek(from, io.SeekStart); err != nil {
		return "", err
	}
	b, err := io.ReadAll(f)
	return string(b), err
}
