// Package order names the order a job promises its committed output keeps.
// It is a leaf: the job specs (engine/jobs), which the simulator needs,
// declare their promise with it, and package checkers, which the simulator
// must not depend on, judges it. Users spell the values checkers.PerKey and
// so on; checkers.Order is an alias of Order.
package order

// Order is the order a job promises its committed output keeps.
type Order string

const (
	// Unordered promises nothing about order.
	Unordered Order = ""
	// PerKey promises, for each key, that the observed lineages appear in
	// the order in which expected lists them. Per-key order only means
	// something if each key lives in one output partition, which is how a
	// keyed sink partitions; a key spread over partitions will be reported
	// as nonmonotonic.
	PerKey Order = "per-key"
	// PerPartition promises, for each output partition, that its records
	// appear in the order in which expected lists them: the partition is
	// an ordered copy of an input partition, as a copier's is. It implies
	// PerKey for a job whose keys each live in one partition.
	PerPartition Order = "per-partition"
)
