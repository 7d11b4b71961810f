package bench

import (
	"fmt"
	"io"
	"sync"
	"time"
)

// ProgressEvery is how often a long run reports its progress. A run that
// ends sooner prints no progress line at all.
const ProgressEvery = 5 * time.Second

// progress prints a line to w every ProgressEvery, from a goroutine it owns,
// until stop: what the current phase's report function says. It is how a
// run of minutes tells the person waiting for it how far it is and how long
// it has left, without flooding a terminal or a log.
type progress struct {
	w     io.Writer
	start time.Time
	mu    sync.Mutex
	// report renders the current phase (nil: print nothing).
	report func() string
	stopCh chan struct{}
	done   chan struct{}
}

func startProgress(w io.Writer, every time.Duration) *progress {
	p := &progress{w: w, start: time.Now(), stopCh: make(chan struct{}), done: make(chan struct{})}
	if w == nil {
		close(p.done)
		return p
	}
	go func() {
		defer close(p.done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-p.stopCh:
				return
			case <-t.C:
				p.mu.Lock()
				f := p.report
				p.mu.Unlock()
				if f != nil {
					fmt.Fprintf(p.w, "progress %6s  %s\n", time.Since(p.start).Round(time.Second), f())
				}
			}
		}
	}()
	return p
}

// set makes f the report of the phase that starts now.
func (p *progress) set(f func() string) {
	p.mu.Lock()
	p.report = f
	p.mu.Unlock()
}

// stop ends the reports; it returns once the goroutine has.
func (p *progress) stop() {
	select {
	case <-p.stopCh:
	default:
		if p.w != nil {
			close(p.stopCh)
		}
	}
	<-p.done
}

// meter estimates the rate of something counted toward a total, and the
// time left at that rate.
type meter struct {
	total int64
	t0    time.Time
	n0    int64
}

func newMeter(total, done int64) *meter { return &meter{total: total, t0: time.Now(), n0: done} }

// render shows done against the total: "12000/200000 (6000/s, ETA 31s)".
func (m *meter) render(done int64) string {
	s := fmt.Sprintf("%d/%d", done, m.total)
	el := time.Since(m.t0).Seconds()
	if el <= 0 || done <= m.n0 {
		return s + " (no progress yet)"
	}
	rate := float64(done-m.n0) / el
	left := time.Duration(float64(max(m.total-done, 0)) / rate * float64(time.Second))
	return fmt.Sprintf("%s (%.0f/s, ETA %v)", s, rate, left.Round(time.Second))
}
