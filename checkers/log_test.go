package checkers

import (
	"strings"
	"testing"
)

// data and marker build log records of producer pid in partition p.
func data(p int32, off, pid int64, txn, visible bool, v string) LogRecord {
	return LogRecord{Partition: p, Offset: off, Key: "k", Value: v, ProducerID: pid, Transactional: txn, ReadCommitted: visible}
}

func marker(p int32, off, pid int64, commit bool) LogRecord {
	return LogRecord{Partition: p, Offset: off, ProducerID: pid, Transactional: true, Control: true, Commit: commit}
}

func TestLabel(t *testing.T) {
	log := &TopicLog{Topic: "out", Records: []LogRecord{
		data(0, 0, 1, true, false, "a1"), // aborted by 1's marker at 3
		data(0, 1, 2, true, true, "b1"),  // committed by 2's marker at 4
		data(0, 2, 1, true, false, "a2"),
		marker(0, 3, 1, false),
		marker(0, 4, 2, true),
		data(0, 5, 3, false, true, "plain"), // not transactional: committed
		data(0, 6, 2, true, false, "b2"),    // no marker after it: open
		data(1, 0, 2, true, false, "c1"),    // partition 1: 2's marker in partition 0 does not decide it
		marker(1, 1, 2, true),
	}}
	got, err := Label(log)
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		value  string
		status Status
		marker int64
	}{
		{"a1", StatusAborted, 3}, {"b1", StatusCommitted, 4}, {"a2", StatusAborted, 3},
		{"plain", StatusCommitted, -1}, {"b2", StatusOpen, -1}, {"c1", StatusCommitted, 1},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d labelled records, want %d", len(got), len(want))
	}
	for i, w := range want {
		if got[i].Value != w.value || got[i].Status != w.status || got[i].Marker != w.marker {
			t.Errorf("record %d: got %s %s marker %d, want %s %s marker %d", i, got[i].Value, got[i].Status, got[i].Marker, w.value, w.status, w.marker)
		}
	}
	if n := len(CommittedRecords(got)); n != 3 {
		t.Errorf("got %d committed records, want 3", n)
	}
}

func TestLabelRefusesAMisreadLog(t *testing.T) {
	for name, recs := range map[string][]LogRecord{
		"offsets backwards":    {data(0, 5, 1, false, true, "x"), data(0, 4, 1, false, true, "y")},
		"offset repeated":      {data(0, 5, 1, false, true, "x"), data(0, 5, 1, false, true, "x")},
		"partitions backwards": {data(1, 0, 1, false, true, "x"), data(0, 0, 1, false, true, "y")},
	} {
		if _, err := Label(&TopicLog{Topic: "out", Records: recs}); err == nil {
			t.Errorf("%s: got no error", name)
		}
		rs, _ := JudgeOutput(OutputHistory{Log: &TopicLog{Topic: "out", Records: recs}, Lineage: func(_, v string) string { return v }})
		for _, r := range rs {
			if r.Verdict != Unknown {
				t.Errorf("%s: %s: got %s, want unknown", name, r.Checker, r.Verdict)
			}
		}
	}
}

// judgeOne runs JudgeOutput over recs (one partition, high watermark and
// last stable offset given) against expected values.
func judgeOne(recs []LogRecord, hwm, lso int64, expected ...string) map[string]Result {
	var exp []Expected
	for _, v := range expected {
		exp = append(exp, Expected{Lineage: v, Key: "k", Value: v})
	}
	rs, _ := JudgeOutput(OutputHistory{Expected: exp, Order: PerPartition, Lineage: func(_, v string) string { return v },
		Log: &TopicLog{Topic: "out", Records: recs, Ends: []LogEnd{{Partition: 0, HighWatermark: hwm, LastStable: lso}}}})
	out := map[string]Result{}
	for _, r := range rs {
		out[r.Checker] = r
	}
	return out
}

