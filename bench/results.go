package bench

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/onceproof/onceproof/internal/atomicfile"
	"github.com/onceproof/onceproof/internal/jsonfile"
)

// Result is one benchmark command's outcome, as written to results/bench.
type Result struct {
	// Kind is "run", "scaling", "compare" or "sim".
	Kind        string         `json:"kind"`
	Command     string         `json:"command"`
	Environment Environment    `json:"environment"`
	Run         *RunResult     `json:"run,omitempty"`
	Scaling     *ScalingResult `json:"scaling,omitempty"`
	Compare     *CompareResult `json:"compare,omitempty"`
	Sim         *SimResult     `json:"sim,omitempty"`
	// Nexmark, on a Nexmark run (Kind "run", with Run), holds the events
	// rates and the published figures printed beside them.
	Nexmark *NexmarkResult `json:"nexmark,omitempty"`
}

// NewResult wraps one of the results with the environment it ran in
// (taken before it ran: CurrentEnvironment).
func NewResult(command string, env Environment, v any) *Result {
	r := &Result{Command: command, Environment: env}
	switch x := v.(type) {
	case *RunResult:
		r.Kind, r.Run = "run", x
	case *ScalingResult:
		r.Kind, r.Scaling = "scaling", x
	case *CompareResult:
		r.Kind, r.Compare = "compare", x
	case *SimResult:
		r.Kind, r.Sim = "sim", x
	case *NexmarkResult:
		r.Kind, r.Run, r.Nexmark = "run", x.Run, x
	}
	return r
}

var (
	unsafeName = regexp.MustCompile(`[^A-Za-z0-9._=-]+`)
	// benchName keeps "/" (sub-benchmarks, as benchstat reads them).
	benchName = regexp.MustCompile(`[^A-Za-z0-9._=/-]+`)
)

// Name is the result's file name stem: kind, subject and time.
func (r *Result) Name() string {
	subject := ""
	switch {
	case r.Run != nil:
		o := r.Run.Options
		subject = fmt.Sprintf("%s-%s-%s-%s-%v", o.Job, o.Guarantee, o.Backend, o.Checkpoints, o.Interval)
		if o.Checkpoints == "off" {
			subject = fmt.Sprintf("%s-%s-%s-off", o.Job, o.Guarantee, o.Backend)
		}
		if o.Rate > 0 {
			subject += fmt.Sprintf("-rate%.0f", o.Rate)
		}
		if o.KillAt > 0 {
			subject += "-kill"
		}
	case r.Scaling != nil && len(r.Scaling.Runs) > 0:
		o := r.Scaling.Runs[0].Options
		subject = fmt.Sprintf("%s-%s-%s-parallelism", o.Job, o.Guarantee, o.Backend)
		for _, p := range r.Scaling.Parallelism {
			subject += fmt.Sprintf("-%d", p)
		}
	case r.Compare != nil:
		subject = r.Compare.Options.Job + "-" + r.Compare.Options.Backend
	case r.Sim != nil:
		subject = r.Sim.Scenario
	}
	stamp := r.Environment.Started.Format("20060102T150405Z")
	return unsafeName.ReplaceAllString(fmt.Sprintf("%s-%s-%s", r.Kind, subject, stamp), "_")
}

// Write writes r as DIR/NAME.json and its benchmark lines as
// DIR/NAME.bench.txt, each atomically (temporary file, fsync, rename), and
// returns the JSON file's path.
func (r *Result) Write(dir string) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("results: %w", err)
	}
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return "", fmt.Errorf("results: encode: %w", err)
	}
	path := filepath.Join(dir, r.Name()+".json")
	if err := atomicfile.WriteFile(path, append(data, '\n')); err != nil {
		return "", err
	}
	lines := strings.Join(r.BenchLines(), "\n") + "\n"
	if err := atomicfile.WriteFile(filepath.Join(dir, r.Name()+".bench.txt"), []byte(r.benchHeader()+lines)); err != nil {
		return "", err
	}
	return path, nil
}

// ReadResult reads a result file written by Write.
func ReadResult(path string) (*Result, error) {
	data, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("%s: no such file", path)
	case err != nil:
		if st, serr := os.Stat(path); serr == nil && st.IsDir() {
			return nil, fmt.Errorf("%s is a directory, not a result file", path)
		}
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	var r Result
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("%s: %w", path, jsonfile.Describe(data, err))
	}
	if r.Run == nil && r.Scaling == nil && r.Compare == nil && r.Sim == nil {
		return nil, fmt.Errorf("%s: not a bench result (no run, scaling, compare or sim section)", path)
	}
	return &r, nil
}

