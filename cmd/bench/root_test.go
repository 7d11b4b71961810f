package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func execute(t *testing.T, args ...string) (string, int) {
	t.Helper()
	root := NewRoot()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs(args)
	err := root.ExecuteContext(context.Background())
	if err != nil {
		out.WriteString("bench: " + err.Error() + "\n")
	}
	return out.String(), exitCode(err)
}

// checkUsage runs bench with args and fails t unless it exits 2 with one
// line that contains want.
func checkUsage(t *testing.T, args []string, want string) {
	t.Helper()
	out, code := execute(t, args...)
	if code != 2 || !strings.Contains(out, want) {
		t.Errorf("bench %s: got exit %d, output %q; want exit 2 and %q", strings.Join(args, " "), code, out, want)
	}
	if lines := strings.Count(strings.TrimSpace(out), "\n") + 1; lines != 1 {
		t.Errorf("bench %s: got %d lines, want one clear line:\n%s", strings.Join(args, " "), lines, out)
	}
}

func TestUsageErrorsExit2(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"run", "nope"}, `unknown job "nope"`},
		{[]string{"run"}, "run needs one job"},
		{[]string{"run", "copier", "--rate", "-5"}, "--rate: must not be negative"},
		{[]string{"run", "copier", "--brokers", "127.0.0.1:1"}, "brokers unreachable"},
		{[]string{"run", "copier", "--checkpoints", "sideways"}, "--checkpoints"},
		{[]string{"run", "copier", "--backend", "rocksdb"}, "--backend"},
		{[]string{"run", "copier", "--checkpoints", "off"}, "use --guarantee at-least-once"},
		{[]string{"run", "copier", "--records", "5", "--duration", "1s"}, "give one"},
		{[]string{"run", "copier", "--bogus"}, "unknown flag"},
		{[]string{"run", "copier", "--sasl-mechanism", "PLAIN"}, "apply to --brokers"},
		{[]string{"run", "copier", "--parallelism", "1,2", "--kill-at", "1s"}, "a scaling table measures throughput, not recovery"},
		{[]string{"run", "copier", "--parallelism", "1,2", "--rate", "1000"}, "--rate and --duration"},
		{[]string{"run", "copier", "--parallelism", "1,2", "--job-id", "x"}, "each run is a job of its own"},
		{[]string{"run", "copier", "--parallelism", "2,2"}, "--parallelism: 2 twice"},
		{[]string{"run", "copier", "--parallelism", "1,0"}, "--parallelism: must be at least 1, got 0"},
		{[]string{"run", "copier", "--parallelism", "two"}, "--parallelism"},
		{[]string{"compare", "join"}, "two inputs"},
		{[]string{"compare", "nope"}, `unknown job "nope"`},
		{[]string{"compare", "copier", "--interval", "0s"}, "--interval 0s: must be positive"},
		{[]string{"compare", "copier", "--only", "flink"}, `--only: "flink" is not one of engine, engine-off, ceiling, franz-go`},
		{[]string{"compare", "copier", "--rounds", "0"}, "--rounds: must be at least 1"},
		{[]string{"sim", "nope"}, `unknown scenario "nope"`},
		{[]string{"sim", "--seeds", "0"}, "--seeds"},
		{[]string{"sim", "--scale", "smoke-copier"}, "--scale runs one job"},
		{[]string{"sim", "--job", "copier"}, "--job: applies to --scale"},
		{[]string{"sim", "--scale", "--job", "nope"}, `--job: unknown job "nope"`},
		{[]string{"plot"}, "at least one result"},
		{[]string{"plot", "/nonexistent.json"}, "nonexistent"},
	} {
		checkUsage(t, tc.args, tc.want)
	}
}

