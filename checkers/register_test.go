package checkers

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// commitOp is a commit of v to key over [call, ret].
func commitOp(key string, v, call, ret int64) RegisterOp {
	return RegisterOp{Kind: Commit, Key: key, Value: v, Call: call, Return: ret, Client: 0}
}

// readOp is a read of v from key over [call, ret].
func readOp(key string, v, call, ret int64) RegisterOp {
	return RegisterOp{Kind: Read, Key: key, Value: v, Call: call, Return: ret, Client: 1}
}

// registerLoad builds a linearizable history of about n operations over
// keys keys: per key, commits of 1, 2, 3, ... with short intervals, and
// reads between them that return the latest committed value, or, when the
// read overlaps a commit, either the old or the new value. Keys are
// interleaved in time, as a real sink commits them.
func registerLoad(n, keys int, seed uint64) []RegisterOp {
	rng := rand.New(rand.NewPCG(seed, 0))
	ops := make([]RegisterOp, 0, n)
	perKey := n / keys / 2 // a commit and a read per step
	for step := range perKey {
		for k := range keys {
			key := fmt.Sprintf("k%03d", k)
			t := int64(step)*100 + int64(k)
			v := int64(step + 1)
			ops = append(ops, RegisterOp{Kind: Commit, Key: key, Value: v, Call: t, Return: t + 10, Client: 0})
			read := RegisterOp{Kind: Read, Key: key, Client: 1 + k%3}
			switch rng.IntN(3) {
			case 0: // after the commit: must see it
				read.Call, read.Return, read.Value = t+20, t+30, v
			case 1: // overlapping the commit, seeing the new value
				read.Call, read.Return, read.Value = t+5, t+25, v
			default: // overlapping the commit, seeing the old value
				read.Call, read.Return, read.Value = t+5, t+25, v-1
			}
			ops = append(ops, read)
		}
	}
	return ops
}

// hardRegister is an illegal history that porcupine cannot refute quickly:
// n concurrent commits, then a read of the initial value. Every subset of
// the commits, linearized in increasing order, is a distinct search state,
// so refuting it takes about 2^n steps.
func hardRegister(n int) []RegisterOp {
	var ops []RegisterOp
	for i := range n {
		ops = append(ops, commitOp("k", int64(i+1), 0, 1000))
	}
	return append(ops, readOp("k", 0, 2000, 2001))
}

