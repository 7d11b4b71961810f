// Package wordcount is a job written outside onceproof, against its public
// API only: it counts the words of every line per key, in keyed value
// state, and is checked under faults by onceprooftest.
package wordcount

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"

	"github.com/onceproof/onceproof/checkers"
	"github.com/onceproof/onceproof/engine"
	"github.com/onceproof/onceproof/engine/jobs"
)

var words = []string{"once", "only", "exactly", "checkpoint", "barrier", "commit"}

// Spec is the job with its oracles. Each output is "key#n=w": the key's
// n-th line and the words of its lines so far; "key#n" is its lineage.
func Spec() *jobs.Spec {
	return &jobs.Spec{
		Name:   "word-count",
		Inputs: func(p jobs.Params) []jobs.Topic { return []jobs.Topic{{Name: "lines", Partitions: p.Partitions}} },
		Output: func(p jobs.Params) jobs.Topic { return jobs.Topic{Name: "counts", Partitions: p.Partitions} },
		Build: func(p jobs.Params) (*engine.Job, error) {
			b := engine.NewJob("word-count")
			b.Source("src", "lines", p.Partitions, p.Parallelism).
				KeyBy(func(r engine.Record) string { return r.Key }).
				Process("count", p.Parallelism, func() engine.KeyedProcessFunction { return engine.ProcessFunc(count) }).
				SinkTo("sink", "counts", p.Partitions, p.Parallelism, p.Guarantee)
			return b.Build()
		},
		Generate: func(r *rand.Rand, p jobs.Params) []jobs.Input {
			in := make([]jobs.Input, 0, p.Records)
			for range p.Records {
				k := fmt.Sprintf("doc%d", r.IntN(p.Keys))
				line := make([]string, 1+r.IntN(4))
				for i := range line {
					line[i] = words[r.IntN(len(words))]
				}
				in = append(in, jobs.Input{Topic: "lines", Partition: engine.PartitionFor(k, p.Partitions, 0), Key: k, Value: strings.Join(line, " ")})
			}
			return in
		},
		Oracle: func(in []jobs.Committed) []jobs.Output {
			lines, total := map[string]int{}, map[string]int{}
			out := make([]jobs.Output, 0, len(in))
			for _, c := range in {
				lines[c.Key]++
				total[c.Key] += len(strings.Fields(c.Value))
				v := fmt.Sprintf("%s#%d=%d", c.Key, lines[c.Key], total[c.Key])
				out = append(out, jobs.Output{Lineage: v[:strings.IndexByte(v, '=')], Key: c.Key, Value: v})
			}
			return out
		},
		Lineage: func(_, v string) string { return v[:strings.IndexByte(v, '=')] },
		Order:   checkers.PerKey,
		State: func(in []jobs.Committed, offsets map[string]int64) map[string]string {
			lines, total := map[string]int{}, map[string]int{}
			out := map[string]string{}
			for _, c := range in {
				if c.Before(offsets) {
					lines[c.Key]++
					total[c.Key] += len(strings.Fields(c.Value))
					out["lines:"+c.Key] = strconv.Itoa(lines[c.Key])
					out["words:"+c.Key] = strconv.Itoa(total[c.Key])
				}
			}
			return out
		},
		Restored: jobs.KeyedState,
	}
}

// count adds a line's words to its key's totals.
func count(ctx *engine.Context, _ int, r engine.Record) error {
	// A state the backend cannot read, or that holds no integer, fails the
	// task: the job restores from a checkpoint rather than count from zero.
	names := [2]string{"lines", "words"}
	var n [2]int
	for i, name := range names {
		s, ok, err := ctx.Value(name).Get()
		if err == nil && ok {
			n[i], err = strconv.Atoi(s)
		}
		if err != nil {
			return err
		}
	}
	n[0], n[1] = n[0]+1, n[1]+len(strings.Fields(r.Value))
	for i, name := range names {
		if err := ctx.Value(name).Set(strconv.Itoa(n[i])); err != nil {
			return err
		}
	}
	ctx.Emit(engine.Record{Key: r.Key, Value: fmt.Sprintf("%s#%d=%d", r.Key, n[0], n[1]), Origin: r.Origin})
	return nil
}
