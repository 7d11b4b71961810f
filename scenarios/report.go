package scenarios

import (
	"bytes"
	"fmt"
	"html"
	"html/template"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/onceproof/onceproof/checkers"
	"github.com/onceproof/onceproof/engine/protocol"
	"github.com/onceproof/onceproof/faults"
	"github.com/onceproof/onceproof/sim"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// RenderReport renders report.html for bundle b: one self-contained page
// (inline CSS and SVG, no scripts, nothing fetched) with a header (scenario,
// seed, verdict, the reproduce command), a timeline picture drawn from the
// trace (one lane per process: checkpoints, faults, kills and restarts,
// commits, failovers), the verdicts, the fault plan, links to the bundle's
// other files and attachments, and the compact timeline as text.
func RenderReport(b *Bundle, trace []sim.Event, attachments []string) ([]byte, error) {
	tl := parseTimeline(trace)
	timeline := timelineLines(trace)
	d := reportData{
		B:           b,
		VerdictName: strings.ToUpper(b.Verdict.String()),
		VerdictCSS:  verdictClass(b.Verdict),
		Charts:      tl.charts(),
		Legend:      tl.legend(),
		Timeline:    timeline,
		Attachments: attachments,
		Options:     sortedOptions(b.Options),
		Plan:        b.Plan.String(),
		SimTime:     b.SimTime.String(),
	}
	for _, v := range b.Verdicts {
		d.Verdicts = append(d.Verdicts, verdictRow{R: v, Name: strings.ToUpper(v.Verdict.String()), CSS: verdictClass(v.Verdict)})
	}
	var buf bytes.Buffer
	if err := reportTemplate.Execute(&buf, d); err != nil {
		return nil, fmt.Errorf("render %s: %w", BundleReportFile, err)
	}
	return buf.Bytes(), nil
}

type reportData struct {
	B           *Bundle
	VerdictName string
	VerdictCSS  string
	Charts      []chart
	Legend      []legendItem
	Verdicts    []verdictRow
	Timeline    []string
	Attachments []string
	Options     [][2]string
	Plan        string
	SimTime     string
}

type verdictRow struct {
	R    checkers.Result
	Name string
	CSS  string
}

func verdictClass(v checkers.Verdict) string {
	switch v {
	case checkers.Ok:
		return "ok"
	case checkers.Violation:
		return "violation"
	case checkers.NoProgress:
		return "noprogress"
	}
	return "unknown"
}

func sortedOptions(o map[string]string) [][2]string {
	keys := make([]string, 0, len(o))
	for k := range o {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([][2]string, len(keys))
	for i, k := range keys {
		out[i] = [2]string{k, o[k]}
	}
	return out
}

// markKind is one kind of thing the timeline picture shows.
type markKind int

const (
	markTriggered markKind = iota
	markCompleted
	markCheckpointFailed
	markFault
	markKill
	markRestart
	markFailover
	markDeploy
	markCommit
	markRecoverCommit
	markAbort
	markLost
	markRequestLost
	markStorage
	numMarkKinds
)

// markStyle says how a mark kind is drawn and named in the legend.
var markStyle = [numMarkKinds]struct {
	shape, color, name string
}{
	markTriggered:        {"tick", "#8a8f98", "checkpoint triggered"},
	markCompleted:        {"diamond", "#1a7f37", "checkpoint completed (metadata written)"},
	markCheckpointFailed: {"cross", "#b35900", "checkpoint failed"},
	markFault:            {"bolt", "#cf222e", "fault fired (number = plan index)"},
	markKill:             {"cross", "#cf222e", "process killed"},
	markRestart:          {"up", "#1a7f37", "process (re)started"},
	markFailover:         {"down", "#bc4c00", "failover (job restart decided)"},
	markDeploy:           {"square", "#6639ba", "job deployed"},
	markCommit:           {"circle", "#0969da", "EndTxn commit sent"},
	markRecoverCommit:    {"ring", "#0969da", "EndTxn commit sent on recovery"},
	markAbort:            {"ring", "#6e7781", "EndTxn abort sent"},
	markLost:             {"circle", "#cf222e", "pre-committed transaction LOST"},
	markRequestLost:      {"dot", "#9a6700", "Kafka request or response lost"},
	markStorage:          {"square", "#cf222e", "checkpoint storage fault"},
}

// bandKind is a span of time a process spends in some state.
type bandKind int

const (
	bandDown bandKind = iota
	bandPaused
	bandCut
	bandSlow
	bandCheckpoint
	numBandKinds
)

var bandStyle = [numBandKinds]struct{ color, name string }{
	bandDown:       {"#cf222e", "down (killed until restarted)"},
	bandPaused:     {"#bf8700", "paused"},
	bandCut:        {"#8250df", "links cut (partition; the peer is in the hover text)"},
	bandSlow:       {"#0a7d8c", "links slowed"},
	bandCheckpoint: {"#4ac26b", "checkpoint in flight (triggered to completed)"},
}

type mark struct {
	at    int64 // ns
	lane  string
	kind  markKind
	label string // short text drawn next to the mark
	title string // the trace line, shown on hover
}

type band struct {
	from, to int64
	lane     string
	kind     bandKind
	title    string
}

// timeline is what the picture shows, read from the trace's events.
type timeline struct {
	end    int64
	healAt int64 // -1: no heal event
	lanes  []string
	marks  []mark
	bands  []band
}

const (
	laneFaults  = "faults"
	laneKafka   = "kafka"
	laneStorage = "storage"
)

// parseTimeline reads the markers of the picture out of a trace's events
// (sim's and sim/cluster's kinds, the engine's protocol steps) and ignores
// the kinds it does not draw.
func parseTimeline(trace []sim.Event) *timeline {
	tl := &timeline{healAt: -1}
	procs := map[string]bool{}
	used := map[string]bool{}
	open := map[string]int{}     // "kind lane key" -> index of an open band
	cpStart := map[int64]int64{} // checkpoint number -> triggered at
	// The engine's sinks say when they send EndTxn; without them (the
	// smoke copier) the Kafka requests show the commits.
	endTxnSent := slices.ContainsFunc(trace, func(e sim.Event) bool {
		return e.Kind == sim.EventProtocol && e.Phase == protocol.EndTxnSent
	})
	addMark := func(at int64, lane string, k markKind, label, title string) {
		used[lane] = true
		tl.marks = append(tl.marks, mark{at: at, lane: lane, kind: k, label: label, title: title})
	}
	openBand := func(at int64, lane string, k bandKind, key, title string) {
		id := fmt.Sprint(k, " ", lane, " ", key)
		if _, ok := open[id]; ok {
			return
		}
		used[lane] = true
		open[id] = len(tl.bands)
		tl.bands = append(tl.bands, band{from: at, to: -1, lane: lane, kind: k, title: title})
	}
	closeBand := func(at int64, lane string, k bandKind, key string) {
		id := fmt.Sprint(k, " ", lane, " ", key)
		if i, ok := open[id]; ok {
			tl.bands[i].to = at
			delete(open, id)
		}
	}
	for _, e := range trace {
		at := int64(e.At)
		tl.end = max(tl.end, at)
		title := strings.TrimSpace(e.Line())
		p, peer := e.Proc, e.Peer
		switch e.Kind {
		case sim.EventSpawn:
			procs[p] = true
		case sim.EventStart:
			procs[p] = true
			closeBand(at, p, bandDown, "")
			if e.Restart() {
				addMark(at, p, markRestart, "", title)
			}
		case sim.EventKill:
			addMark(at, p, markKill, "", title)
			openBand(at, p, bandDown, "", title)
		case sim.EventPause:
			openBand(at, p, bandPaused, "", title)
		case sim.EventResume:
			closeBand(at, p, bandPaused, "")
		case sim.EventPartition, sim.EventCut:
			// A cut is one way: only its sender is cut off.
			for _, q := range []string{p, peer} {
				if q != "" && (e.Kind == sim.EventPartition || q == p) {
					openBand(at, q, bandCut, p+"|"+peer, title)
				}
			}
		case sim.EventHeal:
			for _, q := range []string{p, peer} {
				if q != "" {
					closeBand(at, q, bandCut, p+"|"+peer)
				}
			}
		case sim.EventSlow:
			for _, q := range []string{p, peer} {
				if e.Dur == 0 {
					closeBand(at, q, bandSlow, p+"|"+peer)
				} else if q != "" {
					openBand(at, q, bandSlow, p+"|"+peer, title)
				}
			}
		case sim.EventHealAll:
			tl.healAt = at
		case sim.EventFaultFired:
			addMark(at, laneFaults, markFault, strconv.FormatInt(e.N, 10), title)
		case sim.EventStoreFailed, sim.EventStoreCorrupt, sim.EventStoreLost:
			addMark(at, laneStorage, markStorage, "", title)
		case sim.EventFaultSkipped:
			if e.Op == string(faults.CorruptCheckpoint) {
				addMark(at, laneStorage, markStorage, "", title)
			}
		case sim.EventKafkaSent:
			if !endTxnSent && e.Op == kmsg.EndTxn.Name() && e.Commit {
				addMark(at, p, markCommit, "", title)
			}
		case sim.EventKafkaRequestLost, sim.EventKafkaResponseLost:
			lane := laneKafka
			if p != "" {
				lane = p // the process that sent it
			}
			addMark(at, lane, markRequestLost, "", title)
		case sim.EventKafkaTxnAborted:
			addMark(at, laneKafka, markLost, "", title)
		case sim.EventDeploy:
			if procs[p] {
				addMark(at, p, markDeploy, "", title)
			}
		case sim.EventProtocol:
			if !procs[p] {
				continue
			}
			switch e.Phase {
			case protocol.Triggered:
				cpStart[e.N] = at
				addMark(at, p, markTriggered, "", title)
			case protocol.MetadataWritten:
				cp := strconv.FormatInt(e.N, 10)
				if t0, ok := cpStart[e.N]; ok {
					tl.bands = append(tl.bands, band{from: t0, to: at, lane: p, kind: bandCheckpoint, title: "checkpoint " + cp})
					delete(cpStart, e.N)
				}
				addMark(at, p, markCompleted, cp, title)
			case protocol.EventCheckpointFailed:
				addMark(at, p, markCheckpointFailed, "", title)
			case protocol.EventFailover:
				addMark(at, p, markFailover, "", title)
			case protocol.EndTxnSent:
				switch {
				case e.Lost:
					addMark(at, p, markLost, "", title)
				case !e.Commit:
					addMark(at, p, markAbort, "", title)
				case e.Recover:
					addMark(at, p, markRecoverCommit, "", title)
				default:
					addMark(at, p, markCommit, "", title)
				}
			}
		}
	}
	for i := range tl.bands {
		if tl.bands[i].to < 0 {
			tl.bands[i].to = tl.end
		}
	}
	// Lanes: faults on top, then the coordinator, the workers in number
	// order, other processes, and Kafka and storage when they had events.
	// The coordinator and the workers always get a lane (an empty one
	// says "nothing happened here"); other processes (the checkers'
	// reader, say) only when something of theirs is drawn.
	var names []string
	for p := range procs {
		if _, isWorker := workerNumber(p); p == "jm" || isWorker || used[p] {
			names = append(names, p)
		}
	}
	sort.Slice(names, func(i, j int) bool { return procLess(names[i], names[j]) })
	if used[laneFaults] {
		tl.lanes = append(tl.lanes, laneFaults)
	}
	tl.lanes = append(tl.lanes, names...)
	for _, l := range []string{laneKafka, laneStorage} {
		if used[l] {
			tl.lanes = append(tl.lanes, l)
		}
	}
	return tl
}

// procLess orders jm first, then w0, w1, ..., w10 numerically, then the rest.
func procLess(a, b string) bool {
	rank := func(p string) (int, int) {
		if p == "jm" {
			return 0, 0
		}
		if n, ok := workerNumber(p); ok {
			return 1, n
		}
		return 2, 0
	}
	ra, na := rank(a)
	rb, nb := rank(b)
	if ra != rb {
		return ra < rb
	}
	if na != nb {
		return na < nb
	}
	return a < b
}

// workerNumber reads a worker's name, "w<N>".
func workerNumber(p string) (int, bool) {
	rest, ok := strings.CutPrefix(p, "w")
	n, err := strconv.Atoi(rest)
	return n, ok && err == nil && n >= 0
}

// Geometry of the picture, in SVG user units (pixels at 100%).
const (
	svgWidth    = 1200
	svgLeft     = 72 // lane names
	svgRight    = 24
	svgTop      = 28 // room for the heal label
	svgLane     = 48
	svgAxis     = 46 // tick labels and the axis title
	svgPlotW    = svgWidth - svgLeft - svgRight
	labelSpaceX = 22 // minimum distance between two labels on a lane
)

// niceStep picks a tick step of 1, 2 or 5 times a power of ten (ms) giving
// at most about ten ticks over span ms.
func niceStep(spanMs float64) float64 {
	if spanMs <= 0 {
		return 1
	}
	raw := spanMs / 10
	p := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= raw {
			return m * p
		}
	}
	return 10 * p
}

// svg draws the picture of the window [from, to] ns of the run.
func (tl *timeline) svg(from, to int64) string {
	to = max(to, from+1)
	x := func(ns int64) float64 { return svgLeft + float64(ns-from)/float64(to-from)*svgPlotW }
	in := func(ns int64) bool { return ns >= from && ns <= to }
	laneY := map[string]float64{}
	for i, l := range tl.lanes {
		laneY[l] = svgTop + float64(i)*svgLane + svgLane/2
	}
	plotBottom := svgTop + float64(len(tl.lanes))*svgLane
	height := plotBottom + svgAxis
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %.0f" width="100%%" style="max-width: %dpx; height: auto; display: block" role="img" aria-label="timeline of the run: one lane per process, simulated time on the x axis" font-family="system-ui, sans-serif" font-size="12">`,
		svgWidth, height, svgWidth)
	// Lanes, alternately shaded, with their names.
	for i, l := range tl.lanes {
		y := svgTop + float64(i)*svgLane
		if i%2 == 0 {
			fmt.Fprintf(&b, `<rect x="%d" y="%.1f" width="%d" height="%d" fill="#f6f8fa"/>`, svgLeft, y, svgPlotW, svgLane)
		}
		fmt.Fprintf(&b, `<text x="%d" y="%.1f" text-anchor="end" dominant-baseline="middle" font-weight="600">%s</text>`, svgLeft-8, y+svgLane/2, html.EscapeString(l))
		fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#d0d7de"/>`, svgLeft, svgLeft+svgPlotW, y+svgLane/2, y+svgLane/2)
	}
	// Ticks and grid, at round numbers of milliseconds.
	fromMs, toMs := float64(from)/1e6, float64(to)/1e6
	step := niceStep(toMs - fromMs)
	for v := math.Ceil(fromMs/step-1e-9) * step; v <= toMs+1e-9; v += step {
		if v == 0 {
			v = 0 // not -0
		}
		xx := x(int64(math.Round(v * 1e6)))
		fmt.Fprintf(&b, `<line x1="%.1f" x2="%.1f" y1="%d" y2="%.1f" stroke="#eaeef2"/>`, xx, xx, svgTop, plotBottom)
		fmt.Fprintf(&b, `<line x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f" stroke="#57606a"/>`, xx, xx, plotBottom, plotBottom+5)
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="middle" fill="#57606a">%s</text>`, xx, plotBottom+18, formatMs(v, step))
	}
	fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#57606a"/>`, svgLeft, svgLeft+svgPlotW, plotBottom, plotBottom)
	fmt.Fprintf(&b, `<text x="%d" y="%.1f" text-anchor="middle" fill="#24292f">simulated time (ms)</text>`, svgLeft+svgPlotW/2, plotBottom+38)
	// Bands under the marks, clipped to the window; checkpoints thin and
	// low in the lane, process states as translucent blocks over the lane.
	for _, bd := range tl.bands {
		y, ok := laneY[bd.lane]
		if !ok || bd.to < from || bd.from > to {
			continue
		}
		x0, x1 := x(max(bd.from, from)), x(min(bd.to, to))
		w := math.Max(x1-x0, 1.5)
		st := bandStyle[bd.kind]
		switch bd.kind {
		case bandCheckpoint, bandCut, bandSlow:
			// Thin strips at their own heights, so that a link cut while
			// the process is down or a checkpoint is in flight shows both.
			top, h := bandStrip(bd.kind)
			fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.0f" fill="%s" opacity="0.6"><title>%s</title></rect>`, x0, y+top, w, h, st.color, html.EscapeString(bd.title))
		default:
			fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%d" fill="%s" opacity="0.18" stroke="%s" stroke-opacity="0.5"><title>%s</title></rect>`,
				x0, y-svgLane/2+3, w, svgLane-6, st.color, st.color, html.EscapeString(bd.title))
		}
	}
	// The heal line: faults lifted, liveness phase from here.
	if tl.healAt >= 0 && in(tl.healAt) {
		hx := x(tl.healAt)
		fmt.Fprintf(&b, `<line x1="%.1f" x2="%.1f" y1="%d" y2="%.1f" stroke="#1a7f37" stroke-dasharray="5 4"/>`, hx, hx, svgTop-6, plotBottom)
		anchor := "middle"
		switch {
		case hx < svgLeft+120:
			anchor = "start"
		case hx > svgLeft+svgPlotW-120:
			anchor = "end"
		}
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="%s" fill="#1a7f37">heal: faults lifted, liveness phase</text>`, hx, svgTop-10, anchor)
	}
	// Marks, with a label when there is room since the lane's last one.
	lastLabel := map[string]float64{}
	for _, m := range tl.marks {
		y, ok := laneY[m.lane]
		if !ok || !in(m.at) {
			continue
		}
		xx := x(m.at)
		fmt.Fprintf(&b, `<g>%s<title>%s</title></g>`, shape(markStyle[m.kind].shape, markStyle[m.kind].color, xx, y), html.EscapeString(m.title))
		if m.label != "" {
			if last, ok := lastLabel[m.lane]; !ok || xx-last >= labelSpaceX {
				fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="middle" font-size="10" fill="%s">%s</text>`, xx, y-16, markStyle[m.kind].color, html.EscapeString(m.label))
				lastLabel[m.lane] = xx
			}
		}
	}
	b.WriteString(`</svg>`)
	return b.String()
}