// benchHeader is the configuration block benchstat shows above its tables.
func (r *Result) benchHeader() string {
	e := r.Environment
	return fmt.Sprintf("goos: %s\ngoarch: %s\npkg: github.com/onceproof/onceproof/cmd/bench\ncpu: %s\ncommit: %s\n", e.OS, e.Arch, e.CPU, e.Commit)
}

// BenchLines renders r as Go benchmark lines: one per measured thing,
// "BenchmarkName-P  N  ns/op  value unit ...", with N the records (or
// seeds) and ns/op the wall time per record (or seed).
func (r *Result) BenchLines() []string {
	p := r.Environment.GOMAXPROCS
	var out []string
	line := func(name string, n int, per time.Duration, extra string) {
		out = append(out, benchLine(p, name, n, per, extra))
	}
	switch {
	case r.Run != nil:
		out = append(out, runLine(p, r.Run))
	case r.Scaling != nil:
		for _, x := range r.Scaling.Runs {
			out = append(out, runLine(p, x))
		}
	case r.Compare != nil:
		x := r.Compare
		for _, run := range x.Runs {
			line(fmt.Sprintf("Compare/%s/backend=%s/%s", x.Options.Job, x.Options.Backend, run.Contender), x.Options.Records,
				perOp(run.Elapsed, x.Options.Records), fmt.Sprintf("%.0f records/s\t%d commits", run.RecordsPerSec, run.Commits))
		}
	case r.Sim != nil:
		x := r.Sim
		for _, s := range x.Scale {
			line(fmt.Sprintf("SimScale/%s/parallelism=%d", x.Scenario, s.Parallelism), s.Seeds, perOp(s.Wall, s.Seeds),
				fmt.Sprintf("%.3f wall-s/sim-s\t%.0f events/s\t%d peak-rss-bytes\t%d alloc-bytes/seed", s.WallPerSimSec, s.EventsPerSec, s.PeakRSSBytes, s.AllocBytesPerSeed))
		}
		for _, s := range x.Scenarios {
			line("Sim/"+s.Scenario, s.Seeds, perOp(s.Wall, s.Seeds), fmt.Sprintf("%.1f sim-s/wall-s\t%.0f events/s\t%.0f seeds/h/core",
				s.SimPerWall, s.EventsPerSec, s.SeedsPerHourPerCore))
		}
	}
	return out
}

// benchLine renders one Go benchmark line.
func benchLine(p int, name string, n int, per time.Duration, extra string) string {
	return fmt.Sprintf("Benchmark%s-%d\t%d\t%d ns/op\t%s", benchName.ReplaceAllString(name, "_"), p, n, per.Nanoseconds(), extra)
}

// runLine is one run's benchmark line.
func runLine(p int, x *RunResult) string {
	o := x.Options
	name := fmt.Sprintf("Run/%s/%s/backend=%s/checkpoints=%s/interval=%v/parallelism=%d", o.Job, o.Guarantee, o.Backend, o.Checkpoints, o.Interval, o.Parallelism)
	if o.Rate > 0 {
		name += fmt.Sprintf("/rate=%.0f", o.Rate)
	}
	extra := fmt.Sprintf("%.0f records/s\t%.0f records/s/core", x.RecordsPerSec, x.RecordsPerSecPerCore)
	if l := x.Latency; l != nil && l.Count > 0 {
		extra += fmt.Sprintf("\t%.3f p50-ms\t%.3f p99-ms\t%.3f p99.9-ms\t%.3f max-ms", msf(l.P50), msf(l.P99), msf(l.P999), msf(l.Max))
	}
	if x.Recovery > 0 {
		extra += fmt.Sprintf("\t%.3f recovery-ms", msf(x.Recovery))
	}
	extra += fmt.Sprintf("\t%d peak-rss-bytes", x.PeakRSSBytes)
	n := x.Records
	if x.Processed > 0 {
		n = x.Processed // a resume's own work
	}
	return benchLine(p, name, n, perOp(x.Elapsed, n), extra)
}

func perOp(d time.Duration, n int) time.Duration {
	if n <= 0 {
		return 0
	}
	return d / time.Duration(n)
}

func msf(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
