package bench

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/onceproof/onceproof/engine/jobs"
)

func TestCauses(t *testing.T) {
	p := jobs.Params{Parallelism: 1, Partitions: 2, Records: 200, Keys: 5}
	for _, job := range []string{"copier", "keyed-count", "join"} {
		spec, _ := jobs.Lookup(job)
		in := NewInput(spec, p, 1)
		var committed []jobs.Committed
		for _, r := range in.Records {
			committed = append(committed, jobs.Committed{Topic: r.Topic, Partition: r.Partition, Key: r.Key, Value: r.Value})
		}
		cause := in.causes(spec)
		outs := spec.Oracle(committed)
		if len(outs) == 0 {
			t.Fatalf("%s: no output", job)
		}
		for i, o := range outs {
			got := cause(o.Lineage)
			if len(got) == 0 {
				t.Fatalf("%s: output %d (%s) has no cause", job, i, o.Lineage)
			}
			if job != "join" && len(outs) == len(in.Records) && !slices.Equal(got, []int{i}) {
				t.Fatalf("%s: output %d (%s): got cause %v, want [%d]", job, i, o.Lineage, got, i)
			}
		}
	}
}

func TestNiceTicks(t *testing.T) {
	for _, tc := range []struct {
		lo, hi float64
		want   []float64
	}{
		{0, 10, []float64{0, 2, 4, 6, 8, 10}},
		{0, 1.08e6, []float64{0, 200e3, 400e3, 600e3, 800e3, 1e6, 1.2e6}},
	} {
		if got := niceTicks(tc.lo, tc.hi, 6); !slices.Equal(got, tc.want) {
			t.Errorf("niceTicks(%v, %v): got %v, want %v", tc.lo, tc.hi, got, tc.want)
		}
	}
	if got := fmtNum(1_500_000); got != "1.5M" {
		t.Errorf("fmtNum: got %s, want 1.5M", got)
	}
}

func TestBenchLines(t *testing.T) {
	r := &Result{Kind: "run", Environment: Environment{GOMAXPROCS: 2}, Run: &RunResult{
		Options: DefaultRunOptions("copier"), Records: 1000, Elapsed: time.Second, RecordsPerSec: 1000, RecordsPerSecPerCore: 500}}
	lines := r.BenchLines()
	if len(lines) != 1 {
		t.Fatalf("got %d lines, want 1", len(lines))
	}
	f := strings.Split(lines[0], "\t")
	if !strings.HasPrefix(f[0], "BenchmarkRun/copier/exactly-once/") || !strings.HasSuffix(f[0], "-2") || f[1] != "1000" || f[2] != "1000000 ns/op" || f[3] != "1000 records/s" {
		t.Errorf("got %q; want name-2, N, ns/op, records/s columns", lines[0])
	}
}
