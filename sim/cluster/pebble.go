package cluster

import (
	"errors"
	"fmt"
	"maps"
	"path"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/cockroachdb/pebble/v2/vfs/errorfs"
	"github.com/onceproof/onceproof/engine"
	"github.com/onceproof/onceproof/sim"
)

// State backends a run can choose (Options.Backend).
const (
	// BackendHeap keeps keyed state in memory and checkpoints all of it.
	BackendHeap = "heap"
	// BackendPebble keeps keyed state in pebble on the worker's local disk
	// and checkpoints incrementally (engine.PebbleBackend).
	BackendPebble = "pebble"
)

// stateDir is where a worker's pebble backends live on its disk.
const stateDir = "state"

// simCompactFlushes is engine.PebbleConfig.CompactFlushes in the simulator.
const simCompactFlushes = 4

// pebble reports whether the run uses the pebble backend.
func (c *Cluster) pebble() bool { return c.opts.Backend == BackendPebble }

// stateFor builds the state backend of the task d on worker w: nil (the
// heap) unless the run uses pebble and the task has keyed state. The
// backend lives in state/<vertex>-<subtask> on the worker's disk, seen
// through the disk-read-error injector.
func (w *worker) stateFor(d engine.Deployment) engine.StateBackend {
	v := w.job.Vertices[d.Task.Vertex]
	if !w.c.pebble() || !v.Keyed {
		return nil
	}
	return engine.NewPebbleBackend(engine.PebbleConfig{
		FS:     w.c.disk(w.index),
		Dir:    path.Join(stateDir, fmt.Sprintf("%s-%d", v.Name, d.Task.Subtask)),
		Logger: sim.PebbleLogger{},
		// Runs are short: compact often, so that they go through
		// compactions, full re-uploads and shared-file deletion.
		CompactFlushes: simCompactFlushes,
	})
}

// clearStateDirs removes the state directories of tasks this worker no
// longer hosts (earlier attempts', and whatever survived a kill): nothing
// ever reads them again. keep are the directories of the new attempt.
func (w *worker) clearStateDirs(keep []string) {
	fs := w.p.Disk()
	names, err := fs.List(stateDir)
	if err != nil {
		return // no state directory yet
	}
	sort.Strings(names)
	for _, n := range names {
		if !contains(keep, n) {
			_ = fs.RemoveAll(path.Join(stateDir, n)) // space, not correctness
		}
	}
}

func contains(s []string, x string) bool {
	for _, y := range s {
		if y == x {
			return true
		}
	}
	return false
}

// Crashed implements sim.Crasher: the worker's tasks are cancelled, which
// closes their pebble DBs so that their goroutines end. The disk they close
// on is the one the kill replaced (the world kept a crash clone of it
// first), so nothing they write on the way out survives.
func (w *worker) Crashed() { w.cancel() }

// closeState releases the state backends of every live worker's tasks
// (their pebble DBs and goroutines) once the run is over.
func (c *Cluster) closeState() {
	for _, wp := range c.workerProgs {
		if wp != nil {
			wp.cancel()
		}
	}
}

// DeleteShared implements engine.CoordinatorEnv: shared state files no
// retained checkpoint references any more.
func (jm *jobMaster) DeleteShared(objects []string) {
	st := jm.c.w.Store()
	for _, o := range objects {
		_ = st.Delete(o) // a leftover file costs space, not correctness
	}
	jm.p.Tracef("shared state deleted (%d objects)", len(objects))
}

