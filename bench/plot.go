package bench

import (
	"fmt"
	"github.com/onceproof/onceproof/internal/atomicfile"
	"math"
	"os"
	"path/filepath"
	"sort"
	"time"
)

// Plot draws SVG charts of results into dir and returns the files written:
//
//   - throughput-vs-interval.svg: records/s of runs with preloaded input,
//     against the checkpoint interval (log scale), a line per job and
//     guarantee; runs with checkpoints off are dashed horizontal lines.
//   - latency-percentiles.svg: end-to-end latency against percentile on a
//     "nines" scale (50%, 90%, 99%, 99.9%, 99.99%), a line per run with a
//     latency measurement.
//   - checkpoint-duration.svg: each checkpoint's duration (solid) and
//     alignment (dashed) against the time it was triggered, per run.
//   - compare.svg: median records/s of engine, ceiling and franz-go, per
//     job compared.
//
// A chart with no data is not written.
func Plot(rs []*Result, dir string) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	var files []string
	for _, c := range []struct {
		name  string
		chart *chart
	}{
		{"throughput-vs-interval.svg", throughputChart(rs)},
		{"latency-percentiles.svg", latencyChart(rs)},
		{"checkpoint-duration.svg", checkpointChart(rs)},
		{"compare.svg", compareChart(rs)},
	} {
		if c.chart == nil {
			continue
		}
		path := filepath.Join(dir, c.name)
		if err := atomicfile.WriteFile(path, []byte(c.chart.render())); err != nil {
			return files, err
		}
		files = append(files, path)
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("plot: nothing to draw in %d result(s)", len(rs))
	}
	return files, nil
}

func runs(rs []*Result) []*RunResult {
	var out []*RunResult
	for _, r := range rs {
		if r.Run != nil {
			out = append(out, r.Run)
		}
	}
	return out
}

func machine(rs []*Result) string {
	if len(rs) == 0 {
		return ""
	}
	e := rs[0].Environment
	return fmt.Sprintf("%s, %d cores, %s", e.CPU, e.Cores, e.GoVersion)
}

func throughputChart(rs []*Result) *chart {
	type key struct{ job, guarantee, backend, mode string }
	lines := map[key][][2]float64{}
	offs := map[key]float64{}
	minX, maxX := math.Inf(1), math.Inf(-1)
	for _, r := range runs(rs) {
		o := r.Options
		if o.Rate > 0 || o.Duration > 0 || o.KillAt > 0 {
			continue // streamed input or a kill: not a throughput measurement
		}
		k := key{o.Job, o.Guarantee, o.Backend, o.Checkpoints}
		if o.Checkpoints == "off" {
			offs[k] = math.Max(offs[k], r.RecordsPerSec)
			continue
		}
		x := o.Interval.Seconds()
		lines[k] = append(lines[k], [2]float64{x, r.RecordsPerSec})
		minX, maxX = math.Min(minX, x), math.Max(maxX, x)
	}
	if len(lines) == 0 && len(offs) == 0 {
		return nil
	}
	if math.IsInf(minX, 0) {
		minX, maxX = 0.1, 10
	}
	if minX == maxX {
		minX, maxX = minX/2, maxX*2
	}
	c := &chart{title: "Throughput against checkpoint interval", subtitle: "preloaded input, start to all committed; " + machine(rs),
		xlabel: "checkpoint interval (log scale)", ylabel: "throughput (records/s)", xlog: true,
		xtick: func(v float64) string { return time.Duration(v * float64(time.Second)).String() }}
	seen := map[float64]bool{}
	for _, pts := range lines {
		for _, p := range pts {
			if !seen[p[0]] {
				seen[p[0]] = true
				c.xticks = append(c.xticks, p[0])
			}
		}
	}
	sort.Float64s(c.xticks)
	var keys []key
	for k := range lines {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return fmt.Sprint(keys[i]) < fmt.Sprint(keys[j]) })
	for _, k := range keys {
		pts := lines[k]
		sort.Slice(pts, func(i, j int) bool { return pts[i][0] < pts[j][0] })
		s := series{name: keyLabel(k.job, k.guarantee, k.backend, k.mode), points: true}
		for _, p := range pts {
			s.xs, s.ys = append(s.xs, p[0]), append(s.ys, p[1])
		}
		c.series = append(c.series, s)
	}
	var offKeys []key
	for k := range offs {
		offKeys = append(offKeys, k)
	}
	sort.Slice(offKeys, func(i, j int) bool { return fmt.Sprint(offKeys[i]) < fmt.Sprint(offKeys[j]) })
	for _, k := range offKeys {
		c.series = append(c.series, series{name: keyLabel(k.job, k.guarantee, k.backend, "off"), dashed: true,
			xs: []float64{minX, maxX}, ys: []float64{offs[k], offs[k]}})
	}
	return c
}

