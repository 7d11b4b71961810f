package bench

import (
	"strings"
	"testing"

	"github.com/onceproof/onceproof/engine/jobs"
)

// TestPublishedNexmark: every query there is a job for has its two quoted
// figures, each with a source, a setup and what it measures; a query the
// tables lack has none.
func TestPublishedNexmark(t *testing.T) {
	for _, q := range jobs.NexmarkQueries {
		ps := PublishedNexmark(q)
		if len(ps) != 2 {
			t.Fatalf("%s: got %d figures, want 2", q, len(ps))
		}
		for _, p := range ps {
			if p.Query != q || p.Figure == "" || p.Flink == "" || p.Row == "" || p.Measures == "" || p.Setup == "" ||
				!strings.HasPrefix(p.Source, "https://github.com/nexmark/nexmark") {
				t.Errorf("%s: incomplete figure %+v", q, p)
			}
		}
	}
	if ps := PublishedNexmark("q6"); ps != nil {
		t.Errorf("q6: got %v, want no figure", ps)
	}
}

func TestNexmarkOptionsValidate(t *testing.T) {
	for _, tc := range []struct {
		edit func(*NexmarkOptions)
		want string
	}{
		{func(o *NexmarkOptions) { o.Query = "q3" }, `unknown query "q3" (known: q0, q1, q2, q5, q7)`},
		{func(o *NexmarkOptions) { o.Events = 0 }, "--events"},
		{func(o *NexmarkOptions) { o.Parallelism = 0 }, "--parallelism"},
		{func(o *NexmarkOptions) { o.Partitions = -2 }, "--partitions"},
		{func(o *NexmarkOptions) { o.Backend = "rocksdb" }, "--backend"},
	} {
		o := DefaultNexmarkOptions("q5")
		tc.edit(&o)
		if err := o.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("got %v, want an error with %q", err, tc.want)
		}
	}
	o := DefaultNexmarkOptions("q7")
	if err := o.Validate(); err != nil {
		t.Fatal(err)
	}
	if r := o.runOptions(); r.Job != "nexmark-q7" || r.Partitions != int32(o.Parallelism) || r.Records != 1_000_000 {
		t.Errorf("run options: got job %s, %d partitions (want one per source subtask, %d), %d records", r.Job, r.Partitions, o.Parallelism, r.Records)
	}
}
