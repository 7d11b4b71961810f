package cluster

import (
	"fmt"

	"github.com/onceproof/onceproof/engine"
	"github.com/onceproof/onceproof/engine/protocol"
	"github.com/onceproof/onceproof/sim"
)

// armRescale restarts the job at parallelism RescaleTo right after
// checkpoint RescaleAt completes, from that checkpoint: the simulated
// counterpart of stopping a Flink job and starting it again at a new
// parallelism from its latest checkpoint.
func (c *Cluster) armRescale() {
	if c.opts.RescaleAt <= 0 {
		return
	}
	done := false
	c.OnEvent(func(p *sim.Proc, e engine.Event) {
		if done || e.Phase != protocol.MetadataWritten || e.Checkpoint < c.opts.RescaleAt {
			return
		}
		done = true
		// Outside the coordinator's step that wrote the metadata.
		c.w.After(0, func() {
			if err := c.rescale(c.opts.RescaleTo); err != nil {
				c.w.Stop(err)
			}
		})
	})
}

// rescale rebuilds the job at parallelism par and has the coordinator
// redeploy it from the latest completed checkpoint.
func (c *Cluster) rescale(par int) error {
	params := c.opts.Params
	params.Parallelism = par
	job, err := c.spec.Build(params)
	if err != nil {
		return fmt.Errorf("rescale to %d: %w", par, err)
	}
	// Same key groups as before: the number of key groups is fixed for a
	// job's lifetime (Flink's max parallelism).
	job.MaxParallelism = c.job.MaxParallelism
	if c.jm == nil || c.jm.coord == nil || !c.jm.p.Alive() {
		return fmt.Errorf("rescale to %d: no coordinator", par)
	}
	c.w.Tracef("rescale %s from parallelism %d to %d", job.Name, c.opts.Params.Parallelism, par)
	c.rescaled = true
	c.job = job
	c.taskIdx = map[engine.TaskID]int{}
	for i, id := range job.Tasks() {
		c.taskIdx[id] = i
	}
	return c.jm.coord.Rescale(job)
}
