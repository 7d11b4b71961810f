package faults

import "slices"

// Shrink removes faults from a failing plan one at a time, keeping each
// removal after which fails still reports a failure, until no single fault
// can go: the result is 1-minimal. fails runs the plan (with everything else,
// seed included, fixed) and reports whether it still fails; Shrink calls it
// at most n(n+1)/2 times for a plan of n faults.
func Shrink(p Plan, fails func(Plan) bool) Plan {
	cur := slices.Clone(p.Faults)
	for changed := true; changed; {
		changed = false
		for i := range cur {
			try := Plan{Faults: slices.Delete(slices.Clone(cur), i, i+1)}
			if fails(try) {
				cur, changed = try.Faults, true
				break
			}
		}
	}
	return Plan{Faults: cur}
}