// formatMs prints a tick value with as many decimals as the step needs and
// thousands separated by a thin space (60 000, not 60000).
func formatMs(v, step float64) string {
	dec := 0
	if step < 1 {
		dec = int(math.Ceil(-math.Log10(step)))
	}
	s := strconv.FormatFloat(v, 'f', dec, 64)
	intPart, frac, _ := strings.Cut(s, ".")
	var out []byte
	for i := range len(intPart) {
		if i > 0 && (len(intPart)-i)%3 == 0 {
			out = append(out, "\u2009"...)
		}
		out = append(out, intPart[i])
	}
	if frac != "" {
		return string(out) + "." + frac
	}
	return string(out)
}

// charts picks the pictures to draw: the whole run, and first a close-up
// of the fault phase when the liveness phase dwarfs it (a run stuck in
// restarts for a minute after a one-second fault phase).
func (tl *timeline) charts() []chart {
	whole := chart{Title: fmt.Sprintf("the whole run, 0 to %s ms", formatMs(float64(tl.end)/1e6, 1)), SVG: template.HTML(tl.svg(0, tl.end))}
	if tl.healAt > 0 && tl.end > 3*tl.healAt {
		to := tl.healAt + tl.healAt/2
		zoom := chart{Title: fmt.Sprintf("close-up: the fault phase and the start of the liveness phase, 0 to %s ms", formatMs(float64(to)/1e6, 1)),
			SVG: template.HTML(tl.svg(0, to))}
		return []chart{zoom, whole}
	}
	whole.Title = ""
	return []chart{whole}
}

