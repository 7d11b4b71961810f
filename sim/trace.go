package sim

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"strings"
)

// Trace records a run as one line per event and keeps a running SHA-256 of
// them. Two runs are the same run exactly when their digests are equal.
type Trace struct {
	keep  bool
	lines []string
	n     int
	h     hash.Hash
	tap   func(line string)
}

func newTrace(keep bool) *Trace { return &Trace{keep: keep, h: sha256.New()} }

func (t *Trace) add(at Time, text string) {
	line := fmt.Sprintf("%12d %s", int64(at), text)
	t.n++
	t.h.Write([]byte(line))
	t.h.Write([]byte{'\n'})
	if t.keep {
		t.lines = append(t.lines, line)
	}
	if t.tap != nil {
		t.tap(line)
	}
}

// Tap calls fn with every line recorded from now on (for live printing).
func (t *Trace) Tap(fn func(line string)) { t.tap = fn }

// Len is the number of lines recorded.
func (t *Trace) Len() int { return t.n }

// Lines returns the recorded lines; it is empty unless Config.KeepTrace is set.
func (t *Trace) Lines() []string { return t.lines }

// Digest returns the hex SHA-256 of every line recorded so far.
func (t *Trace) Digest() string {
	// Sum appends to its argument and does not change the running state.
	return hex.EncodeToString(t.h.Sum(nil))
}

// WriteTo writes the kept lines to wr, one per line.
func (t *Trace) WriteTo(wr io.Writer) (int64, error) {
	var b strings.Builder
	for _, l := range t.lines {
		b.WriteString(l)
		b.WriteByte('\n')
	}
	n, err := io.WriteString(wr, b.String())
	return int64(n), err
}
