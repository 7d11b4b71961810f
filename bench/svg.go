package bench

import (
	"fmt"
	"html"
	"math"
	"strings"
)

// A small hand-written SVG line and bar chart: enough for the charts bench
// plot draws, with no dependency.

type series struct {
	name   string
	xs, ys []float64
	dashed bool
	points bool
}

type chart struct {
	title, subtitle string
	xlabel, ylabel  string
	series          []series
	// xlog draws x on a log10 scale; xtick, if set, labels an x tick.
	xlog  bool
	xtick func(float64) string
	// xticks, if set, are the x ticks to draw (in data units).
	xticks []float64
	// bars, if set, replaces the lines: one group per label, one bar per
	// series (ys indexed like labels).
	bars []string
	// yplain prints y ticks without k/M suffixes.
	yplain bool
}

var palette = []string{"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#7f7f7f", "#bcbd22"}

const (
	svgW, svgH                 = 1100, 560
	padL, padR, padT, padB     = 90, 360, 70, 70
	plotW, plotH               = svgW - padL - padR, svgH - padT - padB
	fontFamily                 = "Helvetica, Arial, sans-serif"
	axisColor, gridColor, text = "#333", "#e5e5e5", "#222"
)

// niceTicks returns about n round ticks covering [lo, hi].
func niceTicks(lo, hi float64, n int) []float64 {
	if hi <= lo {
		hi = lo + 1
	}
	raw := (hi - lo) / float64(n)
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	step := mag
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if m*mag >= raw {
			step = m * mag
			break
		}
	}
	var out []float64
	start, end := math.Floor(lo/step), math.Ceil(hi/step-1e-9)
	for i := start; i <= end; i++ {
		out = append(out, i*step)
	}
	return out
}

func fmtNum(v float64) string {
	a := math.Abs(v)
	switch {
	case a >= 1e6:
		return trimZeros(fmt.Sprintf("%.2f", v/1e6)) + "M"
	case a >= 1e3:
		return trimZeros(fmt.Sprintf("%.1f", v/1e3)) + "k"
	case a >= 10 || a == 0:
		return trimZeros(fmt.Sprintf("%.0f", v))
	case a >= 1:
		return trimZeros(fmt.Sprintf("%.1f", v))
	}
	return trimZeros(fmt.Sprintf("%.3f", v))
}

func trimZeros(s string) string {
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	return s
}