type chart struct {
	Title string
	SVG   template.HTML
}

// bandStrip is where a strip band sits relative to its lane's centre line
// (top offset and height): links cut above the marks, checkpoints and slow
// links below them.
func bandStrip(k bandKind) (top, height float64) {
	switch k {
	case bandCut:
		return -14, 4
	case bandSlow:
		return 13, 4
	}
	return 8, 3 // checkpoint
}

// shape draws one mark centred on (x, y).
func shape(kind, color string, x, y float64) string {
	switch kind {
	case "tick":
		return fmt.Sprintf(`<line x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f" stroke="%s" stroke-width="1.5"/>`, x, x, y-6, y+6, color)
	case "diamond":
		return fmt.Sprintf(`<path d="M%.1f %.1f l5 5 l-5 5 l-5 -5 z" fill="%s"/>`, x, y-5, color)
	case "cross":
		return fmt.Sprintf(`<path d="M%.1f %.1f l10 10 m0 -10 l-10 10" stroke="%s" stroke-width="2.5"/>`, x-5, y-5, color)
	case "bolt":
		return fmt.Sprintf(`<path d="M%.1f %.1f l-6 9 h5 l-3 8 l8 -11 h-5 l3 -6 z" fill="%s"/>`, x+2, y-8, color)
	case "up":
		return fmt.Sprintf(`<path d="M%.1f %.1f l6 10 h-12 z" fill="%s"/>`, x, y-6, color)
	case "down":
		return fmt.Sprintf(`<path d="M%.1f %.1f l6 -10 h-12 z" fill="%s"/>`, x, y+6, color)
	case "square":
		return fmt.Sprintf(`<rect x="%.1f" y="%.1f" width="8" height="8" fill="%s"/>`, x-4, y-4, color)
	case "circle":
		return fmt.Sprintf(`<circle cx="%.1f" cy="%.1f" r="4" fill="%s"/>`, x, y, color)
	case "ring":
		return fmt.Sprintf(`<circle cx="%.1f" cy="%.1f" r="4" fill="white" stroke="%s" stroke-width="2"/>`, x, y, color)
	case "dot":
		return fmt.Sprintf(`<circle cx="%.1f" cy="%.1f" r="2.5" fill="%s"/>`, x, y, color)
	}
	return ""
}

