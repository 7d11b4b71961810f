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
