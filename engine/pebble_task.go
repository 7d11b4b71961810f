package engine

import (
	"errors"
	"fmt"
	"sort"
)

// This file is the task's side of its state backend, file-based state
// (PebbleBackend) above all: uploading a checkpoint's files, restoring from
// them, and turning a state failure into a task failure.
//
// The driver chooses the backend: it passes NewTask a StateBackend built on
// the worker's local disk (NewPebbleBackend) as the task's state, or nil for
// the heap. TaskEnv does not change: the task still does all its I/O with
// checkpoint storage through Persist and Load, and the backend only touches
// the local disk it was given.
//
// Storage layout: Layout over Deployment.StoragePrefix (layout.go) names the
// task's snapshot (its handle), its private state files and the shared ones.
// Deleting a checkpoint's directory deletes its private files. A shared file
// is deleted by the coordinator once no retained checkpoint references it
// (Ack.Shared, Metadata.Shared).
//
// A checkpoint, at the task:
//
//  1. Synchronous part (with the barrier): the backend flushes and takes a
//     local checkpoint; the snapshot lists every file with its size and
//     SHA-256. SSTs storage already holds (their upload completed, or they
//     were restored) are listed by reference only.
//  2. Asynchronous part: every other file is uploaded, all at once; once
//     all are durable the handle is written; once it is durable the task
//     acks. A handle in storage therefore never names a missing file, and
//     an ack always covers every byte the snapshot needs.
//
// A restore loads the handle, then every file it lists, checks each one's
// size and checksum (a mismatch or a missing file fails the restore with
// Failure.RestoreCheckpoint set, so the coordinator falls back to an older
// checkpoint), writes them into a fresh local directory and opens the DB
// there, dropping the key groups outside the task's range.

var _ StateBackend = (*PebbleBackend)(nil)

// openState opens empty state for a task that restores nothing. It reports
// whether the task can go on.
func (t *Task) openState() bool {
	if err := t.state.Open(); err != nil {
		t.fail(Failure{Reason: fmt.Sprintf("open state: %v", err)})
		return false
	}
	return true
}

// restoreState runs done once the keyed state of a file-based snapshot
// (Files) is restored; a full snapshot (Keyed) is restored by begin, through
// restoreKeyed. Either backend restores either kind.
func (t *Task) restoreState(s *TaskSnapshot, done func()) {
	if len(s.Files) == 0 {
		done()
		return
	}
	start, end := KeyGroupRange(t.id.Subtask, t.job.MaxParallelism, t.v.Parallelism)
	t.loadStateFiles(s, func(data [][]byte) {
		if err := t.state.RestoreFiles(s.Files, data, start, end); err != nil {
			// A local disk error is not the checkpoint's fault: restart
			// from the same one. Bad content is.
			f := Failure{Reason: fmt.Sprintf("restore state of checkpoint %d: %v", s.Checkpoint, err)}
			if errors.Is(err, ErrCorruptSnapshot) {
				f.RestoreCheckpoint = t.dep.Restore
			}
			t.fail(f)
			return
		}
		done()
	})
}

// restoreKeyed restores a full snapshot's keyed state (the key groups in
// the task's range) at the start of begin; file-based state was restored
// before begin. It reports whether the task can go on.
func (t *Task) restoreKeyed(s *TaskSnapshot) bool {
	if len(s.Files) > 0 {
		return true
	}
	start, end := KeyGroupRange(t.id.Subtask, t.job.MaxParallelism, t.v.Parallelism)
	// A file backend writes them key by key, and may fail doing so.
	if err := t.state.Restore(keyGroupsIn(s.Keyed, start, end)); err != nil {
		t.fail(Failure{Reason: fmt.Sprintf("restore state of checkpoint %d: %v", s.Checkpoint, err)})
		return false
	}
	return true
}

// keyGroupsIn returns the groups in [start, end).
func keyGroupsIn(groups []KeyGroupState, start, end int) []KeyGroupState {
	var out []KeyGroupState
	for _, g := range groups {
		if g.KG >= start && g.KG < end {
			out = append(out, g)
		}
	}
	return out
}