// readCheckpoint reads checkpoint md back from checkpoint storage as a
// restore of every task and every key group would: its metadata, every task
// snapshot (checksummed envelope), every state file each lists (size and
// SHA-256), and the keyed state the files of a pebble snapshot open to,
// which it puts in the snapshot's Keyed so that the checkers read it like a
// heap snapshot. It reads past the store's fault hook (Store.Peek): what is
// judged is what storage holds.
//
// A file that is missing, fails its checksum or does not decode is lost:
// the checkpoint completed, so every byte of it was durable once, and a
// retained checkpoint that cannot be read back is lost state (a violation,
// for the judge), not an inconclusive run. err is only for a
// read that failed for another reason.
func (c *Cluster) readCheckpoint(md engine.Metadata) (snaps []*engine.TaskSnapshot, lost []LostFile, err error) {
	st := c.w.Store()
	seen := map[string]bool{}
	lose := func(object string, why error) {
		if !seen[object] {
			seen[object] = true
			lost = append(lost, LostFile{Object: object, Reason: lostReason(why)})
		}
	}
	// Metadata has no checksum of its own: it must decode and say what the
	// coordinator committed (the completion time is stamped after the
	// write, so it is left out).
	meta := c.layout().Metadata(md.Checkpoint)
	if data, err := st.Peek(meta); err != nil {
		if !errors.Is(err, sim.ErrNotFound) {
			return nil, nil, err
		}
		lose(meta, err)
	} else {
		switch got, err := engine.DecodeMetadata(data, md.Checkpoint); {
		case err != nil:
			lose(meta, err)
		case !maps.Equal(got.Handles, md.Handles) || !maps.Equal(got.Offsets, md.Offsets) || !slices.Equal(got.Shared, md.Shared):
			lose(meta, fmt.Errorf("%w: metadata differs from what the coordinator committed", engine.ErrCorruptSnapshot))
		}
	}
	// Every task of the job at the checkpoint's parallelism must have a
	// snapshot: a checkpoint that completed without one has lost that
	// task's state, whatever the files say.
	for _, v := range c.job.Vertices {
		par := v.Parallelism
		if p, ok := md.Parallelism[v.Name]; ok {
			par = p
		}
		for i := range par {
			if task := fmt.Sprintf("%s/%d", v.Name, i); md.Handles[task] == "" {
				lose(meta+" (no snapshot of "+task+")", fmt.Errorf("%w: the metadata names no snapshot for task %s", engine.ErrCorruptSnapshot, task))
			}
		}
	}
	handles := make([]string, 0, len(md.Handles))
	for _, hd := range md.Handles { // lint:sorted sorted below
		if hd != "" {
			handles = append(handles, hd)
		}
	}
	sort.Strings(handles)
	for _, name := range handles {
		data, err := st.Peek(name)
		if err != nil {
			if !errors.Is(err, sim.ErrNotFound) {
				return nil, nil, err
			}
			lose(name, err)
			continue
		}
		s, err := engine.DecodeSnapshot(data)
		if err != nil {
			lose(name, err)
			continue
		}
		if len(s.Files) > 0 {
			whole := true
			files := make([][]byte, len(s.Files))
			for i, f := range s.Files {
				b, err := st.Peek(f.Object)
				if err == nil {
					err = f.Verify(b)
				} else if !errors.Is(err, sim.ErrNotFound) {
					return nil, nil, err
				}
				if err != nil {
					lose(f.Object, err)
					whole = false
				}
				files[i] = b
			}
			if !whole {
				continue
			}
			groups, err := engine.ReadStateFiles(s.Files, files)
			if err != nil {
				// Every file is intact, yet they do not open: the
				// snapshot cannot be restored all the same.
				lose(name, fmt.Errorf("state files do not open: %w", err))
				continue
			}
			s.Keyed = groups
		}
		snaps = append(snaps, s)
	}
	return snaps, lost, nil
}

// lostReason says why a file counts as lost: "missing", or what its check
// found.
func lostReason(err error) string {
	if errors.Is(err, sim.ErrNotFound) {
		return "missing"
	}
	return err.Error()
}

// diskFault is a disk-read-error fault in force on one worker: the next
// reads of state files fail, Left more times, each with probability
// Percent (0: every one).
type diskFault struct {
	fault   int
	left    int
	percent int
}

// diskFaults holds the faults per worker. pebble may call the injector from
// its own goroutines (a compaction the task waits for), hence the mutex;
// the reads that fail are the task's own (a restore, a get, a checkpoint's
// upload), made from the simulation's goroutine or while it waits.
type diskFaults struct {
	mu     sync.Mutex
	active map[int]*diskFault
}

// errInjectedRead is what a failed read returns.
var errInjectedRead = errors.New("injected disk read error")

// disk returns worker wi's local disk as its tasks see it: through the
// disk-read-error injector. The disk itself changes at every kill (a crash
// clone), so this is called anew at every deploy.
func (c *Cluster) disk(wi int) vfs.FS {
	return errorfs.Wrap(c.workers[wi].Disk(), errorfs.InjectorFunc(func(op errorfs.Op) error {
		if op.Kind != errorfs.OpFileRead && op.Kind != errorfs.OpFileReadAt {
			return nil
		}
		if !strings.HasSuffix(op.Path, ".sst") && !strings.HasSuffix(op.Path, ".log") {
			return nil
		}
		return c.diskRead(wi, op.Path)
	}))
}

// diskRead decides whether a read of a state file on worker wi fails.
func (c *Cluster) diskRead(wi int, name string) error {
	d := &c.diskFaults
	d.mu.Lock()
	defer d.mu.Unlock()
	f := d.active[wi]
	if f == nil || f.left == 0 {
		return nil
	}
	if f.percent > 0 && c.w.Rand("disk").IntN(100) >= f.percent {
		return nil
	}
	f.left--
	c.workers[wi].Record(sim.Event{Kind: sim.EventDiskError, N: int64(f.fault), M: int64(f.left), Name: name})
	return fmt.Errorf("%w: %s", errInjectedRead, name)
}

// armDiskReadError makes the next reads of state files on worker wi fail.
func (c *Cluster) armDiskReadError(fault, wi, count, percent int) {
	d := &c.diskFaults
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.active == nil {
		d.active = map[int]*diskFault{}
	}
	d.active[wi] = &diskFault{fault: fault, left: count, percent: percent}
}

// disarmDiskReadErrors lifts every disk-read-error fault.
func (c *Cluster) disarmDiskReadErrors() {
	d := &c.diskFaults
	d.mu.Lock()
	defer d.mu.Unlock()
	d.active = nil
}