type legendItem struct {
	SVG  template.HTML
	Name string
}

// legend explains the marks and bands the picture uses, and only those.
func (tl *timeline) legend() []legendItem {
	var marks [numMarkKinds]bool
	var bands [numBandKinds]bool
	for _, m := range tl.marks {
		marks[m.kind] = true
	}
	for _, b := range tl.bands {
		bands[b.kind] = true
	}
	var out []legendItem
	for k, s := range markStyle {
		if !marks[k] {
			continue
		}
		out = append(out, legendItem{
			SVG:  template.HTML(`<svg width="20" height="20" viewBox="0 0 20 20">` + shape(s.shape, s.color, 10, 10) + `</svg>`),
			Name: s.name,
		})
	}
	for k, s := range bandStyle {
		if !bands[k] {
			continue
		}
		r := `<rect x="1" y="3" width="18" height="14" fill="` + s.color + `" opacity="0.18" stroke="` + s.color + `" stroke-opacity="0.5"/>`
		if k := bandKind(k); k == bandCheckpoint || k == bandCut || k == bandSlow {
			r = `<rect x="1" y="8" width="18" height="5" fill="` + s.color + `" opacity="0.6"/>`
		}
		out = append(out, legendItem{SVG: template.HTML(`<svg width="20" height="20" viewBox="0 0 20 20">` + r + `</svg>`), Name: s.name})
	}
	if tl.healAt < 0 {
		return out
	}
	out = append(out, legendItem{
		SVG:  template.HTML(`<svg width="20" height="20" viewBox="0 0 20 20"><line x1="10" x2="10" y1="1" y2="19" stroke="#1a7f37" stroke-dasharray="4 3"/></svg>`),
		Name: "heal: faults lifted, liveness phase begins",
	})
	return out
}

