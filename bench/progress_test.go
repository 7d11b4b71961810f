package bench

import (
	"bytes"
	"context"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a bytes.Buffer the progress goroutine and the test can
// share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestRunProgress: a run longer than the progress period reports the input
// written and the job's position, with a rate and an ETA, at that period,
// not more often.
func TestRunProgress(t *testing.T) {
	var log syncBuffer
	o := DefaultRunOptions("copier")
	o.Records, o.Rate, o.Duration, o.Interval = 8001, 4000, 2*time.Second, 200*time.Millisecond
	o.Log, o.ProgressEvery = &log, 500*time.Millisecond
	res, err := Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, l := range strings.Split(log.String(), "\n") {
		if strings.HasPrefix(l, "progress") {
			lines = append(lines, l)
		}
	}
	// About 2 s of input, then the drain and the check: 3 to 8 lines at
	// 500 ms (a loaded machine stretches the run, never the period).
	if len(lines) < 3 || len(lines) > 12 {
		t.Fatalf("got %d progress lines, want one every 500ms:\n%s", len(lines), log.String())
	}
	want := regexp.MustCompile(`^progress +\d+s  input \d+ written, \d+s of --duration left; job read \d+/8001 \((\d+/s, ETA \d+s|no progress yet)\); \d+ checkpoints, 0 restarts$`)
	if !want.MatchString(lines[1]) {
		t.Errorf("progress line %q does not match %s", lines[1], want)
	}
	if res.Verdicts == nil {
		t.Error("no verdict")
	}
}

func TestMeter(t *testing.T) {
	m := &meter{total: 1000, t0: time.Now().Add(-2 * time.Second), n0: 100}
	if got := m.render(500); !regexp.MustCompile(`^500/1000 \((199|200)/s, ETA [23]s\)$`).MatchString(got) {
		t.Errorf("render(500) after 2s from 100: got %q, want 500/1000 (200/s, ETA 3s)", got)
	}
	if got := m.render(100); got != "100/1000 (no progress yet)" {
		t.Errorf("render(100): got %q", got)
	}
}
