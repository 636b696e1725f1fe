package report

import (
	"fmt"
	"html/template"
	"math"
	"strconv"
	"strings"
)

// The HTML report's charts are inline SVG written here, so that a report is
// one file with no scripts and nothing fetched.

// Chart geometry, in SVG user units (CSS pixels at 100%).
const (
	chartWidth   = 820
	chartHeight  = 320
	marginLeft   = 78
	marginRight  = 44
	marginBottom = 46
	titleHeight  = 26
	legendRow    = 18
)

// scale maps data values to one axis of the plot area.
type scale struct {
	log        bool // base 10; values must be positive
	lo, hi     float64
	from, to   float64 // pixel range
	ticks      []float64
	tickFormat func(float64) string
}

func (s *scale) at(v float64) float64 {
	a, b, x := s.lo, s.hi, v
	if s.log {
		a, b, x = math.Log10(a), math.Log10(b), math.Log10(v)
	}
	if b == a {
		return (s.from + s.to) / 2
	}
	return s.from + (x-a)/(b-a)*(s.to-s.from)
}

// niceLinear widens [lo, hi] to round ticks, about six of them.
func niceLinear(lo, hi float64) (float64, float64, []float64) {
	if hi <= lo {
		hi = lo + 1
	}
	raw := (hi - lo) / 6
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	step := mag
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if m*mag >= raw {
			step = m * mag
			break
		}
	}
	lo = math.Floor(lo/step) * step
	hi = math.Ceil(hi/step) * step
	var ticks []float64
	for v := lo; v <= hi+step/2; v += step {
		ticks = append(ticks, math.Round(v/step)*step)
	}
	return lo, hi, ticks
}

// niceLog widens [lo, hi] to whole decades, with ticks at each decade and,
// when there are few, at 2 and 5 times them.
func niceLog(lo, hi float64) (float64, float64, []float64) {
	lo = math.Pow(10, math.Floor(math.Log10(lo)))
	hi = math.Pow(10, math.Ceil(math.Log10(hi)))
	if hi <= lo {
		hi = lo * 10
	}
	decades := math.Round(math.Log10(hi / lo))
	var ticks []float64
	for d := lo; d <= hi*1.001; d *= 10 {
		ticks = append(ticks, d)
		if decades <= 3 && d*10 <= hi*1.001 {
			ticks = append(ticks, 2*d, 5*d)
		}
	}
	return lo, hi, ticks
}

// series is one line of a chart. Points with a NaN y break the line.
type series struct {
	Name  string
	Color string
	Dash  string // SVG stroke-dasharray; empty for a solid line
	X, Y  []float64
}

// chart is one line chart.
type chart struct {
	ID, Title      string
	XLabel, YLabel string
	XLog, YLog     bool
	// XTicks, when set, replace the automatic ticks of the x axis (the
	// percentile plot's 1/(1-p) ticks); XFormat and YFormat label ticks.
	XTicks           []float64
	XFormat, YFormat func(float64) string
	// YMinZero starts a linear y axis at 0.
	YMinZero bool
	// Bands are shaded x ranges, such as warmup, with a label.
	Bands  []band
	Series []series
	// Empty is said in place of the plot when no series has a point.
	Empty string
}

type band struct {
	From, To float64
	Label    string
}

func fmtNum(v float64) string {
	switch a := math.Abs(v); {
	case a >= 1e6 && math.Mod(v, 1e6) == 0:
		return strconv.FormatFloat(v/1e6, 'f', -1, 64) + "M"
	case a >= 1e4 && math.Mod(v, 1e3) == 0:
		return strconv.FormatFloat(v/1e3, 'f', -1, 64) + "k"
	}
	return short(v)
}

// short formats v with at most ten significant digits, so that 3*0.2 is 0.6.
func short(v float64) string { return strconv.FormatFloat(v, 'g', 10, 64) }

// fmtMicros labels a latency axis given in microseconds.
func fmtMicros(us float64) string {
	switch {
	case us == 0:
		return "0"
	case us >= 1e6:
		return short(us/1e6) + "s"
	case us >= 1e3:
		return short(us/1e3) + "ms"
	}
	return short(us) + "µs"
}

// px writes a coordinate with one decimal.
func px(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) }

func esc(s string) string { return template.HTMLEscapeString(s) }

