package cluster

import (
	"github.com/onceproof/onceproof/engine"
	"github.com/onceproof/onceproof/sim"
)

// The simulated store is the job's checkpoint storage.
var _ engine.CheckpointStore = (*sim.Store)(nil)

// layout names the job's objects in checkpoint storage.
func (c *Cluster) layout() engine.Layout { return engine.Layout{Prefix: c.prefix} }

// recover primes a restarted coordinator from durable storage
// (engine.RecoverCoordinator) and reports whether it did. A damaged
// checkpoint is traced and skipped. A recovery that fails (a store fault,
// or a coordinator state that does not decode) is traced and tried again
// every heartbeat (traced again only when the error changes), and the retry
// that succeeds starts the coordinator: a coordinator that cannot read what
// it committed must not guess, and one that never recovers shows as a run
// that made no progress. prev is the previous attempt's error.
func (jm *jobMaster) recover(prev string) bool {
	rec, err := engine.RecoverCoordinator(jm.c.w.Store(), jm.c.layout())
	if err != nil {
		if err.Error() != prev {
			jm.p.Tracef("recover failed, retrying every %v: %v", jm.c.opts.Heartbeat, err)
		}
		jm.p.After(jm.c.opts.Heartbeat, func() {
			if jm.recover(err.Error()) {
				jm.coord.Start()
			}
		})
		return false
	}
	for _, d := range rec.Damaged {
		jm.p.Tracef("recover: checkpoint %d skipped: %v", d.Checkpoint, d.Err)
	}
	jm.coord.Recover(rec.State, rec.Completed)
	return true
}
