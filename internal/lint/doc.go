// Package lint enforces onceproof's project rules as ordinary Go tests, after
// pebble's internal/lint, so that `go test ./...` keeps them honest.
//
// TestDeterminism type-checks every package under engine/ and sim/ (the live
// runner under engine/live/ is exempt) and forbids what would make a run
// depend on anything but its seed and its build: go and select statements,
// the wall clock (time.Now, time.Sleep, timers and tickers), the global random
// source of math/rand and math/rand/v2, and ranging over a map unless the loop
// is annotated "// lint:sorted <reason>" on its line or the line above. A run
// that is not deterministic cannot be replayed from its seed, and a failure
// that cannot be replayed cannot be reduced or fixed.
//
// TestImportBoundaries keeps the layering of DESIGN.md: checkers do not
// import sim, faults do not import checkers, the engine (apart from
// engine/live) does not import sim, the simulator does not need engine/live
// and does not judge (sim/... depends on no checkers, not even through
// internal/judge), and results/ holds data, not code.
//
// The package has no code outside its tests; the analyzer lives in
// analyze_test.go and the package loader in load_test.go.
package lint
