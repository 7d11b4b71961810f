package main

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
)

// executeContext is execute with a context, as main passes one that Ctrl-C
// cancels; stderr goes to errOut as well as to the returned output.
func executeContext(ctx context.Context, errOut *cancelWriter, args ...string) (string, int) {
	root := NewRoot()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(errOut)
	root.SetArgs(args)
	code := exitOK
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
	return out.String() + errOut.String(), code
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
		if strings.Contains(out, "verdict: OK") || strings.Contains(out, `"verdict": "ok"`) {
			t.Errorf("%s: got an OK verdict:\n%s", tc.name, out)
		}
	}
}