func TestJudgeOutput(t *testing.T) {
	cases := []struct {
		name    string
		recs    []LogRecord
		hwm     int64
		lso     int64
		checker string
		verdict Verdict
		anomaly string
		detail  string // a substring of FirstBad
	}{
		{name: "an aborted attempt and its committed replay",
			recs: []LogRecord{data(0, 0, 1, true, false, "x"), marker(0, 1, 1, false), data(0, 2, 2, true, true, "x"), marker(0, 3, 2, true)},
			hwm:  4, lso: 4, checker: "exactly-once", verdict: Ok},
		{name: "aborted record visible to read_committed (G1a)",
			recs: []LogRecord{data(0, 0, 1, true, true, "x"), marker(0, 1, 1, false), data(0, 2, 2, true, true, "x"), marker(0, 3, 2, true)},
			hwm:  4, lso: 4, checker: "read-committed", verdict: Violation, anomaly: "aborted-read", detail: "offset 0"},
		{name: "the same aborted record is no duplicate",
			recs: []LogRecord{data(0, 0, 1, true, true, "x"), marker(0, 1, 1, false), data(0, 2, 2, true, true, "x"), marker(0, 3, 2, true)},
			hwm:  4, lso: 4, checker: "exactly-once", verdict: Ok},
		{name: "open record visible to read_committed",
			recs: []LogRecord{data(0, 0, 1, true, true, "x"), marker(0, 1, 1, true), data(0, 2, 2, true, true, "y")},
			hwm:  3, lso: 3, checker: "read-committed", verdict: Violation, anomaly: "dirty-read", detail: "offset 2"},
		{name: "committed record below the last stable offset not served",
			recs: []LogRecord{data(0, 0, 1, true, false, "x"), marker(0, 1, 1, true)},
			hwm:  2, lso: 2, checker: "read-committed", verdict: Violation, anomaly: "unseen", detail: "offset 0"},
		{name: "transaction left open",
			recs: []LogRecord{data(0, 0, 1, true, true, "x"), marker(0, 1, 1, true), data(0, 2, 7, true, false, "y")},
			hwm:  3, lso: 2, checker: "open-transactions", verdict: NoProgress, anomaly: "open-transaction", detail: "producer 7: 1 records at offsets 2-2"},
		{name: "a committed duplicate with its offset",
			recs: []LogRecord{data(0, 0, 1, true, true, "x"), marker(0, 1, 1, true), data(0, 2, 2, true, true, "x"), marker(0, 3, 2, true)},
			hwm:  4, lso: 4, checker: "exactly-once", verdict: Violation, anomaly: "duplicate", detail: "partition 0 offset 2"},
		{name: "order within a partition",
			recs: []LogRecord{data(0, 0, 1, false, true, "y"), data(0, 1, 1, false, true, "x")},
			hwm:  2, lso: 2, checker: "exactly-once", verdict: Violation, anomaly: "nonmonotonic", detail: "offset 1"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			exp := []string{"x"}
			if c.anomaly == "nonmonotonic" {
				exp = []string{"x", "y"}
			}
			r := judgeOne(c.recs, c.hwm, c.lso, exp...)[c.checker]
			if r.Verdict != c.verdict || r.Anomaly != c.anomaly {
				t.Fatalf("%s: got %s %s, want %s %s (%s)", c.checker, r.Verdict, r.Anomaly, c.verdict, c.anomaly, r.Explanation)
			}
			if !strings.Contains(r.FirstBad, c.detail) {
				t.Errorf("%s: first bad %q does not name %q", c.checker, r.FirstBad, c.detail)
			}
		})
	}
}

func TestInput(t *testing.T) {
	gen := []InputRecord{{Topic: "in", Partition: 0, Key: "a", Value: "1"}, {Topic: "in", Partition: 0, Key: "b", Value: "2"}, {Topic: "in", Partition: 1, Key: "c", Value: "3"}}
	back := func(recs ...InputRecord) []InputRecord { return recs }
	cases := []struct {
		name    string
		back    []InputRecord
		verdict Verdict
		anomaly string
	}{
		{"kept", back(gen[0], gen[1], gen[2]), Ok, ""},
		{"lost", back(gen[0], gen[2]), Unknown, "input-lost"},
		{"duplicated", back(gen[0], gen[1], gen[1], gen[2]), Unknown, "input-duplicated"},
		{"reordered", back(gen[1], gen[0], gen[2]), Unknown, "input-altered"},
		{"never generated", back(gen[0], gen[1], gen[2], InputRecord{Topic: "in", Partition: 1, Key: "z", Value: "9"}), Unknown, "input-altered"},
		{"nothing read back", nil, Unknown, "input-lost"},
	}
	for _, c := range cases {
		r := Input(gen, c.back)
		if r.Verdict != c.verdict || r.Anomaly != c.anomaly {
			t.Errorf("%s: got %s %s, want %s %s (%s)", c.name, r.Verdict, r.Anomaly, c.verdict, c.anomaly, r.Explanation)
		}
		if r.Verdict != Ok && !strings.Contains(r.Explanation, "environment fault") {
			t.Errorf("%s: explanation %q does not say it is an environment fault", c.name, r.Explanation)
		}
	}
}