func TestRegister(t *testing.T) {
	tests := []struct {
		name         string
		ops          []RegisterOp
		wantVerdict  Verdict
		wantAnomaly  string
		wantFirstBad string
		wantExplain  string
	}{
		{
			name:        "empty",
			wantVerdict: Ok,
		},
		{
			name: "sequential commits and reads",
			ops: []RegisterOp{
				readOp("a", 0, 0, 5),
				commitOp("a", 1, 10, 20),
				readOp("a", 1, 30, 40),
				commitOp("a", 2, 50, 60),
				readOp("a", 2, 70, 80),
				commitOp("b", 7, 0, 100),
				readOp("b", 7, 110, 120),
			},
			wantVerdict: Ok,
		},
		{
			name: "read overlapping a commit may see either value",
			ops: []RegisterOp{
				commitOp("a", 1, 0, 10),
				commitOp("a", 2, 20, 40),
				readOp("a", 1, 25, 30),
				readOp("a", 2, 26, 35),
			},
			wantVerdict: Ok,
		},
		{
			name: "ambiguous commit that took effect late is fine",
			ops: []RegisterOp{
				commitOp("a", 1, 0, 10),
				commitOp("a", 2, 20, NoReturn),
				readOp("a", 1, 30, 40),
				readOp("a", 2, 50, 60),
				readOp("a", 2, 70, 80),
			},
			wantVerdict: Ok,
		},
		{
			name: "ambiguous commit that never took effect is fine",
			ops: []RegisterOp{
				commitOp("a", 1, 0, 10),
				commitOp("a", 2, 20, NoReturn-5),
				readOp("a", 1, 30, 40),
			},
			wantVerdict: Ok,
		},
		{
			name: "stale read after an acknowledged commit",
			ops: []RegisterOp{
				commitOp("a", 1, 0, 10),
				commitOp("a", 2, 20, 30),
				readOp("a", 1, 40, 50),
			},
			wantVerdict:  Violation,
			wantAnomaly:  "nonlinearizable-read",
			wantFirstBad: `key "a"`,
		},
		{
			name: "read of a value never committed (aborted read)",
			ops: []RegisterOp{
				commitOp("a", 1, 0, 10),
				readOp("a", 5, 20, 30),
				commitOp("a", 2, 40, 50),
			},
			wantVerdict:  Violation,
			wantAnomaly:  "nonlinearizable-read",
			wantFirstBad: `key "a"`,
		},
		{
			name: "regression: commit of a lower value",
			ops: []RegisterOp{
				commitOp("a", 5, 0, 10),
				commitOp("a", 3, 20, 30),
				readOp("a", 3, 40, 50),
			},
			wantVerdict:  Violation,
			wantAnomaly:  "nonlinearizable-read",
			wantFirstBad: `key "a"`,
		},
		{
			name: "ambiguous commit cannot be undone once seen",
			ops: []RegisterOp{
				commitOp("a", 1, 0, 10),
				commitOp("a", 2, 20, NoReturn),
				readOp("a", 2, 50, 60),
				readOp("a", 1, 70, 80),
			},
			wantVerdict:  Violation,
			wantAnomaly:  "nonlinearizable-read",
			wantFirstBad: `key "a"`,
		},
		{
			name: "first failing key in sorted order is named",
			ops: append(registerLoad(2000, 20, 1),
				readOp("k017", 12345, 500_000, 500_001),
				readOp("k005", 12345, 500_000, 500_001),
			),
			wantVerdict:  Violation,
			wantAnomaly:  "nonlinearizable-read",
			wantFirstBad: `key "k005"`,
		},
		{
			name:        "return before call",
			ops:         []RegisterOp{commitOp("a", 1, 0, 10), readOp("a", 1, 30, 20)},
			wantVerdict: Unknown,
			wantExplain: "return 20 before call 30",
		},
		{
			name:        "unknown kind",
			ops:         []RegisterOp{{Key: "a", Call: 0, Return: 1}},
			wantVerdict: Unknown,
			wantExplain: "unknown kind",
		},
		{
			name:        "read that never returned",
			ops:         []RegisterOp{readOp("a", 0, 0, NoReturn)},
			wantVerdict: Unknown,
			wantExplain: "never returned",
		},
		{
			name:        "negative client",
			ops:         []RegisterOp{{Kind: Read, Key: "a", Client: -1}},
			wantVerdict: Unknown,
			wantExplain: "negative client",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Register(tt.ops, RegisterOptions{})
			if got.Checker != "register" {
				t.Errorf("checker: got %q, want %q", got.Checker, "register")
			}
			checkResult(t, got, tt.wantVerdict, tt.wantAnomaly, tt.wantFirstBad, nil)
			if !strings.Contains(got.Explanation, tt.wantExplain) {
				t.Errorf("explanation: got %q, want it to contain %q", got.Explanation, tt.wantExplain)
			}
		})
	}
}

func TestRegisterClampsAmbiguousReturn(t *testing.T) {
	ops := []RegisterOp{
		commitOp("a", 1, 0, 10),
		commitOp("a", 2, 20, NoReturn),
		readOp("a", 2, 50, 60),
	}
	got := Register(ops, RegisterOptions{})
	if got.Verdict != Ok || got.Stats["ambiguous-commits"] != 1 {
		t.Errorf("got %s with %d ambiguous commits (%s), want ok with 1", got.Verdict, got.Stats["ambiguous-commits"], got.Explanation)
	}
}

