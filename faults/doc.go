// Package faults describes faults as data: a fault plan is a list of faults,
// each a trigger and an action, that can be printed, saved as JSON, replayed
// and shrunk. Injectors apply a plan to a simulated world.
//
// Package faults must not import package checkers: what breaks a run and what
// judges it stay apart.
package faults