var reportTemplate = template.Must(template.New("report").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.B.Scenario}} seed {{.B.Seed}}: {{.VerdictName}}</title>
<style>
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: #24292f; margin: 24px 32px; max-width: 1280px; }
h1 { font-size: 22px; margin: 0 0 6px; }
h2 { font-size: 17px; margin: 28px 0 8px; border-bottom: 1px solid #d0d7de; padding-bottom: 4px; }
code, pre { font: 12.5px/1.4 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
pre { background: #f6f8fa; border: 1px solid #d0d7de; border-radius: 6px; padding: 10px 12px; overflow-x: auto; }
.badge { display: inline-block; white-space: nowrap; padding: 2px 10px; border-radius: 12px; color: white; font-weight: 700; font-size: 13px; letter-spacing: .03em; }
.ok { background: #1a7f37; } .violation { background: #cf222e; } .noprogress { background: #bc4c00; } .unknown { background: #6e7781; }
.meta { color: #57606a; margin: 2px 0; }
.firstbad { border-left: 4px solid #cf222e; background: #fff5f5; padding: 6px 10px; margin: 10px 0; }
table { border-collapse: collapse; margin: 6px 0; }
th, td { text-align: left; padding: 4px 10px; border-bottom: 1px solid #eaeef2; vertical-align: top; }
th { background: #f6f8fa; font-weight: 600; }
.chart { overflow-x: auto; border: 1px solid #d0d7de; border-radius: 6px; padding: 6px 0; }
.legend { display: flex; flex-wrap: wrap; gap: 4px 18px; margin: 8px 0; font-size: 12.5px; color: #24292f; }
.legend span { display: inline-flex; align-items: center; gap: 5px; }
.legend svg { flex: none; }
.note { color: #57606a; font-size: 12.5px; }
</style>
</head>
<body>
<h1>{{.B.Scenario}} &middot; seed {{.B.Seed}} &middot; <span class="badge {{.VerdictCSS}}">{{.VerdictName}}</span></h1>
<p class="meta">build {{.B.Build}} &middot; {{.B.Events}} events &middot; {{.SimTime}} simulated &middot; digest <code>{{.B.Digest}}</code>{{if .B.Mutants}} &middot; mutants: <b>{{range $i, $m := .B.Mutants}}{{if $i}}, {{end}}{{$m}}{{end}}</b>{{end}}</p>
{{with .B.FirstBad}}<div class="firstbad"><b>first bad record</b> ({{.Checker}}{{if .Anomaly}}, {{.Anomaly}}{{end}}): <code>{{.Record}}</code></div>{{end}}
<p>Reproduce (from any directory of the machine that wrote the bundle):</p>
<pre>{{.B.ReplayCommand}}
# or, without the digest check:
{{.B.RunCommand}}
# or, on another machine, from a checkout of onceproof at {{.B.Build}}:
{{.B.PortableReplayCommand}}</pre>

<h2>Timeline</h2>
<p class="note">One lane per process (jm is the job master with the checkpoint coordinator; w0, w1, &hellip; are workers). Hover a mark for its trace line.</p>
{{range .Charts}}{{if .Title}}<p class="note">{{.Title}}</p>{{end}}<div class="chart">{{.SVG}}</div>
{{end}}
<div class="legend">{{range .Legend}}<span>{{.SVG}}{{.Name}}</span>{{end}}</div>

<h2>Verdicts</h2>
<table>
<tr><th>checker</th><th>verdict</th><th>anomaly</th><th>explanation</th><th>first bad</th></tr>
{{range .Verdicts}}<tr><td>{{.R.Checker}}</td><td><span class="badge {{.CSS}}">{{.Name}}</span></td><td>{{.R.Anomaly}}</td><td>{{.R.Explanation}}</td><td>{{if .R.FirstBad}}<code>{{.R.FirstBad}}</code>{{end}}</td></tr>
{{end}}</table>

<h2>Fault plan</h2>
<pre>{{.Plan}}</pre>
{{if .B.Swarm}}<p class="meta">{{.B.Swarm}}</p>{{end}}
{{if .B.Fired}}<p>Fired:</p>
<pre>{{range .B.Fired}}{{.}}
{{end}}</pre>{{end}}

<h2>Options</h2>
<table>
{{range .Options}}<tr><th>{{index . 0}}</th><td>{{index . 1}}</td></tr>
{{end}}</table>

<h2>Files</h2>
<ul>
<li><a href="run.json">run.json</a>: what ran and what the checkers said</li>
<li><a href="trace.txt">trace.txt</a>: the full trace, one line per event</li>
<li><a href="plan.json">plan.json</a>: the fault plan (chaosrun run --faults)</li>
<li><a href="REPRODUCE">REPRODUCE</a>: the command that replays this run</li>
{{range .Attachments}}<li><a href="{{.}}">{{.}}</a></li>
{{end}}</ul>

<h2>Timeline as text</h2>
<p class="note">Simulated time in nanoseconds, then the event.</p>
<pre>{{range .Timeline}}{{.}}
{{end}}</pre>
</body>
</html>
`))
