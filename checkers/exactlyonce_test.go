package checkers

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

// eoFixture is an exactly-once history: what the oracle expects, what the
// read_committed consumer saw and what the sink attempted.
type eoFixture struct {
	expected []Expected
	observed []Observed
	attempts []Attempt
}

// eoKeys is the number of keys in goodEO; keys map to output partitions
// key%3, so each key lives in one partition, as a keyed sink puts it.
const eoKeys = 7

// goodEO builds a correct history of n records: record i has lineage
// "in/0@i", key "k<i%7>" and value "k<key>#<count>" (the per-key input
// count, as a counting job would emit). Every tenth record was first written
// in a transaction that aborted and then written again in one that
// committed, as after a recovery, so the known-good history also exercises
// retries.
func goodEO(n int) eoFixture {
	var f eoFixture
	count := make(map[string]int)
	for i := range n {
		key := fmt.Sprintf("k%d", i%eoKeys)
		count[key]++
		e := Expected{Lineage: fmt.Sprintf("in/0@%d", i), Key: key, Value: fmt.Sprintf("%s#%d", key, count[key])}
		f.expected = append(f.expected, e)
		f.observed = append(f.observed, Observed{Lineage: e.Lineage, Key: e.Key, Value: e.Value, Partition: int32(i % eoKeys % 3)})
		if i%10 == 0 {
			f.attempts = append(f.attempts, Attempt{Lineage: e.Lineage, Txn: fmt.Sprintf("t%d-a", i/100), Outcome: Aborted})
		}
		f.attempts = append(f.attempts, Attempt{Lineage: e.Lineage, Txn: fmt.Sprintf("t%d", i/100), Outcome: Committed})
	}
	f.observed = renumber(f.observed)
	return f
}

// renumber puts observed records in partition order, keeping their order
// within a partition, and gives them increasing offsets with gaps, where a
// real topic has transaction markers.
func renumber(obs []Observed) []Observed {
	obs = slices.Clone(obs)
	slices.SortStableFunc(obs, func(a, b Observed) int { return int(a.Partition) - int(b.Partition) })
	next := make(map[int32]int64)
	for i := range obs {
		obs[i].Offset = next[obs[i].Partition]
		next[obs[i].Partition] += 2
	}
	return obs
}

// findObserved returns the index of lineage in obs; it fails the test if the
// fixture does not have it.
func findObserved(t *testing.T, obs []Observed, lineage string) int {
	t.Helper()
	i := slices.IndexFunc(obs, func(o Observed) bool { return o.Lineage == lineage })
	if i < 0 {
		t.Fatalf("fixture has no observed lineage %q", lineage)
	}
	return i
}

