//go:build unix

package systest

import (
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestProc_ExitNobodyAskedFor_IsACrash(t *testing.T) {
	p := NewProc(t.TempDir(), "quitter", "sh", "-c", "echo said something; exit 3")
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Wait(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	crashes := p.Crashes()
	if len(crashes) != 1 || !strings.Contains(crashes[0], "quitter") || !strings.Contains(crashes[0], "exit status 3") {
		t.Fatalf("crashes %q", crashes)
	}
	if st := p.ProcessState(); st == nil || st.ExitCode() != 3 {
		t.Fatalf("process state %v", st)
	}
	if err := p.ExitErr(); err == nil || !strings.Contains(err.Error(), "said something") {
		t.Fatalf("ExitErr = %v, want the log's end", err)
	}
}

func TestProc_StopsTheTestAsked_AreNotCrashes_FreezeIsNotAStop(t *testing.T) {
	p := NewProc(t.TempDir(), "sleeper", "sleep", "60")
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	pid := p.Pid()
	if pid == 0 {
		t.Fatal("no pid")
	}
	if err := p.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	if err := p.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	if err := p.Kill(); err != nil {
		t.Fatal(err)
	}
	if c := p.Crashes(); len(c) != 0 {
		t.Fatalf("a kill the test sent counted as a crash: %q", c)
	}
	// Restarted, then killed from outside the Proc: a crash.
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	if p.Pid() == pid {
		t.Fatal("same pid after a restart")
	}
	if err := syscall.Kill(p.Pid(), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	p.Wait(10 * time.Second)
	if c := p.Crashes(); len(c) != 1 || !strings.Contains(c[0], "a SIGKILL the harness did not send") {
		t.Fatalf("crashes %q", c)
	}
}

func TestProc_Command_WrapsTheProgram(t *testing.T) {
	var got []string
	p := NewProc(t.TempDir(), "wrapped", "echo", "hello")
	p.Command = func(bin string, args ...string) *exec.Cmd {
		got = append([]string{bin}, args...)
		return exec.Command("env", append([]string{"WRAPPED=1", bin}, args...)...)
	}
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Wait(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	log, err := p.LogSinceStart()
	if err != nil || !strings.Contains(log, "hello") || !slices.Equal(got, []string{"echo", "hello"}) {
		t.Fatalf("log %q (%v), wrapper given %q", log, err, got)
	}
}
