package checkers

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestVerdictString(t *testing.T) {
	tests := []struct {
		v    Verdict
		want string
	}{
		{Ok, "ok"},
		{Violation, "violation"},
		{NoProgress, "no-progress"},
		{Unknown, "unknown"},
		{Verdict(42), "verdict(42)"},
	}
	for _, tt := range tests {
		if got := tt.v.String(); got != tt.want {
			t.Errorf("Verdict(%d).String(): got %q, want %q", int(tt.v), got, tt.want)
		}
	}
}

func TestZeroVerdictIsNotOk(t *testing.T) {
	var r Result
	if r.Verdict == Ok {
		t.Errorf("zero Result verdict: got %s, want anything but ok", r.Verdict)
	}
}

func TestResultJSONRoundTrip(t *testing.T) {
	for _, v := range []Verdict{Ok, Violation, NoProgress, Unknown} {
		in := Result{
			Checker:     "exactly-once",
			Verdict:     v,
			Anomaly:     "lost-write",
			FirstBad:    `lineage "in/0@1"`,
			Explanation: "one lost",
			Stats:       map[string]int{"lost-write": 1, "expected": 2},
		}
		data, err := json.Marshal(in)
		if err != nil {
			t.Fatalf("marshal %s: %v", v, err)
		}
		if want := `"verdict":"` + v.String() + `"`; !strings.Contains(string(data), want) {
			t.Errorf("marshal %s: got %s, want it to contain %s", v, data, want)
		}
		var out Result
		if err := json.Unmarshal(data, &out); err != nil {
			t.Fatalf("unmarshal %s: %v", data, err)
		}
		if out.String() != in.String() || out.Stats["lost-write"] != 1 || out.Explanation != in.Explanation {
			t.Errorf("round trip: got %+v, want %+v", out, in)
		}
	}
}

func TestVerdictUnmarshalRejectsUnknownNames(t *testing.T) {
	for _, in := range []string{`"OK"`, `"pass"`, `""`, `1`} {
		var v Verdict
		if err := json.Unmarshal([]byte(in), &v); err == nil {
			t.Errorf("unmarshal %s: got verdict %s and no error, want an error", in, v)
		}
	}
	if _, err := json.Marshal(Verdict(9)); err == nil {
		t.Errorf("marshal Verdict(9): got no error, want one")
	}
}

func TestResultString(t *testing.T) {
	tests := []struct {
		r    Result
		want string
	}{
		{Result{Checker: "liveness", Verdict: Ok}, "liveness: ok"},
		{Result{Checker: "exactly-once", Verdict: Violation, Anomaly: "duplicate", FirstBad: `lineage "a"`},
			`exactly-once: violation duplicate: lineage "a"`},
		{Result{Checker: "register", Verdict: Unknown}, "register: unknown"},
	}
	for _, tt := range tests {
		if got := tt.r.String(); got != tt.want {
			t.Errorf("String(): got %q, want %q", got, tt.want)
		}
	}
}

func TestWorst(t *testing.T) {
	r := func(v Verdict) Result { return Result{Verdict: v} }
	tests := []struct {
		name string
		in   []Result
		want Verdict
	}{
		{"nothing checked", nil, Unknown},
		{"all ok", []Result{r(Ok), r(Ok)}, Ok},
		{"unknown beats ok", []Result{r(Ok), r(Unknown), r(Ok)}, Unknown},
		{"no-progress beats unknown", []Result{r(Unknown), r(NoProgress), r(Ok)}, NoProgress},
		{"violation beats all", []Result{r(NoProgress), r(Violation), r(Unknown), r(Ok)}, Violation},
		{"violation first", []Result{r(Violation), r(NoProgress)}, Violation},
		{"out of range is unknown", []Result{r(Ok), r(Verdict(-3))}, Unknown},
	}
	for _, tt := range tests {
		if got := Worst(tt.in...); got != tt.want {
			t.Errorf("%s: Worst: got %s, want %s", tt.name, got, tt.want)
		}
	}
}
