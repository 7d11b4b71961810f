package onceprooftest_test

import (
	"fmt"

	"github.com/onceproof/onceproof/onceprooftest"
)

// scenarioTB prints what a check reports. In a test, pass the *testing.T:
//
//	func TestCrashBeforeCommit(t *testing.T) {
//		onceprooftest.CheckScenario(t, "count-crash-before-commit", onceprooftest.Options{})
//	}
type scenarioTB struct{}

func (scenarioTB) Helper()                   {}
func (scenarioTB) Name() string              { return "TestCrashBeforeCommit" }
func (scenarioTB) Logf(f string, a ...any)   { fmt.Printf(f+"\n", a...) }
func (scenarioTB) Errorf(f string, a ...any) { fmt.Printf("FAIL: "+f+"\n", a...) }
func (scenarioTB) Fatalf(f string, a ...any) { fmt.Printf("FATAL: "+f+"\n", a...) }

// Run one of onceproof's named scenarios (`go run
// github.com/onceproof/onceproof/cmd/chaosrun list` lists them) for three
// seeds: here a worker of the reference engine dies after checkpoint 1 is
// complete (its metadata written) and before the sink commits the
// checkpoint's transaction.
func ExampleCheckScenario() {
	onceprooftest.CheckScenario(scenarioTB{}, "count-crash-before-commit", onceprooftest.Options{Seeds: "1-3"})
	// Output: onceproof: scenario count-crash-before-commit passed seeds 1-3
}
