package bench

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/onceproof/onceproof/engine/jobs"
)

// Nexmark runs: one Nexmark query live (the engine/jobs job "nexmark-" +
// query) over pre-written input, measured as bench run measures a job, and
// shown next to the Flink figures the nexmark/nexmark project published for
// the same query. Those figures come from another machine, another setup
// and another version of the queries' input; they are context, never a
// same-run comparison, and the output says so.

// NexmarkOptions configure one Nexmark run.
type NexmarkOptions struct {
	// Query is q0, q1, q2, q5 or q7.
	Query string `json:"query"`
	// Events is the number of generated events (persons, auctions and
	// bids, 1:3:46); each partition also gets one end marker.
	Events      int `json:"events"`
	Parallelism int `json:"parallelism"`
	// Partitions of the input and output topics; 0: one per source
	// subtask (Parallelism). A source subtask that reads several
	// partitions requests them in a fixed order, and a batch larger than
	// its per-partition fetch limit is returned only for the first
	// partition that has one: input written in large batches is then
	// read one partition after another, and the watermark, a minimum
	// over partitions, waits for the last.
	Partitions int32 `json:"partitions"`
	// Guarantee is "exactly-once" or "at-least-once".
	Guarantee string        `json:"guarantee"`
	Backend   string        `json:"backend"`
	Interval  time.Duration `json:"interval_ns"`
	Seed      uint64        `json:"seed"`
	// Log gets progress lines (nil: none).
	Log io.Writer `json:"-"`
}

// DefaultNexmarkOptions returns the options bench nexmark starts from:
// a million events at parallelism 1, which on two cores takes a few
// seconds for q0, q1, q2 and q7 and about ten for q5. At parallelism 1 the
// job's tasks still run on goroutines of their own; above it, the sources
// read at independent speeds and the engine has no watermark alignment, so
// the windowed queries hold the windows of the source that is ahead until
// the one behind catches up.
func DefaultNexmarkOptions(query string) NexmarkOptions {
	return NexmarkOptions{Query: query, Events: 1_000_000, Parallelism: 2, Guarantee: "exactly-once", Backend: "heap",
		Interval: time.Second, Seed: 1}
}

// Validate reports the first invalid option, naming the flag; an unknown
// query names the known ones.
func (o NexmarkOptions) Validate() error {
	if !slices.Contains(jobs.NexmarkQueries, o.Query) {
		return fmt.Errorf("unknown query %q (known: %s)", o.Query, strings.Join(jobs.NexmarkQueries, ", "))
	}
	switch {
	case o.Events < 1:
		return fmt.Errorf("--events: must be at least 1, got %d", o.Events)
	case o.Partitions < 0:
		return fmt.Errorf("--partitions: must not be negative, got %d", o.Partitions)
	}
	return o.runOptions().Validate()
}

// runOptions is the live run the options make.
func (o NexmarkOptions) runOptions() RunOptions {
	r := DefaultRunOptions("nexmark-" + o.Query)
	r.Parallelism, r.Records, r.Keys = o.Parallelism, o.Events, 1
	r.Partitions = o.Partitions
	if r.Partitions == 0 {
		r.Partitions = int32(max(o.Parallelism, 1))
	}
	r.Guarantee, r.Backend, r.Interval, r.Seed, r.Log = o.Guarantee, o.Backend, o.Interval, o.Seed, o.Log
	return r
}

// NexmarkResult is one Nexmark run.
type NexmarkResult struct {
	Query string `json:"query"`
	// Description is the job's, from the registry.
	Description string `json:"description"`
	// Events counts the generated events, end markers excluded.
	Events       int     `json:"events"`
	EventsPerSec float64 `json:"events_per_sec"`
	// EventsPerSecPerCore divides by GOMAXPROCS; EventsPerCPUSec by the
	// CPU time the whole process used from the job's start to the end of
	// its input (engine, in-process broker and all).
	EventsPerSecPerCore float64 `json:"events_per_sec_per_core"`
	EventsPerCPUSec     float64 `json:"events_per_cpu_sec"`
	// Run is the live run; in a saved Result it is the Result's own Run.
	Run       *RunResult        `json:"-"`
	Published []PublishedFigure `json:"published"`
}

