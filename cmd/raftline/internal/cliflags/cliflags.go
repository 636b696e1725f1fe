// Package cliflags is the flag handling every raftline command shares, so
// that serve, dev, health and version read their command lines alike: flags
// are written --name in help and errors; a bad value is reported with what
// was expected (a duration needs a unit) and parsing goes on, so one attempt
// lists every bad value; stray arguments are errors; flags may fall back to
// RAFTLINE_* environment variables, and the help names each flag's variable.
//
// A Set never prints on its own: Parse returns flag.ErrHelp or the errors,
// and the command decides where the help or the errors go (Help, Report).
package cliflags

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// Set is a command's flags: a flag.FlagSet to define them on, and the
// parsing, environment fallbacks, help and error reporting around it.
type Set struct {
	*flag.FlagSet
	// Synopsis is the help's usage line, such as "raftline serve [flags]".
	Synopsis string
	// About is the help's text between the usage line and the flags.
	About string
	// Env, when set, names the environment variable a flag falls back to
	// when the command line does not give it, or "" for a flag without one.
	Env func(flag string) string
	// PassThrough allows arguments after "--" (Args returns them); any
	// other argument is an error. Without it every argument is an error.
	PassThrough bool
	// Hint is the line Report prints after the errors (default: "<name>
	// -h lists the flags").
	Hint string

	parsing bool    // the command line is being parsed: bad values are recorded, not returned
	errs    []error // bad values found while parsing the command line
}

// New returns an empty Set for the command name ("raftline serve").
func New(name, synopsis, about string) *Set {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	// The flag package would print its own usage on every error; Help
	// and Report print instead.
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return &Set{FlagSet: fs, Synopsis: synopsis, About: about}
}

// Parse parses args, then sets every flag the command line left out from
// its environment variable (see Env) when that is not empty: the command
// line wins. It returns flag.ErrHelp for -h or --help, else every problem
// found, joined, each naming its flag ("--election-timeout: ...") or
// variable ("RAFTLINE_ELECTION_TIMEOUT=...: ..."). When a value is bad the
// flag keeps its default, so callers should not check the values further.
func (s *Set) Parse(args []string, getenv func(string) string) error {
	s.VisitAll(func(f *flag.Flag) {
		if _, done := f.Value.(checker); !done {
			f.Value = wrap(s, f)
		}
	})
	s.errs = nil
	s.parsing = true
	err := s.FlagSet.Parse(args)
	s.parsing = false
	if errors.Is(err, flag.ErrHelp) {
		return err
	}
	errs := s.errs
	if err != nil {
		errs = append(errs, flagError(err))
	} else if s.NArg() > 0 {
		consumed := len(args) - s.NArg()
		switch {
		case s.PassThrough && consumed > 0 && args[consumed-1] == "--":
		case s.PassThrough:
			errs = append(errs, fmt.Errorf("unexpected argument %q: arguments for every node go after --", s.Arg(0)))
		default:
			errs = append(errs, fmt.Errorf("unexpected argument %q", s.Arg(0)))
		}
	}
	if s.Env != nil && getenv != nil {
		given := map[string]bool{}
		s.Visit(func(f *flag.Flag) { given[f.Name] = true })
		s.VisitAll(func(f *flag.Flag) {
			name := s.Env(f.Name)
			if given[f.Name] || name == "" {
				return
			}
			if v := getenv(name); v != "" {
				if err := f.Value.Set(v); err != nil {
					errs = append(errs, fmt.Errorf("%s=%q: %v", name, v, err))
				}
			}
		})
	}
	return errors.Join(errs...)
}

// flagError rewrites the flag package's own errors (an unknown flag, a
// missing value) in the --name spelling the help uses.
func flagError(err error) error {
	msg := err.Error()
	if name, ok := strings.CutPrefix(msg, "flag provided but not defined: "); ok {
		return fmt.Errorf("unknown flag --%s", strings.TrimLeft(name, "-"))
	}
	if name, ok := strings.CutPrefix(msg, "flag needs an argument: "); ok {
		return fmt.Errorf("--%s: needs a value", strings.TrimLeft(name, "-"))
	}
	return err
}

