package target

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/onceproof/onceproof/checkers"
)

var (
	buildOnce sync.Once
	builtDir  string
	buildErr  error
)

// example builds examples/<name> once per test binary and returns its path.
func example(t *testing.T, name string) string {
	t.Helper()
	buildOnce.Do(func() {
		builtDir, buildErr = os.MkdirTemp("", "onceproof-target-examples-")
		if buildErr != nil {
			return
		}
		for _, n := range []string{"franzgo-eos", "franzgo-eos-broken"} {
			cmd := exec.Command("go", "build", "-o", filepath.Join(builtDir, n), "./examples/"+n)
			cmd.Dir = ".."
			if out, err := cmd.CombinedOutput(); err != nil {
				buildErr = err
				t.Logf("%s", out)
				return
			}
		}
	})
	if buildErr != nil {
		t.Fatalf("build examples: %v", buildErr)
	}
	return filepath.Join(builtDir, name)
}

func TestMain(m *testing.M) {
	code := m.Run()
	if builtDir != "" {
		os.RemoveAll(builtDir)
	}
	os.Exit(code)
}

func TestCorrectExampleNoFaults(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	bin := example(t, "franzgo-eos")
	start := time.Now()
	res, err := Run(context.Background(), Config{
		Command: []string{bin}, Contract: Contract{Kind: Copy, Order: checkers.PerKey},
		Seed: 1, Records: 100, Deadline: Duration(30 * time.Second), Dir: t.TempDir(), Progress: testWriter{t},
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res.Results {
		t.Log(r)
	}
	if res.Verdict != checkers.Ok {
		t.Fatalf("verdict %v, want ok", res.Verdict)
	}
	t.Logf("took %v", time.Since(start))
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) { w.t.Logf("%s", p); return len(p), nil }
