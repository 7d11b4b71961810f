package scenarios

import (
	"strings"
	"testing"
)

// checkParse fails t unless parsing in gave the error wantErr names (a
// part of its message) or, with wantErr empty, no error and want.
func checkParse[T comparable](t *testing.T, in string, got T, err error, want T, wantErr string) {
	t.Helper()
	switch {
	case wantErr != "" && (err == nil || !strings.Contains(err.Error(), wantErr)):
		t.Errorf("%q: got error %v, want %q", in, err, wantErr)
	case wantErr == "" && (err != nil || got != want):
		t.Errorf("%q: got %v, %v; want %v", in, got, err, want)
	}
}

func TestParseSeedRange(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    SeedRange
		wantErr string
	}{
		{"1-1000", SeedRange{1, 1000}, ""},
		{"7", SeedRange{7, 7}, ""},
		{" 3-5 ", SeedRange{3, 5}, ""},
		{"0-0", SeedRange{0, 0}, ""},
		{"5-1", SeedRange{}, "seeds: 5-1 is empty (start after end)"},
		{"x", SeedRange{}, `seeds: "x" is not a seed`},
		{"1-", SeedRange{}, `seeds: "1-" is not a range`},
		{"-3", SeedRange{}, `seeds: "-3" is not a seed`},
		{"", SeedRange{}, `seeds: none given`},
	} {
		got, err := ParseSeedRange(tc.in)
		checkParse(t, tc.in, got, err, tc.want, tc.wantErr)
	}
	if r := (SeedRange{3, 9}); r.String() != "3-9" || r.Len() != 7 {
		t.Errorf("got %s len %d, want 3-9 len 7", r, r.Len())
	}
}

func TestParseShard(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    Shard
		wantErr string
	}{
		{"", Shard{}, ""},
		{"1/1", Shard{1, 1}, ""},
		{"2/4", Shard{2, 4}, ""},
		{"0/4", Shard{}, "shard: 0/4 is out of range"},
		{"5/4", Shard{}, "shard: 5/4 is out of range"},
		{"1/0", Shard{}, "shard: 1/0 is out of range"},
		{"2", Shard{}, `shard: "2" is not of the form I/N`},
		{"a/b", Shard{}, `shard: "a/b" is not of the form I/N`},
	} {
		got, err := ParseShard(tc.in)
		checkParse(t, tc.in, got, err, tc.want, tc.wantErr)
	}
}

// TestShardsCoverOnce: the shards of N cover every seed of a range exactly
// once, round-robin, so they are balanced to within one seed.
func TestShardsCoverOnce(t *testing.T) {
	for _, r := range []SeedRange{{1, 1}, {1, 10}, {4, 37}, {100, 100}} {
		for n := 1; n <= 7; n++ {
			seen := map[uint64]int{}
			minLen, maxLen := 1<<30, 0
			for i := 1; i <= n; i++ {
				ss := Shard{Index: i, Count: n}.Seeds(r)
				minLen, maxLen = min(minLen, len(ss)), max(maxLen, len(ss))
				for _, s := range ss {
					seen[s]++
					if got := (s-1)%uint64(n) + 1; got != uint64(i) {
						t.Errorf("seed %d in shard %d/%d, want shard %d", s, i, n, got)
					}
				}
			}
			if uint64(len(seen)) != r.Len() {
				t.Errorf("%s over %d shards: %d seeds covered, want %d", r, n, len(seen), r.Len())
			}
			for s, c := range seen {
				if c != 1 {
					t.Errorf("%s over %d shards: seed %d in %d shards", r, n, s, c)
				}
			}
			if maxLen-minLen > 1 {
				t.Errorf("%s over %d shards: sizes %d..%d, want balanced", r, n, minLen, maxLen)
			}
		}
	}
	if got := (Shard{}).Seeds(SeedRange{1, 3}); len(got) != 3 {
		t.Errorf("zero shard: got %v, want every seed", got)
	}
	// The last seed of the uint64 range must not wrap around.
	const top = ^uint64(0)
	if got := (Shard{}).Seeds(SeedRange{top - 1, top}); len(got) != 2 {
		t.Errorf("range at the top: got %v, want 2 seeds", got)
	}
}

// TestShardFromEnv: --shard auto in a Kubernetes Indexed Job, CI matrices
// and parallel jobs, and what it says when the environment holds no shard
// or half of one.
func TestShardFromEnv(t *testing.T) {
	for _, tc := range []struct {
		env     map[string]string
		want    Shard
		from    string
		wantErr string
	}{
		{env: map[string]string{"ONCEPROOF_SHARD": "2/4"}, want: Shard{2, 4}, from: "ONCEPROOF_SHARD=2/4"},
		{env: map[string]string{"ONCEPROOF_SHARD": "2/4", "JOB_COMPLETION_INDEX": "0", "JOB_COMPLETIONS": "8"}, want: Shard{2, 4}, from: "ONCEPROOF_SHARD=2/4"},
		{env: map[string]string{"JOB_COMPLETION_INDEX": "0", "JOB_COMPLETIONS": "4"}, want: Shard{1, 4}, from: "JOB_COMPLETION_INDEX=0, JOB_COMPLETIONS=4"},
		{env: map[string]string{"JOB_COMPLETION_INDEX": "3", "JOB_COMPLETIONS": "4"}, want: Shard{4, 4}},
		{env: map[string]string{"CI_NODE_INDEX": "1", "CI_NODE_TOTAL": "3"}, want: Shard{1, 3}},
		{env: map[string]string{"CIRCLE_NODE_INDEX": "2", "CIRCLE_NODE_TOTAL": "3"}, want: Shard{3, 3}},
		{env: map[string]string{"BUILDKITE_PARALLEL_JOB": "0", "BUILDKITE_PARALLEL_JOB_COUNT": "2"}, want: Shard{1, 2}},
		{env: map[string]string{}, wantErr: "no shard in the environment: set ONCEPROOF_SHARD=I/N"},
		{env: map[string]string{"JOB_COMPLETION_INDEX": "1"}, wantErr: "JOB_COMPLETION_INDEX is set but JOB_COMPLETIONS is not"},
		{env: map[string]string{"CI_NODE_TOTAL": "3"}, wantErr: "CI_NODE_TOTAL is set but CI_NODE_INDEX is not"},
		{env: map[string]string{"JOB_COMPLETION_INDEX": "4", "JOB_COMPLETIONS": "4"}, wantErr: "JOB_COMPLETION_INDEX=4 and JOB_COMPLETIONS=4: index out of range (0-based, below JOB_COMPLETIONS)"},
		{env: map[string]string{"CI_NODE_INDEX": "0", "CI_NODE_TOTAL": "3"}, wantErr: "index out of range (1-based"},
		{env: map[string]string{"JOB_COMPLETION_INDEX": "one", "JOB_COMPLETIONS": "4"}, wantErr: `JOB_COMPLETION_INDEX="one" and JOB_COMPLETIONS="4": want whole numbers`},
		{env: map[string]string{"ONCEPROOF_SHARD": "5/4"}, wantErr: `ONCEPROOF_SHARD="5/4": shard: 5/4 is out of range`},
	} {
		got, from, err := ShardFromEnv(func(k string) string { return tc.env[k] })
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%v: got %v, %v; want error %q", tc.env, got, err, tc.wantErr)
			}
			continue
		}
		if err != nil || got != tc.want || (tc.from != "" && from != tc.from) {
			t.Errorf("%v: got %v from %q, %v; want %v from %q", tc.env, got, from, err, tc.want, tc.from)
		}
	}
}