// svg renders the chart. The output is well-formed XML.
func (c chart) svg() template.HTML {
	// Data ranges.
	xlo, xhi, ylo, yhi := math.Inf(1), math.Inf(-1), math.Inf(1), math.Inf(-1)
	points := 0
	for _, s := range c.Series {
		for i := range s.X {
			x, y := s.X[i], s.Y[i]
			if math.IsNaN(x) || math.IsNaN(y) || (c.XLog && x <= 0) || (c.YLog && y <= 0) {
				continue
			}
			points++
			xlo, xhi = min(xlo, x), max(xhi, x)
			ylo, yhi = min(ylo, y), max(yhi, y)
		}
	}

	// The legend wraps onto rows above the plot.
	type entry struct {
		s      series
		x, row int
	}
	var legend []entry
	lx, row := marginLeft, 0
	for _, s := range c.Series {
		w := 34 + 7*len([]rune(s.Name)) + 16
		if lx+w > chartWidth-marginRight && lx > marginLeft {
			lx, row = marginLeft, row+1
		}
		legend = append(legend, entry{s, lx, row})
		lx += w
	}
	top := titleHeight + (row+1)*legendRow + 10
	height := chartHeight + (row+1)*legendRow

	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" class="chart" id="%s" data-chart="%s" width="%d" height="%d" viewBox="0 0 %d %d" role="img" aria-label="%s">`,
		esc(c.ID), esc(c.ID), chartWidth, height, chartWidth, height, esc(c.Title))
	fmt.Fprintf(&b, `<text class="title" x="%d" y="18">%s</text>`, marginLeft, esc(c.Title))
	for _, e := range legend {
		y := titleHeight + e.row*legendRow + 10
		fmt.Fprintf(&b, `<g class="legend"><line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s" stroke-width="2.5"%s/><text x="%d" y="%d">%s</text></g>`,
			e.x, y, e.x+26, y, e.s.Color, dashAttr(e.s.Dash), e.x+32, y+4, esc(e.s.Name))
	}

	bottom := float64(height - marginBottom)
	left, right := float64(marginLeft), float64(chartWidth-marginRight)
	fmt.Fprintf(&b, `<rect class="plot" x="%s" y="%d" width="%s" height="%s"/>`, px(left), top, px(right-left), px(bottom-float64(top)))
	if points == 0 {
		fmt.Fprintf(&b, `<text class="empty" x="%s" y="%s">%s</text></svg>`, px((left+right)/2), px((bottom+float64(top))/2), esc(c.Empty))
		return template.HTML(b.String())
	}

	xs := scale{log: c.XLog, from: left, to: right, tickFormat: c.XFormat}
	if xs.tickFormat == nil {
		xs.tickFormat = fmtNum
	}
	switch {
	case c.XTicks != nil:
		xs.lo, xs.hi = c.XTicks[0], max(c.XTicks[len(c.XTicks)-1], xhi)
		for _, t := range c.XTicks {
			if t <= xs.hi {
				xs.ticks = append(xs.ticks, t)
			}
		}
	case c.XLog:
		xs.lo, xs.hi, xs.ticks = niceLog(xlo, xhi)
	default:
		xs.lo, xs.hi = xlo, xhi
		if xhi == xlo {
			xs.lo, xs.hi = xlo-1, xhi+1
		}
		_, _, ticks := niceLinear(xs.lo, xs.hi)
		for _, t := range ticks {
			if t >= xs.lo && t <= xs.hi {
				xs.ticks = append(xs.ticks, t)
			}
		}
	}
	ys := scale{log: c.YLog, from: bottom, to: float64(top), tickFormat: c.YFormat}
	if ys.tickFormat == nil {
		ys.tickFormat = fmtNum
	}
	if c.YLog {
		ys.lo, ys.hi, ys.ticks = niceLog(ylo, yhi)
	} else {
		if c.YMinZero {
			ylo = min(0, ylo)
		}
		ys.lo, ys.hi, ys.ticks = niceLinear(ylo, yhi)
	}

	for _, bd := range c.Bands {
		x0, x1 := xs.at(max(bd.From, xs.lo)), xs.at(min(bd.To, xs.hi))
		if x1 > x0 {
			fmt.Fprintf(&b, `<g class="band"><rect x="%s" y="%d" width="%s" height="%s"/><text x="%s" y="%d">%s</text></g>`,
				px(x0), top, px(x1-x0), px(bottom-float64(top)), px(x0+4), top+14, esc(bd.Label))
		}
	}
	for _, t := range ys.ticks {
		y := ys.at(t)
		fmt.Fprintf(&b, `<line class="grid" x1="%s" y1="%s" x2="%s" y2="%s"/><text class="ytick" x="%s" y="%s">%s</text>`,
			px(left), px(y), px(right), px(y), px(left-6), px(y+4), esc(ys.tickFormat(t)))
	}
	for _, t := range xs.ticks {
		x := xs.at(t)
		fmt.Fprintf(&b, `<line class="grid" x1="%s" y1="%d" x2="%s" y2="%s"/><text class="xtick" x="%s" y="%s">%s</text>`,
			px(x), top, px(x), px(bottom), px(x), px(bottom+16), esc(xs.tickFormat(t)))
	}
	fmt.Fprintf(&b, `<text class="xlabel" x="%s" y="%d">%s</text>`, px((left+right)/2), height-8, esc(c.XLabel))
	fmt.Fprintf(&b, `<text class="ylabel" transform="translate(16 %s) rotate(-90)">%s</text>`, px((bottom+float64(top))/2), esc(c.YLabel))

	for _, s := range c.Series {
		ok := func(i int) bool {
			if i < 0 || i >= len(s.X) {
				return false
			}
			x, y := s.X[i], s.Y[i]
			return !math.IsNaN(x) && !math.IsNaN(y) && (!c.XLog || x > 0) && (!c.YLog || y > 0)
		}
		var d strings.Builder
		var dots [][2]float64
		for i := range s.X {
			if !ok(i) {
				continue
			}
			x, y := xs.at(s.X[i]), ys.at(s.Y[i])
			cmd := "L"
			if !ok(i - 1) {
				cmd = "M"
				if !ok(i + 1) {
					// A lone point has no line to it: drawn as a dot too.
					dots = append(dots, [2]float64{x, y})
				}
			}
			if d.Len() > 0 {
				d.WriteByte(' ')
			}
			fmt.Fprintf(&d, "%s%s,%s", cmd, px(x), px(y))
		}
		if d.Len() == 0 {
			continue
		}
		fmt.Fprintf(&b, `<path class="series" data-series="%s" d="%s" stroke="%s"%s/>`, esc(s.Name), d.String(), s.Color, dashAttr(s.Dash))
		for _, xy := range dots {
			fmt.Fprintf(&b, `<circle class="dot" cx="%s" cy="%s" r="2.5" fill="%s"/>`, px(xy[0]), px(xy[1]), s.Color)
		}
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

func dashAttr(d string) string {
	if d == "" {
		return ""
	}
	return fmt.Sprintf(` stroke-dasharray="%s"`, d)
}