// loadStateFiles loads every file of s, all at once, checks each, and
// calls done with their bytes once all arrived. A missing or damaged file
// fails the restore of that checkpoint.
func (t *Task) loadStateFiles(s *TaskSnapshot, done func(data [][]byte)) {
	data := make([][]byte, len(s.Files))
	left := len(s.Files)
	for i, f := range s.Files {
		t.env.Load(f.Object, func(b []byte, err error) {
			if t.failed {
				return
			}
			if err == nil {
				err = f.Verify(b)
			}
			if err != nil {
				t.fail(Failure{Reason: fmt.Sprintf("restore from checkpoint %d: state file %s: %v", t.dep.Restore, f.Name, err), RestoreCheckpoint: t.dep.Restore})
				return
			}
			data[i] = b
			if left--; left == 0 {
				done(data)
			}
		})
	}
}

// snapshotState is the synchronous part of checkpoint n for keyed state:
// the heap's full snapshot, or a file backend's local checkpoint, whose new
// files get their names in storage here and wait in snap for the upload.
func (t *Task) snapshotState(n int64, snap *TaskSnapshot) error {
	c, err := t.state.Checkpoint(n)
	if err != nil {
		return err
	}
	snap.Keyed = c.Keyed
	if len(c.Files) == 0 {
		return nil
	}
	files := c.Files
	snap.Files = make([]StateFile, 0, len(files))
	for _, f := range files {
		if f.Object == "" {
			if f.Shared {
				f.Object = t.layout().SharedFile(f.SHA256)
			} else {
				f.Object = t.layout().PrivateFile(n, t.v.Name, t.id.Subtask, f.Name)
			}
			snap.uploads = append(snap.uploads, f)
		}
		snap.Files = append(snap.Files, f.StateFile)
	}
	return nil
}

// uploadStateFiles writes the files of snap that storage does not hold yet,
// all at once, and calls done once every one is durable, or with the first
// error once all answered. With nothing to upload it calls done at once.
func (t *Task) uploadStateFiles(snap *TaskSnapshot, done func(error)) {
	ups := snap.uploads
	if len(ups) == 0 {
		done(nil)
		return
	}
	left := len(ups)
	var first error
	for _, f := range ups {
		t.env.Persist(f.Object, f.Data, func(err error) {
			switch {
			case err != nil && first == nil:
				first = fmt.Errorf("upload state file %s: %w", f.Name, err)
			case err == nil:
				t.state.Uploaded(f.StateFile)
			}
			if left--; left == 0 {
				done(first)
			}
		})
	}
}

// uploadBytes is what the upload of snap's state files writes.
func (s *TaskSnapshot) uploadBytes() int64 {
	var n int64
	for _, f := range s.uploads {
		n += int64(len(f.Data))
	}
	return n
}

// stateFilesDetail describes snap's state files for the trace: counts and
// sizes only (names carry content hashes, bytes carry timestamps).
func (s *TaskSnapshot) stateFilesDetail() string {
	if len(s.Files) == 0 {
		return ""
	}
	var full int64
	for _, f := range s.Files {
		full += f.Size
	}
	return fmt.Sprintf(" files=%d state=%d upload=%d new=%d", len(s.Files), full, s.uploadBytes(), len(s.uploads))
}

// sharedObjects lists the shared files snap references, sorted: what the
// coordinator counts references to.
func (s *TaskSnapshot) sharedObjects() []string {
	var out []string
	for _, f := range s.Files {
		if f.Shared {
			out = append(out, f.Object)
		}
	}
	sort.Strings(out)
	return out
}

// layout names the task's objects in checkpoint storage.
func (t *Task) layout() Layout { return Layout{Prefix: t.dep.StoragePrefix} }

// closeState releases the state backend (the task was cancelled).
func (t *Task) closeState() { t.state.Close() }
