package bench

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/onceproof/onceproof/scenarios"
	"github.com/onceproof/onceproof/sim/cluster"
)

// SimOptions configure bench sim.
type SimOptions struct {
	// Scenarios to measure (empty: every scenario in the catalogue).
	Scenarios []string `json:"scenarios,omitempty"`
	// Seeds per scenario, run one after another on one goroutine.
	Seeds int `json:"seeds"`
	// Log gets a line per scenario; Progress, every ProgressEvery (0:
	// ProgressEvery), how many seeds are done and the time left.
	Log           io.Writer     `json:"-"`
	Progress      io.Writer     `json:"-"`
	ProgressEvery time.Duration `json:"-"`
}

// SimScenario is one scenario's speed.
type SimScenario struct {
	Scenario string        `json:"scenario"`
	Seeds    int           `json:"seeds"`
	Events   int64         `json:"events"`
	SimTime  time.Duration `json:"sim_time_ns"`
	// Wall is the whole time of the seeds: building the world, writing
	// the input, the run, and judging the output.
	Wall time.Duration `json:"wall_ns"`
	// SimPerWall is simulated seconds per wall second.
	SimPerWall   float64 `json:"sim_seconds_per_wall_second"`
	EventsPerSec float64 `json:"events_per_second"`
	// SeedsPerHourPerCore: the seeds ran on one goroutine.
	SeedsPerHourPerCore float64        `json:"seeds_per_hour_per_core"`
	Verdicts            map[string]int `json:"verdicts"`
	// RSSAfterBytes is the resident set after each tenth of the seeds
	// (after a GC): a sweep's memory should not grow with its seeds.
	RSSAfterBytes []int64 `json:"rss_after_bytes"`
}

// SimResult is every scenario measured, and the totals.
type SimResult struct {
	Options   SimOptions    `json:"options"`
	Scenario  string        `json:"scenario"`
	Scenarios []SimScenario `json:"scenarios"`
	Total     SimScenario   `json:"total"`
	// Scale, from bench sim --scale, is one job at growing sizes (then
	// Scenarios is empty).
	Scale []SimSize `json:"scale,omitempty"`
}

// Sim measures the simulator's speed on the scenarios.
func Sim(ctx context.Context, o SimOptions) (*SimResult, error) {
	if o.Seeds < 1 {
		return nil, fmt.Errorf("--seeds: must be at least 1, got %d", o.Seeds)
	}
	var list []*scenarios.Scenario
	if len(o.Scenarios) == 0 {
		list = scenarios.All()
	}
	for _, name := range o.Scenarios {
		s, err := scenarios.Lookup(name)
		if err != nil {
			return nil, err
		}
		list = append(list, s)
	}
	res := &SimResult{Options: o, Scenario: "all"}
	if len(o.Scenarios) == 1 {
		res.Scenario = o.Scenarios[0]
	}
	total := SimScenario{Scenario: "total", Verdicts: map[string]int{}}
	prog := startProgress(o.Progress, cmp.Or(o.ProgressEvery, ProgressEvery))
	defer prog.stop()
	var seedsDone atomic.Int64
	sm := newMeter(int64(len(list)*o.Seeds), 0)
	prog.set(func() string { return "seeds " + sm.render(seedsDone.Load()) })
	for _, s := range list {
		m := SimScenario{Scenario: s.Name, Verdicts: map[string]int{}}
		t0 := time.Now()
		for seed := 1; seed <= o.Seeds; seed++ {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			out, err := s.Run(ctx, scenarios.RunOptions{Seed: uint64(seed)})
			seedsDone.Add(1)
			if err != nil {
				return nil, err
			}
			m.Seeds++
			m.Events += int64(out.Events)
			m.SimTime += out.SimTime
			m.Verdicts[out.Verdict().String()]++
			if o.Seeds >= 10 && seed%(o.Seeds/10) == 0 {
				runtime.GC()
				m.RSSAfterBytes = append(m.RSSAfterBytes, currentRSSBytes())
			}
		}
		m.Wall = time.Since(t0)
		m.rates()
		logf(o.Log, "%-34s %3d seeds  %6.1f sim-s/wall-s  %8.0f events/s  %8.0f seeds/h/core", s.Name, m.Seeds, m.SimPerWall, m.EventsPerSec, m.SeedsPerHourPerCore)
		res.Scenarios = append(res.Scenarios, m)
		total.Seeds += m.Seeds
		total.Events += m.Events
		total.SimTime += m.SimTime
		total.Wall += m.Wall
		for k, v := range m.Verdicts {
			total.Verdicts[k] += v
		}
	}
	total.rates()
	res.Total = total
	return res, nil
}

func (m *SimScenario) rates() {
	w := m.Wall.Seconds()
	if w <= 0 {
		return
	}
	m.SimPerWall = m.SimTime.Seconds() / w
	m.EventsPerSec = float64(m.Events) / w
	m.SeedsPerHourPerCore = float64(m.Seeds) / w * 3600
}

