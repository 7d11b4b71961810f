package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/onceproof/onceproof/scenarios"
)

// executeContext is execute with a context, as main passes one that Ctrl-C
// cancels; stderr goes to errOut as well as to the returned output.
func executeContext(ctx context.Context, errOut *cancelWriter, args ...string) (string, int) {
	stdout, stderr, code := executeContextSplit(ctx, errOut, args...)
	return stdout + stderr, code
}

func executeContextSplit(ctx context.Context, errOut *cancelWriter, args ...string) (stdout, stderr string, code int) {
	root := NewRoot()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(errOut)
	root.SetArgs(args)
	if err := root.ExecuteContext(ctx); err != nil {
		var ee *exitError
		if errors.As(err, &ee) {
			code = ee.code
			errOut.Write([]byte(ee.msg))
		} else {
			code = exitUsage
			errOut.Write([]byte(err.Error()))
		}
	}
	return out.String(), errOut.String(), code
}

// cancelWriter collects stderr and calls cancel once it has seen after:
// a Ctrl-C in the middle of a sweep.
type cancelWriter struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	after  string
	cancel context.CancelFunc
}

func (w *cancelWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	if w.cancel != nil && w.after != "" && strings.Contains(w.buf.String(), w.after) {
		w.cancel()
	}
	return len(p), nil
}

