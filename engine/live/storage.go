package live

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/onceproof/onceproof/engine"
)

// Checkpoint storage on disk. The layout, under the checkpoint directory:
//
//	<job>/coordinator.json      the coordinator's counter and attempt
//	<job>/chk-<n>/_metadata     checkpoint n's metadata: its commit point
//	<job>/chk-<n>/<vertex>-<i>  one task's snapshot
//
// Every object is written atomically and durably: a temporary file in the
// same directory, fsync, rename, fsync of the directory. A reader therefore
// sees a whole object or none, and an object whose write returned nil
// survives a crash.
//
// A chk-<n> directory without _metadata is a checkpoint that never
// completed: the Runner deletes it when it starts (an earlier run's), when
// the checkpoint fails or a restart drops it (unless its metadata write is
// still in flight), and, for late snapshot writes, when the next checkpoint
// completes. One whose _metadata exists but cannot be read is kept.

// metadataName is the file that makes a checkpoint complete.
const metadataName = "_metadata"

// coordinatorStateName holds engine.State.
const coordinatorStateName = "coordinator.json"

// storage is checkpoint storage in a directory.
type storage struct {
	dir string
	// fallback is where snapshots of a checkpoint restored from another
	// directory (FromCheckpoint naming a path) are read from.
	fallback string
}

// path maps an object name to its file, refusing names that would escape
// the directory.
func (s *storage) path(root, name string) (string, error) {
	if !filepath.IsLocal(filepath.FromSlash(name)) {
		return "", fmt.Errorf("checkpoint object %q: not a local path", name)
	}
	return filepath.Join(root, filepath.FromSlash(name)), nil
}

// put writes name atomically and durably.
func (s *storage) put(name string, data []byte) error {
	p, err := s.path(s.dir, name)
	if err != nil {
		return err
	}
	return writeAtomic(p, data)
}

// get reads name, from the checkpoint directory or else the fallback.
func (s *storage) get(name string) ([]byte, error) {
	p, err := s.path(s.dir, name)
	if err != nil {
		return nil, err
	}
	data, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) && s.fallback != "" {
		fp, ferr := s.path(s.fallback, name)
		if ferr != nil {
			return nil, ferr
		}
		data, err = os.ReadFile(fp)
	}
	if err != nil {
		return nil, fmt.Errorf("read checkpoint object %s: %w", name, err)
	}
	return data, nil
}

// removeCheckpoint deletes checkpoint n's directory: its metadata first, so
// that a crash half-way leaves an incomplete checkpoint, never a complete
// one with missing snapshots.
func (s *storage) removeCheckpoint(prefix string, n int64) error {
	dir := filepath.Join(s.dir, filepath.FromSlash(prefix), fmt.Sprintf("chk-%d", n))
	if err := os.Remove(filepath.Join(dir, metadataName)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("delete checkpoint %d: %w", n, err)
	}
	if err := syncDir(dir); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("delete checkpoint %d: %w", n, err)
	}
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("delete checkpoint %d: %w", n, err)
	}
	return nil
}

// removeIncomplete deletes every checkpoint directory of the job under
// prefix numbered above above and below below that has no metadata file: a checkpoint that
// never reached its commit point, whose snapshots nothing will read. A
// directory whose metadata exists but cannot be read is left alone: it may
// be a completed checkpoint damaged on disk, which is evidence, not garbage.
// It returns the ids it removed.
func (s *storage) removeIncomplete(prefix string, above, below int64) ([]int64, error) {
	root := filepath.Join(s.dir, filepath.FromSlash(prefix))
	entries, err := os.ReadDir(root)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", root, err)
	}
	var removed []int64
	var errs []error
	for _, e := range entries {
		n, ok := checkpointDirID(e)
		if !ok || n <= above || n >= below {
			continue
		}
		done, err := s.removeIncompleteOne(prefix, n)
		if done {
			removed = append(removed, n)
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	return removed, errors.Join(errs...)
}

// removeIncompleteOne deletes checkpoint n's directory if it has no
// metadata file, and reports whether it did.
func (s *storage) removeIncompleteOne(prefix string, n int64) (bool, error) {
	dir := filepath.Join(s.dir, filepath.FromSlash(prefix), fmt.Sprintf("chk-%d", n))
	_, err := os.Lstat(filepath.Join(dir, metadataName))
	switch {
	case err == nil:
		return false, nil
	case !errors.Is(err, fs.ErrNotExist):
		return false, fmt.Errorf("discard incomplete checkpoint %d: %w", n, err)
	}
	if _, err := os.Lstat(dir); errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err := os.RemoveAll(dir); err != nil {
		return false, fmt.Errorf("discard incomplete checkpoint %d: %w", n, err)
	}
	return true, nil
}

// checkpointDirID is the n of a chk-<n> directory entry.
func checkpointDirID(e fs.DirEntry) (int64, bool) {
	var n int64
	if !e.IsDir() {
		return 0, false
	}
	if _, err := fmt.Sscanf(e.Name(), "chk-%d", &n); err != nil || e.Name() != fmt.Sprintf("chk-%d", n) {
		return 0, false
	}
	return n, true
}

// writeAtomic writes data to path so that a crash leaves the old file or
// the new one, never a mix, and returns only once the new one is durable.
func writeAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	if err := mkdirAllSynced(dir); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, ".tmp-"+filepath.Base(path)+"-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp := f.Name()
	_, werr := f.Write(data)
	if werr == nil {
		werr = f.Sync()
	}
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = os.Rename(tmp, path)
	}
	if werr != nil {
		_ = os.Remove(tmp) // best effort: a leftover temp file is ignored by readers
		return fmt.Errorf("write %s: %w", path, werr)
	}
	if err := syncDir(dir); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// mkdirAllSynced creates dir and its missing parents, fsyncing each parent