func TestExactlyOnce(t *testing.T) {
	// Each case edits a fresh 1000-record good history.
	tests := []struct {
		name         string
		edit         func(t *testing.T, f *eoFixture)
		opts         ExactlyOnceOptions
		wantVerdict  Verdict
		wantAnomaly  string
		wantFirstBad string         // substring
		wantStats    map[string]int // subset
	}{
		{
			name:        "good",
			edit:        func(t *testing.T, f *eoFixture) {},
			wantVerdict: Ok,
			wantStats:   map[string]int{"expected": 1000, "observed": 1000, "duplicate": 0, "lost-write": 0},
		},
		{
			name:        "good in per-key order",
			edit:        func(t *testing.T, f *eoFixture) {},
			opts:        ExactlyOnceOptions{Order: PerKey},
			wantVerdict: Ok,
		},
		{
			name: "good with an in-doubt attempt that did commit",
			edit: func(t *testing.T, f *eoFixture) {
				f.attempts = append(f.attempts, Attempt{Lineage: "in/0@5", Txn: "t-doubt", Outcome: InDoubt})
			},
			wantVerdict: Ok,
		},
		{
			name: "reordered within a key is fine without an order promise",
			edit: func(t *testing.T, f *eoFixture) {
				i, j := findObserved(t, f.observed, "in/0@7"), findObserved(t, f.observed, "in/0@14")
				f.observed[i], f.observed[j] = f.observed[j], f.observed[i]
				f.observed = renumber(f.observed)
			},
			wantVerdict: Ok,
		},
		{
			name: "aborted-read of a lineage only ever aborted",
			edit: func(t *testing.T, f *eoFixture) {
				f.attempts = append(f.attempts, Attempt{Lineage: "in/0@5000", Txn: "t-zombie", Outcome: Aborted})
				f.observed = renumber(append(f.observed, Observed{Lineage: "in/0@5000", Key: "k0", Value: "k0#999", Partition: 0}))
			},
			wantVerdict:  Violation,
			wantAnomaly:  "aborted-read",
			wantFirstBad: `"in/0@5000"`,
			wantStats:    map[string]int{"aborted-read": 1, "unexpected": 0},
		},
		{
			name: "aborted-read of an expected lineage whose commit never happened",
			edit: func(t *testing.T, f *eoFixture) {
				for i := range f.attempts {
					if f.attempts[i].Lineage == "in/0@42" {
						f.attempts[i].Outcome = Aborted
					}
				}
			},
			wantVerdict:  Violation,
			wantAnomaly:  "aborted-read",
			wantFirstBad: `"in/0@42"`,
			wantStats:    map[string]int{"aborted-read": 1, "lost-write": 0},
		},
		{
			name: "one duplicate among 1000",
			edit: func(t *testing.T, f *eoFixture) {
				dup := f.observed[findObserved(t, f.observed, "in/0@500")]
				f.observed = renumber(append(f.observed, dup))
			},
			wantVerdict:  Violation,
			wantAnomaly:  "duplicate",
			wantFirstBad: `"in/0@500"`,
			wantStats:    map[string]int{"duplicate": 1, "observed": 1001, "lost-write": 0},
		},
		{
			name: "unexpected record",
			edit: func(t *testing.T, f *eoFixture) {
				f.observed = renumber(append(f.observed, Observed{Lineage: "in/9@0", Key: "k1", Value: "k1#1", Partition: 1}))
			},
			wantVerdict:  Violation,
			wantAnomaly:  "unexpected",
			wantFirstBad: `"in/9@0"`,
			wantStats:    map[string]int{"unexpected": 1},
		},
		{
			name: "wrong value",
			edit: func(t *testing.T, f *eoFixture) {
				f.observed[findObserved(t, f.observed, "in/0@10")].Value = "k3#999"
			},
			wantVerdict:  Violation,
			wantAnomaly:  "wrong-value",
			wantFirstBad: `want key "k3" value "k3#2"`,
			wantStats:    map[string]int{"wrong-value": 1},
		},
		{
			name: "wrong key",
			edit: func(t *testing.T, f *eoFixture) {
				f.observed[findObserved(t, f.observed, "in/0@10")].Key = "k4"
			},
			wantVerdict:  Violation,
			wantAnomaly:  "wrong-value",
			wantFirstBad: `"in/0@10"`,
			wantStats:    map[string]int{"wrong-value": 1},
		},
		{
			name: "nonmonotonic within a key",
			edit: func(t *testing.T, f *eoFixture) {
				i, j := findObserved(t, f.observed, "in/0@7"), findObserved(t, f.observed, "in/0@14")
				f.observed[i], f.observed[j] = f.observed[j], f.observed[i]
				f.observed = renumber(f.observed)
			},
			opts:         ExactlyOnceOptions{Order: PerKey},
			wantVerdict:  Violation,
			wantAnomaly:  "nonmonotonic",
			wantFirstBad: `"in/0@7"`,
			wantStats:    map[string]int{"nonmonotonic": 1},
		},
		{
			name: "one lost among 1000",
			edit: func(t *testing.T, f *eoFixture) {
				f.observed = renumber(slices.Delete(f.observed, findObserved(t, f.observed, "in/0@777"), findObserved(t, f.observed, "in/0@777")+1))
			},
			wantVerdict:  Violation,
			wantAnomaly:  "lost-write",
			wantFirstBad: `"in/0@777"`,
			wantStats:    map[string]int{"lost-write": 1, "observed": 999, "duplicate": 0},
		},
		{
			name: "duplicate outranks an earlier lost write",
			edit: func(t *testing.T, f *eoFixture) {
				f.observed = slices.Delete(f.observed, findObserved(t, f.observed, "in/0@1"), findObserved(t, f.observed, "in/0@1")+1)
				f.observed = renumber(append(f.observed, f.observed[findObserved(t, f.observed, "in/0@900")]))
			},
			wantVerdict:  Violation,
			wantAnomaly:  "duplicate",
			wantFirstBad: `"in/0@900"`,
			wantStats:    map[string]int{"duplicate": 1, "lost-write": 1},
		},
		{
			name: "aborted-read outranks an earlier wrong value",
			edit: func(t *testing.T, f *eoFixture) {
				f.observed[findObserved(t, f.observed, "in/0@0")].Value = "bad"
				f.attempts = append(f.attempts, Attempt{Lineage: "ghost", Txn: "t-zombie", Outcome: Aborted})
				f.observed = renumber(append(f.observed, Observed{Lineage: "ghost", Key: "k6", Value: "x", Partition: 2}))
			},
			wantVerdict:  Violation,
			wantAnomaly:  "aborted-read",
			wantFirstBad: `"ghost"`,
			wantStats:    map[string]int{"aborted-read": 1, "wrong-value": 1},
		},
		{
			name: "first duplicate by observed order",
			edit: func(t *testing.T, f *eoFixture) {
				a := f.observed[findObserved(t, f.observed, "in/0@3")]   // partition 0
				b := f.observed[findObserved(t, f.observed, "in/0@998")] // partition 1
				f.observed = renumber(append(f.observed, b, a))
			},
			wantVerdict:  Violation,
			wantAnomaly:  "duplicate",
			wantFirstBad: `"in/0@3"`,
			wantStats:    map[string]int{"duplicate": 2},
		},
		{
			name: "duplicate expected lineage is malformed",
			edit: func(t *testing.T, f *eoFixture) {
				f.expected = append(f.expected, f.expected[3])
			},
			wantVerdict: Unknown,
		},
		{
			name: "offsets going backwards are malformed",
			edit: func(t *testing.T, f *eoFixture) {
				f.observed[1].Offset = f.observed[0].Offset
			},
			wantVerdict: Unknown,
		},
		{
			name: "out-of-range outcome is malformed",
			edit: func(t *testing.T, f *eoFixture) {
				f.attempts[0].Outcome = Outcome(7)
			},
			wantVerdict: Unknown,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := goodEO(1000)
			tt.edit(t, &f)
			got := ExactlyOnce(f.expected, f.observed, f.attempts, tt.opts)
			if got.Checker != "exactly-once" {
				t.Errorf("checker: got %q, want %q", got.Checker, "exactly-once")
			}
			checkResult(t, got, tt.wantVerdict, tt.wantAnomaly, tt.wantFirstBad, tt.wantStats)
			if tt.wantVerdict == Violation && !strings.Contains(got.Explanation, "partition") && tt.wantAnomaly != "lost-write" {
				t.Errorf("explanation: got %q, want it to name the partition and offset", got.Explanation)
			}
		})
	}
}

