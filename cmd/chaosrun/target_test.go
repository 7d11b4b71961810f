package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestTargetExitCodes runs chaosrun target on the two examples at test
// size: the correct one passes with no faults (exit 0), the broken one
// killed at its EndTxn fails (exit 1) and leaves a bundle.
func TestTargetExitCodes(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and starts processes")
	}
	out := t.TempDir()
	sched := filepath.Join(out, "kill-at-endtxn.json")
	if err := os.WriteFile(sched, []byte(`{"seed": 0, "faults": [{"at": "400ms", "kind": "kill-at", "instance": 0, "api": "EndTxn", "point": "before", "after": "200ms"}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	small := []string{"--records", "60", "--keys", "6", "--input-span", "1500ms", "--deadline", "40s", "--out", out}
	got, code := execute(append(append([]string{"target", "--expect", "copy", "--faults", "0"}, small...), "--", "go", "run", "../../examples/franzgo-eos")...)
	if code != exitOK || !strings.Contains(got, "passed in") || !strings.Contains(got, "not deterministic") {
		t.Fatalf("correct example: exit %d, want 0:\n%s", code, got)
	}
	got, code = execute(append(append([]string{"target", "--expect", "copy", "--schedule", sched, "--shrink=false"}, small...), "--", "go", "run", "../../examples/franzgo-eos-broken")...)
	if code != exitViolation || !strings.Contains(got, "exactly-once: violation lost-write") {
		t.Fatalf("broken example: exit %d, want 1 with a lost write:\n%s", code, got)
	}
	for _, f := range []string{"report.html", "schedule.json", "result.json", "requests.log", "requests-excerpt.txt", "output-log.txt", "instance-0.stderr", "REPRODUCE"} {
		if _, err := os.Stat(filepath.Join(out, "target-seed1", f)); err != nil {
			t.Errorf("bundle: %v", err)
		}
	}
	left, _ := filepath.Glob(filepath.Join(out, ".target-*"))
	if len(left) > 0 {
		t.Errorf("working directories left behind: %v", left)
	}
}
