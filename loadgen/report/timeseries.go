package report

import (
	"html/template"
	"io"
)

// TimeSeries is one line of a TimeChart: values y at seconds x since the
// start. A NaN y breaks the line (a process that was down, say).
type TimeSeries struct {
	Name string
	X, Y []float64
}

// TimeChart is one chart of a TimeSeriesPage.
type TimeChart struct {
	// ID names the chart in the page (its SVG's id); tests look it up.
	ID, Title, YLabel string
	Series            []TimeSeries
	// Bands shade time ranges, such as a node's restart, with a label.
	Bands []TimeBand
}

// TimeBand is a shaded range of a TimeChart, in seconds since the start.
type TimeBand struct {
	From, To float64
	Label    string
}

// TimeSeriesPage is a self-contained HTML page of line charts over time,
// such as resources sampled through a long run: a title, lines of text
// (a verdict, say), and the charts.
type TimeSeriesPage struct {
	Title string
	// Failures are shown first, in red; Notes after them.
	Failures, Notes []string
	Charts          []TimeChart
}

// WriteHTML writes the page: inline SVG, no scripts, nothing fetched, as
// the loadgen reports. The output is well-formed XML.
func (p TimeSeriesPage) WriteHTML(w io.Writer) error {
	data := struct {
		TimeSeriesPage
		SVG []template.HTML
	}{TimeSeriesPage: p}
	for _, tc := range p.Charts {
		c := chart{ID: tc.ID, Title: tc.Title, XLabel: "seconds since start", YLabel: tc.YLabel,
			YMinZero: true, Empty: "no samples"}
		for _, b := range tc.Bands {
			c.Bands = append(c.Bands, band(b))
		}
		for i, s := range tc.Series {
			c.Series = append(c.Series, series{Name: s.Name, Color: palette[i%len(palette)], X: s.X, Y: s.Y})
		}
		data.SVG = append(data.SVG, c.svg())
	}
	return timeSeriesTemplate.Execute(w, data)
}

var timeSeriesTemplate = template.Must(template.Must(template.New("timeseries").Parse(styleTemplate)).Parse(`<!DOCTYPE html>
<html lang="en" xmlns="http://www.w3.org/1999/xhtml">
<head>
<meta charset="utf-8"/>
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'"/>
<meta name="viewport" content="width=device-width, initial-scale=1"/>
<title>{{.Title}}</title>
<style>
{{template "style"}}</style>
</head>
<body>
<h1>{{.Title}}</h1>
{{range .Failures}}<p class="fail">{{.}}</p>
{{end}}{{range .Notes}}<p class="note">{{.}}</p>
{{end}}<section class="charts">
{{range .SVG}}<figure>{{.}}</figure>
{{end}}</section>
</body>
</html>
`))
