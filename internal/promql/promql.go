// Package promql finds every metric name a PromQL query reads.
//
// The dashboards and the alert rules are checked against the metric
// catalogue (telemetry/catalog) and against what live nodes export: a panel
// or a rule that reads a name nothing exports draws nothing or never fires,
// and no query parser would notice. Both need the vector selectors of their
// queries, so both use this package.
//
// It is a small lexer, not a parser, so that the module does not depend on
// the Prometheus server for it (github.com/prometheus/prometheus/promql/parser
// is not otherwise in the module graph). It skips string literals, comments,
// label matchers ({...}), ranges and subqueries ([...]), the label lists of
// by/without/on/ignoring/group_left/group_right, numbers and durations,
// Grafana variables ($name), keywords, aggregations and identifiers called as
// functions. What remains is a series selector's metric name. Selecting by
// {__name__="..."} is not recognised; raftline's queries do not do it.
package promql

import (
	"regexp"
	"slices"
	"strings"
)

// Selector is one instant or range vector selector of a query.
type Selector struct {
	Metric   string
	Matchers string // the text between { and }, "" when there is none
}

// Label returns the value the selector's matcher on label compares with
// (label="v" or label=~"v"), or "" if it has none.
func (s Selector) Label(label string) string {
	re := regexp.MustCompile(`(?:^|[\s,])` + regexp.QuoteMeta(label) + `\s*=~?\s*"((?:[^"\\]|\\.)*)"`)
	if m := re.FindStringSubmatch(s.Matchers); m != nil {
		return m[1]
	}
	return ""
}

// MetricNames returns the metric names expr selects, once each, in order of
// first appearance.
func MetricNames(expr string) []string {
	var names []string
	seen := map[string]bool{}
	for _, s := range Selectors(expr) {
		if !seen[s.Metric] {
			seen[s.Metric] = true
			names = append(names, s.Metric)
		}
	}
	return names
}

// Selectors returns the vector selectors of expr in order of appearance.
func Selectors(expr string) []Selector {
	var out []Selector
	s := expr
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '"' || c == '\'' || c == '`':
			i = skipString(s, i)
		case c == '#': // comment to end of line
			for i < len(s) && s[i] != '\n' {
				i++
			}
		case c == '{': // matchers with no metric name before them
			i = skipBalanced(s, i, '{', '}')
		case c == '[': // range or subquery: durations and variables only
			i = skipBalanced(s, i, '[', ']')
		case c == '$': // a Grafana variable outside a string or range
			i = skipIdent(s, i+1)
		case isDigit(c) || c == '.' && i+1 < len(s) && isDigit(s[i+1]):
			i = skipNumber(s, i)
		case isIdentStart(c):
			end := skipIdent(s, i)
			word := s[i:end]
			lower := strings.ToLower(word)
			next := skipSpace(s, end)
			paren := next < len(s) && s[next] == '('
			switch {
			case grouping[lower]:
				if paren {
					end = skipBalanced(s, next, '(', ')')
				}
			case keywords[lower] || aggregations[lower]:
			case paren || hasWordPrefix(s[next:], "by") || hasWordPrefix(s[next:], "without"):
				// A function call, or an aggregation whose by/without
				// clause comes before its arguments (sum by (job) (x)).
			default:
				sel := Selector{Metric: word}
				if next < len(s) && s[next] == '{' {
					end = skipBalanced(s, next, '{', '}')
					sel.Matchers = s[next+1 : end-1]
				}
				out = append(out, sel)
			}
			i = end
		default:
			i++
		}
	}
	return out
}

// Call is one function call of a query.
type Call struct {
	Func string
	Args string // the argument list, parentheses included
}

// Calls returns the calls of the named functions in expr, in order of
// appearance, nested calls included.
func Calls(expr string, funcs ...string) []Call {
	var out []Call
	s := expr
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '"' || c == '\'' || c == '`':
			i = skipString(s, i)
		case c == '#':
			for i < len(s) && s[i] != '\n' {
				i++
			}
		case isDigit(c):
			i = skipNumber(s, i)
		case isIdentStart(c):
			end := skipIdent(s, i)
			if next := skipSpace(s, end); next < len(s) && s[next] == '(' && slices.Contains(funcs, s[i:end]) {
				out = append(out, Call{Func: s[i:end], Args: s[next:skipBalanced(s, next, '(', ')')]})
			}
			i = end
		default:
			i++
		}
	}
	return out
}

var (
	// grouping keywords take a parenthesised list of label names.
	grouping = set("by", "without", "on", "ignoring", "group_left", "group_right")
	// keywords are bare words that are not metric names.
	keywords = set("and", "or", "unless", "bool", "offset", "atan2", "inf", "nan")
	// aggregations may be followed by a grouping clause instead of "(".
	aggregations = set("sum", "min", "max", "avg", "group", "stddev", "stdvar", "count",
		"count_values", "bottomk", "topk", "quantile", "limitk", "limit_ratio")
)

func set(words ...string) map[string]bool {
	m := make(map[string]bool, len(words))
	for _, w := range words {
		m[w] = true
	}
	return m
}

// skipString returns the index after the string literal starting at i.
// Raw (backtick) strings have no escapes.
func skipString(s string, i int) int {
	quote := s[i]
	for j := i + 1; j < len(s); j++ {
		switch {
		case s[j] == '\\' && quote != '`':
			j++
		case s[j] == quote:
			return j + 1
		}
	}
	return len(s)
}

// skipBalanced returns the index after the close that matches the open at
// i, ignoring brackets inside string literals.
func skipBalanced(s string, i int, open, close byte) int {
	depth := 0
	for i < len(s) {
		switch c := s[i]; {
		case c == '"' || c == '\'' || c == '`':
			i = skipString(s, i)
			continue
		case c == open:
			depth++
		case c == close:
			depth--
			if depth == 0 {
				return i + 1
			}
		}
		i++
	}
	return len(s)
}

// skipNumber skips a number or duration (0.99, 1e3, 1.5e-3, 0x1f, 5m,
// 1h30m) so that its letters are not read as a metric name.
func skipNumber(s string, i int) int {
	start := i
	for i < len(s) && (isIdentChar(s[i]) || s[i] == '.' ||
		(s[i] == '+' || s[i] == '-') && i > start && (s[i-1] == 'e' || s[i-1] == 'E') && !isHex(s[start:i])) {
		i++
	}
	return i
}

func isHex(num string) bool { return len(num) > 1 && num[0] == '0' && (num[1] == 'x' || num[1] == 'X') }

// hasWordPrefix reports whether s starts with the keyword w as a whole word.
func hasWordPrefix(s, w string) bool {
	return len(s) >= len(w) && strings.EqualFold(s[:len(w)], w) &&
		(len(s) == len(w) || !isIdentChar(s[len(w)]))
}

func skipIdent(s string, i int) int {
	for i < len(s) && isIdentChar(s[i]) {
		i++
	}
	return i
}

func skipSpace(s string, i int) int {
	for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r') {
		i++
	}
	return i
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }
func isIdentStart(c byte) bool {
	return c == '_' || c == ':' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
}
func isIdentChar(c byte) bool { return isIdentStart(c) || isDigit(c) }
