package checkers

import (
	"strings"
	"testing"
)

func TestDeterminism(t *testing.T) {
	trace := []string{"t=0 start", "t=5 barrier 1", "t=9 commit 1"}
	tests := []struct {
		name         string
		a, b         []string
		wantVerdict  Verdict
		wantFirstBad string
		wantIndex    int
	}{
		{name: "equal", a: trace, b: trace, wantVerdict: Ok},
		{name: "both empty", wantVerdict: Ok},
		{
			name:         "diverge",
			a:            trace,
			b:            []string{"t=0 start", "t=6 barrier 1", "t=9 commit 1"},
			wantVerdict:  Violation,
			wantFirstBad: `event 1: a has "t=5 barrier 1", b has "t=6 barrier 1"`,
			wantIndex:    1,
		},
		{
			name:         "a is a prefix of b",
			a:            trace[:2],
			b:            trace,
			wantVerdict:  Violation,
			wantFirstBad: `event 2: a ended, b has "t=9 commit 1"`,
			wantIndex:    2,
		},
		{
			name:         "b is a prefix of a",
			a:            trace,
			b:            nil,
			wantVerdict:  Violation,
			wantFirstBad: `event 0: a has "t=0 start", b ended`,
			wantIndex:    0,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Determinism(tt.a, tt.b)
			if got.Verdict != tt.wantVerdict {
				t.Fatalf("got %s (%s), want %s", got.Verdict, got.Explanation, tt.wantVerdict)
			}
			if tt.wantVerdict == Ok {
				if got.Anomaly != "" || got.FirstBad != "" {
					t.Errorf("got anomaly %q first bad %q, want none", got.Anomaly, got.FirstBad)
				}
				return
			}
			if got.Anomaly != "nondeterminism" {
				t.Errorf("anomaly: got %q, want %q", got.Anomaly, "nondeterminism")
			}
			if got.FirstBad != tt.wantFirstBad {
				t.Errorf("first bad: got %q, want %q", got.FirstBad, tt.wantFirstBad)
			}
			if got.Stats["first-divergence"] != tt.wantIndex {
				t.Errorf("first divergence: got %d, want %d", got.Stats["first-divergence"], tt.wantIndex)
			}
			if tt.a != nil && len(tt.a) != len(tt.b) && !strings.Contains(got.Explanation, "prefix") {
				t.Errorf("explanation: got %q, want it to report the length mismatch", got.Explanation)
			}
		})
	}
}
