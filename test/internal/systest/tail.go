package systest

import (
	"bufio"
	"io"
	"os"
	"regexp"
	"strings"
)

// Tail returns the last n lines of the file at path, leaving out lines that
// noise matches (when it is not nil): a node's routine chatter would bury the
// lines that explain a failure.
func Tail(path string, n int, noise *regexp.Regexp) string {
	f, err := os.Open(path)
	if err != nil {
		return err.Error()
	}
	defer f.Close()
	const window = 256 << 10
	if st, err := f.Stat(); err == nil && st.Size() > window {
		f.Seek(st.Size()-window, io.SeekStart)
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