// whose entries changed, so that the new directories survive a crash.
func mkdirAllSynced(dir string) error {
	if _, err := os.Stat(dir); err == nil {
		return nil
	}
	parent := filepath.Dir(dir)
	if parent != dir {
		if err := mkdirAllSynced(parent); err != nil {
			return err
		}
	}
	if err := os.Mkdir(dir, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	return syncDir(parent)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	serr := d.Sync()
	cerr := d.Close()
	if serr != nil {
		return fmt.Errorf("fsync %s: %w", dir, serr)
	}
	return cerr
}

// recovered is what storage says about earlier runs of a job.
type recovered struct {
	state engine.State
	// completed are the checkpoints whose metadata was written, oldest
	// first.
	completed []engine.Metadata
}

// recoverJob reads the coordinator state and every completed checkpoint of
// the job under prefix. Unreadable metadata is skipped: as far as anyone can
// tell, that checkpoint never reached its commit point. Every checkpoint
// directory found raises the counter, so no id is ever reused.
func (s *storage) recoverJob(prefix string) (recovered, error) {
	var r recovered
	root := filepath.Join(s.dir, filepath.FromSlash(prefix))
	data, err := os.ReadFile(filepath.Join(root, coordinatorStateName))
	switch {
	case err == nil:
		if err := json.Unmarshal(data, &r.state); err != nil {
			return r, fmt.Errorf("read %s: %w", coordinatorStateName, err)
		}
	case !errors.Is(err, fs.ErrNotExist):
		return r, fmt.Errorf("read %s: %w", coordinatorStateName, err)
	}
	entries, err := os.ReadDir(root)
	if errors.Is(err, fs.ErrNotExist) {
		return r, nil
	}
	if err != nil {
		return r, fmt.Errorf("list %s: %w", root, err)
	}
	for _, e := range entries {
		var n int64
		if _, err := fmt.Sscanf(e.Name(), "chk-%d", &n); err != nil || !e.IsDir() {
			continue
		}
		r.state.Counter = max(r.state.Counter, n)
		md, err := readMetadata(filepath.Join(root, e.Name(), metadataName))
		if err == nil && md.Checkpoint == n {
			r.completed = append(r.completed, md)
		}
	}
	sort.Slice(r.completed, func(i, j int) bool { return r.completed[i].Checkpoint < r.completed[j].Checkpoint })
	return r, nil
}

func readMetadata(path string) (engine.Metadata, error) {
	var md engine.Metadata
	data, err := os.ReadFile(path)
	if err != nil {
		return md, err
	}
	if err := json.Unmarshal(data, &md); err != nil {
		return md, fmt.Errorf("decode %s: %w", path, err)
	}
	return md, nil
}

// loadCheckpointPath reads the metadata of the checkpoint at path (a chk-N
// directory or its _metadata file) and returns it with the storage root its
// snapshot handles are relative to.
func loadCheckpointPath(path, prefix string) (engine.Metadata, string, error) {
	path = filepath.Clean(path)
	if filepath.Base(path) == metadataName {
		path = filepath.Dir(path)
	}
	md, err := readMetadata(filepath.Join(path, metadataName))
	if err != nil {
		return md, "", fmt.Errorf("checkpoint %s: %w", path, err)
	}
	// Handles read "<prefix>/chk-<n>/<task>": the root is what is left of
	// the path once "<prefix>/chk-<n>" is taken off its end.
	suffix := filepath.Join(filepath.FromSlash(prefix), fmt.Sprintf("chk-%d", md.Checkpoint))
	if !strings.HasSuffix(path, string(filepath.Separator)+suffix) && path != suffix {
		return md, "", fmt.Errorf("checkpoint %s: holds checkpoint %d of job %q, so the path should end in %s", path, md.Checkpoint, md.Job, suffix)
	}
	root := strings.TrimSuffix(path, suffix)
	if root == "" {
		root = "."
	}
	return md, root, nil
}

// CompletedCheckpoints lists the ids of job's completed checkpoints in
// checkpointDir, oldest first: those whose metadata was written, as Start
// finds them.
func CompletedCheckpoints(checkpointDir, job string) ([]int64, error) {
	rec, err := (&storage{dir: checkpointDir}).recoverJob(job)
	if err != nil {
		return nil, fmt.Errorf("recover %s: %w", checkpointDir, err)
	}
	var out []int64
	for _, md := range rec.completed {
		out = append(out, md.Checkpoint)
	}
	return out, nil
}
