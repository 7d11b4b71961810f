package main

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/onceproof/onceproof/internal/invoke"
	"github.com/onceproof/onceproof/scenarios"
)

// execute runs chaosrun with args and returns stdout and stderr together
// (the exit message last, as main prints it) and the exit code.
func execute(args ...string) (string, int) {
	out, errOut, code := executeSplit(args...)
	return out + errOut, code
}

// executeSplit keeps stdout apart from stderr and the exit message.
func executeSplit(args ...string) (stdout, stderr string, code int) {
	root := NewRoot()
	var out, errOut bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errOut)
	if args == nil {
		args = []string{} // nil would make cobra read os.Args
	}
	root.SetArgs(args)
	err := root.Execute()
	if err != nil {
		var ee *exitError
		if errors.As(err, &ee) {
			code = ee.code
			errOut.WriteString(ee.msg)
		} else {
			code = exitUsage
			errOut.WriteString("chaosrun: " + err.Error()) // as main prints it
		}
	}
	return out.String(), errOut.String(), code
}

func TestRunSmoke(t *testing.T) {
	out, code := execute("run", "smoke-copier", "--seed", "3", "--check-determinism")
	if code != exitOK {
		t.Fatalf("got exit %d, want 0:\n%s", code, out)
	}
	for _, want := range []string{"seed 3", "timeline", "exactly-once", "determinism", "verdict: OK"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

// TestRunPasses is the first acceptance check: the run prints what
// identifies it (seed, build, options, plan) before the timeline, then the
// verdicts, and exits 0 without writing a bundle.
func TestRunPasses(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "bundle")
	out, code := execute("run", "count-crash-before-commit", "--seed", "7", "--out", dir)
	if code != exitOK {
		t.Fatalf("got exit %d, want 0:\n%s", code, out)
	}
	last := -1
	for _, want := range []string{"seed 7", "build ", "options  ", "workers=3", "plan     (the scenario's)", "kill w1",
		"timeline", "metadata-written cp=1", "fault 0 fired", "endtxn-sent", "verdicts", "exactly-once", "OK", "verdict: OK"} {
		i := strings.Index(out, want)
		if i < 0 {
			t.Fatalf("output lacks %q:\n%s", want, out)
		}
		if i < last && want != "OK" {
			t.Errorf("%q comes before what precedes it in the expected order:\n%s", want, out)
		}
		last = max(last, i)
	}
	if _, err := os.Stat(dir); err == nil {
		t.Errorf("a passing run wrote a bundle to %s", dir)
	}
}

// mutantSeed is a seed on which count-crash-before-commit catches the
// no-recover-commit mutant (it catches it on every seed 1..12 tried).
const mutantSeed = "7"

// TestRunMutantWritesBundleThatReplays: a caught mutant exits 1, writes a
// bundle, and the bundle's REPRODUCE command reproduces the same digest.
func TestRunMutantWritesBundleThatReplays(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "bundle")
	out, code := execute("run", "count-crash-before-commit", "--seed", mutantSeed, "--mutant", "no-recover-commit", "--out", dir)
	if code != exitViolation {
		t.Fatalf("got exit %d, want 1:\n%s", code, out)
	}
	for _, want := range []string{"mutants  no-recover-commit", "lost-write", "verdict: VIOLATION", "failure bundle: " + dir, invoke.Command("chaosrun") + " replay " + dir} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	for _, f := range []string{"run.json", "trace.txt", "report.html", "plan.json", "REPRODUCE"} {
		if st, err := os.Stat(filepath.Join(dir, f)); err != nil || st.Size() == 0 {
			t.Errorf("bundle file %s: %v", f, err)
		}
	}
	b, err := scenarios.ReadBundle(dir)
	if err != nil {
		t.Fatal(err)
	}
	if b.FirstBad == nil || b.FirstBad.Anomaly != "lost-write" {
		t.Errorf("first bad: got %+v, want a lost-write", b.FirstBad)
	}

	// The first command line of REPRODUCE, run through the CLI.
	data, err := os.ReadFile(filepath.Join(dir, "REPRODUCE"))
	if err != nil {
		t.Fatal(err)
	}
	var command string
	for _, l := range strings.Split(string(data), "\n") {
		if l != "" && !strings.HasPrefix(l, "#") {
			command = l
			break
		}
	}
	args, ok := strings.CutPrefix(command, invoke.Command("chaosrun")+" ")
	if !ok {
		t.Fatalf("REPRODUCE command %q does not start with %s", command, invoke.Command("chaosrun"))
	}
	out, code = execute(strings.Fields(args)...)
	if code != exitViolation {
		t.Fatalf("replay: got exit %d, want 1 (the run's verdict):\n%s", code, out)
	}
	if want := "reproduced: digest " + b.Digest; !strings.Contains(out, want) {
		t.Errorf("replay output lacks %q:\n%s", want, out)
	}

	// The equivalent run command, with --faults from the bundle's
	// plan.json: the same digest too (a given plan equal to the scenario's).
	_, _, code = executeSplit("run", "count-crash-before-commit", "--seed", mutantSeed, "--mutant", "no-recover-commit",
		"--faults", filepath.Join(dir, "plan.json"), "--out", filepath.Join(t.TempDir(), "again"), "--json")
	if code != exitViolation {
		t.Errorf("run with the bundle's plan.json: got exit %d, want 1", code)
	}
}

