// Package checkers judges recorded histories: committed output, restored
// state, client-visible reads, liveness and determinism. Every checker is a
// pure function from a history to a verdict: Ok, Violation (with the first bad
// record) or Unknown, which is inconclusive and never counts as Ok.
//
// Package checkers must not import package sim: checkers read histories, not
// worlds.
package checkers