func (c *chart) render() string {
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="%s">`+"\n", svgW, svgH, svgW, svgH, fontFamily)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	fmt.Fprintf(&b, `<text x="%d" y="30" font-size="20" font-weight="bold" fill="%s">%s</text>`+"\n", padL, text, html.EscapeString(c.title))
	if c.subtitle != "" {
		fmt.Fprintf(&b, `<text x="%d" y="52" font-size="13" fill="#555">%s</text>`+"\n", padL, html.EscapeString(c.subtitle))
	}
	// Data ranges.
	xmin, xmax, ymax := math.Inf(1), math.Inf(-1), 0.0
	for _, s := range c.series {
		for i := range s.xs {
			x := s.xs[i]
			if c.xlog {
				x = math.Log10(x)
			}
			xmin, xmax = math.Min(xmin, x), math.Max(xmax, x)
			ymax = math.Max(ymax, s.ys[i])
		}
	}
	if c.bars != nil {
		xmin, xmax = 0, float64(len(c.bars))
		for _, s := range c.series {
			for _, y := range s.ys {
				ymax = math.Max(ymax, y)
			}
		}
	} else if !math.IsInf(xmin, 0) {
		// A margin, so that no point sits on an axis.
		m := (xmax - xmin) * 0.04
		if m == 0 {
			m = 0.5
		}
		xmin, xmax = xmin-m, xmax+m
	}
	if math.IsInf(xmin, 0) {
		xmin, xmax = 0, 1
	}
	if xmax == xmin {
		xmin, xmax = xmin-1, xmax+1
	}
	if ymax == 0 {
		ymax = 1
	}
	yticks := niceTicks(0, ymax*1.08, 6)
	ytop := yticks[len(yticks)-1]
	px := func(x float64) float64 {
		if c.xlog && c.bars == nil {
			x = math.Log10(x)
		}
		return padL + (x-xmin)/(xmax-xmin)*plotW
	}
	py := func(y float64) float64 { return padT + plotH - y/ytop*plotH }

	// Grid and y axis.
	for _, t := range yticks {
		y := py(t)
		fmt.Fprintf(&b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="%s"/>`+"\n", padL, y, padL+plotW, y, gridColor)
		label := fmtNum(t)
		if c.yplain {
			label = trimZeros(fmt.Sprintf("%.1f", t))
		}
		fmt.Fprintf(&b, `<text x="%d" y="%.1f" font-size="12" text-anchor="end" fill="%s">%s</text>`+"\n", padL-8, y+4, text, label)
	}
	// X ticks.
	if c.bars == nil {
		ticks := c.xticks
		if ticks == nil {
			if c.xlog {
				for e := math.Floor(xmin); e <= math.Ceil(xmax); e++ {
					for _, m := range []float64{1, 2, 5} {
						v := m * math.Pow(10, e)
						if lv := math.Log10(v); lv >= xmin-1e-9 && lv <= xmax+1e-9 {
							ticks = append(ticks, v)
						}
					}
				}
			} else {
				ticks = niceTicks(xmin, xmax, 8)
			}
		}
		for _, t := range ticks {
			x := px(t)
			if x < padL-0.5 || x > padL+plotW+0.5 {
				continue
			}
			label := fmtNum(t)
			if c.xtick != nil {
				label = c.xtick(t)
			}
			fmt.Fprintf(&b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="%s"/>`+"\n", x, padT, x, padT+plotH, gridColor)
			fmt.Fprintf(&b, `<text x="%.1f" y="%d" font-size="12" text-anchor="middle" fill="%s">%s</text>`+"\n", x, padT+plotH+18, text, html.EscapeString(label))
		}
	}
	// Axes.
	fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s" stroke-width="1.5"/>`+"\n", padL, padT+plotH, padL+plotW, padT+plotH, axisColor)
	fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s" stroke-width="1.5"/>`+"\n", padL, padT, padL, padT+plotH, axisColor)
	fmt.Fprintf(&b, `<text x="%d" y="%d" font-size="14" text-anchor="middle" fill="%s">%s</text>`+"\n", padL+plotW/2, svgH-20, text, html.EscapeString(c.xlabel))
	fmt.Fprintf(&b, `<text x="24" y="%d" font-size="14" text-anchor="middle" fill="%s" transform="rotate(-90 24 %d)">%s</text>`+"\n", padT+plotH/2, text, padT+plotH/2, html.EscapeString(c.ylabel))

	if c.bars != nil {
		group := float64(plotW) / float64(len(c.bars))
		bw := group * 0.8 / float64(max(len(c.series), 1))
		for gi, label := range c.bars {
			gx := padL + float64(gi)*group
			// A label may have several lines ("\n").
			fmt.Fprintf(&b, `<text x="%.1f" y="%d" font-size="12" text-anchor="middle" fill="%s">`, gx+group/2, padT+plotH+18, text)
			for li, line := range strings.Split(label, "\n") {
				dy := "0"
				if li > 0 {
					dy = "1.2em"
				}
				fmt.Fprintf(&b, `<tspan x="%.1f" dy="%s">%s</tspan>`, gx+group/2, dy, html.EscapeString(line))
			}
			b.WriteString("</text>\n")
			for si, s := range c.series {
				if gi >= len(s.ys) {
					continue
				}
				v := s.ys[gi]
				x := gx + group*0.1 + float64(si)*bw
				fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"><title>%s: %s</title></rect>`+"\n",
					x, py(v), bw*0.92, py(0)-py(v), palette[si%len(palette)], html.EscapeString(s.name), fmtNum(v))
				fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" font-size="11" text-anchor="middle" fill="%s">%s</text>`+"\n", x+bw*0.46, py(v)-4, text, fmtNum(v))
			}
		}
	} else {
		for si, s := range c.series {
			col := palette[si%len(palette)]
			var pts []string
			for i := range s.xs {
				pts = append(pts, fmt.Sprintf("%.1f,%.1f", px(s.xs[i]), py(s.ys[i])))
			}
			dash := ""
			if s.dashed {
				dash = ` stroke-dasharray="6 4"`
			}
			if len(pts) > 1 {
				fmt.Fprintf(&b, `<polyline points="%s" fill="none" stroke="%s" stroke-width="2"%s/>`+"\n", strings.Join(pts, " "), col, dash)
			}
			if s.points || len(pts) == 1 {
				for i := range s.xs {
					fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="3.5" fill="%s"><title>%s</title></circle>`+"\n", px(s.xs[i]), py(s.ys[i]), col, fmtNum(s.ys[i]))
				}
			}
		}
	}
	// Legend, right of the plot.
	lx, ly := padL+plotW+20, padT+10
	for si, s := range c.series {
		col := palette[si%len(palette)]
		y := ly + si*22
		if c.bars != nil {
			fmt.Fprintf(&b, `<rect x="%d" y="%d" width="22" height="12" fill="%s"/>`+"\n", lx, y-10, col)
		} else {
			dash := ""
			if s.dashed {
				dash = ` stroke-dasharray="6 4"`
			}
			fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s" stroke-width="2.5"%s/>`+"\n", lx, y-4, lx+22, y-4, col, dash)
		}
		fmt.Fprintf(&b, `<text x="%d" y="%d" font-size="11.5" fill="%s">%s</text>`+"\n", lx+30, y, text, html.EscapeString(s.name))
	}
	b.WriteString("</svg>\n")
	return b.String()
}
