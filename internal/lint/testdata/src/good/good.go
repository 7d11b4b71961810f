// Package good obeys every determinism rule; the analyzer must stay silent.
package good

import (
	"maps"
	"math/rand/v2"
	"slices"
	"time"
)

// NewRand is the one place a random source is made: from the run's seed.
func NewRand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, seed)) }

// Step advances a virtual clock by a seeded random delay and returns the keys
// of m in sorted order, twice over.
func Step(now time.Time, r *rand.Rand, m map[string]int) (time.Time, []string, []string) {
	delay := time.Duration(r.IntN(100)) * time.Millisecond
	next := now.Add(delay)
	if next.After(now) || next.Before(now) {
		delay += time.Microsecond
	}
	keys := make([]string, 0, len(m))
	// lint:sorted keys are collected here and sorted below
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for i := range len(keys) {
		_ = keys[i]
	}
	return now.Add(delay), keys, slices.Sorted(maps.Keys(m))
}
