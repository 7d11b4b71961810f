package jobs_test

import (
	"maps"
	"strings"
	"testing"

	"github.com/onceproof/onceproof/checkers"
	"github.com/onceproof/onceproof/engine"
	"github.com/onceproof/onceproof/engine/jobs"
)

// TestBuiltInSpecsValidate: every registered job has every part a run
// needs.
func TestBuiltInSpecsValidate(t *testing.T) {
	for _, name := range jobs.Names() {
		s, err := jobs.Lookup(name)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Validate(); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// TestSpecValidateNamesTheMissingPart: a spec that lacks a part is refused
// with an error naming that part.
func TestSpecValidateNamesTheMissingPart(t *testing.T) {
	base, err := jobs.Lookup("keyed-count")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		spoil func(s *jobs.Spec)
		want  string
	}{
		{"name", func(s *jobs.Spec) { s.Name = "" }, "Name is empty"},
		{"build", func(s *jobs.Spec) { s.Build = nil }, "Build is nil"},
		{"inputs", func(s *jobs.Spec) { s.Inputs = nil }, "Inputs is nil"},
		{"output", func(s *jobs.Spec) { s.Output = nil }, "Output is nil"},
		{"generate", func(s *jobs.Spec) { s.Generate = nil }, "Generate is nil"},
		{"oracle", func(s *jobs.Spec) { s.Oracle = nil }, "Oracle is nil"},
		{"lineage", func(s *jobs.Spec) { s.Lineage = nil }, "Lineage is nil"},
		{"restored", func(s *jobs.Spec) { s.Restored = nil }, "State is set without Restored"},
		{"state", func(s *jobs.Spec) { s.State = nil }, "Restored is set without State"},
		{"order", func(s *jobs.Spec) { s.Order = checkers.Order("by-value") }, `Order "by-value" is none of`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := *base
			tc.spoil(&s)
			err := s.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
	var nilSpec *jobs.Spec
	if err := nilSpec.Validate(); err == nil || !strings.Contains(err.Error(), "nil") {
		t.Errorf("nil spec: got %v, want an error naming nil", err)
	}
}

// TestKeyedState: values and lists of every key group of every snapshot,
// as "name:key", lists joined in order; tasks without keyed state add
// nothing.
func TestKeyedState(t *testing.T) {
	snaps := []*engine.TaskSnapshot{
		{Task: "count/0", Keyed: []engine.KeyGroupState{
			{KG: 3, Values: []engine.ValueEntry{{Name: "count", Key: "k1", Value: "2"}}},
			{KG: 7, Values: []engine.ValueEntry{{Name: "count", Key: "k2", Value: "5"}},
				Lists: []engine.ListEntry{{Name: "left", Key: "k2", Values: []string{"b", "a"}}}},
		}},
		{Task: "src/0", Source: &engine.SourceState{}},
		{Task: "count/1", Keyed: []engine.KeyGroupState{
			{KG: 9, Lists: []engine.ListEntry{{Name: "right", Key: "k9", Values: []string{"x"}}}},
		}},
	}
	got := jobs.KeyedState(snaps)
	want := map[string]string{"count:k1": "2", "count:k2": "5", "left:k2": "b,a", "right:k9": "x"}
	if !maps.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

// TestCommittedBefore: a record is in a checkpoint's state exactly when
// its offset is below the next offset recorded for its partition.
func TestCommittedBefore(t *testing.T) {
	offsets := map[string]int64{"in/0": 5, "in/1": 0}
	for _, tc := range []struct {
		c    jobs.Committed
		want bool
	}{
		{jobs.Committed{Topic: "in", Partition: 0, Offset: 4}, true},
		{jobs.Committed{Topic: "in", Partition: 0, Offset: 5}, false},
		{jobs.Committed{Topic: "in", Partition: 1, Offset: 0}, false},
		{jobs.Committed{Topic: "other", Partition: 0, Offset: 0}, false},
	} {
		if got := tc.c.Before(offsets); got != tc.want {
			t.Errorf("%+v.Before(%v): got %v, want %v", tc.c, offsets, got, tc.want)
		}
	}
}
