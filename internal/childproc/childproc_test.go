package childproc

import (
	"os/exec"
	"strings"
	"testing"
)

// A child started through Start sees no RAFTLINE_ variable of its parent,
// and does see the extra ones.
func TestStart_ChildGetsEnvWithoutRaftlineSettings(t *testing.T) {
	t.Setenv("RAFTLINE_NODE_ID", "7")
	t.Setenv("CHILDPROC_KEPT", "yes")
	var out strings.Builder
	cmd := exec.Command("/usr/bin/env")
	cmd.Env = Env("RAFTLINE_EXTRA=1")
	cmd.Stdout = &out
	cmd.SysProcAttr = DieWithParent()
	if err := Start(cmd); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}
	env := out.String()
	if strings.Contains(env, "RAFTLINE_NODE_ID") {
		t.Errorf("child inherited RAFTLINE_NODE_ID:\n%s", env)
	}
	for _, want := range []string{"CHILDPROC_KEPT=yes", "RAFTLINE_EXTRA=1"} {
		if !strings.Contains(env, want) {
			t.Errorf("child environment lacks %s:\n%s", want, env)
		}
	}
}