func TestReplayDigestMismatch(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "bundle")
	if _, code := execute("run", "count-crash-before-commit", "--seed", mutantSeed, "--mutant", "no-recover-commit", "--out", dir); code != exitViolation {
		t.Fatalf("got exit %d, want 1", code)
	}
	path := filepath.Join(dir, "run.json")
	data, _ := os.ReadFile(path)
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	// A bundle from before checksums (format 1), so that the edited digest
	// is replayed rather than refused.
	m["digest"] = strings.Repeat("0", 64)
	m["format"] = 1
	delete(m, "file_sha256")
	delete(m, "run_json_sha256")
	data, _ = json.Marshal(m)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	out, code := execute("replay", dir)
	if code != exitViolation || !strings.Contains(out, "not reproduced: digest ") || !strings.Contains(out, strings.Repeat("0", 64)) {
		t.Errorf("got exit %d, want 1 naming both digests:\n%s", code, out)
	}
	if !strings.Contains(out, "warning: bundle "+dir+" has no checksums") {
		t.Errorf("replay of a bundle without checksums does not say so:\n%s", out)
	}
}

// TestBadInputShard: a shard out of range exits 2 naming it. The other
// bad inputs are in badinput_test.go's table.
func TestBadInputShard(t *testing.T) {
	out, code := execute("sweep", "all", "--shard", "3/2")
	if out = strings.TrimSpace(out); code != exitUsage || !strings.Contains(out, "shard: 3/2 is out of range") {
		t.Errorf("got exit %d and %q, want exit 2 and the shard named", code, out)
	}
}

func TestList(t *testing.T) {
	out, code := execute("list")
	if code != 0 || !strings.Contains(out, "smoke-copier") {
		t.Fatalf("got exit %d:\n%s", code, out)
	}
}

