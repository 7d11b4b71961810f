package onceprooftest_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/onceproof/onceproof/onceprooftest"
	"github.com/onceproof/onceproof/target"
)

// TestProgramIsExactlyOnce is how a user checks their own program: here the
// correct franz-go example, at test size, under a kill at a protocol point,
// a pause and a joining instance.
func TestProgramIsExactlyOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and starts processes")
	}
	onceprooftest.CheckProgram(t, []string{"go", "run", "../examples/franzgo-eos"}, onceprooftest.ExpectCopy(""), onceprooftest.ProgramOptions{
		Seeds: []uint64{1}, Records: 60, Keys: 6, Window: 1500 * time.Millisecond, Deadline: 40 * time.Second,
		Schedule: &target.Schedule{Faults: []target.Fault{
			{At: target.Duration(300 * time.Millisecond), Kind: target.KindKillAt, Instance: 1, API: "EndTxn", Point: "before", After: target.Duration(200 * time.Millisecond)},
			{At: target.Duration(500 * time.Millisecond), Kind: target.KindPause, Instance: 0, After: target.Duration(500 * time.Millisecond)},
			{At: target.Duration(700 * time.Millisecond), Kind: target.KindJoin, After: target.Duration(600 * time.Millisecond)},
		}},
	})
}

// failRecorder records failures instead of failing the test.
type failRecorder struct {
	testing.TB
	errs []string
}

func (r *failRecorder) Helper()             {}
func (r *failRecorder) Logf(string, ...any) {}
func (r *failRecorder) Errorf(f string, a ...any) {
	r.errs = append(r.errs, strings.TrimSpace(sprintf(f, a...)))
}

// TestBrokenProgramFails checks that CheckProgram fails the broken twin,
// which commits offsets outside its transactions, killed at its EndTxn.
func TestBrokenProgramFails(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and starts processes")
	}
	r := &failRecorder{TB: t}
	onceprooftest.CheckProgram(r, []string{"go", "run", "../examples/franzgo-eos-broken"}, onceprooftest.ExpectCopy(""), onceprooftest.ProgramOptions{
		Seeds: []uint64{1}, Records: 60, Keys: 6, Window: 1500 * time.Millisecond, Deadline: 40 * time.Second, NoShrink: true,
		BundleDir: t.TempDir(),
		Schedule: &target.Schedule{Faults: []target.Fault{
			{At: target.Duration(400 * time.Millisecond), Kind: target.KindKillAt, Instance: 0, API: "EndTxn", Point: "before", After: target.Duration(200 * time.Millisecond)},
		}},
	})
	if len(r.errs) != 1 {
		t.Fatalf("got %d failures, want 1: %q", len(r.errs), r.errs)
	}
	for _, want := range []string{"failed at seed 1: violation", "exactly-once: violation lost-write", "bundle: ", "rerun (not deterministic: it may pass): chaosrun target --expect copy --seed 1 --schedule"} {
		if !strings.Contains(r.errs[0], want) {
			t.Errorf("the failure does not say %q:\n%s", want, r.errs[0])
		}
	}
}

func sprintf(f string, a ...any) string { return fmt.Sprintf(f, a...) }