// nines maps a percentile to -log10(1 - p): 90% -> 1, 99% -> 2, ...
func nines(p float64) float64 { return -math.Log10(1 - math.Min(p, 99.99)/100) }

func latencyChart(rs []*Result) *chart {
	c := &chart{title: "End-to-end latency distribution", subtitle: "output visible to read_committed minus input acknowledged; " + machine(rs),
		xlabel: "percentile", ylabel: "latency (ms)", yplain: true,
		xticks: []float64{0, nines(50), 1, nines(95), 2, 3, 4},
		xtick: func(v float64) string {
			p := 100 * (1 - math.Pow(10, -v))
			return trimZeros(fmt.Sprintf("%.2f", p)) + "%"
		}}
	for _, r := range runs(rs) {
		l := r.Latency
		if l == nil || len(l.CDF) == 0 {
			continue
		}
		o := r.Options
		s := series{name: runLabel(o), points: true}
		for _, q := range l.CDF {
			if q.Percentile > 99.99 {
				continue
			}
			s.xs = append(s.xs, nines(q.Percentile))
			s.ys = append(s.ys, msf(q.Latency))
		}
		c.series = append(c.series, s)
	}
	if len(c.series) == 0 {
		return nil
	}
	return c
}

func shortGuarantee(g string) string {
	if g == "at-least-once" {
		return "ALO"
	}
	return "EO"
}

func checkpointChart(rs []*Result) *chart {
	c := &chart{title: "Checkpoint duration over time", subtitle: "trigger to durable metadata; alignment dashed where it reached 1 ms; " + machine(rs),
		xlabel: "time since the first trigger (s)", ylabel: "duration (ms)", yplain: true}
	for _, r := range runs(rs) {
		o := r.Options
		// Runs with input flowing throughout: their checkpoints are the
		// steady state (a preloaded run's are mostly its final one).
		if len(r.Checkpoints) < 2 || (o.Rate == 0 && o.Duration == 0) {
			continue
		}
		t0 := r.Checkpoints[0].TriggeredAt
		name := runLabel(o)
		d := series{name: name, points: true}
		a := series{name: name + ", alignment", dashed: true}
		var alignMax time.Duration
		for _, cp := range r.Checkpoints {
			x := cp.TriggeredAt.Sub(t0).Seconds()
			d.xs, d.ys = append(d.xs, x), append(d.ys, msf(cp.Duration))
			a.xs, a.ys = append(a.xs, x), append(a.ys, msf(cp.Alignment))
			alignMax = max(alignMax, cp.Alignment)
		}
		c.series = append(c.series, d)
		if alignMax >= time.Millisecond {
			c.series = append(c.series, a)
		}
	}
	if len(c.series) == 0 {
		return nil
	}
	return c
}

// keyLabel names a line of runs in a legend: job, guarantee, and the
// backend and checkpoint mode where they are not the defaults.
func keyLabel(job, guarantee, backend, mode string) string {
	s := job + " " + shortGuarantee(guarantee)
	if backend == "pebble" {
		s += " pebble"
	}
	switch mode {
	case "unaligned":
		s += " unaligned"
	case "off":
		s += ", no checkpoints"
	}
	return s
}

// runLabel names a run in a legend.
func runLabel(o RunOptions) string {
	s := keyLabel(o.Job, o.Guarantee, o.Backend, o.Checkpoints)
	if o.Checkpoints != "off" {
		s += " " + o.Interval.String()
	}
	if o.Rate > 0 {
		s += " @" + fmtNum(o.Rate) + "/s"
	}
	if o.KillAt > 0 {
		s += ", kill at " + o.KillAt.String()
	}
	return s
}

func compareChart(rs []*Result) *chart {
	var labels []string
	perContender := map[string][]float64{}
	for _, r := range rs {
		if r.Compare == nil {
			continue
		}
		x := r.Compare
		job := x.Options.Job
		if x.Options.Backend == "pebble" {
			job += " pebble"
		}
		labels = append(labels, fmt.Sprintf("%s (%s records)\nengine: %.2f× ceiling, %.2f× franz-go", job, fmtNum(float64(x.Options.Records)), x.EngineVsCeiling, x.EngineVsFranzGo))
		for _, who := range Contenders {
			perContender[who] = append(perContender[who], x.Median[who])
		}
	}
	if len(labels) == 0 {
		return nil
	}
	c := &chart{title: "Engine against the Kafka ceiling and franz-go", subtitle: "exactly-once, 1 checkpoint/commit per interval; median of interleaved rounds, same broker and input; " + machine(rs),
		xlabel: "", ylabel: "throughput (records/s)", bars: labels}
	for _, who := range Contenders {
		c.series = append(c.series, series{name: who, ys: perContender[who]})
	}
	return c
}
