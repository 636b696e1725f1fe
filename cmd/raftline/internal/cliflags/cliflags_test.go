package cliflags

import (
	"bytes"
	"errors"
	"flag"
	"slices"
	"strings"
	"testing"
	"time"
)

type flags struct {
	set     *Set
	timeout *time.Duration
	count   *int
	size    *uint64
	on      *bool
	name    *string
}

func newFlags() *flags {
	s := New("raftline test", "raftline test [flags]", "Tests the flags.")
	return &flags{
		set:     s,
		timeout: s.Duration("timeout", time.Second, "how long"),
		count:   s.Int("count", 3, "how many"),
		size:    s.Uint64("size", 0, "how big"),
		on:      s.Bool("on", true, "whether"),
		name:    s.String("name", "x", "what"),
	}
}

func env(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

func messages(err error) []string {
	var out []string
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		for _, e := range j.Unwrap() {
			out = append(out, e.Error())
		}
	} else if err != nil {
		out = append(out, err.Error())
	}
	return out
}

func TestParse_BadValues_EachExplained_ParsingGoesOn(t *testing.T) {
	f := newFlags()
	err := f.set.Parse([]string{"--timeout", "5", "--count=many", "--size=-1", "--on=maybe", "--name", "y"}, nil)
	want := []string{
		`--timeout: "5": a duration needs a unit, as in 5s, 500ms or 2m`,
		`--count: "many": not a whole number`,
		`--size: "-1": must not be negative`,
		`--on: "maybe": not true or false`,
	}
	if got := messages(err); !slices.Equal(got, want) {
		t.Fatalf("errors\n %q\nwant\n %q", got, want)
	}
	if *f.name != "y" {
		t.Fatalf("parsing stopped at the first bad value: --name is %q", *f.name)
	}
	if *f.timeout != time.Second {
		t.Fatalf("a rejected value changed the flag: %v", *f.timeout)
	}
}

func TestParse_DurationWithoutANumber(t *testing.T) {
	err := newFlags().set.Parse([]string{"--timeout=soon"}, nil)
	if got := messages(err); len(got) != 1 || !strings.Contains(got[0], `"soon": not a duration such as 5s`) {
		t.Fatalf("errors %q", got)
	}
}

func TestParse_UnknownFlag_MissingValue_StrayArgument(t *testing.T) {
	for args, want := range map[string]string{
		"--nope":         "unknown flag --nope",
		"-nope":          "unknown flag --nope",
		"--timeout":      "--timeout: needs a value",
		"--count=1 more": `unexpected argument "more"`,
	} {
		err := newFlags().set.Parse(strings.Fields(args), nil)
		if got := messages(err); len(got) != 1 || got[0] != want {
			t.Errorf("%s: errors %q, want %q", args, got, want)
		}
	}
}

func TestParse_PassThrough_OnlyAfterDashDash(t *testing.T) {
	f := newFlags()
	f.set.PassThrough = true
	if err := f.set.Parse([]string{"--count=2", "--", "--other", "x"}, nil); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(f.set.Args(), []string{"--other", "x"}) || *f.count != 2 {
		t.Fatalf("args %q, count %d", f.set.Args(), *f.count)
	}
	f = newFlags()
	f.set.PassThrough = true
	err := f.set.Parse([]string{"--count=2", "stray"}, nil)
	if got := messages(err); len(got) != 1 || !strings.Contains(got[0], `"stray"`) || !strings.Contains(got[0], "after --") {
		t.Fatalf("errors %q", got)
	}
}

func TestParse_Env_FillsWhatTheCommandLineLeftOut(t *testing.T) {
	f := newFlags()
	f.set.Env = func(name string) string {
		if name == "name" {
			return "" // no variable
		}
		return "T_" + strings.ToUpper(name)
	}
	vars := env(map[string]string{"T_TIMEOUT": "2s", "T_COUNT": "9", "T_ON": "false", "T_NAME": "ignored"})
	if err := f.set.Parse([]string{"--count=4"}, vars); err != nil {
		t.Fatal(err)
	}
	if *f.timeout != 2*time.Second || *f.count != 4 || *f.on || *f.name != "x" {
		t.Fatalf("timeout %v count %d on %v name %q", *f.timeout, *f.count, *f.on, *f.name)
	}
	f = newFlags()
	f.set.Env = func(name string) string { return "T_" + strings.ToUpper(name) }
	err := f.set.Parse(nil, env(map[string]string{"T_TIMEOUT": "5", "T_COUNT": "x"}))
	got := messages(err)
	slices.Sort(got)
	want := []string{`T_COUNT="x": not a whole number`, `T_TIMEOUT="5": a duration needs a unit, as in 5s, 500ms or 2m`}
	if !slices.Equal(got, want) {
		t.Fatalf("errors\n %q\nwant\n %q", got, want)
	}
}

func TestHelp_EveryFlagWithTypeVariableAndDefault(t *testing.T) {
	f := newFlags()
	f.set.Env = func(name string) string { return "T_" + strings.ToUpper(name) }
	if err := f.set.Parse([]string{"-h"}, nil); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("-h: %v", err)
	}
	var b bytes.Buffer
	f.set.Help(&b)
	for _, want := range []string{
		"Usage: raftline test [flags]\n\nTests the flags.\n",
		"  --timeout duration (T_TIMEOUT, default 1s)\n      how long\n",
		"  --count int (T_COUNT, default 3)\n",
		"  --size uint (T_SIZE)\n",
		"  --on (T_ON, default true)\n",
		"  --name string (T_NAME, default x)\n",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("help lacks %q:\n%s", want, b.String())
		}
	}
}

func TestReport_OneLineOrAList_ThenTheHint(t *testing.T) {
	s := New("raftline test", "", "")
	var b bytes.Buffer
	s.Report(&b, errors.New("--x: bad"))
	if b.String() != "raftline test: --x: bad\nraftline test -h lists the flags\n" {
		t.Fatalf("one error: %q", b.String())
	}
	b.Reset()
	s.Hint = "see the manual"
	s.Report(&b, errors.Join(errors.New("--x: bad"), errors.New("--y: worse")))
	if b.String() != "raftline test: invalid configuration:\n  --x: bad\n  --y: worse\nsee the manual\n" {
		t.Fatalf("two errors: %q", b.String())
	}
}