// Help writes the help: the usage line, About, then every flag with its
// type, its environment variable, its default and what it is for.
func (s *Set) Help(w io.Writer) {
	fmt.Fprintf(w, "Usage: %s\n", s.Synopsis)
	if s.About != "" {
		fmt.Fprintf(w, "\n%s\n", strings.TrimRight(s.About, "\n"))
	}
	n := 0
	s.VisitAll(func(*flag.Flag) { n++ })
	if n == 0 {
		return
	}
	fmt.Fprintf(w, "\nFlags:\n")
	s.VisitAll(func(f *flag.Flag) {
		line := "  --" + f.Name
		if k := kindOf(f.Value); k != "bool" {
			line += " " + k
		}
		var notes []string
		if s.Env != nil {
			if name := s.Env(f.Name); name != "" {
				notes = append(notes, name)
			}
		}
		if !isZero(f.DefValue) {
			notes = append(notes, "default "+f.DefValue)
		}
		if len(notes) > 0 {
			line += " (" + strings.Join(notes, ", ") + ")"
		}
		fmt.Fprintf(w, "%s\n      %s\n", line, f.Usage)
	})
}

func isZero(def string) bool {
	switch def {
	case "", "0", "false", "0s":
		return true
	}
	return false
}

// Report writes err for the command (see the package Report), with Hint.
func (s *Set) Report(w io.Writer, err error) { Report(w, s.Name(), s.Hint, err) }

// Report writes a command's usage error: one line for one problem, a heading
// and one indented line each for several, then the hint (when empty:
// "<command> -h lists the flags"). The whole usage is not repeated: the
// problem stays in view, and -h is one command away.
func Report(w io.Writer, command, hint string, err error) {
	errs := []error{err}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	}
	if len(errs) == 1 {
		fmt.Fprintf(w, "%s: %v\n", command, errs[0])
	} else {
		fmt.Fprintf(w, "%s: invalid configuration:\n", command)
		for _, e := range errs {
			fmt.Fprintf(w, "  %v\n", e)
		}
	}
	if hint == "" {
		hint = command + " -h lists the flags"
	}
	fmt.Fprintln(w, hint)
}

// checker is a flag's value wrapped by Parse: Set explains what it expected
// when it rejects a value, and records the error instead of stopping while
// the command line is parsed.
type checker interface{ checked() }

type value struct {
	flag.Value
	set  *Set
	name string
	kind string
}

func (v *value) checked() {}

// Get returns the wrapped value's Get, for flag.Getter.
func (v *value) Get() any {
	if g, ok := v.Value.(flag.Getter); ok {
		return g.Get()
	}
	return v.Value.String()
}

func (v *value) Set(s string) error {
	before := v.Value.String()
	err := v.Value.Set(s)
	if err == nil {
		return nil
	}
	// The flag package's values are overwritten even by a value they
	// reject; put back what was there.
	v.Value.Set(before)
	err = errors.New(reason(v.kind, s, err))
	if v.set.parsing {
		v.set.errs = append(v.set.errs, fmt.Errorf("--%s: %q: %v", v.name, s, err))
		return nil
	}
	return err
}

// boolValue keeps a bool flag usable without a value (--auto-create-topics).
type boolValue struct{ *value }

func (boolValue) IsBoolFlag() bool { return true }

func wrap(s *Set, f *flag.Flag) flag.Value {
	v := &value{Value: f.Value, set: s, name: f.Name, kind: kindOf(f.Value)}
	if b, ok := f.Value.(interface{ IsBoolFlag() bool }); ok && b.IsBoolFlag() {
		return boolValue{v}
	}
	return v
}

// kindOf names a flag's type as the help shows it.
func kindOf(v flag.Value) string {
	if w, ok := v.(*value); ok {
		return w.kind
	}
	if w, ok := v.(boolValue); ok {
		return w.kind
	}
	g, ok := v.(flag.Getter)
	if !ok {
		return "value"
	}
	switch g.Get().(type) {
	case bool:
		return "bool"
	case int, int64:
		return "int"
	case uint, uint64:
		return "uint"
	case float64:
		return "number"
	case time.Duration:
		return "duration"
	case string:
		return "string"
	}
	return "value"
}

// reason says what a rejected value should have been.
func reason(kind, s string, err error) string {
	switch kind {
	case "duration":
		if _, perr := strconv.ParseFloat(s, 64); perr == nil {
			return "a duration needs a unit, as in 5s, 500ms or 2m"
		}
		return "not a duration such as 5s, 500ms or 2m (units: ns, us, ms, s, m, h)"
	case "int":
		if _, perr := strconv.ParseInt(s, 0, 64); perr == nil || errors.Is(perr, strconv.ErrRange) {
			return "out of range"
		}
		return "not a whole number"
	case "uint":
		if _, perr := strconv.ParseInt(s, 0, 64); perr == nil && strings.HasPrefix(s, "-") {
			return "must not be negative"
		}
		if _, perr := strconv.ParseUint(s, 0, 64); perr == nil || errors.Is(perr, strconv.ErrRange) {
			return "out of range"
		}
		return "not a whole number"
	case "bool":
		return "not true or false"
	case "number":
		return "not a number"
	}
	return err.Error()
}
