package checkers

import (
	"fmt"
	"strings"
)

// Verdict is a checker's judgement of a history.
//
// The zero value is Unknown, not Ok, so that a Result nobody filled in (or a
// verdict decoded from a missing field) can never pass.
type Verdict int

const (
	// Unknown means the checker could not decide, for example because
	// porcupine ran out of time or the history was malformed. It is never
	// Ok: a check that could not run has not passed.
	Unknown Verdict = iota
	// Ok means the history satisfied the property.
	Ok
	// Violation means the history broke a safety property: something that
	// must never happen did.
	Violation
	// NoProgress means the history broke a liveness property: something that
	// must eventually happen did not within the bound. It is kept apart from
	// Violation because the fixes differ: a stuck system is not a wrong one.
	NoProgress
)

// verdictNames are the lower-case spellings used in String and in JSON.
var verdictNames = [...]string{
	Unknown:    "unknown",
	Ok:         "ok",
	Violation:  "violation",
	NoProgress: "no-progress",
}

// String returns the lower-case name of v, such as "no-progress".
func (v Verdict) String() string {
	return nameOf(verdictNames[:], "verdict", v)
}

// MarshalText encodes v as its lower-case name, so that JSON carries
// "violation" rather than a number whose meaning depends on this file's
// constant order.
func (v Verdict) MarshalText() ([]byte, error) {
	return marshalName(verdictNames[:], "verdict", v)
}

// UnmarshalText decodes a lower-case verdict name written by MarshalText.
func (v *Verdict) UnmarshalText(text []byte) error {
	x, err := unmarshalName[Verdict](verdictNames[:], "verdict", text)
	if err == nil {
		*v = x
	}
	return err
}

// severity orders verdicts for Worst: a safety violation outranks a liveness
// failure, which outranks an inconclusive check, which outranks a pass.
func (v Verdict) severity() int {
	switch v {
	case Ok:
		return 0
	case Unknown:
		return 1
	case NoProgress:
		return 2
	case Violation:
		return 3
	default:
		return 1
	}
}

// Worst returns the most severe verdict among results, with the precedence
// Violation > NoProgress > Unknown > Ok. With no results it returns Unknown:
// nothing was checked, so nothing passed.
func Worst(results ...Result) Verdict {
	if len(results) == 0 {
		return Unknown
	}
	worst := Ok
	for _, r := range results {
		v := r.Verdict
		if v < 0 || int(v) >= len(verdictNames) {
			// An out-of-range verdict is a programmer error; counting it
			// as inconclusive keeps it from ever passing.
			v = Unknown
		}
		if v.severity() > worst.severity() {
			worst = v
		}
	}
	return worst
}

// Result is what a checker reports about one history.
type Result struct {
	// Checker names the checker, such as "exactly-once".
	Checker string `json:"checker"`
	// Verdict is the judgement.
	Verdict Verdict `json:"verdict"`
	// Anomaly names what went wrong, in Jepsen's Kafka vocabulary where it
	// fits (for example "lost-write" or "aborted-read"); empty when Ok.
	Anomaly string `json:"anomaly,omitempty"`
	// FirstBad is the first bad record, human readable, so a failure report
	// points at one concrete thing to look at.
	FirstBad string `json:"first_bad,omitempty"`
	// Explanation says what was checked and why it failed, with counts.
	Explanation string `json:"explanation,omitempty"`
	// Stats are counts the checker gathered, such as records seen and the
	// number of each anomaly; encoding/json sorts the keys, so the JSON is
	// deterministic.
	Stats map[string]int `json:"stats,omitempty"`
}

// String returns a one-line summary such as
// `exactly-once: violation lost-write: lineage "in/0@3" ...`.
func (r Result) String() string {
	var b strings.Builder
	b.WriteString(r.Checker)
	b.WriteString(": ")
	b.WriteString(r.Verdict.String())
	if r.Anomaly != "" {
		b.WriteString(" ")
		b.WriteString(r.Anomaly)
	}
	if r.FirstBad != "" {
		b.WriteString(": ")
		b.WriteString(r.FirstBad)
	}
	return b.String()
}

// tally copies counts[a] into stats[a] for each anomaly a in order (most
// serious first) and returns the non-zero ones as "N anomaly" parts and the
// first of them, worst, which is empty when every count is zero.
func tally(order []string, counts, stats map[string]int) (parts []string, worst string) {
	for _, a := range order {
		stats[a] = counts[a]
		if counts[a] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", counts[a], a))
			if worst == "" {
				worst = a
			}
		}
	}
	return parts, worst
}