// RunNexmark runs the query live once and measures it.
func RunNexmark(ctx context.Context, o NexmarkOptions) (*NexmarkResult, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	run, err := Run(ctx, o.runOptions())
	if err != nil {
		return nil, err
	}
	spec, _ := jobs.Lookup("nexmark-" + o.Query)
	res := &NexmarkResult{Query: o.Query, Description: spec.Description, Events: o.Events, Run: run,
		Published: PublishedNexmark(o.Query)}
	if s := run.Elapsed.Seconds(); s > 0 {
		res.EventsPerSec = float64(o.Events) / s
		res.EventsPerSecPerCore = res.EventsPerSec / float64(runtime.GOMAXPROCS(0))
	}
	if run.RecordsPerCPUSec > 0 {
		// The same CPU time, over events rather than records.
		res.EventsPerCPUSec = run.RecordsPerCPUSec * float64(o.Events) / float64(run.Records)
	}
	return res, nil
}

// Print writes the run, its verdict and the published figures.
func (r *NexmarkResult) Print(w io.Writer) {
	o := r.Run.Options
	parts := "partitions"
	if o.Partitions == 1 {
		parts = "partition"
	}
	fmt.Fprintf(w, "nexmark %s   %s\n", r.Query, strings.TrimPrefix(r.Description, "Nexmark "+r.Query+", "))
	fmt.Fprintf(w, "run          %d events, parallelism %d, %d %s, %s, %s state, checkpoints every %v; %d outputs\n",
		r.Events, o.Parallelism, o.Partitions, parts, o.Guarantee, o.Backend, o.Interval, r.Run.Outputs)
	fmt.Fprintf(w, "throughput   %.0f events/s in %v; %.0f events/s per core (%d cores); %.0f events per CPU-second (whole process, broker included)\n",
		r.EventsPerSec, r.Run.Elapsed.Round(time.Millisecond), r.EventsPerSecPerCore, runtime.GOMAXPROCS(0), r.EventsPerCPUSec)
	for _, v := range r.Run.Verdicts {
		fmt.Fprintf(w, "verdict      %-18s %-5s %s\n", v.Checker, v.Verdict, v.Explanation)
	}
	if len(r.Published) == 0 {
		fmt.Fprintf(w, "published    no published figure found for %s\n", r.Query)
		return
	}
	fmt.Fprintf(w, "published    Flink figures published by nexmark/nexmark, measured on another machine and setup: NOT a same-run comparison\n")
	for _, p := range r.Published {
		fmt.Fprintf(w, "  %-10s %s %s %s (%s)\n", p.Flink, p.Query, p.Figure, p.Column, p.Row)
		fmt.Fprintf(w, "             measures: %s\n", p.Measures)
		fmt.Fprintf(w, "             source:   %s\n", p.Source)
		fmt.Fprintf(w, "             setup:    %s\n", p.Setup)
	}
}

// PublishedFigure is one published Flink figure for a Nexmark query,
// quoted as published.
type PublishedFigure struct {
	Query string `json:"query"`
	// Flink names the Flink version the table was measured with.
	Flink string `json:"flink"`
	// Figure is the number with its unit, as printed in the table:
	// "155.02 K/s".
	Figure string `json:"figure"`
	// Column is the table column it is from; Row the rest of its row.
	Column string `json:"column"`
	Row    string `json:"row"`
	// Measures says what the column measures.
	Measures string `json:"measures"`
	// Source is where it was published: URL, document, commit, date.
	Source string `json:"source"`
	// Setup is the Flink version, cluster and workload it was measured on.
	Setup string `json:"setup"`
}

