package engine

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"sort"
)

// CheckpointStore is checkpoint storage as a driver (the simulator, the live
// runner) holds it, with paths from a Layout. The state machines never call
// it: a task reaches it through TaskEnv.Persist and Load, the coordinator
// through CoordinatorEnv's PutMetadata, PersistState, DeleteCheckpoint and
// DeleteShared, each of which the driver runs later and answers on the
// machine's own thread. Its calls are synchronous because the drivers call
// it where they may block (the simulator after a storage delay, the live
// runner on a goroutine of its own), and because recovery
// (RecoverCoordinator) runs before any state machine exists.
//
// Duties of the implementer:
//   - Put is atomic and durable: once it returns nil the whole object
//     survives any crash, and no reader ever sees part of it (write a
//     temporary file, sync it, rename it, sync the directory).
//   - Get of a missing object returns an error wrapping fs.ErrNotExist;
//     any other error means the object could not be read, not that it is
//     gone.
//   - List returns the names directly in dir (objects and directories),
//     sorted, without temporary files; a missing dir lists nothing.
//   - Delete of a missing object is not an error.
type CheckpointStore interface {
	Put(name string, data []byte) error
	Get(name string) ([]byte, error)
	List(dir string) ([]string, error)
	Delete(name string) error
}

// ErrCorruptCoordinatorState is wrapped by RecoverCoordinator when the
// coordinator's state exists but does not decode. Recovery cannot go on
// without it: zeros would reuse attempt numbers and checkpoint ids.
var ErrCorruptCoordinatorState = errors.New("corrupt coordinator state")

// Recovery is what checkpoint storage says about a job's earlier runs.
type Recovery struct {
	// State is the coordinator's durable state, its counter raised to the
	// highest checkpoint directory found, so that no id is ever reused.
	State State
	// Completed are the checkpoints whose metadata was written (the commit
	// point) and reads back, oldest first.
	Completed []Metadata
	// Damaged are checkpoints whose metadata exists but does not decode,
	// or names another checkpoint: they are skipped (as far as anyone can
	// tell they never committed), and the caller reports them.
	Damaged []DamagedCheckpoint
}

// DamagedCheckpoint is a checkpoint whose metadata cannot be used.
type DamagedCheckpoint struct {
	Checkpoint int64
	Err        error
}

// RecoverCoordinator reads what a restarted coordinator needs from store:
// its state and every completed checkpoint under l, oldest first (see
// Coordinator.Recover). A missing coordinator state is a job that never ran
// (zeros); one that does not decode is an error wrapping
// ErrCorruptCoordinatorState. A checkpoint directory without metadata never
// completed; one whose metadata is damaged is skipped and listed in
// Damaged. Any other read error fails the recovery: the caller tries again
// or gives up, since skipping a completed checkpoint that merely could not
// be read would restore from an older one after its successor's
// transactions were committed.
func RecoverCoordinator(store CheckpointStore, l Layout) (Recovery, error) {
	var r Recovery
	name := l.CoordinatorState()
	data, err := store.Get(name)
	switch {
	case err == nil:
		if err := decodeStrict(data, &r.State); err != nil {
			return r, fmt.Errorf("recover %s: %w: %v", name, ErrCorruptCoordinatorState, err)
		}
	case !errors.Is(err, fs.ErrNotExist):
		return r, fmt.Errorf("recover: read %s: %w", name, err)
	}
	names, err := store.List(l.Root())
	if err != nil {
		return r, fmt.Errorf("recover: list %s: %w", l.Root(), err)
	}
	var ids []int64
	for _, name := range names {
		if n, ok := ParseCheckpointDir(name); ok {
			ids = append(ids, n)
		}
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	for _, n := range ids {
		r.State.Counter = max(r.State.Counter, n)
		data, err := store.Get(l.Metadata(n))
		switch {
		case errors.Is(err, fs.ErrNotExist):
			continue // never completed
		case err != nil:
			return r, fmt.Errorf("recover: read metadata of checkpoint %d: %w", n, err)
		}
		md, err := DecodeMetadata(data, n)
		if err != nil {
			r.Damaged = append(r.Damaged, DamagedCheckpoint{Checkpoint: n, Err: err})
			continue
		}
		r.Completed = append(r.Completed, md)
	}
	return r, nil
}

// DecodeMetadata decodes checkpoint metadata; want, if positive, is the
// checkpoint it must be (the directory it was found in). Damage gives an
// error wrapping ErrCorruptSnapshot.
func DecodeMetadata(data []byte, want int64) (Metadata, error) {
	var md Metadata
	if err := decodeStrict(data, &md); err != nil {
		return md, fmt.Errorf("%w: metadata: %v", ErrCorruptSnapshot, err)
	}
	if want > 0 && md.Checkpoint != want {
		return md, fmt.Errorf("%w: metadata of checkpoint %d found in the directory of %d", ErrCorruptSnapshot, md.Checkpoint, want)
	}
	return md, nil
}

// decodeStrict decodes one JSON value into v, refusing unknown fields and
// trailing data: a flipped byte in a field name must not pass for a
// missing field (a zero counter would reuse checkpoint ids).
func decodeStrict(data []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(data))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		return err
	}
	if d.More() {
		return errors.New("trailing data after the JSON value")
	}
	return nil
}

// DeleteCheckpointFiles deletes checkpoint n's directory from store: its
// metadata first, so that a failure half-way leaves an incomplete
// checkpoint, never a complete one with missing snapshots. It returns how
// many objects it deleted, and the errors of those it could not.
func DeleteCheckpointFiles(store CheckpointStore, l Layout, n int64) (int, error) {
	if err := store.Delete(l.Metadata(n)); err != nil {
		return 0, fmt.Errorf("delete checkpoint %d: %w", n, err)
	}
	dir := l.CheckpointDir(n)
	names, err := store.List(dir)
	if err != nil {
		return 1, fmt.Errorf("delete checkpoint %d: %w", n, err)
	}
	deleted := 1
	var errs []error
	for _, name := range names {
		if name == MetadataFile {
			continue
		}
		if err := store.Delete(dir + "/" + name); err != nil {
			errs = append(errs, err)
			continue
		}
		deleted++
	}
	if len(errs) > 0 {
		return deleted, fmt.Errorf("delete checkpoint %d: %w", n, errors.Join(errs...))
	}
	return deleted, nil
}
