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

// small is a configuration at test size.
func small(t *testing.T, bin string, s *Schedule) Config {
	return Config{
		Command: []string{bin}, Contract: Contract{Kind: Copy, Order: checkers.PerKey},
		Seed: 1, Records: 80, Keys: 8, Schedule: s, InputSpan: Duration(1500 * time.Millisecond),
		Deadline: Duration(40 * time.Second), Grace: Duration(2 * time.Second), Dir: t.TempDir(), Progress: testWriter{t},
	}
}

// runSmall runs bin at test size under s and logs every check's result.
func runSmall(t *testing.T, bin string, s *Schedule) *Result {
	t.Helper()
	res, err := Run(context.Background(), small(t, bin, s))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res.Results {
		t.Log(r)
	}
	return res
}

func ms(n int) Duration { return Duration(time.Duration(n) * time.Millisecond) }

// TestCorrectExamplePasses runs examples/franzgo-eos under a kill at its
// EndTxn (applied, the answer never read), a broker error, a coordinator
// move, a pause and a joining instance.
func TestCorrectExamplePasses(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	bin := example(t, "franzgo-eos")
	s := &Schedule{Faults: []Fault{
		{At: ms(300), Kind: KindKillAt, Instance: 0, API: "EndTxn", Point: "after", After: ms(200)},
		{At: ms(500), Kind: KindError, API: "EndTxn", Error: "CONCURRENT_TRANSACTIONS", Count: 1},
		{At: ms(1000), Kind: KindMoveCoordinators},
		{At: ms(1200), Kind: KindPause, Instance: 1, After: ms(700)},
		{At: ms(1500), Kind: KindJoin, After: ms(800)},
	}}
	res := runSmall(t, bin, s)
	if res.Verdict != checkers.Ok {
		t.Fatalf("verdict %v, want ok: %s", res.Verdict, res.FirstBad)
	}
	if res.FiredByKind[KindKillAt] != 1 || res.FiredByKind[KindPause] != 1 || res.FiredByKind[KindJoin] != 1 {
		t.Errorf("fired %v, want the kill at EndTxn, the pause and the join", res.FiredByKind)
	}
}

// TestBrokenExampleCaught kills examples/franzgo-eos-broken at its EndTxn,
// before the broker applies it: the offsets it committed outside the
// transaction have moved past records whose transaction is then aborted.
func TestBrokenExampleCaught(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	bin := example(t, "franzgo-eos-broken")
	s := &Schedule{Faults: []Fault{{At: ms(400), Kind: KindKillAt, Instance: 0, API: "EndTxn", Point: "before", After: ms(200)}}}
	res := runSmall(t, bin, s)
	if res.Verdict != checkers.Violation {
		t.Fatalf("verdict %v, want violation", res.Verdict)
	}
	if !res.Faults[0].Fired {
		t.Errorf("the kill at EndTxn did not fire: %s", res.Faults[0].Note)
	}
	var eo checkers.Result
	for _, r := range res.Results {
		if r.Checker == "exactly-once" {
			eo = r
		}
	}
	if eo.Anomaly != "lost-write" {
		t.Errorf("exactly-once: %v %q, want lost-write", eo.Verdict, eo.Anomaly)
	}
	if res.Anchor < 0 {
		t.Errorf("no request-log anchor for %s", res.FirstBad)
	}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) { w.t.Logf("%s", p); return len(p), nil }

// TestOracleContract runs the correct example against an oracle program (a
// sed script that prints each input record's key and value) over the
// protocol, and against one that expects upper-cased values, which the
// copier does not write.
func TestOracleContract(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	bin := example(t, "franzgo-eos")
	identity := `sed -E 's/.*"key":("[^"]*"),"value":("[^"]*").*/{"key":\1,"value":\2}/'`
	for _, tc := range []struct {
		name, script string
		want         checkers.Verdict
	}{
		{"identity", identity, checkers.Ok},
		{"upper", identity + ` | sed -E 's/"value":"v/"value":"V/'`, checkers.Violation},
	} {
		cfg := small(t, bin, nil)
		cfg.Contract = Contract{Kind: Oracle, Oracle: []string{"sh", "-c", tc.script}}
		res, err := Run(context.Background(), cfg)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if res.Verdict != tc.want {
			t.Errorf("%s oracle: verdict %v (%s), want %v", tc.name, res.Verdict, res.FirstBad, tc.want)
		}
	}
}
