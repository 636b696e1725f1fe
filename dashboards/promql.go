package dashboards

import "regexp"

// This file holds a deliberately small PromQL scanner: enough to find the
// vector selectors in the dashboards' queries without depending on the
// Prometheus server module. It knows strings, brackets, numbers, keywords,
// aggregations, function calls and grouping clauses; everything else is an
// operator and skipped.

// selector is one instant or range vector selector in a query.
type selector struct {
	metric   string
	matchers string // the text between { and }, "" when there is none
}

var jobMatcher = regexp.MustCompile(`\bjob\s*=~?\s*"([^"]*)"`)

// job is the value the selector's job matcher compares with, or "" if it
// has none.
func (s selector) job() string {
	if m := jobMatcher.FindStringSubmatch(s.matchers); m != nil {
		return m[1]
	}
	return ""
}

var (
	// grouping keywords take a parenthesised list of label names.
	grouping = set("by", "without", "on", "ignoring", "group_left", "group_right")
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

// selectors returns the vector selectors of expr in order of appearance.
func selectors(expr string) []selector {
	var out []selector
	for i := 0; i < len(expr); {
		c := expr[i]
		switch {
		case c == '"' || c == '\'' || c == '`':
			i = skipString(expr, i)
		case c == '#':
			i = skipComment(expr, i)
		case c == '{': // matchers with no metric name before them
			i = skipBalanced(expr, i, '{', '}')
		case c == '[': // range or subquery: durations and variables only
			i = skipBalanced(expr, i, '[', ']')
		case c == '$': // a Grafana variable outside a range
			i = skipIdent(expr, i+1)
		case isDigit(c) || c == '.' && i+1 < len(expr) && isDigit(expr[i+1]):
			i = skipNumber(expr, i)
		case isIdentStart(c):
			end := skipIdent(expr, i)
			word := expr[i:end]
			next := skipSpace(expr, end)
			switch {
			case grouping[word]:
				if next < len(expr) && expr[next] == '(' {
					end = skipBalanced(expr, next, '(', ')')
				}
			case keywords[word] || aggregations[word]:
			case next < len(expr) && expr[next] == '(': // function call
			default:
				s := selector{metric: word}
				if next < len(expr) && expr[next] == '{' {
					end = skipBalanced(expr, next, '{', '}')
					s.matchers = expr[next+1 : end-1]
				}
				out = append(out, s)
			}
			i = end
		default:
			i++
		}
	}
	return out
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

func skipComment(s string, i int) int {
	for i < len(s) && s[i] != '\n' {
		i++
	}
	return i
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

// skipNumber skips a number or duration (0.99, 1e3, 0x1f, 5m, 1h30m) so that
// its letters are not read as a metric name. An exponent's sign is left to
// be skipped as an operator.
func skipNumber(s string, i int) int {
	for i < len(s) && (isIdentChar(s[i]) || s[i] == '.') {
		i++
	}
	return i
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
