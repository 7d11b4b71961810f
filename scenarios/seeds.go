package scenarios

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// SeedRange is an inclusive range of seeds, First to Last.
type SeedRange struct {
	First uint64 `json:"first"`
	Last  uint64 `json:"last"`
}

// ParseSeedRange reads "A-B" (A to B inclusive) or "N" (the one seed N).
// Its errors start with "seeds: " and quote what was given.
func ParseSeedRange(s string) (SeedRange, error) {
	if strings.TrimSpace(s) == "" {
		return SeedRange{}, errors.New("seeds: none given (want a range A-B such as 1-100, or one seed N)")
	}
	a, b, isRange := strings.Cut(strings.TrimSpace(s), "-")
	first, err := strconv.ParseUint(strings.TrimSpace(a), 10, 64)
	if err != nil {
		return SeedRange{}, fmt.Errorf("seeds: %q is not a seed or a range A-B of seeds", s)
	}
	last := first
	if isRange {
		if last, err = strconv.ParseUint(strings.TrimSpace(b), 10, 64); err != nil {
			return SeedRange{}, fmt.Errorf("seeds: %q is not a range A-B of seeds", s)
		}
	}
	r := SeedRange{First: first, Last: last}
	return r, r.Validate()
}

// Validate rejects an empty range.
func (r SeedRange) Validate() error {
	if r.First > r.Last {
		return fmt.Errorf("seeds: %d-%d is empty (start after end)", r.First, r.Last)
	}
	return nil
}

// Len is the number of seeds in r.
func (r SeedRange) Len() uint64 {
	if r.First > r.Last {
		return 0
	}
	return r.Last - r.First + 1
}

// String gives r in the form ParseSeedRange reads.
func (r SeedRange) String() string {
	if r.First == r.Last {
		return strconv.FormatUint(r.First, 10)
	}
	return fmt.Sprintf("%d-%d", r.First, r.Last)
}

// Shard picks a deterministic part of a sweep so that N machines can split
// it: shard Index of Count (1 <= Index <= Count) owns seed s when
// (s-1) % Count == Index-1. Seeds are dealt round-robin rather than cut into
// blocks, so every shard gets the same mix of early and late seeds and the
// shards of any range together cover it exactly once. The zero Shard owns
// every seed.
type Shard struct {
	Index int `json:"index"`
	Count int `json:"count"`
}

// ParseShard reads "I/N". An empty string is the zero Shard (everything).
func ParseShard(s string) (Shard, error) {
	if strings.TrimSpace(s) == "" {
		return Shard{}, nil
	}
	a, b, ok := strings.Cut(strings.TrimSpace(s), "/")
	i, err1 := strconv.Atoi(strings.TrimSpace(a))
	n, err2 := strconv.Atoi(strings.TrimSpace(b))
	if !ok || err1 != nil || err2 != nil {
		return Shard{}, fmt.Errorf("shard: %q is not of the form I/N (for example 2/4)", s)
	}
	sh := Shard{Index: i, Count: n}
	if sh == (Shard{}) {
		// Written out, 0/0 is a typo, not a request for the whole sweep
		// (which is what the zero Shard means).
		return Shard{}, fmt.Errorf("shard: %s is out of range (want 1 <= I <= N)", strings.TrimSpace(s))
	}
	return sh, sh.Validate()
}

// Validate checks 1 <= Index <= Count, or the zero Shard.
func (sh Shard) Validate() error {
	if sh == (Shard{}) {
		return nil
	}
	if sh.Count < 1 || sh.Index < 1 || sh.Index > sh.Count {
		return fmt.Errorf("shard: %d/%d is out of range (want 1 <= I <= N)", sh.Index, sh.Count)
	}
	return nil
}

// Whole reports whether sh owns every seed.
func (sh Shard) Whole() bool { return sh.Count <= 1 }

// Owns reports whether seed belongs to sh.
func (sh Shard) Owns(seed uint64) bool {
	if sh.Whole() {
		return true
	}
	return (seed-1)%uint64(sh.Count) == uint64(sh.Index-1)
}

// String gives sh as "I/N", or "" for the whole sweep.
func (sh Shard) String() string {
	if sh.Whole() {
		return ""
	}
	return fmt.Sprintf("%d/%d", sh.Index, sh.Count)
}

// Seeds lists the seeds of r that sh owns, in order.
func (sh Shard) Seeds(r SeedRange) []uint64 {
	var out []uint64
	for s := r.First; s <= r.Last; s++ {
		if sh.Owns(s) {
			out = append(out, s)
		}
		if s == r.Last { // r.Last may be MaxUint64: stop before wrapping
			break
		}
	}
	return out
}
