package engine

import "sort"

// Shared state files (incremental checkpoints) and their reference counts.
//
// A shared file (an SST, named by its content) is uploaded by the first
// checkpoint that needs it and referenced by every later one that still
// includes it. The coordinator deletes a retired checkpoint's directory
// (DeleteCheckpoint: its handles and private files) as before; a shared
// file the retired checkpoint referenced goes too, but only once no
// retained checkpoint references it. The count is recomputed from the
// retained checkpoints' metadata each time, so a restarted coordinator,
// which reads that metadata back, counts the same.
//
// Why a task never references a file the coordinator deleted: a task only
// references a shared file that is in its open DB and whose upload
// completed (or which it restored). Such a file is in the DB's state at
// every later checkpoint of the task, so every completed checkpoint taken
// since the upload (or since the restored one, which is retained) lists it;
// and the coordinator deletes files only when a checkpoint completes, with
// no other checkpoint in flight. Files uploaded for a checkpoint that never
// completed are referenced by no metadata and are never deleted here (a
// leak, not a loss).

// releaseShared deletes the shared files of evicted that no retained
// checkpoint references.
func (c *Coordinator) releaseShared(evicted Metadata) {
	if len(evicted.Shared) == 0 {
		return
	}
	live := map[string]bool{}
	for _, md := range c.completed {
		for _, o := range md.Shared {
			live[o] = true
		}
	}
	var unused []string
	for _, o := range evicted.Shared {
		// Mutant: no reference counting; the evicted checkpoint's files
		// go whoever else still lists them.
		if !live[o] || c.mutants.Has(MutantSharedStateDiscarded) {
			unused = append(unused, o)
		}
	}
	if len(unused) > 0 {
		c.env.DeleteShared(unused)
	}
}

// sortedUnique sorts s and drops duplicates.
func sortedUnique(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	sort.Strings(s)
	out := s[:1]
	for _, x := range s[1:] {
		if x != out[len(out)-1] {
			out = append(out, x)
		}
	}
	return out
}