func TestExactlyOnceEmpty(t *testing.T) {
	got := ExactlyOnce(nil, nil, nil, ExactlyOnceOptions{Order: PerKey})
	if got.Verdict != Ok {
		t.Errorf("empty history: got %s (%s), want ok", got.Verdict, got.Explanation)
	}
	got = ExactlyOnce([]Expected{{Lineage: "a", Key: "k", Value: "1"}}, nil, nil, ExactlyOnceOptions{})
	if got.Verdict != Violation || got.Anomaly != "lost-write" {
		t.Errorf("nothing observed: got %s %q, want violation %q", got.Verdict, got.Anomaly, "lost-write")
	}
}

func TestExactlyOnceIsDeterministic(t *testing.T) {
	f := goodEO(200)
	f.observed = renumber(append(f.observed[:50], f.observed[60:]...))
	f.observed = renumber(append(f.observed, f.observed[7], f.observed[100]))
	first := ExactlyOnce(f.expected, f.observed, f.attempts, ExactlyOnceOptions{Order: PerKey})
	for range 20 {
		got := ExactlyOnce(f.expected, f.observed, f.attempts, ExactlyOnceOptions{Order: PerKey})
		if got.String() != first.String() || got.Explanation != first.Explanation {
			t.Fatalf("got %q, want the same as the first run %q", got.Explanation, first.Explanation)
		}
	}
}

func TestOutcomeText(t *testing.T) {
	for _, o := range []Outcome{InDoubt, Committed, Aborted} {
		text, err := o.MarshalText()
		if err != nil {
			t.Fatalf("marshal %s: %v", o, err)
		}
		var back Outcome
		if err := back.UnmarshalText(text); err != nil || back != o {
			t.Errorf("round trip %s: got %s, %v, want %s", o, back, err, o)
		}
	}
	var o Outcome
	if err := o.UnmarshalText([]byte("maybe")); err == nil {
		t.Errorf("unmarshal %q: got no error, want one", "maybe")
	}
}
