package onceprooftest_test

import (
	"fmt"

	"github.com/onceproof/onceproof/onceprooftest"
)

// printTB prints what a check reports; in a real test, pass the *testing.T.
type printTB struct{}

func (printTB) Helper()                   {}
func (printTB) Name() string              { return "TestExample" }
func (printTB) Logf(f string, a ...any)   { fmt.Printf(f+"\n", a...) }
func (printTB) Errorf(f string, a ...any) { fmt.Printf("FAIL: "+f+"\n", a...) }
func (printTB) Fatalf(f string, a ...any) { fmt.Printf("FATAL: "+f+"\n", a...) }

// Run one of onceproof's scenarios for three seeds from a test.
func ExampleCheckScenario() {
	onceprooftest.CheckScenario(printTB{}, "count-crash-before-commit", onceprooftest.Options{Seeds: "1-3"})
	// Output: onceproof: scenario count-crash-before-commit passed seeds 1-3
}

// Run your own job (here the running sum of example_test.go) under a swarm
// of faults for two seeds.
func ExampleCheckJob() {
	onceprooftest.CheckJob(printTB{}, runningSum(false), onceprooftest.Options{Seeds: "1-2"})
	// Output: onceproof: job running-sum passed seeds 1-2
}
