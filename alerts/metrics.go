package alerts

import (
	"slices"
	"strings"
)

// promSynthetic are series Prometheus creates itself for every target; no
// node exports them, so MetricNames leaves them out.
var promSynthetic = map[string]bool{"up": true}

// MetricNames returns, sorted and without duplicates, every metric name the
// rules read from raftline's own /metrics: names used by recorded series are
// followed back to the metrics they are computed from, and series Prometheus
// synthesises (up) are left out. Histogram series appear as exposed
// (raft_commit_duration_seconds_bucket), so each name can be looked up
// directly in a node's exposition.
func MetricNames() []string {
	groups := Groups(DefaultConfig())
	recorded := map[string]bool{}
	for _, g := range groups {
		for _, r := range g.Rules {
			if r.Record != "" {
				recorded[r.Record] = true
			}
		}
	}
	var names []string
	for _, g := range groups {
		for _, r := range g.Rules {
			for _, n := range ExprMetricNames(r.Expr) {
				if !recorded[n] && !promSynthetic[n] {
					names = append(names, n)
				}
			}
		}
	}
	slices.Sort(names)
	return slices.Compact(names)
}

// ExprMetricNames returns the metric names selected by a PromQL expression,
// in order of first appearance. It is a small lexer rather than a parser: it
// skips string literals, label matchers ({...}), ranges ([...]), the label
// lists of by/without/on/ignoring/group_left/group_right, numbers and
// durations, keywords, and identifiers called as functions. What remains is
// a series selector's name. Selecting by {__name__="..."} is not recognised;
// raftline's rules do not do it.
func ExprMetricNames(expr string) []string {
	var names []string
	seen := map[string]bool{}
	s := expr
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '"' || c == '\'' || c == '`':
			i = skipString(s, i)
		case c == '{':
			i = skipBalanced(s, i, '{', '}')
		case c == '[':
			i = skipBalanced(s, i, '[', ']')
		case c == '#': // comment to end of line
			for i < len(s) && s[i] != '\n' {
				i++
			}
		case isDigit(c) || (c == '.' && i+1 < len(s) && isDigit(s[i+1])):
			// Numbers, durations (5m) and exponents (1e3) are one token.
			for i < len(s) && (isIdentChar(s[i]) || s[i] == '.' ||
				((s[i] == '+' || s[i] == '-') && (s[i-1] == 'e' || s[i-1] == 'E'))) {
				i++
			}
		case isIdentStart(c):
			j := i
			for j < len(s) && isIdentChar(s[j]) {
				j++
			}
			word := s[i:j]
			next := j
			for next < len(s) && isSpace(s[next]) {
				next++
			}
			// A function call, or an aggregation whose by/without clause
			// comes before its arguments (sum by (job) (x)).
			called := next < len(s) && s[next] == '(' ||
				hasWordPrefix(s[next:], "by") || hasWordPrefix(s[next:], "without")
			switch {
			case labelListKeywords[strings.ToLower(word)]:
				if called {
					j = skipBalanced(s, next, '(', ')')
				}
			case keywords[strings.ToLower(word)], called:
				// operator keyword, or a function/aggregation name
			default:
				if !seen[word] {
					seen[word] = true
					names = append(names, word)
				}
			}
			i = j
		default:
			i++
		}
	}
	return names
}

// labelListKeywords are followed by a parenthesised list of label names.
var labelListKeywords = map[string]bool{
	"by": true, "without": true, "on": true, "ignoring": true,
	"group_left": true, "group_right": true,
}

// keywords are bare words in PromQL that are not metric names.
var keywords = map[string]bool{
	"and": true, "or": true, "unless": true, "bool": true, "atan2": true,
	"offset": true, "inf": true, "nan": true,
}

func skipString(s string, i int) int {
	q := s[i]
	for i++; i < len(s); i++ {
		switch {
		case s[i] == '\\' && q != '`':
			i++
		case s[i] == q:
			return i + 1
		}
	}
	return i
}

// skipBalanced returns the index after the bracket matching s[i], skipping
// brackets inside string literals.
func skipBalanced(s string, i int, open, close byte) int {
	depth := 0
	for i < len(s) {
		switch s[i] {
		case '"', '\'', '`':
			i = skipString(s, i)
			continue
		case open:
			depth++
		case close:
			depth--
			if depth == 0 {
				return i + 1
			}
		}
		i++
	}
	return i
}

// hasWordPrefix reports whether s starts with the keyword w as a whole word.
func hasWordPrefix(s, w string) bool {
	return len(s) >= len(w) && strings.EqualFold(s[:len(w)], w) &&
		(len(s) == len(w) || !isIdentChar(s[len(w)]))
}

func isDigit(c byte) bool      { return c >= '0' && c <= '9' }
func isSpace(c byte) bool      { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }
func isIdentStart(c byte) bool { return c == '_' || c == ':' || (c|0x20 >= 'a' && c|0x20 <= 'z') }
func isIdentChar(c byte) bool  { return isIdentStart(c) || isDigit(c) }
