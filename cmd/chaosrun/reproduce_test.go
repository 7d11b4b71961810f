package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/onceproof/onceproof/internal/invoke"
)

var reproduceLine = regexp.MustCompile(`(?m)^reproduce:\s+(.+)$`)

// TestReproduceLineWorksFromAnyDirectory: a failure found by a chaosrun
// binary run in a directory outside the repository prints a reproduce line
// that, pasted into a shell in another such directory, replays the bundle
// to the same digest; so does the line of a go run build (this test's
// process, run inside the checkout).
func TestReproduceLineWorksFromAnyDirectory(t *testing.T) {
	if testing.Short() {
		t.Skip("builds chaosrun")
	}
	goCmd, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command")
	}
	bin := filepath.Join(t.TempDir(), "chaosrun")
	if out, err := exec.Command(goCmd, "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	found := t.TempDir()
	run := exec.Command(bin, "run", "count-crash-before-commit", "--seed", mutantSeed, "--mutant", "no-recover-commit", "--out", "bundle")
	run.Dir = found
	out, _ := run.CombinedOutput()
	if run.ProcessState.ExitCode() != exitViolation {
		t.Fatalf("chaosrun run: exit %d, want 1:\n%s", run.ProcessState.ExitCode(), out)
	}
	m := reproduceLine.FindSubmatch(out)
	if m == nil {
		t.Fatalf("no reproduce line in:\n%s", out)
	}
	line := string(m[1])
	if want := invoke.Quote(bin) + " replay " + filepath.Join(found, "bundle"); line != want {
		t.Errorf("reproduce line: got %s, want %s", line, want)
	}
	replay := func(line string) {
		t.Helper()
		sh := exec.Command("sh", "-c", line)
		sh.Dir = t.TempDir()
		out, _ := sh.CombinedOutput()
		if code := sh.ProcessState.ExitCode(); code != exitViolation || !strings.Contains(string(out), "reproduced: digest ") {
			t.Errorf("%s in %s: exit %d, want 1 and reproduced:\n%s", line, sh.Dir, code, out)
		}
	}
	replay(line)

	if got := reproduceFromREPRODUCE(t, filepath.Join(found, "bundle")); got != line {
		t.Errorf("REPRODUCE: got %s, want the printed line %s", got, line)
	}

	// A go run build's line (this process is one, run in the checkout):
	// go run -C with the checkout, and the bundle's absolute path.
	dir := filepath.Join(t.TempDir(), "bundle")
	if _, code := execute("run", "count-crash-before-commit", "--seed", mutantSeed, "--mutant", "no-recover-commit", "--out", dir); code != exitViolation {
		t.Fatalf("in-process run: exit %d", code)
	}
	line = reproduceFromREPRODUCE(t, dir)
	if !strings.HasPrefix(line, "go run -C ") {
		t.Fatalf("REPRODUCE of a test build: got %s, want go run -C ROOT ./cmd/chaosrun ...", line)
	}
	replay(line)
}

// reproduceFromREPRODUCE is the first command line of a bundle's REPRODUCE.
func reproduceFromREPRODUCE(t *testing.T, dir string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, "REPRODUCE"))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(data), "\n") {
		if l != "" && !strings.HasPrefix(l, "#") {
			return l
		}
	}
	t.Fatalf("REPRODUCE of %s has no command", dir)
	return ""
}
