package matrix

import (
	"bytes"
	"fmt"
	"slices"
	"strings"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// The document's generated sections sit between these markers; the text
// around them is written by hand.
const (
	beginMarker = "<!-- begin %s: generated from test/compat/matrix by `make compat-doc`; do not edit -->"
	endMarker   = "<!-- end %s -->"
)

// Document returns doc with its generated sections ("apis", "matrix")
// replaced by what the table and apis say now.
func Document(doc []byte, apis []APIVersion) ([]byte, error) {
	at, err := APITable(apis)
	if err != nil {
		return nil, err
	}
	if doc, err = splice(doc, "apis", at); err != nil {
		return nil, err
	}
	return splice(doc, "matrix", MatrixSection())
}

// splice replaces what lies between the named section's markers.
func splice(doc []byte, name, content string) ([]byte, error) {
	begin, end := fmt.Sprintf(beginMarker, name), fmt.Sprintf(endMarker, name)
	i := bytes.Index(doc, []byte(begin))
	j := bytes.Index(doc, []byte(end))
	if i < 0 || j < i {
		return nil, fmt.Errorf("the document has no %q section: it needs the lines\n%s\n%s", name, begin, end)
	}
	var out bytes.Buffer
	out.Write(doc[:i+len(begin)])
	out.WriteString("\n" + content)
	out.Write(doc[j:])
	return out.Bytes(), nil
}

// APITable lists the served API keys with their versions and notes.
func APITable(apis []APIVersion) (string, error) {
	apis = slices.Clone(apis)
	slices.SortFunc(apis, func(a, b APIVersion) int { return int(a.Key - b.Key) })
	var b strings.Builder
	b.WriteString("| key | API | versions | what is served |\n|---|---|---|---|\n")
	seen := map[int16]bool{}
	for _, a := range apis {
		note, ok := APINotes[a.Key]
		if !ok {
			return "", fmt.Errorf("API key %d (%s) is served but matrix.APINotes does not say what of it", a.Key, kmsg.NameForKey(a.Key))
		}
		seen[a.Key] = true
		fmt.Fprintf(&b, "| %d | %s | %d-%d | %s |\n", a.Key, kmsg.NameForKey(a.Key), a.Min, a.Max, note)
	}
	for k := range APINotes {
		if !seen[k] {
			return "", fmt.Errorf("matrix.APINotes describes API key %d (%s), which is not served", k, kmsg.NameForKey(k))
		}
	}
	return b.String(), nil
}

// MatrixSection renders the clients, the features and the matrix, with
// the cells' notes numbered below it.
func MatrixSection() string {
	var b strings.Builder
	b.WriteString("| client | version | run as |\n|---|---|---|\n")
	for _, c := range Clients {
		fmt.Fprintf(&b, "| %s | %s | %s |\n", c.Name, c.Version, c.How)
	}
	b.WriteString("\n| feature | what the case does |\n|---|---|\n")
	for _, f := range Features {
		fmt.Fprintf(&b, "| %s | %s |\n", f.Name, f.Doc)
	}

	b.WriteString("\n| feature |")
	for _, c := range Clients {
		fmt.Fprintf(&b, " %s |", c.Name)
	}
	b.WriteString("\n|---|")
	for range Clients {
		b.WriteString("---|")
	}
	b.WriteString("\n")
	var notes []string
	for _, f := range Features {
		fmt.Fprintf(&b, "| %s |", f.Name)
		for _, c := range Clients {
			cell := Expected[c.Name][f.Name]
			text := cell.Result.String()
			if detail := cell.detail(); detail != "" {
				notes = append(notes, fmt.Sprintf("%d. **%s, %s**: %s", len(notes)+1, c.Name, f.Name, detail))
				text += fmt.Sprintf(" (%d)", len(notes))
			}
			fmt.Fprintf(&b, " %s |", text)
		}
		b.WriteString("\n")
	}
	b.WriteString("\n")
	for _, n := range notes {
		b.WriteString(n + "\n")
	}
	return b.String()
}

// String is how the matrix shows a result.
func (r Result) String() string {
	switch r {
	case Works:
		return "works"
	case Refused:
		return "refused at once"
	case LoggedOnly:
		return "refused, in the client's log only"
	case NotInClient:
		return "not in the client"
	}
	return fmt.Sprintf("Result(%d)", int(r))
}

// detail is the cell's footnote: the error the client reports, then the
// note.
func (c Cell) detail() string {
	var parts []string
	if c.Error != "" {
		parts = append(parts, fmt.Sprintf("the error contains `%s`.", c.Error))
	}
	if c.Note != "" {
		parts = append(parts, c.Note)
	}
	return strings.Join(parts, " ")
}
