// Package faults describes faults as data: a fault plan is a list of faults,
// each a trigger and an action, that can be printed, saved as JSON, replayed
// and shrunk. Injectors apply a plan to a simulated world.
//
// A Trigger says when a fault fires: at a simulated time (At), when a
// checkpoint reaches a phase of the protocol (AtPhase: "checkpoint 3
// metadata-written", the commit point), or on the k-th Kafka request of a
// kind (After: "2nd EndTxn"). An Action says what happens; its Kind names
// one of the kinds in AllKinds (kill, pause, partition, slow a link, fail,
// drop or lose the answer to a Kafka request, restart the broker, expire a
// transaction, crash a disk, fail or slow checkpoint storage, corrupt a
// checkpoint or delete one of its files, drop, delay or repeat a control
// message of the engine chosen by type, endpoint and checkpoint), and the
// kind decides which of the Action's other fields are used. An injector is
// a switch over Action.Kind. A Duration of 0 means "until the liveness
// phase heals everything".
//
// Plan.Validate checks a plan against a topology (how many workers there
// are) and names the fault and the field of every problem; Parse decodes
// JSON strictly, so a misspelt field is an error, and validates. A plan
// written with Plan.JSON and read back with Parse is identical. Plan.String
// gives one line per fault, for the start of a run and failure reports.
//
// DrawSwarm is swarm testing after TigerBeetle's VOPR: from one PRNG it
// draws a topology, which fault kinds are on and their rates, and a plan, so
// that one seed reproduces everything and different seeds stress different
// mixes of faults.
//
// The package is pure data: no clock, no global randomness, no I/O. Package
// faults must not import package checkers: what breaks a run and what
// judges it stay apart.
package faults
