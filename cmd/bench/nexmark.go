package main

import (
	"fmt"
	"strings"

	"github.com/onceproof/onceproof/bench"
	"github.com/onceproof/onceproof/engine/jobs"
	"github.com/spf13/cobra"
)

func nexmarkCmd() *cobra.Command {
	o := bench.DefaultNexmarkOptions("")
	var out string
	known := strings.Join(jobs.NexmarkQueries, ", ")
	var queries strings.Builder
	for _, q := range jobs.NexmarkQueries {
		if spec, err := jobs.Lookup("nexmark-" + q); err == nil {
			fmt.Fprintf(&queries, "  %s  %s\n", q, strings.TrimPrefix(spec.Description, "Nexmark "+q+", "))
		}
	}
	cmd := &cobra.Command{
		Use:   "nexmark QUERY",
		Short: "Run a Nexmark query (" + known + ") live: events/s, per core, the exactly-once verdict, and Flink's published figure beside it",
		Long: `Run one Nexmark query live on the engine, exactly as bench run runs a job
(the engine/jobs job "nexmark-QUERY"), and measure it.

The input is the Nexmark event stream: persons, auctions and bids, 1:3:46 in
every 50 events, bids on hot auctions by hot bidders, as the Nexmark
generator draws them, deterministic for --seed. Event time advances one
millisecond per event. Event n goes to partition n mod --partitions, and every
partition ends with an end-of-input marker that carries the watermark past
the last window. The input is written before the job starts; throughput runs
from the job's start until every output is committed.

Queries (the nexmark/nexmark Flink suite's, windows scaled by 1/100 to the
generator's time base: one Nexmark second is 10 ms here):
` + queries.String() + `
It prints events/s, events/s per core (over GOMAXPROCS) and events per
CPU-second of the whole process (the in-process broker included), then the
exactly-once verdict: the committed output read back with an independent
read_committed consumer and checked against the query's sequential oracle.

The "published" lines are Flink figures for the same query from the
nexmark/nexmark project's result tables, quoted with their source, Flink
version, cluster and what they measure. They were measured on another
machine, with another setup (an 8-way Flink cluster, the generator inside the
job instead of Kafka, events with more fields, 100M or 50M of them): they
give an order of magnitude, NOT a same-run comparison. "Throughput/Cores"
(Flink 1.13) divides by measured CPU use, so it is closest to events per
CPU-second; "Throughput" (Flink 2.0+) is the whole cluster's events/s. A query
neither table has says "no published figure found".

Every vertex runs --parallelism subtasks (2 by default), each on a goroutine
of its own; --partitions 0 (the default) gives every source subtask one
partition. The engine has no watermark alignment: a source subtask that reads
ahead of the others keeps its windows in q5's and q7's state until the
slowest catches up.

Exit codes: 0 done and exactly-once, 1 the run failed or its output was not
exactly-once, 2 bad usage (an unknown query, a bad flag), 4 no verdict (the
output could not be read back).`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usage(fmt.Errorf("nexmark needs one query (known: %s)", known))
			}
			o.Query = args[0]
			return usage(o.Validate())
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Log = cmd.ErrOrStderr()
			env := bench.CurrentEnvironment()
			res, err := bench.RunNexmark(cmd.Context(), o)
			if err != nil {
				return err
			}
			res.Print(cmd.OutOrStdout())
			if err := save(cmd.OutOrStdout(), out, bench.NewResult(commandLine(), env, res)); err != nil {
				return err
			}
			return judge(res.Run.Verdicts)
		},
	}
	f := cmd.Flags()
	f.IntVar(&o.Events, "events", o.Events, "events to generate (persons, auctions and bids)")
	f.IntVar(&o.Parallelism, "parallelism", o.Parallelism, "parallelism of every vertex")
	f.Int32Var(&o.Partitions, "partitions", 0, "partitions of the input and output topics (0: one per source subtask)")
	f.DurationVar(&o.Interval, "interval", o.Interval, "checkpoint interval")
	f.StringVar(&o.Backend, "backend", o.Backend, "keyed state backend: heap or pebble")
	f.StringVar(&o.Guarantee, "guarantee", o.Guarantee, "exactly-once or at-least-once")
	f.Uint64Var(&o.Seed, "seed", o.Seed, "seed of the generated events")
	f.StringVar(&out, "out", "", "directory for the result JSON and benchmark lines, such as results/bench (default: none written)")
	return cmd
}