func TestRegisterVisualizesViolation(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "register.html")
	ops := []RegisterOp{
		commitOp("a", 1, 0, 10),
		commitOp("a", 2, 20, 30),
		readOp("a", 1, 40, 50),
		commitOp("b", 1, 0, 10),
	}
	got := Register(ops, RegisterOptions{
		VisualizePath: path,
		Annotations:   []Annotation{{At: 25, Tag: "fault", Description: "crash sink-0"}, {At: 35, Description: "heal"}},
	})
	if got.Verdict != Violation {
		t.Fatalf("got %s (%s), want violation", got.Verdict, got.Explanation)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read visualization: %v", err)
	}
	for _, want := range []string{"<html", "crash sink-0", `commit(\"a\", 2)`} {
		if !strings.Contains(string(data), want) {
			t.Errorf("visualization: got %d bytes without %q, want it included", len(data), want)
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatalf("read dir: %v", err)
	}
	if len(entries) != 1 {
		t.Errorf("files in %s: got %d, want only the visualization (no temporary files left)", dir, len(entries))
	}
	if !strings.Contains(got.Explanation, path) {
		t.Errorf("explanation: got %q, want it to name %s", got.Explanation, path)
	}
}

func TestRegisterDoesNotVisualizeOk(t *testing.T) {
	path := filepath.Join(t.TempDir(), "register.html")
	got := Register([]RegisterOp{commitOp("a", 1, 0, 10), readOp("a", 1, 20, 30)}, RegisterOptions{VisualizePath: path})
	if got.Verdict != Ok {
		t.Fatalf("got %s (%s), want ok", got.Verdict, got.Explanation)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("stat %s: got %v, want it not to exist", path, err)
	}
}

func TestRegisterVisualizationErrorKeepsVerdict(t *testing.T) {
	path := filepath.Join(t.TempDir(), "no-such-dir", "register.html")
	ops := []RegisterOp{commitOp("a", 1, 0, 10), readOp("a", 9, 20, 30)}
	got := Register(ops, RegisterOptions{VisualizePath: path})
	if got.Verdict != Violation || !strings.Contains(got.Explanation, "visualization not written") {
		t.Errorf("got %s (%s), want violation noting the visualization was not written", got.Verdict, got.Explanation)
	}
}

func TestRegisterTimeoutIsUnknown(t *testing.T) {
	path := filepath.Join(t.TempDir(), "register.html")
	got := Register(hardRegister(40), RegisterOptions{Timeout: 20 * time.Millisecond, VisualizePath: path})
	if got.Verdict != Unknown {
		t.Fatalf("got %s (%s), want unknown", got.Verdict, got.Explanation)
	}
	if !strings.Contains(got.Explanation, "inconclusive: porcupine timed out after 20ms") {
		t.Errorf("explanation: got %q, want it to say porcupine timed out", got.Explanation)
	}
	if _, err := os.Stat(path); err != nil {
		t.Errorf("visualization of an unknown verdict: %v", err)
	}
}

func TestRegister100k(t *testing.T) {
	if testing.Short() {
		t.Skip("100k-operation history in -short mode")
	}
	ops := registerLoad(100_000, 100, 42)
	start := time.Now()
	got := Register(ops, RegisterOptions{})
	elapsed := time.Since(start)
	t.Logf("Register: %d operations over %d keys in %s", len(ops), got.Stats["keys"], elapsed)
	if got.Verdict != Ok {
		t.Fatalf("got %s %q (%s), want ok", got.Verdict, got.Anomaly, got.Explanation)
	}
	if got.Stats["ops"] != 100_000 || got.Stats["keys"] != 100 {
		t.Errorf("stats: got %d ops over %d keys, want 100000 over 100", got.Stats["ops"], got.Stats["keys"])
	}
}

func BenchmarkRegister100k(b *testing.B) {
	ops := registerLoad(100_000, 100, 42)
	for b.Loop() {
		if got := Register(ops, RegisterOptions{}); got.Verdict != Ok {
			b.Fatalf("got %s (%s), want ok", got.Verdict, got.Explanation)
		}
	}
}
