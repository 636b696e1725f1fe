//go:build unix

package process

import (
	"context"
	"errors"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"
)

// envName is the documented rule: RAFTLINE_ and the flag's name in upper
// case with dashes as underscores.
func envName(flag string) string {
	return "RAFTLINE_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// runCLI runs the raftline binary with args (and env added to the test's
// environment, RAFTLINE_* variables removed) and returns its exit code and
// output. It fails the test if the command does not end within 20s: every
// command here is rejected or answered before anything starts.
func runCLI(t *testing.T, env []string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, raftlineBin, args...)
	cmd.Env = childEnv(env...)
	var out, errOut strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("raftline %q still running after 20s; stderr:\n%s", args, errOut.String())
	}
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatalf("raftline %q: %v", args, err)
	}
	return cmd.ProcessState.ExitCode(), out.String(), errOut.String()
}

func lines(s string) []string {
	var out []string
	for _, l := range strings.Split(strings.TrimSpace(s), "\n") {
		if strings.TrimSpace(l) != "" {
			out = append(out, l)
		}
	}
	return out
}

// Every way a newcomer asks for the version prints it.
func TestCLI_VersionFlags_PrintTheVersion(t *testing.T) {
	_, want, _ := runCLI(t, nil, "version")
	if strings.TrimSpace(want) == "" {
		t.Fatal("raftline version printed nothing")
	}
	for _, arg := range []string{"version", "--version", "-version", "-v"} {
		code, out, errOut := runCLI(t, nil, arg)
		if code != 0 || out != want || errOut != "" {
			t.Errorf("raftline %s: exit %d, stdout %q, stderr %q; want exit 0 and %q", arg, code, out, errOut, want)
		}
	}
}

// The help of every command lists its flags; serve's says, flag by flag,
// which RAFTLINE_* variable sets it.
func TestCLI_Help_ServeNamesEachFlagsVariable(t *testing.T) {
	flagLine := regexp.MustCompile(`^\s+--([a-z0-9-]+)\b`)
	for _, cmd := range []string{"serve", "dev", "health", "version"} {
		code, out, errOut := runCLI(t, nil, cmd, "-h")
		if code != 0 || errOut != "" {
			t.Errorf("raftline %s -h: exit %d, stderr %q; want exit 0 and the help on stdout", cmd, code, errOut)
		}
		if !strings.Contains(out, "raftline "+cmd) {
			t.Errorf("raftline %s -h does not name the command:\n%s", cmd, out)
		}
		if cmd != "serve" {
			continue
		}
		n := 0
		for _, l := range strings.Split(out, "\n") {
			m := flagLine.FindStringSubmatch(l)
			if m == nil {
				continue
			}
			n++
			if env := envName(m[1]); !strings.Contains(l, env) {
				t.Errorf("the help line of --%s does not name %s: %q", m[1], env, l)
			}
		}
		if n < 20 {
			t.Errorf("raftline serve -h lists %d flags as --name lines:\n%s", n, out)
		}
	}
	_, out, _ := runCLI(t, nil, "dev", "-h")
	for _, want := range []string{"--default-partitions", "--default-retention-bytes", "--log-level"} {
		if !strings.Contains(out, want) {
			t.Errorf("raftline dev -h lacks %s:\n%s", want, out)
		}
	}
}

// durationFlags lists the flags `raftline <cmd> -h` shows as durations.
func durationFlags(t *testing.T, cmd string) []string {
	t.Helper()
	_, out, _ := runCLI(t, nil, cmd, "-h")
	var names []string
	for _, m := range regexp.MustCompile(`(?m)^\s+--([a-z0-9-]+) duration\b`).FindAllStringSubmatch(out, -1) {
		names = append(names, m[1])
	}
	return names
}

