package target

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/onceproof/onceproof/checkers"
)

// fakeRun fails a configuration whose schedule holds every fault at the
// given times, on the try-th run of each schedule only (a flaky failure).
func fakeRun(need []int, failOnTry int) (RunFunc, *int) {
	runs := map[string]int{}
	total := 0
	return func(_ context.Context, cfg Config) (*Result, error) {
		total++
		key := fmt.Sprint(cfg.Schedule.Faults)
		runs[key]++
		have := map[Duration]bool{}
		for _, f := range cfg.Schedule.Faults {
			have[f.At] = true
		}
		all := true
		for _, n := range need {
			all = all && have[ms(n)]
		}
		v := checkers.Ok
		if all && runs[key]%failOnTry == 0 {
			v = checkers.Violation
		}
		return &Result{Verdict: v}, nil
	}, &total
}

func TestShrinkFindsTheTwoFaults(t *testing.T) {
	s := &Schedule{}
	for i := range 9 {
		s.Faults = append(s.Faults, Fault{At: ms(100 * (i + 1)), Kind: KindMoveLeaders})
	}
	for _, failOnTry := range []int{1, 2} {
		run, total := fakeRun([]int{200, 700}, failOnTry)
		sr, err := Shrink(context.Background(), Config{Schedule: s}, checkers.Violation, ShrinkOptions{Tries: 3, MaxRuns: 500, Budget: Duration(time.Minute)}, run)
		if err != nil {
			t.Fatal(err)
		}
		var got []Duration
		for _, f := range sr.Schedule.Faults {
			got = append(got, f.At)
		}
		if len(got) != 2 || got[0] != ms(200) || got[1] != ms(700) {
			t.Errorf("failing on try %d: shrunk to %v, want the faults at 200ms and 700ms", failOnTry, got)
		}
		if sr.Failed == 0 || sr.Runs != *total || sr.Exhausted {
			t.Errorf("failing on try %d: failed %d of %d, runs %d (counted %d), exhausted %v", failOnTry, sr.Failed, sr.Tries, sr.Runs, *total, sr.Exhausted)
		}
	}
}

func TestShrinkWithoutFaultsNeeded(t *testing.T) {
	s := &Schedule{Faults: []Fault{{At: ms(1), Kind: KindMoveLeaders}, {At: ms(2), Kind: KindMoveLeaders}}}
	run, _ := fakeRun(nil, 1)
	sr, err := Shrink(context.Background(), Config{Schedule: s}, checkers.Violation, ShrinkOptions{Tries: 2}, run)
	if err != nil {
		t.Fatal(err)
	}
	if len(sr.Schedule.Faults) != 0 || sr.Failed != 2 {
		t.Errorf("got %d faults, failed %d of 2; want none needed, failing every time", len(sr.Schedule.Faults), sr.Failed)
	}
}

func TestShrinkBudget(t *testing.T) {
	s := &Schedule{}
	for i := range 16 {
		s.Faults = append(s.Faults, Fault{At: ms(i + 1), Kind: KindMoveLeaders})
	}
	run, total := fakeRun([]int{3, 11}, 1)
	sr, err := Shrink(context.Background(), Config{Schedule: s}, checkers.Violation, ShrinkOptions{Tries: 1, MaxRuns: 4}, run)
	if err != nil {
		t.Fatal(err)
	}
	if !sr.Exhausted || *total > 4+1 {
		t.Errorf("exhausted %v after %d runs, want the 4-run budget to stop it (plus one confirming run)", sr.Exhausted, *total)
	}
}

func TestGenerateAndParseSchedule(t *testing.T) {
	a := Generate(3, GenerateOptions{Instances: 2, Window: 4 * time.Second})
	b := Generate(3, GenerateOptions{Instances: 2, Window: 4 * time.Second})
	if fmt.Sprint(a) != fmt.Sprint(b) {
		t.Fatal("the same seed drew two schedules")
	}
	if err := a.Validate(2); err != nil {
		t.Fatalf("a drawn schedule does not validate: %v", err)
	}
	for _, tc := range []struct{ json, err string }{
		{`{"seed": 1, "faults": [{"at": "1s", "kind": "explode"}]}`, `fault 0 (explode): unknown kind "explode"`},
		{`{"seed": 1, "faults": [{"at": 1000, "kind": "kill"}]}`, `must be a duration such as "1.5s"`},
		{`{"seed": 1, "faults": [{"at": "1s", "kind": "kill", "instance": 5}]}`, "instance 5 does not exist (instances: 0..1)"},
		{`{"seed": 1, "faults": [{"at": "1s", "kind": "kill-at", "api": "EndTxn", "point": "during"}]}`, `point "during": want before or after`},
		{`{"seed": 1, "faults": [{"at": "1s", "kind": "error", "api": "EndTxn", "error": "REBALANCE_IN_PROGRESS"}]}`, `REBALANCE_IN_PROGRESS is not an answer to "EndTxn"`},
		{`{"seed": 1, "faults": [{"at": "2s", "kind": "kill"}, {"at": "1s", "kind": "kill"}]}`, "faults must be in time order"},
		{`{"seed": 1, "faults": [{"at": "1s", "kind": "kill", "instnce": 1}]}`, "instnce: unknown field"},
		{``, "the file is empty"},
	} {
		if _, err := ParseSchedule([]byte(tc.json), 2); err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("ParseSchedule(%s): got %v, want an error containing %q", tc.json, err, tc.err)
		}
	}
}

// TestGenerateCovers checks that every drawn schedule has a kill at EndTxn,
// a kill or a zombie, a broker error or withheld answer, and a rebalance.
func TestGenerateCovers(t *testing.T) {
	for seed := uint64(1); seed <= 200; seed++ {
		s := Generate(seed, GenerateOptions{Instances: 2, Window: 4 * time.Second})
		have := map[string]bool{}
		for _, f := range s.Faults {
			have[f.Kind] = true
			have["at "+f.API] = have["at "+f.API] || f.Kind == KindKillAt
		}
		if !have["at EndTxn"] {
			t.Errorf("seed %d: no kill at EndTxn in %v", seed, s.Lines())
		}
		for _, class := range coverage {
			ok := false
			for _, k := range class {
				ok = ok || have[k]
			}
			if !ok {
				t.Errorf("seed %d: no fault of %v in %v", seed, class, s.Lines())
			}
		}
	}
	only := Generate(1, GenerateOptions{Instances: 2, Window: time.Second, Kinds: []string{KindMoveLeaders}})
	for _, f := range only.Faults {
		if f.Kind != KindMoveLeaders {
			t.Errorf("--kinds move-leaders drew %s", f.Kind)
		}
	}
}