// The two result tables of github.com/nexmark/nexmark, as of its commit
// 6b3646c (2025-12-26). Both are quoted, not derived: the numbers below are
// the tables' own.
const (
	nexmarkV1Source = "https://github.com/nexmark/nexmark README.md, section \"Nexmark Benchmark Result\", " +
		"added in commit 8ff9866 (2021-05-31); since commit e115ef9 (2025-03-02) in GUIDE_V1.md as \"an example of result table\""
	nexmarkV1Setup = "Flink 1.13 (README of 2021; GUIDE_V1.md now says 1.13 ~ 2.0); 3 worker nodes of 8 cores and 32 GB RAM " +
		"(\"minimum requirements\"), 8 TaskManagers of 1 slot, parallelism 8, exactly-once checkpoints every 3 minutes, " +
		"RocksDB incremental; 100,000,000 events from the Nexmark generator running as the job's source (no Kafka) at up to " +
		"10M events/s, " +
		"Bid 92% Auction 6% Person 2%, blackhole sink"
	nexmarkV1Measures = "events / (Cores x Time), Cores being the average CPU usage the runner's collector measured on the " +
		"workers: events per CPU-second, closest to our events per CPU-second"
	nexmarkV2Source = "https://github.com/nexmark/nexmark GUIDE_V2.md (\"Nexmark Benchmark V2\"), section " +
		"\"Nexmark Benchmark Result\", \"an example of result table\", added in commit e115ef9 (2025-03-02)"
	nexmarkV2Setup = "Flink 2.0 or above; 4 worker nodes of 16 cores and 32 GB RAM, HDFS on 4 data nodes, 8 TaskManagers " +
		"of 1 slot, parallelism 8, exactly-once checkpoints every 30 seconds, RocksDB incremental; 200,000,000 events " +
		"(150M warm-up, 50M measured) from the in-job generator, Bid 92% Auction 6% Person 2%, blackhole sink"
	nexmarkV2Measures = "events / Time over the 50M measured events, all 8 subtasks together: total events/s, not per core"
)

// nexmarkPublished are the tables' rows for the queries there are jobs
// for: query -> {V1 Cores, Time(s), Throughput/Cores; V2 Cores, Time(s),
// Throughput}.
var nexmarkPublished = map[string][6]string{
	"q0": {"8.45", "76.323", "155.02 K/s", "7", "18.875", "2.65 M/s"},
	"q1": {"8.26", "76.643", "157.94 K/s", "7.24", "17.462", "2.86 M/s"},
	"q2": {"8.23", "69.309", "175.21 K/s", "7.13", "16.927", "2.95 M/s"},
	"q5": {"10.8", "418.242", "22.14 K/s", "12.35", "54.324", "920.4 K/s"},
	"q7": {"14.21", "570.983", "12.33 K/s", "11.45", "190.508", "262.46 K/s"},
}

// PublishedNexmark returns the published Flink figures for query (none
// for a query the tables do not have).
func PublishedNexmark(query string) []PublishedFigure {
	row, ok := nexmarkPublished[query]
	if !ok {
		return nil
	}
	return []PublishedFigure{
		{Query: query, Flink: "Flink 1.13", Figure: row[2], Column: "Throughput/Cores",
			Row:      fmt.Sprintf("Events Num 100,000,000, Cores %s, Time(s) %s", row[0], row[1]),
			Measures: nexmarkV1Measures, Source: nexmarkV1Source, Setup: nexmarkV1Setup},
		{Query: query, Flink: "Flink 2.0+", Figure: row[5], Column: "Throughput",
			Row:      fmt.Sprintf("Events Num 50,000,000, Cores %s, Time(s) %s", row[3], row[4]),
			Measures: nexmarkV2Measures, Source: nexmarkV2Source, Setup: nexmarkV2Setup},
	}
}