// Bad command lines get one line saying what is wrong and a one-line hint,
// exit status 2, and nothing starts.
func TestCLI_BadArguments_OneClearLineAndAHint(t *testing.T) {
	type bad struct {
		args []string
		env  []string
		want []string // in stderr
	}
	cases := []bad{
		{args: []string{"version", "--x"}, want: []string{"--x"}},
		{args: []string{"version", "extra"}, want: []string{`"extra"`}},
		{args: []string{"serve", "--no-such-flag"}, want: []string{"--no-such-flag"}},
		{args: []string{"serve", "--node-id", "1", "stray"}, want: []string{`"stray"`}},
		{args: []string{"serve", "--node-id", "one"}, want: []string{"--node-id", `"one"`, "whole number"}},
		{args: []string{"serve", "--auto-create-topics=maybe"}, want: []string{"--auto-create-topics", `"maybe"`}},
		{args: []string{"serve", "--election-timeout"}, want: []string{"--election-timeout", "value"}},
		{args: []string{"dev", "--no-such-flag"}, want: []string{"--no-such-flag"}},
		{args: []string{"dev", "stray"}, want: []string{`"stray"`, "--"}},
		{args: []string{"dev", "--default-partitions", "many"}, want: []string{"--default-partitions", `"many"`}},
		{args: []string{"dev", "--default-partitions", "0"}, want: []string{"--default-partitions", "0"}},
		{args: []string{"dev", "--log-level", "loud"}, want: []string{"--log-level", `"loud"`}},
		{args: []string{"dev", "--nodes", "12"}, want: []string{"--nodes", "12"}},
		{args: []string{"dev", "--", "--election-timeout", "5"}, want: []string{"--election-timeout", `"5"`, "unit"}},
		{args: []string{"health", "stray"}, want: []string{`"stray"`}},
		{args: []string{"health", "--timeout", "0s"}, want: []string{"--timeout", "0s", "positive"}},
	}
	// Every duration flag, on the command line and in its variable, asks
	// for a unit.
	serveDurations := durationFlags(t, "serve")
	if len(serveDurations) < 6 {
		t.Fatalf("raftline serve -h shows %d duration flags (%v), want at least 6", len(serveDurations), serveDurations)
	}
	for _, name := range serveDurations {
		cases = append(cases,
			bad{args: []string{"serve", "--" + name, "5"}, want: []string{"--" + name, `"5"`, "unit", "5s"}},
			bad{args: []string{"serve", "--node-id", "1"}, env: []string{envName(name) + "=5"},
				want: []string{envName(name) + `="5"`, "unit", "5s"}})
	}
	for _, name := range durationFlags(t, "health") {
		cases = append(cases, bad{args: []string{"health", "--" + name, "5"}, want: []string{"--" + name, `"5"`, "unit", "5s"}})
	}
	if len(cases) < 16+2*6+1 {
		t.Fatalf("only %d cases: raftline health -h shows no duration flag", len(cases))
	}
	for _, c := range cases {
		t.Run(strings.Join(append(c.env, c.args...), " "), func(t *testing.T) {
			code, out, errOut := runCLI(t, c.env, c.args...)
			if code != 2 {
				t.Fatalf("exit %d, want 2; stdout %q, stderr:\n%s", code, out, errOut)
			}
			for _, w := range c.want {
				if !strings.Contains(errOut, w) {
					t.Errorf("stderr lacks %q:\n%s", w, errOut)
				}
			}
			ls := lines(errOut)
			hint := "raftline " + c.args[0] + " -h lists the flags"
			if c.args[0] == "version" {
				hint = "usage: raftline version (it takes no flags or arguments)"
			}
			if len(ls) != 2 || ls[1] != hint {
				t.Errorf("want the error on one line, then %q; stderr has %d lines:\n%s", hint, len(ls), errOut)
			}
			for _, s := range []string{"panic", "goroutine "} {
				if strings.Contains(errOut, s) {
					t.Errorf("stderr holds %q, as a crash would", s)
				}
			}
		})
	}
}
