package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestNexmarkUsage: an unknown or missing query, or a bad flag, exits 2
// with one line naming the known queries or the flag.
func TestNexmarkUsage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"nexmark", "q99"}, `unknown query "q99" (known: q0, q1, q2, q5, q7)`},
		{[]string{"nexmark"}, "nexmark needs one query (known: q0, q1, q2, q5, q7)"},
		{[]string{"nexmark", "q0", "q1"}, "nexmark needs one query"},
		{[]string{"nexmark", "q5", "--events", "0"}, "--events: must be at least 1"},
		{[]string{"nexmark", "q5", "--guarantee", "maybe"}, "--guarantee"},
		{[]string{"nexmark", "q5", "--partitions", "-1"}, "--partitions"},
	} {
		checkUsage(t, tc.args, tc.want)
	}
}

// TestNexmarkHelp: the help names every query and says what the published
// figures are.
func TestNexmarkHelp(t *testing.T) {
	out, code := execute(t, "nexmark", "--help")
	if code != 0 {
		t.Fatalf("help: exit %d\n%s", code, out)
	}
	for _, want := range []string{"q0  pass-through", "q1  currency conversion", "q2  selection", "q5  hot items", "q7  highest bid",
		"NOT a same-run comparison", "Throughput/Cores", "no published figure found", "--events"} {
		if !strings.Contains(out, want) {
			t.Errorf("help lacks %q:\n%s", want, out)
		}
	}
}

// TestNexmarkSmall runs q5 on a few thousand events: exactly-once, events/s
// per core, the published figures with their source, and a result file.
func TestNexmarkSmall(t *testing.T) {
	dir := t.TempDir()
	out, code := execute(t, "nexmark", "q5", "--events", "20000", "--interval", "100ms", "--out", dir)
	if code != 0 {
		t.Fatalf("nexmark q5: exit %d\n%s", code, out)
	}
	for _, want := range []string{"nexmark q5", "events/s per core", "exactly-once       ok", "NOT a same-run comparison",
		"Flink 1.13 q5 22.14 K/s Throughput/Cores", "Flink 2.0+ q5 920.4 K/s Throughput", "https://github.com/nexmark/nexmark",
		"BenchmarkRun/nexmark-q5/exactly-once"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if files, _ := filepath.Glob(filepath.Join(dir, "run-nexmark-q5-*.json")); len(files) != 1 {
		t.Errorf("result files: got %v, want one", files)
	}
}