func TestSweepTwoScenarios(t *testing.T) {
	out, code := execute("sweep", "count-crash-before-commit", "smoke-copier", "--seeds", "1-4", "--parallel", "3", "--out", t.TempDir())
	if code != exitOK {
		t.Fatalf("got exit %d, want 0:\n%s", code, out)
	}
	for _, want := range []string{"sweep seeds 1-4, parallel 3", "SEEDS/S", "count-crash-before-commit", "smoke-copier", "total", "swept 8/8 seeds, 0 failed", "verdict: OK"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestSweepMutantFails(t *testing.T) {
	dir := t.TempDir()
	out, code := execute("sweep", "count-crash-before-commit", "--seeds", "1-2", "--mutant", "no-recover-commit", "--out", dir)
	if code != exitViolation {
		t.Fatalf("got exit %d, want 1:\n%s", code, out)
	}
	bundle := filepath.Join(dir, scenarios.BundleName("count-crash-before-commit", 2, []string{"no-recover-commit"}))
	if !strings.Contains(out, "2 failing seeds") || !strings.Contains(out, "replay "+bundle) {
		t.Errorf("output lacks the failures and their bundles:\n%s", out)
	}
	if _, err := scenarios.ReadBundle(bundle); err != nil {
		t.Error(err)
	}
}

// TestSweepShardsMerge: the JSON summaries of shards 1/2 and 2/2 merge into
// the unsharded sweep's summary, wall-clock fields aside.
func TestSweepShardsMerge(t *testing.T) {
	sweepJSON := func(extra ...string) *scenarios.SweepSummary {
		t.Helper()
		args := append([]string{"sweep", "count-crash-before-commit", "smoke-copier", "--seeds", "1-5", "--json", "--out", t.TempDir()}, extra...)
		stdout, stderr, code := executeSplit(args...)
		if code != exitOK {
			t.Fatalf("%v: exit %d\n%s", extra, code, stderr)
		}
		var s scenarios.SweepSummary
		if err := json.Unmarshal([]byte(stdout), &s); err != nil {
			t.Fatalf("%v: %v\n%s", extra, err, stdout)
		}
		return &s
	}
	whole := sweepJSON("--parallel", "2")
	a, b := sweepJSON("--shard", "1/2", "--parallel", "1"), sweepJSON("--shard", "2/2", "--parallel", "3")
	if len(a.Runs) != 6 || len(b.Runs) != 4 {
		t.Fatalf("shard sizes: got %d and %d runs, want 6 and 4", len(a.Runs), len(b.Runs))
	}
	merged, err := scenarios.MergeSummaries(b, a)
	if err != nil {
		t.Fatal(err)
	}
	got, want := withoutWallClock(merged), withoutWallClock(whole)
	if got != want {
		t.Errorf("merged shards differ from the whole sweep:\ngot  %s\nwant %s", got, want)
	}
}

func withoutWallClock(s *scenarios.SweepSummary) string {
	c := *s
	c.Runs = append([]scenarios.SeedRun(nil), s.Runs...)
	for i := range c.Runs {
		c.Runs[i].WallTime = 0
	}
	c.PerScenario = append([]scenarios.Tally(nil), s.PerScenario...)
	for i := range c.PerScenario {
		c.PerScenario[i].WallTime, c.PerScenario[i].SeedsPerSecond = 0, 0
	}
	c.Total.WallTime, c.Total.SeedsPerSecond = 0, 0
	data, _ := json.Marshal(c)
	return string(data)
}

func TestCompletion(t *testing.T) {
	for _, tc := range []struct {
		args      []string
		want, not []string
	}{
		{[]string{"__complete", "run", "count-c"}, []string{"count-crash-before-commit\t"}, []string{"smoke-copier", "count-ambiguous-endtxn"}},
		{[]string{"__complete", "run", "smoke-copier", ""}, nil, []string{"count-crash-before-commit"}},
		{[]string{"__complete", "sweep", "a"}, []string{"all\t"}, []string{"smoke-copier"}},
		{[]string{"__complete", "sweep", "smoke-copier", "s"}, []string{"swarm-join\t"}, []string{"smoke-copier\t", "all\t"}},
		{[]string{"__complete", "run", "smoke-copier", "--mutant", "no-r"}, []string{"no-recover-commit\t"}, []string{"no-alignment"}},
		{[]string{"__complete", "sweep", "all", "--mutant", ""}, []string{"no-recover-commit\t", "commit-before-complete\t"}, nil},
	} {
		out, code := execute(tc.args...)
		if code != 0 {
			t.Errorf("%v: exit %d\n%s", tc.args, code, out)
		}
		for _, w := range tc.want {
			if !strings.Contains(out, w) {
				t.Errorf("%v: completions lack %q:\n%s", tc.args, w, out)
			}
		}
		for _, n := range tc.not {
			if strings.Contains(out, n) {
				t.Errorf("%v: completions offer %q:\n%s", tc.args, n, out)
			}
		}
		if !strings.Contains(out, ":4\n") && !strings.Contains(out, ":36\n") {
			t.Errorf("%v: want directive NoFileComp (4):\n%s", tc.args, out)
		}
	}
}

// TestMergeCommand: the merge command joins shard summaries into the whole
// sweep's, and refuses a file that is not a summary.
func TestMergeCommand(t *testing.T) {
	dir := t.TempDir()
	for i, shard := range []string{"1/2", "2/2"} {
		root := NewRoot()
		var stdout, stderr bytes.Buffer
		root.SetOut(&stdout)
		root.SetErr(&stderr)
		root.SetArgs([]string{"sweep", "count-crash-before-commit", "--seeds", "1-4", "--shard", shard, "--json", "--parallel", "1", "--out", filepath.Join(dir, "f")})
		if err := root.Execute(); err != nil {
			t.Fatalf("shard %s: %v\n%s", shard, err, stderr.String())
		}
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("s%d.json", i)), stdout.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out, code := execute("merge", filepath.Join(dir, "s0.json"), filepath.Join(dir, "s1.json"))
	if code != exitOK || !strings.Contains(out, "merged 2 shard summaries") || !strings.Contains(out, "count-crash-before-commit") {
		t.Fatalf("merge: exit %d:\n%s", code, out)
	}
	// A summary kept gzipped merges as it is.
	raw, err := os.ReadFile(filepath.Join(dir, "s1.json"))
	if err != nil {
		t.Fatal(err)
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	_, _ = zw.Write(raw)
	_ = zw.Close()
	if err := os.WriteFile(filepath.Join(dir, "s1.json.gz"), gz.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, code := execute("merge", filepath.Join(dir, "s0.json"), filepath.Join(dir, "s1.json.gz")); code != exitOK || !strings.Contains(out, "merged 2 shard summaries") {
		t.Fatalf("merge with a gzipped shard: exit %d:\n%s", code, out)
	}
	if err := os.WriteFile(filepath.Join(dir, "cut.json.gz"), gz.Bytes()[:gz.Len()/2], 0o644); err != nil {
		t.Fatal(err)
	}
	if out, code := execute("merge", filepath.Join(dir, "s0.json"), filepath.Join(dir, "cut.json.gz")); code != exitUsage || !strings.Contains(out, "damaged gzip file") {
		t.Fatalf("merge with a truncated gzipped shard: exit %d, %q", code, out)
	}
	bad := filepath.Join(dir, "bad.json")
	_ = os.WriteFile(bad, []byte("{"), 0o644)
	if out, code := execute("merge", bad); code != exitUsage || !strings.Contains(out, "not a sweep summary") {
		t.Fatalf("merge of a damaged file: exit %d, %q", code, out)
	}
}

// TestVersion: --version names the build.
func TestVersion(t *testing.T) {
	out, code := execute("--version")
	if code != exitOK || !strings.HasPrefix(out, "chaosrun ") || !strings.Contains(out, "go1.") {
		t.Errorf("--version: exit %d, %q", code, out)
	}
	out, code = execute("completion", "bash")
	if code != exitOK || !strings.Contains(out, "__chaosrun") {
		t.Errorf("completion bash: exit %d, %d bytes", code, len(out))
	}
}