func (w *cancelWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// TestSweepNeverOkWithoutEveryRun: a sweep that holds no run, or was
// interrupted, is inconclusive (exit 4) and says why; a shard that is not
// one is bad input (exit 2).
func TestSweepNeverOkWithoutEveryRun(t *testing.T) {
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	for _, tc := range []struct {
		name     string
		ctx      context.Context
		cancelAt string // cancel once stderr shows this
		args     []string
		code     int
		want     []string
	}{
		{name: "empty shard", args: []string{"sweep", "smoke-copier", "--seeds", "1-2", "--shard", "3/4"},
			code: exitInconclusive, want: []string{"verdict: INCONCLUSIVE — shard 3/4 holds none of the 2 runs"}},
		{name: "empty shard, json", args: []string{"sweep", "smoke-copier", "count-crash-before-commit", "--seeds", "1-2", "--shard", "3/4", "--json"},
			code: exitInconclusive, want: []string{`"verdict": "unknown"`, `"shard 3/4 holds none of the 4 runs"`}},
		{name: "shard 0/0", args: []string{"sweep", "smoke-copier", "--seeds", "1-2", "--shard", "0/0"},
			code: exitUsage, want: []string{"shard: 0/0 is out of range"}},
		{name: "shard 5/4", args: []string{"sweep", "smoke-copier", "--seeds", "1-2", "--shard", "5/4"},
			code: exitUsage, want: []string{"shard: 5/4 is out of range"}},
		{name: "shard x/y", args: []string{"sweep", "smoke-copier", "--seeds", "1-2", "--shard", "x/y"},
			code: exitUsage, want: []string{`shard: "x/y" is not of the form I/N`}},
		{name: "interrupted before the first run", ctx: cancelled, args: []string{"sweep", "smoke-copier", "--seeds", "1-3"},
			code: exitInconclusive, want: []string{"verdict: INCONCLUSIVE — interrupted after 0 of 3 runs"}},
		{name: "interrupted mid-sweep", cancelAt: "swept 2/20", args: []string{"sweep", "smoke-copier", "--seeds", "1-20", "--parallel", "1"},
			code: exitInconclusive, want: []string{"verdict: INCONCLUSIVE — interrupted after ", " of 20 runs"}},
		{name: "interrupted, json", ctx: cancelled, args: []string{"sweep", "smoke-copier", "--seeds", "1-3", "--json"},
			code: exitInconclusive, want: []string{`"interrupted": true`, `"interrupted after 0 of 3 runs"`}},
	} {
		ctx := tc.ctx
		if ctx == nil {
			ctx = context.Background()
		}
		ctx, cancel := context.WithCancel(ctx)
		errOut := &cancelWriter{after: tc.cancelAt, cancel: cancel}
		out, code := executeContext(ctx, errOut, append(tc.args, "--out", t.TempDir())...)
		cancel()
		if code != tc.code {
			t.Errorf("%s: got exit %d, want %d:\n%s", tc.name, code, tc.code, out)
		}
		for _, w := range tc.want {
			if !strings.Contains(out, w) {
				t.Errorf("%s: output lacks %q:\n%s", tc.name, w, out)
			}
		}
		if strings.Contains(out, "verdict: OK") || strings.Contains(out, "\n  \"verdict\": \"ok\"") {
			t.Errorf("%s: got an OK verdict:\n%s", tc.name, out)
		}
	}
}

// TestMergeRefusesWhatIsNotOneSweep: merge reads summaries strictly (exit 2
// naming the file), refuses a shard given twice (exit 2 naming both files),
// and calls a merge that lacks shards or holds an interrupted one
// inconclusive (exit 4), naming what is missing.
func TestMergeRefusesWhatIsNotOneSweep(t *testing.T) {
	dir := t.TempDir()
	shard := map[string]string{}
	for _, sh := range []string{"1/4", "2/4", "3/4", "4/4"} {
		stdout, stderr, code := executeSplit("sweep", "smoke-copier", "--seeds", "1-8", "--shard", sh, "--json", "--parallel", "1", "--out", filepath.Join(dir, "f"))
		if code != exitOK {
			t.Fatalf("shard %s: exit %d\n%s", sh, code, stderr)
		}
		shard[sh] = filepath.Join(dir, "shard"+sh[:1]+".json")
		if err := os.WriteFile(shard[sh], []byte(stdout), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	again := filepath.Join(dir, "shard1-again.json")
	data, _ := os.ReadFile(shard["1/4"])
	if err := os.WriteFile(again, data, 0o644); err != nil {
		t.Fatal(err)
	}
	write := func(name, data string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	edited := func(name string, f func(string) string) string { return write(name, f(string(data))) }
	// An interrupted shard 2/4, as Ctrl-C leaves it.
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	interrupted, _, code := executeContextSplit(cancelled, &cancelWriter{}, "sweep", "smoke-copier", "--seeds", "1-8", "--shard", "2/4", "--json", "--out", filepath.Join(dir, "f"))
	if code != exitInconclusive {
		t.Fatalf("interrupted shard: exit %d\n%s", code, interrupted)
	}
	interruptedPath := write("interrupted.json", interrupted)
	plan := filepath.Join("..", "..", "faults", "testdata", "example-plan.json")

	for _, tc := range []struct {
		name string
		args []string
		code int
		want []string
	}{
		{"every shard", []string{shard["1/4"], shard["2/4"], shard["3/4"], shard["4/4"]}, exitOK, []string{"merged 4 shard summaries", "verdict: OK"}},
		{"a fault plan", []string{plan}, exitUsage, []string{"example-plan.json is not a sweep summary", `no "kind" field`}},
		{"a summary and a fault plan", []string{shard["1/4"], plan}, exitUsage, []string{"example-plan.json is not a sweep summary"}},
		{"an empty object", []string{write("empty.json", "{}")}, exitUsage, []string{"empty.json is not a sweep summary"}},
		{"a list", []string{write("list.json", "[1, 2]")}, exitUsage, []string{"list.json is not a sweep summary: got a JSON array, want an object"}},
		{"an unknown field", []string{edited("colour.json", func(s string) string { return strings.Replace(s, "{", `{"colour": "red",`, 1) })},
			exitUsage, []string{"colour.json is not a sweep summary", `unknown field "colour"`}},
		{"a missing field", []string{edited("noruns.json", func(s string) string { return strings.Replace(s, `"runs"`, `"runz"`, 1) })},
			exitUsage, []string{"noruns.json is not a sweep summary", `field "runs" is missing`}},
		{"a verdict that lies", []string{edited("lie.json", func(s string) string {
			return strings.Replace(s, `"verdict": "ok"`, `"verdict": "violation"`, 1)
		})}, exitUsage, []string{"lie.json: damaged sweep summary"}},
		{"a seed of another shard", []string{edited("other.json", func(s string) string { return strings.Replace(s, `"seed": 1,`, `"seed": 2,`, 1) })},
			exitUsage, []string{"other.json: damaged sweep summary: run 1: seed 2 does not belong to shard 1/4"}},
		{"a missing file", []string{filepath.Join(dir, "absent.json")}, exitUsage, []string{"absent.json: no such file"}},
		{"the same shard twice", []string{shard["1/4"], shard["2/4"], again}, exitUsage,
			[]string{"shard1.json and " + again + " both hold shard 1/4"}},
		{"shards missing", []string{shard["1/4"], shard["3/4"]}, exitInconclusive, []string{"verdict: INCONCLUSIVE — missing shards 2/4, 4/4"}},
		{"shards missing, json", []string{shard["3/4"], shard["1/4"], "--json"}, exitInconclusive,
			[]string{`"missing_shards": [`, `"2/4",`, `"missing shards 2/4, 4/4"`, `"verdict": "unknown"`}},
		{"an interrupted shard", []string{shard["1/4"], interruptedPath, shard["3/4"], shard["4/4"]}, exitInconclusive,
			[]string{"verdict: INCONCLUSIVE — interrupted after 6 of 8 runs"}},
	} {
		out, code := execute(append([]string{"merge"}, tc.args...)...)
		if code != tc.code {
			t.Errorf("%s: got exit %d, want %d:\n%s", tc.name, code, tc.code, out)
		}
		for _, w := range tc.want {
			if !strings.Contains(out, w) {
				t.Errorf("%s: output lacks %q:\n%s", tc.name, w, out)
			}
		}
		if tc.code != exitOK && (strings.Contains(out, "verdict: OK") || strings.Contains(out, "\n  \"verdict\": \"ok\"")) {
			t.Errorf("%s: got an OK verdict:\n%s", tc.name, out)
		}
	}
}

// TestSweepCheckDeterminism: sweep --check-determinism runs every seed
// twice, says how many runs were checked and how many mismatched, in text
// and JSON, and merge adds the shards' counts up.
func TestSweepCheckDeterminism(t *testing.T) {
	dir := t.TempDir()
	out, code := execute("sweep", "smoke-copier", "--seeds", "1-3", "--check-determinism", "--parallel", "2", "--out", filepath.Join(dir, "f"))
	if code != exitOK {
		t.Fatalf("got exit %d, want 0:\n%s", code, out)
	}
	for _, want := range []string{"each run twice", "determinism: 3 runs checked twice, 0 mismatched", "verdict: OK"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	var paths []string
	for _, sh := range []string{"1/2", "2/2"} {
		stdout, stderr, code := executeSplit("sweep", "smoke-copier", "--seeds", "1-3", "--shard", sh, "--check-determinism", "--json", "--out", filepath.Join(dir, "f"))
		if code != exitOK || !strings.Contains(stdout, `"check_determinism": true`) || !strings.Contains(stdout, `"checked_twice": `) {
			t.Fatalf("shard %s: exit %d\n%s%s", sh, code, stdout, stderr)
		}
		paths = append(paths, filepath.Join(dir, "d"+sh[:1]+".json"))
		if err := os.WriteFile(paths[len(paths)-1], []byte(stdout), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out, code = execute("merge", paths[0], paths[1])
	if code != exitOK || !strings.Contains(out, "determinism: 3 runs checked twice, 0 mismatched") {
		t.Errorf("merge: got exit %d, want 0 and the counts added up:\n%s", code, out)
	}
}

// TestReplayRefusesEditedBundle: replay checks the bundle's checksums first;
// a file edited or missing since it was written is exit 2 naming the file,
// and nothing is replayed.
func TestReplayRefusesEditedBundle(t *testing.T) {
	good := filepath.Join(t.TempDir(), "bundle")
	if out, code := execute("run", "count-crash-before-commit", "--seed", mutantSeed, "--mutant", "no-recover-commit", "--out", good); code != exitViolation {
		t.Fatalf("got exit %d, want 1:\n%s", code, out)
	}
	if out, code := execute("replay", good); code != exitViolation || !strings.Contains(out, "reproduced: digest") || strings.Contains(out, "warning") {
		t.Fatalf("replay of an intact bundle: got exit %d, want 1, reproduced, no warning:\n%s", code, out)
	}
	copyBundle := func() string {
		dir := filepath.Join(t.TempDir(), "b")
		if err := os.CopyFS(dir, os.DirFS(good)); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	replace := func(file, old, new string) func(dir string) {
		return func(dir string) {
			p := filepath.Join(dir, file)
			data, err := os.ReadFile(p)
			if err != nil || !strings.Contains(string(data), old) {
				t.Fatalf("%s lacks %q (%v)", file, old, err)
			}
			if err := os.WriteFile(p, []byte(strings.Replace(string(data), old, new, 1)), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, tc := range []struct {
		name string
		edit func(dir string)
		want string
	}{
		{"plan.json edited", replace("plan.json", `"w1"`, `"w2"`), "plan.json was edited after the bundle was written: sha256 "},
		{"trace.txt missing", func(dir string) { os.Remove(filepath.Join(dir, "trace.txt")) }, "trace.txt is missing"},
		{"report.html edited", replace("report.html", "<", "< "), "report.html was edited after the bundle was written"},
		{"REPRODUCE edited", replace("REPRODUCE", "replay", "run"), "REPRODUCE was edited after the bundle was written"},
		{"options in run.json edited", replace("run.json", `"workers": "3"`, `"workers": "4"`), "run.json was edited after the bundle was written: sha256 "},
		{"seed in run.json edited", replace("run.json", `"seed": `+mutantSeed, `"seed": 8`), "run.json was edited after the bundle was written"},
		{"checksum removed", replace("run.json", `"run_json_sha256"`, `"run_json_sha256_"`), `unknown field "run_json_sha256_"`},
	} {
		dir := copyBundle()
		tc.edit(dir)
		out, code := execute("replay", dir)
		if code != exitUsage || !strings.Contains(out, tc.want) || strings.Contains(out, "replaying") {
			t.Errorf("%s: got exit %d, want 2 and %q before any replay:\n%s", tc.name, code, tc.want, out)
		}
	}
}

// TestSweepShardAuto: --shard auto reads the shard of a Kubernetes Indexed
// Job from its environment, and is bad usage when there is none.
func TestSweepShardAuto(t *testing.T) {
	for _, k := range []string{"ONCEPROOF_SHARD", "JOB_COMPLETION_INDEX", "JOB_COMPLETIONS", "CI_NODE_INDEX", "CI_NODE_TOTAL",
		"CIRCLE_NODE_INDEX", "CIRCLE_NODE_TOTAL", "BUILDKITE_PARALLEL_JOB", "BUILDKITE_PARALLEL_JOB_COUNT"} {
		t.Setenv(k, "")
	}
	out, code := execute("sweep", "count-crash-before-commit", "--seeds", "1-4", "--shard", "auto", "--parallel", "1")
	if code != exitUsage || !strings.Contains(out, "--shard auto: no shard in the environment") {
		t.Errorf("no shard in the environment: exit %d:\n%s", code, out)
	}
	t.Setenv("JOB_COMPLETION_INDEX", "1")
	t.Setenv("JOB_COMPLETIONS", "2")
	stdout, stderr, code := executeSplit("sweep", "count-crash-before-commit", "--seeds", "1-4", "--shard", "auto", "--parallel", "1", "--json",
		"--out", t.TempDir())
	if code != exitOK || !strings.Contains(stderr, "shard 2/2 (from JOB_COMPLETION_INDEX=1, JOB_COMPLETIONS=2)") {
		t.Fatalf("Indexed Job shard: exit %d:\n%s", code, stderr)
	}
	var sum scenarios.SweepSummary
	if err := json.Unmarshal([]byte(stdout), &sum); err != nil {
		t.Fatal(err)
	}
	var seeds []uint64
	for _, r := range sum.Runs {
		seeds = append(seeds, r.Seed)
	}
	if sum.Shard != "2/2" || !slices.Equal(seeds, []uint64{2, 4}) {
		t.Errorf("got shard %q seeds %v, want 2/2 with seeds 2 and 4", sum.Shard, seeds)
	}
}
