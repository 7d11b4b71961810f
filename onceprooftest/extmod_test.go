package onceprooftest_test

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// TestExternalModule builds and checks a job in a module of its own,
// testdata/extmod, as a user's project would: it reaches onceproof through
// a replace directive and uses the public API only (engine, engine/jobs,
// checkers, onceprooftest). Its go.sum is committed, so the run works
// offline once the main module's dependencies are in the module cache;
// -mod=mod lets the go command bring it up to date when the main module's
// requirements move, and the test then asks for the update to be
// committed. The build cache is the shared one, so the engine compiled for
// the main module mostly serves again.
func TestExternalModule(t *testing.T) {
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("no go command to build the external module with: %v", err)
	}
	dir := filepath.Join("testdata", "extmod")
	// Reading every file of the module ties this test's cached result to
	// them: go test caches a result with the files the test opened.
	before := map[string][]byte{}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Type().IsRegular() {
			b, err := os.ReadFile(filepath.Join(dir, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			before[e.Name()] = b
		}
	}
	for _, need := range []string{"go.mod", "go.sum"} {
		if before[need] == nil {
			t.Fatalf("%s has no %s", dir, need)
		}
	}

	start := time.Now()
	cmd := exec.CommandContext(t.Context(), gobin, "test", "./...")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOWORK=off")
	cmd.WaitDelay = 10 * time.Second
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		t.Fatalf("go test in %s failed (%v):\n%s", dir, err, out)
	case err != nil:
		t.Fatalf("go test in %s: %v", dir, err)
	}
	t.Logf("go test in %s took %v:\n%s", dir, time.Since(start).Round(time.Millisecond), out)

	for _, name := range []string{"go.mod", "go.sum"} {
		after, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(after, before[name]) {
			t.Errorf("%s/%s changed under -mod=mod: the main module's requirements moved; commit the updated file so that the test runs offline", dir, name)
		}
	}
}
