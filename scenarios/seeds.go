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

// ShardFromEnv finds the shard of a sweep that runs as one of several
// parallel jobs ("--shard auto"), from getenv (os.Getenv), in this order:
//
//   - ONCEPROOF_SHARD="I/N", set by hand or by a CI matrix (GitHub Actions:
//     ONCEPROOF_SHARD: ${{ matrix.shard }}/4);
//   - a Kubernetes Indexed Job: JOB_COMPLETION_INDEX (0-based, set by
//     Kubernetes) with JOB_COMPLETIONS (the Job's completions, which the
//     manifest must pass: Kubernetes does not);
//   - GitLab's parallel jobs: CI_NODE_INDEX (1-based) and CI_NODE_TOTAL;
//   - CircleCI: CIRCLE_NODE_INDEX (0-based) and CIRCLE_NODE_TOTAL;
//   - Buildkite: BUILDKITE_PARALLEL_JOB (0-based) and
//     BUILDKITE_PARALLEL_JOB_COUNT.
//
// It returns the shard and where it came from, for the sweep to say. An
// index without its count, a value that is not a number, or no shard at
// all is an error that names the variables.
func ShardFromEnv(getenv func(string) string) (Shard, string, error) {
	if v := strings.TrimSpace(getenv("ONCEPROOF_SHARD")); v != "" {
		sh, err := ParseShard(v)
		if err != nil {
			return Shard{}, "", fmt.Errorf("ONCEPROOF_SHARD=%q: %w", v, err)
		}
		return sh, "ONCEPROOF_SHARD=" + v, nil
	}
	for _, src := range []struct {
		index, count string
		base         int // the index of the first job
	}{
		{"JOB_COMPLETION_INDEX", "JOB_COMPLETIONS", 0},
		{"CI_NODE_INDEX", "CI_NODE_TOTAL", 1},
		{"CIRCLE_NODE_INDEX", "CIRCLE_NODE_TOTAL", 0},
		{"BUILDKITE_PARALLEL_JOB", "BUILDKITE_PARALLEL_JOB_COUNT", 0},
	} {
		iv, nv := strings.TrimSpace(getenv(src.index)), strings.TrimSpace(getenv(src.count))
		if iv == "" && nv == "" {
			continue
		}
		if set, unset := src.index, src.count; iv == "" || nv == "" {
			if iv == "" {
				set, unset = unset, set
			}
			return Shard{}, "", fmt.Errorf("%s is set but %s is not: both are needed to know the shard", set, unset)
		}
		i, err1 := strconv.Atoi(iv)
		n, err2 := strconv.Atoi(nv)
		if err1 != nil || err2 != nil {
			return Shard{}, "", fmt.Errorf("%s=%q and %s=%q: want whole numbers", src.index, iv, src.count, nv)
		}
		sh := Shard{Index: i - src.base + 1, Count: n}
		if err := sh.Validate(); err != nil || sh == (Shard{}) {
			return Shard{}, "", fmt.Errorf("%s=%s and %s=%s: index out of range (%d-based, below %s)", src.index, iv, src.count, nv, src.base, src.count)
		}
		return sh, fmt.Sprintf("%s=%s, %s=%s", src.index, iv, src.count, nv), nil
	}
	return Shard{}, "", errors.New("no shard in the environment: set ONCEPROOF_SHARD=I/N, or run as a Kubernetes Indexed Job " +
		"(JOB_COMPLETION_INDEX, with JOB_COMPLETIONS passed by the manifest) or a GitLab, CircleCI or Buildkite parallel job")
}
