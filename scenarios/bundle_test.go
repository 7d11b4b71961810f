package scenarios

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/onceproof/onceproof/checkers"
	"github.com/onceproof/onceproof/engine"
	"github.com/onceproof/onceproof/faults"
	"github.com/onceproof/onceproof/internal/atomicfile"
	"github.com/onceproof/onceproof/internal/invoke"
)

// caughtMutant runs count-crash-before-commit with the no-recover-commit
// mutant on a seed that catches it.
func caughtMutant(t *testing.T) (*Outcome, RunOptions) {
	t.Helper()
	s, err := Lookup("count-crash-before-commit")
	if err != nil {
		t.Fatal(err)
	}
	ro := RunOptions{Seed: 7, KeepTrace: true, Mutants: engine.Mutants{engine.MutantNoRecoverCommit}}
	o := runScenario(t, s, ro)
	if o.Verdict() != checkers.Violation {
		t.Fatalf("the mutant was not caught: %s", describe(o))
	}
	return o, ro
}

func TestBundleRoundTripAndReplay(t *testing.T) {
	o, ro := caughtMutant(t)
	o.Attachments = map[string][]byte{"porcupine.html": []byte("<html>viz</html>")}
	dir := filepath.Join(t.TempDir(), "b")
	if err := WriteBundle(dir, o, ro, "abc123 go1.x"); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if got, want := strings.Join(names, " "), "REPRODUCE plan.json porcupine.html report.html run.json trace.txt"; got != want {
		t.Errorf("bundle files: got %s, want %s (no temporary files left)", got, want)
	}
	b, err := ReadBundle(dir)
	if err != nil {
		t.Fatal(err)
	}
	if b.Scenario != o.Scenario || b.Seed != 7 || b.Digest != o.Digest || b.Build != "abc123 go1.x" || b.Verdict != checkers.Violation ||
		b.PlanSource != PlanFromScenario || len(b.Mutants) != 1 || b.Events != o.Events || len(b.Fired) != len(o.Fired) {
		t.Errorf("read back %+v, want the outcome's identity", b)
	}
	if b.FirstBad == nil || b.FirstBad.Checker != "exactly-once" || b.FirstBad.Record == "" {
		t.Errorf("first bad: got %+v, want exactly-once's", b.FirstBad)
	}
	if string(b.Plan.JSON()) != string(o.Plan.JSON()) {
		t.Errorf("plan: got %s, want %s", b.Plan.JSON(), o.Plan.JSON())
	}
	// plan.json loads as a --faults file.
	data, _ := os.ReadFile(filepath.Join(dir, BundlePlanFile))
	if p, err := faults.Parse(data, 3); err != nil || len(p.Faults) != len(o.Plan.Faults) {
		t.Errorf("plan.json: got %v, %v", p, err)
	}
	trace, _ := os.ReadFile(filepath.Join(dir, BundleTraceFile))
	if got := strings.Count(string(trace), "\n"); got != len(o.Trace) {
		t.Errorf("trace.txt: %d lines, want %d", got, len(o.Trace))
	}
	report, _ := os.ReadFile(filepath.Join(dir, BundleReportFile))
	if !strings.Contains(string(report), `href="porcupine.html"`) {
		t.Error("report.html does not link the attachment")
	}
	repro, _ := os.ReadFile(filepath.Join(dir, BundleReproduceFile))
	if !strings.Contains(string(repro), invoke.Command("chaosrun")+" replay "+dir+"\n") ||
		!strings.Contains(string(repro), "# go run ./cmd/chaosrun replay "+dir+"\n") ||
		!strings.Contains(string(repro), "run count-crash-before-commit --seed 7 --mutant no-recover-commit") {
		t.Errorf("REPRODUCE:\n%s", repro)
	}

	again, same, err := Replay(context.Background(), b)
	if err != nil || !same || again.Verdict() != checkers.Violation {
		t.Errorf("replay: same digest %v, verdict %v, err %v", same, again.Verdict(), err)
	}

	// Every file has its checksum, the attachment too, and an edit to it
	// is refused by name.
	if !b.Verified || len(b.FileSHA256) != len(b.Files) || len(b.RunSHA256) != 64 || b.FileSHA256["porcupine.html"] == "" {
		t.Errorf("checksums: verified %v, %d for %d files, run.json's %q", b.Verified, len(b.FileSHA256), len(b.Files), b.RunSHA256)
	}
	if err := os.WriteFile(filepath.Join(dir, "porcupine.html"), []byte("<html>other</html>"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadBundle(dir); err == nil || !strings.Contains(err.Error(), "porcupine.html was edited after the bundle was written: sha256 ") {
		t.Errorf("edited attachment: got %v", err)
	}
}

// TestBundleGivenPlan: a plan passed by the caller is passed again on
// replay, and the run command names plan.json.
func TestBundleGivenPlan(t *testing.T) {
	s, _ := Lookup("count-crash-before-commit")
	p := faults.Plan{Faults: []faults.Fault{{Trigger: faults.At(200_000_000), Action: faults.Action{Kind: faults.KillWorker, Worker: "w2", Duration: 50_000_000}}}}
	ro := RunOptions{Seed: 3, KeepTrace: true, Plan: &p}
	o := runScenario(t, s, ro)
	dir := t.TempDir()
	if err := WriteBundle(dir, o, ro, Build()); err != nil {
		t.Fatal(err)
	}
	b, err := ReadBundle(dir)
	if err != nil {
		t.Fatal(err)
	}
	if b.PlanSource != PlanGiven || !strings.Contains(b.RunCommand(), "--faults "+filepath.Join(dir, BundlePlanFile)) {
		t.Errorf("plan source %q, run command %q", b.PlanSource, b.RunCommand())
	}
	got, err := b.RunOptions()
	if err != nil || got.Plan == nil || len(got.Plan.Faults) != 1 {
		t.Fatalf("run options: %+v, %v", got, err)
	}
	if _, same, err := Replay(context.Background(), b); err != nil || !same {
		t.Errorf("replay: same %v, err %v", same, err)
	}
}

func TestWriteBundleRejects(t *testing.T) {
	o, ro := caughtMutant(t)
	for name, err := range map[string]error{
		"no trace": WriteBundle(t.TempDir(), &Outcome{Scenario: "x", Digest: "00"}, ro, ""),
		"bad attachment": func() error {
			o2 := *o
			o2.Attachments = map[string][]byte{"../escape.html": nil}
			return WriteBundle(t.TempDir(), &o2, ro, "")
		}(),
		"reserved attachment": func() error {
			o2 := *o
			o2.Attachments = map[string][]byte{"run.json": nil}
			return WriteBundle(t.TempDir(), &o2, ro, "")
		}(),
	} {
		if err == nil {
			t.Errorf("%s: got no error", name)
		}
	}
}

// TestReadBundleDamaged: each kind of damage is an error naming the file and
// the field.
func TestReadBundleDamaged(t *testing.T) {
	o, ro := caughtMutant(t)
	good := t.TempDir()
	if err := WriteBundle(good, o, ro, Build()); err != nil {
		t.Fatal(err)
	}
	runJSON, _ := os.ReadFile(filepath.Join(good, BundleRunFile))
	edit := func(f func(m map[string]any)) string {
		var m map[string]any
		if err := json.Unmarshal(runJSON, &m); err != nil {
			t.Fatal(err)
		}
		f(m)
		data, _ := json.Marshal(m)
		return string(data)
	}
	for _, tc := range []struct {
		name, runJSON, want string
	}{
		{"missing run.json", "", "run.json is missing"},
		{"empty", " ", "run.json: empty file"},
		{"bad JSON", `{"format": 1,` + "\n" + `"seed": }`, "run.json: bad JSON at line 2"},
		{"unknown scenario", edit(func(m map[string]any) { m["scenario"] = "nope" }), `run.json: field "scenario": unknown scenario "nope"`},
		{"missing digest", edit(func(m map[string]any) { delete(m, "digest") }), `run.json: field "digest" is missing`},
		{"bad digest", edit(func(m map[string]any) { m["digest"] = "xyz" }), `run.json: field "digest": "xyz" is not a hex digest`},
		{"missing seed", edit(func(m map[string]any) { delete(m, "seed") }), `run.json: field "seed" is missing`},
		{"seed of the wrong type", edit(func(m map[string]any) { m["seed"] = "7" }), `run.json: field "seed": got a JSON string, want a non-negative integer`},
		{"format", edit(func(m map[string]any) { m["format"] = 99 }), "run.json: format 99"},
		{"unknown mutant", edit(func(m map[string]any) { m["mutants"] = []string{"nope"} }), `run.json: field "mutants": unknown mutant "nope"`},
		{"bad plan", edit(func(m map[string]any) { m["plan"] = map[string]any{"faults": []any{map[string]any{"bogus": 1}}} }), "run.json: "},
		{"unknown field", edit(func(m map[string]any) { m["colour"] = "red" }), `run.json: unknown field "colour"`},
		{"plan source", edit(func(m map[string]any) { m["plan_source"] = "" }), `run.json: field "plan_source"`},
	} {
		dir := t.TempDir()
		if tc.runJSON != "" {
			if err := os.WriteFile(filepath.Join(dir, BundleRunFile), []byte(tc.runJSON), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		_, err := ReadBundle(dir)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), dir) {
			t.Errorf("%s: got %v, want an error naming %s and %q", tc.name, err, dir, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: error has several lines: %v", tc.name, err)
		}
	}
	if _, err := ReadBundle(filepath.Join(good, BundleRunFile)); err == nil || !strings.Contains(err.Error(), "not a directory") {
		t.Errorf("a file: got %v", err)
	}
}

func TestWriteFileAtomic(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "f.txt")
	for _, data := range []string{"first", "second, longer"} {
		if err := atomicfile.WriteFile(path, []byte(data)); err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(path)
		if err != nil || string(got) != data {
			t.Errorf("got %q, %v; want %q", got, err, data)
		}
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("got %d files, want 1 (no temporary left)", len(entries))
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o644 {
		t.Errorf("mode %v, want 0644", st.Mode().Perm())
	}
	if err := atomicfile.WriteFile(filepath.Join(dir, "absent", "f"), nil); err == nil {
		t.Error("writing into a missing directory: got no error")
	}
}