// TestRunKillPlot runs a small job with a kill, checks that the result says
// exactly-once and names a recovery time, then plots it.
func TestRunKillPlot(t *testing.T) {
	dir := t.TempDir()
	out, code := execute(t, "run", "keyed-count", "--rate", "20000", "--duration", "1500ms", "--interval", "200ms",
		"--kill-at", "700ms", "--keys", "100", "--backend", "pebble", "--checkpoints", "unaligned", "--out", dir)
	if code != 0 {
		t.Fatalf("run: exit %d\n%s", code, out)
	}
	for _, want := range []string{"recovery", "exactly-once       ok", "latency", "BenchmarkRun/keyed-count/exactly-once/backend=pebble/checkpoints=unaligned"} {
		if !strings.Contains(out, want) {
			t.Errorf("run output lacks %q:\n%s", want, out)
		}
	}
	files, _ := filepath.Glob(filepath.Join(dir, "run-*.json"))
	if len(files) != 1 {
		t.Fatalf("result files: got %v, want one", files)
	}
	if _, err := os.Stat(strings.TrimSuffix(files[0], ".json") + ".bench.txt"); err != nil {
		t.Errorf("benchmark lines file: %v", err)
	}
	plots := filepath.Join(dir, "plots")
	out, code = execute(t, "plot", files[0], "--out", plots)
	if code != 0 {
		t.Fatalf("plot: exit %d\n%s", code, out)
	}
	for _, name := range []string{"latency-percentiles.svg", "checkpoint-duration.svg"} {
		data, err := os.ReadFile(filepath.Join(plots, name))
		if err != nil || !bytes.Contains(data, []byte("<svg")) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// TestCompareSmall runs a comparison too small for a steady state: every
// contender runs after a warm-up, and the ratios are either computed or
// refused with the reason (exit 4); which is the machine's to say.
func TestCompareSmall(t *testing.T) {
	out, code := execute(t, "compare", "keyed-count", "--records", "20000", "--rounds", "1", "--out", "")
	if code != 0 && code != 4 {
		t.Fatalf("compare: exit %d\n%s", code, out)
	}
	for _, want := range []string{"warm-up  engine", "round 1  engine ", "round 1  engine-off", "round 1  ceiling", "round 1  franz-go",
		"interval ", "sized from the warm-up", "commits   engine", "engine/ceiling", "engine/franz-go"} {
		if !strings.Contains(out, want) {
			t.Errorf("compare output lacks %q:\n%s", want, out)
		}
	}
	if refused := strings.Contains(out, "refused"); refused != (code == 4) {
		t.Errorf("exit %d, and a refusal printed: %v; want exit 4 exactly when refused:\n%s", code, refused, out)
	}
}

func TestSimOneSeed(t *testing.T) {
	out, code := execute(t, "sim", "smoke-copier", "--seeds", "1", "--out", "")
	if code != 0 || !strings.Contains(out, "sim-s/wall-s") || !strings.Contains(out, "BenchmarkSim/smoke-copier") {
		t.Fatalf("sim: exit %d\n%s", code, out)
	}
}

// TestVersionAndCompletion: --version names the build, and the shell
// completion scripts are there.
func TestVersionAndCompletion(t *testing.T) {
	out, code := execute(t, "--version")
	if code != 0 || !strings.HasPrefix(out, "bench ") || !strings.Contains(out, "go1.") {
		t.Errorf("--version: exit %d, %q", code, out)
	}
	for _, shell := range []string{"bash", "zsh", "fish", "powershell"} {
		out, code := execute(t, "completion", shell)
		if code != 0 || !strings.Contains(out, "bench") || len(out) < 500 {
			t.Errorf("completion %s: exit %d, %d bytes", shell, code, len(out))
		}
	}
}

// TestRunScaling runs a tiny job at two parallelisms and looks for the
// table, not at its figures.
func TestRunScaling(t *testing.T) {
	dir := t.TempDir()
	out, code := execute(t, "run", "copier", "--records", "2000", "--parallelism", "1,2", "--out", dir)
	if code != 0 {
		t.Fatalf("run --parallelism 1,2: exit %d\n%s", code, out)
	}
	for _, want := range []string{"parallelism      records/s  speed-up efficiency", "          1 ", "          2 ", "parallelism=2-"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if files, _ := filepath.Glob(filepath.Join(dir, "scaling-copier-*-parallelism-1-2-*.json")); len(files) != 1 {
		t.Errorf("result files: got %v, want one scaling result", files)
	}
}

func TestSimScale(t *testing.T) {
	out, code := execute(t, "sim", "--scale", "--seeds", "1", "--out", "")
	if code != 0 {
		t.Fatalf("sim --scale: exit %d\n%s", code, out)
	}
	for _, want := range []string{"parallelism  2 ", "parallelism  8 ", "parallelism 32 ", "wall-s/sim-s", "peak RSS", "BenchmarkSimScale/scale-keyed-count/parallelism=32"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}
