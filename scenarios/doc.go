// Package scenarios holds named, replayable bundles of a workload, a job, a
// topology, a fault plan and the checkers that judge them, and runs them.
//
// A scenario must not hide its fault plan in code that cannot be printed.
package scenarios