// ScaleSizes are the parallelisms bench sim --scale runs a job at.
var ScaleSizes = []int{2, 8, 32}

// ScaleJob is the job bench sim --scale runs: keyed, so that the keyed
// exchange's fan-in grows with the parallelism.
const ScaleJob = "keyed-count"

// SimSize is one size of a scale run: the cluster options it ran with and
// what it cost.
type SimSize struct {
	Parallelism int   `json:"parallelism"`
	Partitions  int32 `json:"partitions"`
	Workers     int   `json:"workers"`
	Records     int   `json:"records"`
	// SimScenario holds the seeds' events, times and rates, as a
	// scenario's (its Scenario names the job).
	SimScenario
	// WallPerSimSec is wall seconds per simulated second: the cost that
	// should grow linearly with the size.
	WallPerSimSec float64 `json:"wall_seconds_per_sim_second"`
	// PeakRSSBytes is the process's peak resident set over this size's
	// seeds (reset before them, on Linux); AllocBytesPerSeed is what the
	// heap allocated per seed.
	PeakRSSBytes      int64 `json:"peak_rss_bytes"`
	AllocBytesPerSeed int64 `json:"alloc_bytes_per_seed"`
}

// scaleOptions are sim/cluster's default options for job at seed, grown
// with the parallelism p from the defaults' shape at parallelism 2 (3
// partitions, 3 workers, 300 records, 12 keys): partitions and workers
// 3p/2, records 150p, keys 6p, and the event budget with them.
func scaleOptions(job string, seed uint64, p int) cluster.Options {
	o := cluster.DefaultOptions(job, seed)
	grow := func(n int) int { return max(1, n*p/2) }
	o.Params.Parallelism = p
	o.Params.Partitions = int32(grow(3))
	o.Params.Records = grow(o.Params.Records)
	o.Params.Keys = grow(o.Params.Keys)
	o.Sim.Workers = grow(3)
	o.Sim.EventsMax = grow(o.Sim.EventsMax)
	return o
}

// SimScale runs job o.Seeds times at each parallelism of sizes (nil:
// ScaleSizes), one goroutine, and measures each size.
func SimScale(ctx context.Context, o SimOptions, job string, sizes []int) ([]SimSize, error) {
	if o.Seeds < 1 {
		return nil, fmt.Errorf("--seeds: must be at least 1, got %d", o.Seeds)
	}
	if len(sizes) == 0 {
		sizes = ScaleSizes
	}
	prog := startProgress(o.Progress, cmp.Or(o.ProgressEvery, ProgressEvery))
	defer prog.stop()
	var out []SimSize
	for _, p := range sizes {
		co := scaleOptions(job, 1, p)
		if err := co.Validate(); err != nil {
			return nil, fmt.Errorf("parallelism %d: %w", p, err)
		}
		s := SimSize{Parallelism: p, Partitions: co.Params.Partitions, Workers: co.Sim.Workers, Records: co.Params.Records,
			SimScenario: SimScenario{Scenario: job, Verdicts: map[string]int{}}}
		var done atomic.Int64
		m := newMeter(int64(o.Seeds), 0)
		prog.set(func() string { return fmt.Sprintf("parallelism %d: seeds %s", p, m.render(done.Load())) })
		resetPeakRSS()
		var ms0, ms1 runtime.MemStats
		runtime.ReadMemStats(&ms0)
		t0 := time.Now()
		for seed := 1; seed <= o.Seeds; seed++ {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			r, j, err := scenarios.RunCluster(ctx, scaleOptions(job, uint64(seed), p))
			if err != nil {
				return nil, fmt.Errorf("parallelism %d, seed %d: %w", p, seed, err)
			}
			done.Add(1)
			s.Seeds++
			s.Events += int64(r.Events)
			s.SimTime += r.SimTime
			s.Verdicts[j.Verdict().String()]++
		}
		s.Wall = time.Since(t0)
		runtime.ReadMemStats(&ms1)
		s.PeakRSSBytes = PeakRSSBytes()
		s.AllocBytesPerSeed = int64(ms1.TotalAlloc-ms0.TotalAlloc) / int64(s.Seeds)
		s.rates()
		if s.SimPerWall > 0 {
			s.WallPerSimSec = 1 / s.SimPerWall
		}
		logf(o.Log, "parallelism %2d  %3d partitions  %3d workers  %5d records  %3d seeds  %8.3f wall-s/sim-s  %8.0f events/s  peak RSS %s  %s/seed allocated  verdicts %v",
			p, s.Partitions, s.Workers, s.Records, s.Seeds, s.WallPerSimSec, s.EventsPerSec, bytesString(s.PeakRSSBytes), bytesString(s.AllocBytesPerSeed), s.Verdicts)
		out = append(out, s)
	}
	return out, nil
}
