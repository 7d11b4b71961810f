package live

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/onceproof/onceproof/engine"
)

// Checkpoint storage on disk: an engine.CheckpointStore in a directory,
// whose paths engine.Layout makes (the job's name is the prefix).
//
// Every object is written atomically and durably: a temporary file in the
// same directory, fsync, rename, fsync of the directory. A reader therefore
// sees a whole object or none, and an object whose write returned nil
// survives a crash.
//
// A checkpoint directory without metadata is a checkpoint that never
// completed: the Runner deletes it when it starts (an earlier run's), when
// the checkpoint fails or a restart drops it (unless its metadata write is
// still in flight), and, for late snapshot writes, when the next checkpoint
// completes. One whose metadata exists but cannot be read is kept.

var _ engine.CheckpointStore = (*storage)(nil)

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

// Put writes name atomically and durably.
func (s *storage) Put(name string, data []byte) error {
	p, err := s.path(s.dir, name)
	if err != nil {
		return err
	}
	return writeAtomic(p, data)
}

// Get reads name, from the checkpoint directory or else the fallback.
func (s *storage) Get(name string) ([]byte, error) {
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

// List returns the names in dir, sorted, without temporary files; a
// missing dir lists nothing.
func (s *storage) List(dir string) ([]string, error) {
	p, err := s.path(s.dir, dir)
	if err != nil {
		return nil, err
	}
	entries, err := os.ReadDir(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", p, err)
	}
	var out []string
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), tmpPrefix) {
			out = append(out, e.Name())
		}
	}
	return out, nil // os.ReadDir sorts by name
}

// Delete removes name durably (its directory is synced); a missing object
// is not an error.
func (s *storage) Delete(name string) error {
	p, err := s.path(s.dir, name)
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return fmt.Errorf("delete %s: %w", name, err)
	}
	if err := syncDir(filepath.Dir(p)); err != nil {
		return fmt.Errorf("delete %s: %w", name, err)
	}
	return nil
}

// removeCheckpoint deletes checkpoint n's directory, metadata first
// (engine.DeleteCheckpointFiles), then the empty directory.
func (s *storage) removeCheckpoint(prefix string, n int64) error {
	l := engine.Layout{Prefix: prefix}
	if _, err := engine.DeleteCheckpointFiles(s, l, n); err != nil {
		return err
	}
	dir := filepath.Join(s.dir, filepath.FromSlash(l.CheckpointDir(n)))
	if err := os.Remove(dir); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("delete checkpoint %d: %w", n, err)
	}
	return nil
}

// removeIncomplete deletes every checkpoint directory of the job under
// prefix numbered above above and below below that has no metadata file: a
// checkpoint that never reached its commit point, whose snapshots nothing will read. A
// directory whose metadata exists but cannot be read is left alone: it may
// be a completed checkpoint damaged on disk, which is evidence, not garbage.
// It returns the ids it removed.
func (s *storage) removeIncomplete(prefix string, above, below int64) ([]int64, error) {
	names, err := s.List(engine.Layout{Prefix: prefix}.Root())
	if err != nil {
		return nil, err
	}
	var removed []int64
	var errs []error
	for _, name := range names {
		n, ok := engine.ParseCheckpointDir(name)
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
	l := engine.Layout{Prefix: prefix}
	dir := filepath.Join(s.dir, filepath.FromSlash(l.CheckpointDir(n)))
	_, err := os.Lstat(filepath.Join(s.dir, filepath.FromSlash(l.Metadata(n))))
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

// tmpPrefix starts the name of a temporary file.
const tmpPrefix = ".tmp-"

// writeAtomic writes data to path so that a crash leaves the old file or
// the new one, never a mix, and returns only once the new one is durable.
func writeAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	if err := mkdirAllSynced(dir); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, tmpPrefix+filepath.Base(path)+"-*")
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

// loadCheckpointPath reads the metadata of the checkpoint at path (a
// checkpoint directory or its metadata file) and returns it with the
// storage root its snapshot handles are relative to.
func loadCheckpointPath(path, prefix string) (engine.Metadata, string, error) {
	path = filepath.Clean(path)
	if filepath.Base(path) == engine.MetadataFile {
		path = filepath.Dir(path)
	}
	data, err := os.ReadFile(filepath.Join(path, engine.MetadataFile))
	if err != nil {
		return engine.Metadata{}, "", fmt.Errorf("checkpoint %s: %w", path, err)
	}
	md, err := engine.DecodeMetadata(data, 0)
	if err != nil {
		return md, "", fmt.Errorf("checkpoint %s: %w", path, err)
	}
	// Handles are Layout{Prefix: prefix} paths: the root is what is left
	// of the path once the checkpoint's directory is taken off its end.
	suffix := filepath.FromSlash(engine.Layout{Prefix: prefix}.CheckpointDir(md.Checkpoint))
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
	rec, err := engine.RecoverCoordinator(&storage{dir: checkpointDir}, engine.Layout{Prefix: job})
	if err != nil {
		return nil, fmt.Errorf("recover %s: %w", checkpointDir, err)
	}
	var out []int64
	for _, md := range rec.Completed {
		out = append(out, md.Checkpoint)
	}
	return out, nil
}
